#include "s3/checksum.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <climits>
#include <utility>

#include "common/check.h"

namespace dase::s3 {
namespace {

// CRC-64/NVME: polynomial 0xAD93D23594C93659, reflected (0x9A6C9329AC4BC9B5 below), initial value
// and final xor all ones. Slicing by eight: table[k][b] is the CRC contribution of byte b
// followed by k zero bytes, so eight input bytes fold in with eight lookups.
constexpr uint64_t kCrc64NvmeReflected = 0x9A6C9329AC4BC9B5ull;
using Crc64Tables = std::array<std::array<uint64_t, 256>, 8>;

constexpr Crc64Tables MakeCrc64Tables() {
  Crc64Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint64_t c = b;
    for (int i = 0; i < 8; ++i) c = (c & 1) ? (c >> 1) ^ kCrc64NvmeReflected : c >> 1;
    t[0][b] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}
constexpr Crc64Tables kCrc64Tables = MakeCrc64Tables();

// Continues a CRC-64/NVME whose register (not yet inverted at the end) is `crc`.
uint64_t Crc64NvmeUpdate(uint64_t crc, std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  while (n >= 8) {
    uint64_t word = 0;
    for (int i = 0; i < 8; ++i) word |= static_cast<uint64_t>(p[i]) << (8 * i);
    crc ^= word;
    crc = kCrc64Tables[7][crc & 0xff] ^ kCrc64Tables[6][(crc >> 8) & 0xff] ^
          kCrc64Tables[5][(crc >> 16) & 0xff] ^ kCrc64Tables[4][(crc >> 24) & 0xff] ^
          kCrc64Tables[3][(crc >> 32) & 0xff] ^ kCrc64Tables[2][(crc >> 40) & 0xff] ^
          kCrc64Tables[1][(crc >> 48) & 0xff] ^ kCrc64Tables[0][crc >> 56];
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n, ++p) crc = kCrc64Tables[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return crc;
}

// ISA-L's crc32_gzip_refl inverts on entry and exit, so its result continues directly.
uint32_t Crc32Update(uint32_t crc, std::string_view data) {
  return crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

// ISA-L's crc32_iscsi inverts neither seed nor result: `crc` is the raw register.
uint32_t Crc32cRegisterUpdate(uint32_t crc, std::string_view data) {
  while (!data.empty()) {
    // It takes an int length.
    const size_t n = std::min<size_t>(data.size(), INT_MAX);
    auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
    crc = crc32_iscsi(p, static_cast<int>(n), crc);
    data.remove_prefix(n);
  }
  return crc;
}

std::string BigEndian(uint64_t v, size_t bytes) {
  std::string out(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) out[bytes - 1 - i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

constexpr std::array<ChecksumAlgorithm, 5> kAllAlgorithms = {
    ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme,
    ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256};

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeBase64Values() {
  std::array<int8_t, 256> v{};
  for (auto& x : v) x = -1;
  for (int i = 0; i < 64; ++i) {
    v[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  }
  return v;
}
constexpr std::array<int8_t, 256> kBase64Values = MakeBase64Values();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view ChecksumSuffix(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32: return "crc32";
    case ChecksumAlgorithm::kCrc32c: return "crc32c";
    case ChecksumAlgorithm::kCrc64Nvme: return "crc64nvme";
    case ChecksumAlgorithm::kSha1: return "sha1";
    case ChecksumAlgorithm::kSha256: return "sha256";
  }
  CHECK(false) << "bad ChecksumAlgorithm " << static_cast<int>(algorithm);
  return "";
}

std::string_view ChecksumAlgorithmName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32: return "CRC32";
    case ChecksumAlgorithm::kCrc32c: return "CRC32C";
    case ChecksumAlgorithm::kCrc64Nvme: return "CRC64NVME";
    case ChecksumAlgorithm::kSha1: return "SHA1";
    case ChecksumAlgorithm::kSha256: return "SHA256";
  }
  CHECK(false) << "bad ChecksumAlgorithm " << static_cast<int>(algorithm);
  return "";
}

std::string ChecksumHeaderName(ChecksumAlgorithm algorithm) {
  return "x-amz-checksum-" + std::string(ChecksumSuffix(algorithm));
}

size_t ChecksumDigestBytes(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c: return 4;
    case ChecksumAlgorithm::kCrc64Nvme: return 8;
    case ChecksumAlgorithm::kSha1: return 20;
    case ChecksumAlgorithm::kSha256: return 32;
  }
  CHECK(false) << "bad ChecksumAlgorithm " << static_cast<int>(algorithm);
  return 0;
}

Result<ChecksumAlgorithm> ParseChecksumSuffix(std::string_view suffix) {
  for (ChecksumAlgorithm a : kAllAlgorithms) {
    if (EqualsIgnoreCase(suffix, ChecksumSuffix(a))) return a;
  }
  return InvalidArgument("unknown checksum algorithm suffix '" + std::string(suffix.substr(0, 64)) +
                         "'");
}

Result<ChecksumAlgorithm> ParseChecksumAlgorithmName(std::string_view name) {
  for (ChecksumAlgorithm a : kAllAlgorithms) {
    if (EqualsIgnoreCase(name, ChecksumAlgorithmName(a))) return a;
  }
  return InvalidArgument("unknown checksum algorithm '" + std::string(name.substr(0, 64)) + "'");
}

std::optional<ChecksumAlgorithm> ChecksumAlgorithmOfHeader(std::string_view name) {
  constexpr std::string_view kPrefix = "x-amz-checksum-";
  if (name.size() <= kPrefix.size() || !EqualsIgnoreCase(name.substr(0, kPrefix.size()), kPrefix)) {
    return std::nullopt;
  }
  Result<ChecksumAlgorithm> a = ParseChecksumSuffix(name.substr(kPrefix.size()));
  if (!a.ok()) return std::nullopt;
  return *a;
}

namespace {

// The digests, fetched once and kept for the process's life: OpenSSL 3 fetches a legacy
// EVP_sha256() again on every init, which costs more than hashing a request's few hundred bytes.
const EVP_MD* FetchedDigest(const char* name, const EVP_MD* legacy) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : legacy;
}
const EVP_MD* Sha1Digest() {
  static const EVP_MD* const md = FetchedDigest("SHA1", EVP_sha1());
  return md;
}
const EVP_MD* Sha256Digest() {
  static const EVP_MD* const md = FetchedDigest("SHA256", EVP_sha256());
  return md;
}
const EVP_MD* Md5Digest() {
  static const EVP_MD* const md = FetchedDigest("MD5", EVP_md5());
  return md;
}

// The digest `ctx` has taken in so far, as bytes.
std::string DigestFinal(EVP_MD_CTX* ctx) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  CHECK(EVP_DigestFinal_ex(ctx, out, &n) == 1) << "EVP_DigestFinal_ex";
  return std::string(reinterpret_cast<const char*>(out), n);
}

// One context per thread, initialized again for every digest: SigV4 hashes a canonical request
// per request, and making a context costs about as much as hashing it.
std::string OneShotDigest(const EVP_MD* md, std::string_view data) {
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  CHECK(ctx != nullptr) << "EVP_MD_CTX_new failed";
  CHECK(EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1) << "EVP_DigestInit_ex failed";
  CHECK(EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1) << "EVP_DigestUpdate";
  return DigestFinal(ctx.get());
}

}  // namespace

struct Checksummer::Evp {
  explicit Evp(const EVP_MD* md) : ctx(EVP_MD_CTX_new()) {
    CHECK(ctx != nullptr) << "EVP_MD_CTX_new failed";
    CHECK(EVP_DigestInit_ex(ctx, md, nullptr) == 1) << "EVP_DigestInit_ex failed";
  }
  ~Evp() { EVP_MD_CTX_free(ctx); }
  Evp(const Evp&) = delete;
  Evp& operator=(const Evp&) = delete;

