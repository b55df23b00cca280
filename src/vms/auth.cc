#include "vms/auth.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <span>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include "common/check.h"

namespace dase::vms {
namespace {

constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kArgon2idPrefix = "$argon2id$";
constexpr size_t kEncodedHashBytesMax = 512;

using DecodeTable = std::array<int8_t, 256>;

constexpr DecodeTable MakeDecodeTable(const char* alphabet) {
  DecodeTable table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr DecodeTable kStdTable = MakeDecodeTable(kStdAlphabet);
constexpr DecodeTable kUrlTable = MakeDecodeTable(kUrlAlphabet);

std::string EncodeWith(std::string_view data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
  while (pad && out.size() % 4 != 0) out.push_back('=');
  return out;
}

// Strict: rejects unknown characters, impossible lengths and non-zero unused trailing bits, so
// each byte string has exactly one accepted encoding.
Result<std::string> DecodeWith(std::string_view text, const DecodeTable& table) {
  if (text.size() % 4 == 1) return InvalidArgument("bad base64 length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    int8_t v = table[c];
    if (v < 0) return InvalidArgument("bad base64 character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return InvalidArgument("bad base64 trailing bits");
  return out;
}

Result<boost::json::object> DecodeJsonObject(std::string_view segment, std::string_view what) {
  auto bytes = Base64UrlDecode(segment);
  if (!bytes.ok()) return Unauthenticated(fmt::format("token {} is not base64url", what));
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(*bytes, ec);
  if (ec || !value.is_object()) {
    return Unauthenticated(fmt::format("token {} is not a JSON object", what));
  }
  return std::move(value.as_object());
}

// A NumericDate claim as whole seconds; nullopt if absent, error if not a number.
Result<std::optional<int64_t>> TimeClaim(const boost::json::object& claims, std::string_view name) {
  const boost::json::value* v = claims.if_contains(name);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64()) return std::optional<int64_t>(std::numeric_limits<int64_t>::max());
  if (v->is_double() && std::isfinite(v->as_double())) {
    double d = std::floor(v->as_double());
    if (d >= 9.2e18) return std::optional<int64_t>(std::numeric_limits<int64_t>::max());
    if (d <= -9.2e18) return std::optional<int64_t>(std::numeric_limits<int64_t>::min());
    return std::optional<int64_t>(static_cast<int64_t>(d));
  }
  return Unauthenticated(fmt::format("token claim {} is not a number", name));
}

Status CheckHeader(std::string_view segment) {
  ASSIGN_OR_RETURN(boost::json::object header, DecodeJsonObject(segment, "header"));
  const boost::json::value* alg = header.if_contains("alg");
  // Only HS256: "none" and asymmetric algorithms would let a client choose how we verify.
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256") {
    return Unauthenticated("token algorithm must be HS256");
  }
  return Status::Ok();
}

Status CheckTimes(const boost::json::object& claims, int64_t now_s) {
  ASSIGN_OR_RETURN(std::optional<int64_t> expiry_s, TimeClaim(claims, "exp"));
  if (!expiry_s) return Unauthenticated("token has no expiry");
  if (now_s >= *expiry_s) return Unauthenticated("token is expired");
  ASSIGN_OR_RETURN(std::optional<int64_t> not_before_s, TimeClaim(claims, "nbf"));
  if (not_before_s && now_s < *not_before_s) return Unauthenticated("token is not valid yet");
  return Status::Ok();
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string HashPassword(env::Env* env, std::string_view password) {
  std::array<char, kArgon2SaltBytes> salt;
  env->RandomBytes(std::span<char>(salt));
  size_t encoded_len = argon2_encodedlen(kArgon2Iterations, kArgon2MemoryKiB, kArgon2Parallelism,
                                         kArgon2SaltBytes, kArgon2HashBytes, Argon2_id);
  std::string encoded(encoded_len, '\0');
  int rc = argon2id_hash_encoded(kArgon2Iterations, kArgon2MemoryKiB, kArgon2Parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 kArgon2HashBytes, encoded.data(), encoded.size());
  // Fails only when memory cannot be allocated: as fatal here as anywhere else.
  CHECK(rc == ARGON2_OK) << "argon2id_hash_encoded: " << argon2_error_message(rc);
  encoded.resize(std::min(encoded.size(), encoded.find('\0')));  // drop the C terminator
  return encoded;
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  if (encoded.size() > kEncodedHashBytesMax || !encoded.starts_with(kArgon2idPrefix)) {
    return false;
  }
  std::string terminated(encoded);  // argon2 wants a C string
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  CHECK(EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha256(), nullptr) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < md_len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  static const unsigned char kEmpty[1] = {0};
  const void* key_ptr = key.empty() ? kEmpty : static_cast<const void*>(key.data());
  const unsigned char* data_ptr =
      data.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  CHECK(key.size() <= static_cast<size_t>(std::numeric_limits<int>::max()));
  CHECK(HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), md,
             &md_len) != nullptr);
  return std::string(reinterpret_cast<const char*>(md), md_len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64UrlEncode(std::string_view data) { return EncodeWith(data, kUrlAlphabet, false); }

Result<std::string> Base64UrlDecode(std::string_view text) { return DecodeWith(text, kUrlTable); }

std::string Base64Encode(std::string_view data) { return EncodeWith(data, kStdAlphabet, true); }

Result<std::string> Base64Decode(std::string_view text) {
  if (!text.empty() && text.back() == '=') {
    if (text.size() % 4 != 0) return InvalidArgument("bad base64 padding");
    text.remove_suffix(1);
    if (!text.empty() && text.back() == '=') text.remove_suffix(1);
  }
  return DecodeWith(text, kStdTable);
}

std::string SignJwt(const boost::json::object& claims, std::string_view secret) {
  static const std::string kHeader = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  std::string signing_input = kHeader + "." + Base64UrlEncode(boost::json::serialize(claims));
  return signing_input + "." + Base64UrlEncode(HmacSha256(secret, signing_input));
}

Result<boost::json::object> VerifyJwt(std::string_view token, std::string_view secret,
                                      int64_t now_s) {
  if (token.size() > kJwtBytesMax) return Unauthenticated("token too long");
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Unauthenticated("token is not a JWT");
  }
  RETURN_IF_ERROR(CheckHeader(token.substr(0, dot1)));
  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature.ok() ||
      !ConstantTimeEquals(*signature, HmacSha256(secret, token.substr(0, dot2)))) {
    return Unauthenticated("token signature is invalid");
  }
  ASSIGN_OR_RETURN(boost::json::object claims,
                   DecodeJsonObject(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload"));
  RETURN_IF_ERROR(CheckTimes(claims, now_s));
  return claims;
}

Result<std::pair<std::string, std::string>> ParseBasicAuth(std::string_view header_value) {
  if (header_value.size() > kBasicAuthBytesMax) return Unauthenticated("authorization too long");
  std::string_view v = TrimSpaces(header_value);
  size_t space = v.find(' ');
  if (space == std::string_view::npos || !IEquals(v.substr(0, space), "basic")) {
    return Unauthenticated("not Basic authorization");
  }
  auto decoded = Base64Decode(TrimSpaces(v.substr(space + 1)));
  if (!decoded.ok()) return Unauthenticated("Basic credentials are not base64");
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return Unauthenticated("Basic credentials lack ':'");
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

}  // namespace dase::vms
