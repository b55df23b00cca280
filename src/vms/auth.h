// Auth primitives for the VMS REST API: Argon2id password hashes, HS256 JWTs, Basic auth
// parsing, base64 flavours, SHA-256 and constant-time comparison.
//
// Nothing here knows about users or tokens as resources; the API layer decides what a verified
// claim set or password means. All parsing of client input is bounded and returns errors
// instead of crashing.
//
// Thread-safety: free functions without shared state; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/object.hpp>

#include "common/result.h"
#include "env/env.h"

namespace dase::vms {

// Argon2id cost parameters (OWASP's minimum recommendation) and limits.
inline constexpr uint32_t kArgon2MemoryKiB = 19456;
inline constexpr uint32_t kArgon2Iterations = 2;
inline constexpr uint32_t kArgon2Parallelism = 1;
inline constexpr size_t kArgon2SaltBytes = 16;
inline constexpr size_t kArgon2HashBytes = 32;
inline constexpr size_t kPasswordBytesMax = 4096;
inline constexpr size_t kJwtBytesMax = 8 * 1024;
inline constexpr size_t kBasicAuthBytesMax = 4 * 1024;

// A PHC string "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" with a fresh salt from `env`.
// The API should refuse passwords longer than kPasswordBytesMax before they get here; longer
// ones still hash correctly.
std::string HashPassword(env::Env* env, std::string_view password);
// False for a wrong password and for anything that is not an Argon2id PHC string.
bool VerifyPassword(std::string_view encoded, std::string_view password);

// Lowercase hex SHA-256 (e.g. for storing API tokens by digest).
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
// Compares without leaking, through timing, where the first difference is. Different lengths
// compare unequal (the length itself is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// RFC 4648 §5 URL-safe alphabet without padding (JWT segments). Decoding is strict: no
// padding, no stray characters, unused trailing bits must be zero.
std::string Base64UrlEncode(std::string_view data);
Result<std::string> Base64UrlDecode(std::string_view text);
// RFC 4648 §4 standard alphabet; Decode accepts missing padding.
std::string Base64Encode(std::string_view data);
Result<std::string> Base64Decode(std::string_view text);

// An HS256 JWT ("header.payload.signature") over `claims`, which should include "exp".
std::string SignJwt(const boost::json::object& claims, std::string_view secret);
// The claims of a token signed with `secret`, whose header says alg HS256 and whose "exp"
// (seconds since the epoch, required) is after `now_s`; "nbf", if present, must be <= now_s.
// Every failure is Unauthenticated.
Result<boost::json::object> VerifyJwt(std::string_view token, std::string_view secret,
                                      int64_t now_s);

// "Basic <base64(user:password)>" → {user, password}. The scheme is case-insensitive; the
// password may contain ':'. Failures are Unauthenticated.
Result<std::pair<std::string, std::string>> ParseBasicAuth(std::string_view header_value);

}  // namespace dase::vms