  EVP_MD_CTX* ctx;
};

Checksummer::Checksummer(ChecksumAlgorithm algorithm)
    : Checksummer([algorithm] {
        switch (algorithm) {
          case ChecksumAlgorithm::kCrc32: return Kind::kCrc32;
          case ChecksumAlgorithm::kCrc32c: return Kind::kCrc32c;
          case ChecksumAlgorithm::kCrc64Nvme: return Kind::kCrc64Nvme;
          case ChecksumAlgorithm::kSha1: return Kind::kSha1;
          case ChecksumAlgorithm::kSha256: return Kind::kSha256;
        }
        CHECK(false) << "bad ChecksumAlgorithm " << static_cast<int>(algorithm);
        return Kind::kCrc32;
      }()) {}

Checksummer::Checksummer(Kind kind) : kind_(kind) {
  switch (kind_) {
    case Kind::kCrc32: crc_ = 0; break;
    case Kind::kCrc32c: crc_ = 0xffffffffu; break;
    case Kind::kCrc64Nvme: crc_ = ~uint64_t{0}; break;
    case Kind::kSha1: evp_ = std::make_unique<Evp>(Sha1Digest()); break;
    case Kind::kSha256: evp_ = std::make_unique<Evp>(Sha256Digest()); break;
    case Kind::kMd5: evp_ = std::make_unique<Evp>(Md5Digest()); break;
  }
}

Checksummer Checksummer::Md5() { return Checksummer(Kind::kMd5); }

Checksummer::~Checksummer() = default;
Checksummer::Checksummer(Checksummer&&) noexcept = default;
Checksummer& Checksummer::operator=(Checksummer&&) noexcept = default;

void Checksummer::Update(std::string_view data) {
  CHECK(!finished_) << "Checksummer::Update after Final";
  switch (kind_) {
    case Kind::kCrc32: crc_ = Crc32Update(static_cast<uint32_t>(crc_), data); break;
    case Kind::kCrc32c: crc_ = Crc32cRegisterUpdate(static_cast<uint32_t>(crc_), data); break;
    case Kind::kCrc64Nvme: crc_ = Crc64NvmeUpdate(crc_, data); break;
    case Kind::kSha1:
    case Kind::kSha256:
    case Kind::kMd5:
      CHECK(EVP_DigestUpdate(evp_->ctx, data.data(), data.size()) == 1) << "EVP_DigestUpdate";
      break;
  }
}

std::string Checksummer::Final() {
  CHECK(!finished_) << "Checksummer::Final called twice";
  finished_ = true;
  switch (kind_) {
    case Kind::kCrc32: return BigEndian(crc_, 4);
    case Kind::kCrc32c: return BigEndian(~static_cast<uint32_t>(crc_), 4);
    case Kind::kCrc64Nvme: return BigEndian(~crc_, 8);
    case Kind::kSha1:
    case Kind::kSha256:
    case Kind::kMd5: return DigestFinal(evp_->ctx);
  }
  CHECK(false) << "bad Checksummer kind";
  return "";
}

std::string ComputeChecksum(ChecksumAlgorithm algorithm, std::string_view data) {
  Checksummer c(algorithm);
  c.Update(data);
  return c.Final();
}

std::string Md5(std::string_view data) { return OneShotDigest(Md5Digest(), data); }

std::string Sha256(std::string_view data) { return OneShotDigest(Sha256Digest(), data); }

uint32_t Crc32(std::string_view data) { return Crc32Update(0, data); }
uint32_t Crc32c(std::string_view data) { return ~Crc32cRegisterUpdate(0xffffffffu, data); }
uint64_t Crc64Nvme(std::string_view data) { return ~Crc64NvmeUpdate(~uint64_t{0}, data); }

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8 |
                       static_cast<unsigned char>(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64Alphabet[(v >> shift) & 63]);
  }
  const size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidArgument("base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    // Padding may only end the last quantum: "xx==" or "xxx=".
    size_t pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      int8_t d = j < 4 - pad ? kBase64Values[static_cast<unsigned char>(text[i + j])] : 0;
      if (d < 0) return InvalidArgument("bad base64 character or padding");
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
    // The bits that padding stands for must be zero, or two texts would decode alike.
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) {
      return InvalidArgument("base64 has non-zero padding bits");
    }
  }
  return out;
}

std::string HexEncode(std::string_view data) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return InvalidArgument("hex string of odd length");
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("bad hex character");
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace dase::s3
