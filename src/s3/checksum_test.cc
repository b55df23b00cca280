#include "s3/checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/testing.h"

namespace dase::s3 {
namespace {

constexpr std::string_view kCheck = "123456789";  // the CRC catalogue's check input

constexpr ChecksumAlgorithm kAll[] = {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                                      ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1,
                                      ChecksumAlgorithm::kSha256};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Bit at a time, straight from the definition: the slicing-by-8 code must agree with it.
uint64_t Crc64NvmeReference(std::string_view data) {
  uint64_t crc = ~uint64_t{0};
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int i = 0; i < 8; ++i) crc = (crc & 1) ? (crc >> 1) ^ 0x9A6C9329AC4BC9B5ull : crc >> 1;
  }
  return ~crc;
}

TEST(CrcTest, CatalogueCheckValues) {
  EXPECT_EQ(Crc32(kCheck), 0xCBF43926u);
  EXPECT_EQ(Crc32c(kCheck), 0xE3069283u);
  EXPECT_EQ(Crc64Nvme(kCheck), 0xAE8B14860A799888ull);
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc64Nvme(""), 0u);
}

TEST(CrcTest, DigestBytesAreBigEndian) {
  EXPECT_EQ(ComputeChecksum(ChecksumAlgorithm::kCrc32, kCheck), std::string("\xCB\xF4\x39\x26", 4));
  EXPECT_EQ(ComputeChecksum(ChecksumAlgorithm::kCrc32c, kCheck),
            std::string("\xE3\x06\x92\x83", 4));
  EXPECT_EQ(ComputeChecksum(ChecksumAlgorithm::kCrc64Nvme, kCheck),
            std::string("\xAE\x8B\x14\x86\x0A\x79\x98\x88", 8));
}

TEST(CrcTest, KnownS3Values) {
  // What boto3 sends for "Hello world" (zlib.crc32 = 0x8bd69e52).
  EXPECT_EQ(Base64Encode(ComputeChecksum(ChecksumAlgorithm::kCrc32, "Hello world")), "i9aeUg==");
  // The trailer of AWS's signed-trailer example: 66,560 bytes of 'a'.
  EXPECT_EQ(Base64Encode(ComputeChecksum(ChecksumAlgorithm::kCrc32c, std::string(66560, 'a'))),
            "sOO8/Q==");
}

TEST(CrcTest, Crc64NvmeMatchesBitwiseReference) {
  std::mt19937_64 rng(dase::testing::TestSeed());
  for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096, 100003}) {
    const std::string data = RandomBytes(rng, n);
    EXPECT_EQ(Crc64Nvme(data), Crc64NvmeReference(data)) << "n=" << n;
  }
}

TEST(HashTest, KnownAnswers) {
  EXPECT_EQ(HexEncode(ComputeChecksum(ChecksumAlgorithm::kSha1, "abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(HexEncode(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Base64Encode(Sha256("Hello world")), "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=");
}

TEST(ChecksummerTest, StreamingEqualsOneShotForAnySplit) {
  std::mt19937_64 rng(dase::testing::TestSeed());
  for (int round = 0; round < 50; ++round) {
    const std::string data = RandomBytes(rng, rng() % 20000);
    std::vector<Checksummer> streams;
    for (ChecksumAlgorithm a : kAll) streams.emplace_back(a);
    streams.push_back(Checksummer::Md5());
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t n = std::min<size_t>(data.size() - pos, rng() % 700);
      for (Checksummer& c : streams) c.Update(std::string_view(data).substr(pos, n));
      pos += n;
    }
    for (size_t i = 0; i < std::size(kAll); ++i) {
      const std::string digest = streams[i].Final();
      EXPECT_EQ(digest, ComputeChecksum(kAll[i], data)) << ChecksumAlgorithmName(kAll[i]);
      EXPECT_EQ(digest.size(), ChecksumDigestBytes(kAll[i]));
    }
    EXPECT_EQ(streams.back().Final(), Md5(data));
  }
}

TEST(ChecksummerTest, MovedChecksummerKeepsItsState) {
  Checksummer a(ChecksumAlgorithm::kSha256);
  a.Update("ab");
  Checksummer b = std::move(a);
  b.Update("c");
  EXPECT_EQ(b.Final(), Sha256("abc"));
}

TEST(AlgorithmNamesTest, ParseAndPrint) {
  for (ChecksumAlgorithm a : kAll) {
    EXPECT_EQ(ParseChecksumSuffix(ChecksumSuffix(a)).value(), a);
    EXPECT_EQ(ParseChecksumAlgorithmName(ChecksumAlgorithmName(a)).value(), a);
    EXPECT_EQ(ChecksumAlgorithmOfHeader(ChecksumHeaderName(a)), a);
  }
  EXPECT_EQ(ParseChecksumAlgorithmName("CRC64NVME").value(), ChecksumAlgorithm::kCrc64Nvme);
  EXPECT_EQ(ParseChecksumAlgorithmName("crc32c").value(), ChecksumAlgorithm::kCrc32c);
  EXPECT_EQ(ParseChecksumSuffix("SHA1").value(), ChecksumAlgorithm::kSha1);
  EXPECT_EQ(ChecksumHeaderName(ChecksumAlgorithm::kCrc64Nvme), "x-amz-checksum-crc64nvme");
  EXPECT_EQ(ChecksumAlgorithmOfHeader("X-Amz-Checksum-SHA256"), ChecksumAlgorithm::kSha256);
  EXPECT_FALSE(ParseChecksumAlgorithmName("MD5").ok());
  EXPECT_FALSE(ParseChecksumAlgorithmName("CRC32 ").ok());
  EXPECT_FALSE(ParseChecksumSuffix("").ok());
  EXPECT_FALSE(ChecksumAlgorithmOfHeader("x-amz-checksum-algorithm"));
  EXPECT_FALSE(ChecksumAlgorithmOfHeader("x-amz-checksum-type"));
  EXPECT_FALSE(ChecksumAlgorithmOfHeader("x-amz-checksum-mode"));
  EXPECT_FALSE(ChecksumAlgorithmOfHeader("x-amz-checksum-"));
  EXPECT_FALSE(ChecksumAlgorithmOfHeader("content-md5"));
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> kVectors[] = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded).value(), plain);
  }
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
}

TEST(Base64Test, RoundTripsRandomBytes) {
  std::mt19937_64 rng(dase::testing::TestSeed());
  for (size_t n = 0; n < 200; ++n) {
    const std::string data = RandomBytes(rng, n);
    EXPECT_EQ(Base64Decode(Base64Encode(data)).value(), data);
  }
}

TEST(Base64Test, DecodeIsStrict) {
  for (std::string_view bad :
       {"Zg", "Zg=", "Zm9vY", "Zh==", "Zm9=", "Z===", "====", "Zm9v====", "Zm=v",
        "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9-", "Zm9_", "Zm9v*A==", "=Zm9"}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << "'" << bad << "'";
  }
}

TEST(HexTest, RoundTripAndStrictness) {
  EXPECT_EQ(HexEncode(std::string("\x00\x7f\x80\xff", 4)), "007f80ff");
  EXPECT_EQ(HexDecode("007F80ff").value(), std::string("\x00\x7f\x80\xff", 4));
  EXPECT_EQ(HexDecode("").value(), "");
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
  EXPECT_FALSE(HexDecode("0x").ok());
}

}  // namespace
}  // namespace dase::s3
