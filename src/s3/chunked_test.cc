#include "s3/chunked.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/testing.h"

namespace dase::s3 {
namespace {

// AWS's chunked-upload examples (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
// and sigv4-streaming-trailers.html): 65,536 + 1,024 bytes of 'a' in 64 KiB chunks.
constexpr std::string_view kAkid = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr int64_t kExampleTime = 1369353600;  // 2013-05-24T00:00:00Z
constexpr size_t kExampleBytes = 66560;

SigningContext ExampleContext(std::string_view seed) {
  return {DeriveSigningKey(kSecret, "20130524", "us-east-1"), "20130524T000000Z",
          "20130524/us-east-1/s3/aws4_request", std::string(seed)};
}

std::string SignedChunk(size_t n, std::string_view signature) {
  return fmt::format("{:x};chunk-signature={}\r\n", n, signature) + std::string(n, 'a') + "\r\n";
}

// The example bodies, written out as the documentation shows them.
std::string AwsSignedBody() {
  return SignedChunk(65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648") +
         SignedChunk(1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497") +
         "0;chunk-signature="
         "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n";
}

std::string AwsTrailerBody() {
  return SignedChunk(65536, "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2") +
         SignedChunk(1024, "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7") +
         "0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
         "x-amz-checksum-crc32c:sOO8/Q==\r\n"
         "x-amz-trailer-signature:"
         "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
         "\r\n";
}

const SigningContext kSignedSeed =
    ExampleContext("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
const SigningContext kTrailerSeed =
    ExampleContext("106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");

ChunkedDecodeOptions SignedOptions() {
  return {PayloadMode::kStreamingSigned, kExampleBytes, &kSignedSeed, ""};
}
ChunkedDecodeOptions TrailerOptions() {
  return {PayloadMode::kStreamingSignedTrailer, kExampleBytes, &kTrailerSeed,
          "x-amz-checksum-crc32c"};
}

BodyErrorKind KindOf(const BodyResult<DecodedBody>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? BodyErrorKind::kBadDigest : r.error().kind;
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(AwsChunkedExamplesTest, SignedChunksDecodeAndEncode) {
  BodyResult<DecodedBody> d = DecodeChunked(AwsSignedBody(), SignedOptions());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->data, std::string(kExampleBytes, 'a'));
  EXPECT_TRUE(d->trailers.empty());
  EXPECT_FALSE(d->checksum);

  ChunkedEncodeOptions enc{PayloadMode::kStreamingSigned, 65536, &kSignedSeed, std::nullopt};
  EXPECT_EQ(EncodeChunked(std::string(kExampleBytes, 'a'), enc).value(), AwsSignedBody());
  EXPECT_EQ(EncodedChunkedLength(kExampleBytes, enc).value(), 66824u);  // the example's length
}

TEST(AwsChunkedExamplesTest, SignedTrailerDecodesAndEncodes) {
  BodyResult<DecodedBody> d = DecodeChunked(AwsTrailerBody(), TrailerOptions());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->data, std::string(kExampleBytes, 'a'));
  ASSERT_EQ(d->trailers.size(), 1u);
  EXPECT_EQ(d->trailers[0], Header("x-amz-checksum-crc32c", "sOO8/Q=="));
  ASSERT_TRUE(d->checksum);
  EXPECT_EQ(d->checksum->algorithm, ChecksumAlgorithm::kCrc32c);
  EXPECT_TRUE(VerifyChecksum(d->checksum->algorithm, d->checksum->base64, d->data).ok());

  ChunkedEncodeOptions enc{PayloadMode::kStreamingSignedTrailer, 65536, &kTrailerSeed,
                           ChecksumAlgorithm::kCrc32c};
  EXPECT_EQ(EncodeChunked(std::string(kExampleBytes, 'a'), enc).value(), AwsTrailerBody());
  EXPECT_EQ(EncodedChunkedLength(kExampleBytes, enc).value(), AwsTrailerBody().size());
}

TEST(AwsChunkedExamplesTest, FromVerifiedRequestToDecodedBody) {
  SigV4Request r{"PUT",
                 "/examplebucket/chunkObject.txt",
                 "",
                 {{"Host", "s3.amazonaws.com"},
                  {"x-amz-date", "20130524T000000Z"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                  {"Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                   "aws4_request,SignedHeaders=content-encoding;content-length;host;"
                   "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                   "x-amz-storage-class,Signature="
                   "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"},
                  {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
                  {"Content-Encoding", "aws-chunked"},
                  {"x-amz-decoded-content-length", "66560"},
                  {"Content-Length", "66824"}}};
  SecretLookup keys = [](std::string_view akid) -> Result<std::string> {
    if (akid == kAkid) return std::string(kSecret);
    return NotFound("no such key");
  };
  AuthResult<VerifiedRequest> v = VerifyRequest(r, keys, kExampleTime);
  ASSERT_TRUE(v.ok()) << v.error().message;
  ASSERT_EQ(v->payload_mode, PayloadMode::kStreamingSigned);
  BodyResult<DecodedBody> d =
      DecodeChunked(AwsSignedBody(), {v->payload_mode, kExampleBytes, &v->signing, ""});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->data.size(), kExampleBytes);
}

TEST(AwsChunkedExamplesTest, TolerantTrailerFraming) {
  // Some clients send the final chunk's CRLF before the trailers and end without a blank line.
  std::string body = Replace(AwsTrailerBody(), "f992\r\nx-amz", "f992\r\n\r\nx-amz");
  body.resize(body.size() - 2);
  EXPECT_TRUE(DecodeChunked(body, TrailerOptions()).ok());
  EXPECT_TRUE(DecodeChunked(body + "\r\n", TrailerOptions()).ok());
  EXPECT_EQ(KindOf(DecodeChunked(body + "\r\n\r\n", TrailerOptions())),
            BodyErrorKind::kInvalidRequest);
}

TEST(AwsChunkedExamplesTest, TamperingIsCaught) {
  const std::string body = AwsSignedBody();
  // One byte of chunk data.
  std::string data = body;
  data[200] = 'b';
  EXPECT_EQ(KindOf(DecodeChunked(data, SignedOptions())), BodyErrorKind::kSignatureDoesNotMatch);
  // A chunk signature, the final one included.
  EXPECT_EQ(KindOf(DecodeChunked(Replace(body, "ad80c730", "ad80c731"), SignedOptions())),
            BodyErrorKind::kSignatureDoesNotMatch);
  EXPECT_EQ(KindOf(DecodeChunked(Replace(body, "b6c6ea8a", "b6c6ea8b"), SignedOptions())),
            BodyErrorKind::kSignatureDoesNotMatch);
  // Another seed (another request's signature).
  SigningContext other = kSignedSeed;
  other.signature[0] = '5';
  EXPECT_EQ(KindOf(DecodeChunked(body, {PayloadMode::kStreamingSigned, kExampleBytes, &other, ""})),
            BodyErrorKind::kSignatureDoesNotMatch);
  // The trailer value and its signature.
  EXPECT_EQ(
      KindOf(DecodeChunked(Replace(AwsTrailerBody(), "sOO8/Q==", "sOO8/R=="), TrailerOptions())),
      BodyErrorKind::kSignatureDoesNotMatch);
  EXPECT_EQ(
      KindOf(DecodeChunked(Replace(AwsTrailerBody(), "d81f82fc", "d81f82fd"), TrailerOptions())),
      BodyErrorKind::kSignatureDoesNotMatch);
  // Signatures in upper case are still the same signatures.
  EXPECT_TRUE(
      DecodeChunked(Replace(body, "ad80c730a21e5b8d", "AD80C730A21E5B8D"), SignedOptions()).ok());
}

TEST(UnsignedTrailerTest, Boto3Framing) {
  // What boto3 1.43 / awscli send by default: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32.
  const std::string body =
      "b\r\nHello world\r\n"
      "0\r\n"
      "x-amz-checksum-crc32:i9aeUg==\r\n"
      "\r\n";
  ChunkedDecodeOptions options{PayloadMode::kStreamingUnsignedTrailer, 11, nullptr,
                               "x-amz-checksum-crc32"};
  BodyResult<DecodedBody> d = DecodeChunked(body, options);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->data, "Hello world");
  ASSERT_TRUE(d->checksum);
  EXPECT_EQ(d->checksum->algorithm, ChecksumAlgorithm::kCrc32);
  EXPECT_EQ(d->checksum->base64, "i9aeUg==");
  EXPECT_TRUE(VerifyChecksum(ChecksumAlgorithm::kCrc32, d->checksum->base64, d->data).ok());

  ChunkedEncodeOptions enc{PayloadMode::kStreamingUnsignedTrailer, 64 * 1024, nullptr,
                           ChecksumAlgorithm::kCrc32};
  EXPECT_EQ(EncodeChunked("Hello world", enc).value(), body);
  EXPECT_EQ(EncodedChunkedLength(11, enc).value(), body.size());

  // Several chunks, an empty object, no trailer at all.
  options.decoded_length = 12;
  EXPECT_EQ(DecodeChunked(
                "5\r\nHello\r\n7\r\n world!\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", options)
                ->data,
            "Hello world!");
  options.decoded_length = 0;
  EXPECT_TRUE(DecodeChunked("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", options).ok());
  options.declared_trailers = "";
  EXPECT_TRUE(DecodeChunked("0\r\n\r\n", options).ok());

  // Trailers must be as declared, and never signed here.
  options.declared_trailers = "x-amz-checksum-crc32";
  EXPECT_EQ(KindOf(DecodeChunked("0\r\n\r\n", options)), BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(KindOf(DecodeChunked("0\r\nx-amz-checksum-sha1:AAAAAA==\r\n\r\n", options)),
            BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(
      KindOf(DecodeChunked(
          "0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", options)),
      BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(KindOf(DecodeChunked("0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:" +
                                     std::string(64, '0') + "\r\n\r\n",
                                 options)),
            BodyErrorKind::kInvalidRequest);
  options.declared_trailers = "";
  EXPECT_EQ(KindOf(DecodeChunked("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", options)),
            BodyErrorKind::kInvalidRequest);
  options.declared_trailers = "x-amz-checksum-crc32,,";
  EXPECT_EQ(KindOf(DecodeChunked("0\r\n\r\n", options)), BodyErrorKind::kInvalidRequest);
}

// PutObject requests boto3 1.43.11 signed over HTTPS (its default there is
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer), captured before sending, with
// access key AKIDEXAMPLE and secret "secret/key+example".
SigV4Request Boto3Put(std::string path, std::string decoded_length, std::string signature) {
  SigV4Request r{"PUT",
                 std::move(path),
                 "",
                 {{"Host", "127.0.0.1:9000"},
                  {"User-Agent", "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux"},
                  {"Expect", "100-continue"},
                  {"Transfer-Encoding", "chunked"},
                  {"Content-Encoding", "aws-chunked"},
                  {"X-Amz-Trailer", "x-amz-checksum-crc32"},
                  {"X-Amz-Decoded-Content-Length", std::move(decoded_length)},
                  {"x-amz-sdk-checksum-algorithm", "CRC32"},
                  {"X-Amz-Date", "20261124T155945Z"},
                  {"X-Amz-Content-SHA256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
                  {"amz-sdk-invocation-id", "a13325fc-8f7d-4750-b7a2-49ae0c003ae3"},
                  {"amz-sdk-request", "attempt=1"}}};
  const bool meta = r.path != "/bkt/big";
  r.headers.emplace_back(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, "
      "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;"
      "x-amz-decoded-content-length;" +
          std::string(meta ? "x-amz-meta-note;" : "") +
          "x-amz-sdk-checksum-algorithm;x-amz-trailer, Signature=" + std::move(signature));
  if (meta) r.headers.emplace_back("x-amz-meta-note", "a  b");
  return r;
}

BodyResult<DecodedBody> VerifyAndDecode(const SigV4Request& r, std::string_view body,
                                        uint64_t decoded_length) {
  SecretLookup keys = [](std::string_view) -> Result<std::string> {
    return std::string("secret/key+example");
  };
  AuthResult<VerifiedRequest> v = VerifyRequest(r, keys, 1795535985);  // 2026-11-24T15:59:45Z
  EXPECT_TRUE(v.ok()) << v.error().message;
  if (!v.ok()) return BodyError{BodyErrorKind::kInvalidRequest, v.error().message};
  EXPECT_EQ(v->payload_mode, PayloadMode::kStreamingUnsignedTrailer);
  return DecodeChunked(body, {v->payload_mode, decoded_length, nullptr, "x-amz-checksum-crc32"});
}

TEST(Boto3Test, SmallPutObject) {
  const SigV4Request r =
      Boto3Put("/bkt/dir/hello%20world%2B%281%29.txt", "11",
               "e1ba056c203798d249195e7c62f9c0b5701a3948c35d486a7af7774bb7eb6df1");
  BodyResult<DecodedBody> d =
      VerifyAndDecode(r, "b\r\nHello world\r\n0\r\nx-amz-checksum-crc32:i9aeUg==\r\n\r\n", 11);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->data, "Hello world");
  ASSERT_TRUE(d->checksum);
  EXPECT_TRUE(VerifyChecksum(d->checksum->algorithm, d->checksum->base64, d->data).ok());
}

TEST(Boto3Test, PutObjectOfTwoChunks) {
  // boto3 cuts the body into 1 MiB chunks.
  const std::string body = "100000\r\n" + std::string(1 << 20, 'a') + "\r\nc8e0\r\n" +
                           std::string(51424, 'a') +
                           "\r\n0\r\nx-amz-checksum-crc32:tiiyEA==\r\n\r\n";
  ASSERT_EQ(body.size(), 1100054u);
  const SigV4Request r = Boto3Put(
      "/bkt/big", "1100000", "29d1fc95e3775b878314feb7f8c28b71e99e63c59222e03dd6635ebf87318fed");
  BodyResult<DecodedBody> d = VerifyAndDecode(r, body, 1100000);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->data, std::string(1100000, 'a'));
  EXPECT_TRUE(VerifyChecksum(d->checksum->algorithm, d->checksum->base64, d->data).ok());
  // Our encoder frames it identically.
  ChunkedEncodeOptions enc{PayloadMode::kStreamingUnsignedTrailer, 1 << 20, nullptr,
                           ChecksumAlgorithm::kCrc32};
  EXPECT_EQ(EncodeChunked(d->data, enc).value(), body);
}

TEST(FramingTest, EveryTruncationFails) {
  ChunkedEncodeOptions unsigned_enc{PayloadMode::kStreamingUnsignedTrailer, 7, nullptr,
                                    ChecksumAlgorithm::kSha256};
  const std::string data = "twenty bytes of data";
  const std::vector<std::pair<std::string, ChunkedDecodeOptions>> cases = {
      {AwsSignedBody(), SignedOptions()},
      {AwsTrailerBody(), TrailerOptions()},
      {EncodeChunked(data, unsigned_enc).value(),
       {PayloadMode::kStreamingUnsignedTrailer, data.size(), nullptr, "x-amz-checksum-sha256"}},
  };
  for (const auto& [body, options] : cases) {
    ASSERT_TRUE(DecodeChunked(body, options).ok());
    for (size_t n = 0; n < body.size(); n += (n < 100 || body.size() - n < 300) ? 1 : 997) {
      BodyResult<DecodedBody> d = DecodeChunked(std::string_view(body).substr(0, n), options);
      ASSERT_FALSE(d.ok()) << "prefix of " << n << " of " << body.size() << " bytes decoded";
      EXPECT_TRUE(d.error().kind == BodyErrorKind::kIncompleteBody ||
                  d.error().kind == BodyErrorKind::kInvalidRequest)
          << n << ": " << d.error().message;
    }
  }
}

TEST(FramingTest, MalformedAndOversizedFraming) {
  ChunkedDecodeOptions options{PayloadMode::kStreamingUnsignedTrailer, 5, nullptr, ""};
  const auto kind = [&](std::string_view body) { return KindOf(DecodeChunked(body, options)); };
  EXPECT_TRUE(DecodeChunked("5\r\nhello\r\n0\r\n\r\n", options).ok());
  EXPECT_EQ(kind("5\nhello\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);     // LF only
  EXPECT_EQ(kind("5\r\nhello\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);     // no CRLF
  EXPECT_EQ(kind("5\r\nhelloX\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);  // longer
  EXPECT_EQ(kind("x5\r\nhello\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);  // not hex
  EXPECT_EQ(kind("\r\nhello\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);    // no size
  EXPECT_EQ(kind(" 5\r\nhello\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(kind("5\r\nhello\r\n0\r\n\r\nextra\r\n"), BodyErrorKind::kInvalidRequest);  // after end
  EXPECT_EQ(KindOf(DecodeChunked(AwsSignedBody() + "x", SignedOptions())),
            BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(kind("00000000000000005\r\nhello\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(kind("ffffffffffffffff\r\nhello\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(kind("6\r\nhello!\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);  // > declared
  EXPECT_EQ(kind("4\r\nhell\r\n0\r\n\r\n"), BodyErrorKind::kIncompleteBody);    // < declared
  std::string long_line(kChunkLineBytesMax + 1, ';');  // "5;;;...": one byte over the limit
  long_line[0] = '5';
  EXPECT_EQ(kind(long_line + "\r\nhello\r\n0\r\n\r\n"), BodyErrorKind::kInvalidRequest);
  EXPECT_TRUE(DecodeChunked("5;ext=1\r\nhello\r\n0\r\n\r\n", options).ok());  // ignored unsigned

  options.decoded_length = 0;
  options.declared_trailers = "x-amz-meta-a";
  EXPECT_TRUE(DecodeChunked("0\r\nx-amz-meta-a: v \r\n\r\n", options).ok());
  EXPECT_EQ(kind("0\r\nx-amz-meta-a:" + std::string(kTrailerLineBytesMax, 'v') + "\r\n\r\n"),
            BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(kind("0\r\nno colon\r\n\r\n"), BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(kind("0\r\n:v\r\n\r\n"), BodyErrorKind::kInvalidRequest);
  std::string many = "0\r\n";
  for (size_t i = 0; i <= kTrailersMax + 1; ++i) many += "x-amz-meta-a:v\r\n";
  EXPECT_EQ(kind(many + "\r\n"), BodyErrorKind::kInvalidRequest);

  // Signed chunks need their signature extension.
  ChunkedDecodeOptions signed_options = SignedOptions();
  signed_options.decoded_length = 0;
  EXPECT_EQ(KindOf(DecodeChunked("0\r\n\r\n", signed_options)), BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(KindOf(DecodeChunked("0;chunk-signature=abc\r\n\r\n", signed_options)),
            BodyErrorKind::kInvalidRequest);
  EXPECT_EQ(KindOf(DecodeChunked("0;chunk-signatur=" + std::string(64, '0') + "\r\n\r\n",
                                 signed_options)),
            BodyErrorKind::kInvalidRequest);
  // Not an aws-chunked mode at all.
  EXPECT_EQ(KindOf(DecodeChunked("0\r\n\r\n", {PayloadMode::kUnsigned, 0, nullptr, ""})),
            BodyErrorKind::kInvalidRequest);
}

TEST(ChecksumVerifyTest, MatchMismatchAndBadValues) {
  const std::string data = "The quick brown fox";
  for (ChecksumAlgorithm a :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
        ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    const std::string good = Base64Encode(ComputeChecksum(a, data));
    EXPECT_TRUE(VerifyChecksum(a, good, data).ok()) << ChecksumAlgorithmName(a);
    EXPECT_TRUE(VerifyChecksumDigest(a, good, ComputeChecksum(a, data)).ok());
    std::string changed = data;
    changed[3] ^= 1;
    BodyResult<void> r = VerifyChecksum(a, good, changed);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, BodyErrorKind::kBadDigest);
    EXPECT_EQ(r.error().ToStatus().code(), Code::kCorruption);
    EXPECT_EQ(VerifyChecksum(a, good.substr(0, good.size() - 4), data).error().kind,
              BodyErrorKind::kInvalidRequest);  // wrong length
    EXPECT_EQ(VerifyChecksum(a, "not base64!", data).error().kind, BodyErrorKind::kInvalidRequest);
    EXPECT_EQ(VerifyChecksum(a, "", data).error().kind, BodyErrorKind::kInvalidRequest);
  }
}

TEST(RoundTripTest, RandomBodiesEncodeDecodeAndTamperingIsCaught) {
  std::mt19937_64 rng(dase::testing::TestSeed());
  const SigningContext seed = ExampleContext(std::string(64, 'c'));
  const PayloadMode modes[] = {PayloadMode::kStreamingSigned, PayloadMode::kStreamingSignedTrailer,
                               PayloadMode::kStreamingUnsignedTrailer};
  for (int round = 0; round < 150; ++round) {
    const PayloadMode mode = modes[rng() % 3];
    std::string data(rng() % 3 == 0 ? rng() % 10 : rng() % 200000, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    ChunkedEncodeOptions enc{mode, 1 + rng() % 70000, &seed, std::nullopt};
    std::string declared;
    if (mode != PayloadMode::kStreamingSigned && rng() % 4 != 0) {
      enc.trailer_checksum = static_cast<ChecksumAlgorithm>(rng() % 5);
      declared = ChecksumHeaderName(*enc.trailer_checksum);
    }
    const std::string body = EncodeChunked(data, enc).value();
    EXPECT_EQ(EncodedChunkedLength(data.size(), enc).value(), body.size());
    const ChunkedDecodeOptions options{mode, data.size(), &seed, declared};
    BodyResult<DecodedBody> d = DecodeChunked(body, options);
    ASSERT_TRUE(d.ok()) << "round " << round << ": " << d.error().message;
    ASSERT_EQ(d->data, data);
    EXPECT_EQ(d->checksum.has_value(), enc.trailer_checksum.has_value());
    if (d->checksum) {
      EXPECT_TRUE(VerifyChecksum(d->checksum->algorithm, d->checksum->base64, data).ok());
    }

    // One byte changed anywhere: the decoder or, for unsigned data, the checksum must object.
    std::string bad = body;
    const size_t at = rng() % bad.size();
    bad[at] = bad[at] == '#' ? '$' : '#';
    BodyResult<DecodedBody> b = DecodeChunked(bad, options);
    const bool caught =
        !b.ok() ||
        (b->checksum && !VerifyChecksum(b->checksum->algorithm, b->checksum->base64, b->data).ok());
    const bool detectable = mode != PayloadMode::kStreamingUnsignedTrailer || enc.trailer_checksum;
    if (detectable) {
      EXPECT_TRUE(caught) << "round " << round << ": byte " << at << " of " << bad.size();
    }
  }
}

TEST(EncoderTest, RefusesBadOptions) {
  EXPECT_FALSE(EncodeChunked("x", {PayloadMode::kUnsigned, 10, nullptr, std::nullopt}).ok());
  EXPECT_FALSE(EncodeChunked("x", {PayloadMode::kStreamingSigned, 10, nullptr, std::nullopt}).ok());
  EXPECT_FALSE(
      EncodeChunked("x", {PayloadMode::kStreamingUnsignedTrailer, 0, nullptr, std::nullopt}).ok());
  EXPECT_FALSE(EncodeChunked("x", {PayloadMode::kStreamingSigned, 10, &kSignedSeed,
                                   ChecksumAlgorithm::kCrc32})
                   .ok());
  EXPECT_FALSE(EncodedChunkedLength(1, {PayloadMode::kSha256, 10, nullptr, std::nullopt}).ok());
}

}  // namespace
}  // namespace dase::s3
