// AWS Signature Version 4 for S3: verifying requests (server) and signing them (clients: the
// load generator, tests).
//
// A request is given as plain strings (SigV4Request), not as any HTTP library's type. Two
// forms of authentication exist:
//   * header: "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/
//     aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=<64 hex>",
//     with x-amz-date (or Date) and x-amz-content-sha256 headers;
//   * presigned URL: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
//     X-Amz-SignedHeaders and X-Amz-Signature in the query; the payload is UNSIGNED-PAYLOAD
//     unless the URL pins one with X-Amz-Content-Sha256 (MinIO's extension). Header auth
//     requires every x-amz-* header to be signed (VerifyOptions can relax it); presigned URLs
//     only require host.
//
// The canonical request is built as s3/canonical.h describes. Its URI is the path exactly as
// sent: S3 neither normalizes it nor encodes it twice. A client that sent some characters raw
// (say '$') but signed them percent-encoded is accepted too, by a second try over the path
// decoded and encoded again; both forms name the same key. Any region is accepted and used as
// given; the service must be "s3".
//
// Errors are AuthError values whose kind maps to one S3 error code (see AuthErrorKind). The
// verifier bounds what it parses (kAuthorizationBytesMax, kSignedHeadersMax,
// kQueryParamsMax) and compares signatures in constant time.
//
// Thread-safety: free functions without shared state; safe from any thread, except that a
// SigningKeyCache given in VerifyOptions is the caller's to keep to one thread. The secret
// lookup callback is called on the caller's thread, at most once per VerifyRequest.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "s3/canonical.h"
#include "s3/outcome.h"
#include "s3/signing_key_cache.h"

namespace dase::s3 {

inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingSignedPayloadTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedPayloadTrailer =
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
// Lowercase hex SHA-256 of the empty string.
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Limits on what the client controls.
inline constexpr size_t kAuthorizationBytesMax = 16 * 1024;
inline constexpr size_t kSignedHeadersMax = 128;
// Presigned URLs live at most a week (AWS's limit).
inline constexpr int64_t kPresignExpiresMaxS = 7 * 24 * 3600;
// Header-signed requests may be this far from the server's clock either way.
inline constexpr int64_t kClockSkewMaxS = 15 * 60;

struct SigV4Request {
  std::string method;           // "GET"
  std::string path;             // as sent, percent-encoded, without the query: "/bucket/a%20b"
  std::string query;            // as sent, without the '?': "list-type=2&prefix=a%2F"
  std::vector<Header> headers;  // as received, in any order and case
};

enum class AuthMethod { kNone, kHeader, kPresigned };

// The x-amz-content-sha256 value: what the signature says about the body.
enum class PayloadMode {
  kSha256,                    // hex SHA-256 of the body; check it with VerifyPayloadSha256
  kUnsigned,                  // UNSIGNED-PAYLOAD
  kStreamingSigned,           // STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked, signed chunks
  kStreamingSignedTrailer,    // ... -PAYLOAD-TRAILER: the same, then signed trailers
  kStreamingUnsignedTrailer,  // STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked, trailers
};
// InvalidArgument for anything else (including SigV4a's ECDSA streaming modes).
Result<PayloadMode> ParsePayloadMode(std::string_view x_amz_content_sha256);
// The literal for a mode other than kSha256 (which has no literal: the value is the hash).
std::string_view PayloadModeLiteral(PayloadMode mode);
bool IsStreaming(PayloadMode mode);

// What aws-chunked chunk and trailer signatures chain from.
struct SigningContext {
  std::string signing_key;  // the derived key, 32 raw bytes
  std::string timestamp;    // "20130524T000000Z", as in the string to sign
  std::string scope;        // "20130524/us-east-1/s3/aws4_request"
  std::string signature;    // the request's (seed) signature, lowercase hex
};

struct VerifiedRequest {
  AuthMethod method = AuthMethod::kNone;
  std::string access_key_id;
  std::string region;
  int64_t time_s = 0;  // the request's signing time, seconds since the epoch
  SigningContext signing;
  PayloadMode payload_mode = PayloadMode::kUnsigned;
  std::string payload_sha256;  // lowercase hex; set only for PayloadMode::kSha256
};

// Each kind is one answer of the S3 server (S3 error code in brackets).
enum class AuthErrorKind {
  kMissing,                // no Authorization header and no X-Amz-Algorithm: anonymous
  kMalformed,              // [AuthorizationHeaderMalformed], or when presigned
                           // [AuthorizationQueryParametersError]
  kInvalidRequest,         // [InvalidRequest]: another scheme (SigV2, SigV4a), both header and
                           // query auth, missing/invalid x-amz-content-sha256, bad query escapes
  kAccessDenied,           // [AccessDenied]: no valid date, required headers unsigned,
                           // x-amz-* headers present but unsigned, presigned URL not valid yet
  kInvalidAccessKeyId,     // [InvalidAccessKeyId]: the lookup said NotFound
  kSignatureDoesNotMatch,  // [SignatureDoesNotMatch]
  kRequestTimeTooSkewed,   // [RequestTimeTooSkewed]
  kExpired,                // [AccessDenied] "Request has expired" (presigned)
  kPayloadHashMismatch,    // [XAmzContentSHA256Mismatch]
  kInternal,               // [InternalError]: the secret lookup failed other than NotFound
};
std::string_view AuthErrorKindName(AuthErrorKind kind);

struct AuthError {
  AuthErrorKind kind;
  AuthMethod method;  // which form the request used, when known
  std::string message;

  // For logs and generic paths: Unauthenticated, InvalidArgument or Internal, with the kind
  // name in the message.
  Status ToStatus() const;
};

template <typename T>
using AuthResult = Outcome<T, AuthError>;

// The secret access key of an access key id; NotFound if there is no such key.
using SecretLookup = std::function<Result<std::string>(std::string_view access_key_id)>;

// Whether x-amz-* headers the client did not sign are refused (header auth only). AWS
// refuses them; signing them is what stops a proxy from adding x-amz-copy-source or an ACL.
enum class UnsignedAmzHeaders { kReject, kAllow };

struct VerifyOptions {
  int64_t clock_skew_max_s = kClockSkewMaxS;
  UnsignedAmzHeaders unsigned_amz_headers = UnsignedAmzHeaders::kReject;
  // Signing keys derived before, if given (the secret is still looked up every time).
  SigningKeyCache* signing_keys = nullptr;
};

// Authenticates `request` at server time `now_s` (from the Env clock). The body is not read:
// for PayloadMode::kSha256 call VerifyPayloadSha256 once it is; for streaming modes decode it
// with s3/chunked.h from the returned signing context.
AuthResult<VerifiedRequest> VerifyRequest(const SigV4Request& request,
                                          const SecretLookup& secret_for, int64_t now_s,
                                          const VerifyOptions& options = {});

// kPayloadHashMismatch unless the body hashes to the signed x-amz-content-sha256. Succeeds
// without looking for modes other than kSha256. The Digest form takes the raw SHA-256 of a
// body hashed as it streamed in.
AuthResult<void> VerifyPayloadSha256(const VerifiedRequest& verified, std::string_view body);
AuthResult<void> VerifyPayloadDigest(const VerifiedRequest& verified, std::string_view sha256);

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

struct SignedRequest {
  // To add to the request: x-amz-date, x-amz-content-sha256, Authorization.
  std::vector<Header> headers;
  // For aws-chunked encoding of the body (s3/chunked.h).
  SigningContext signing;
};

// Signs `request` for header auth. Every header in it is signed except those proxies rewrite
// (user-agent, expect, transfer-encoding, connection, x-amzn-trace-id); it must have a host
// header and must not yet have x-amz-date, x-amz-content-sha256 or authorization.
// `payload_hash` is the body's lowercase hex SHA-256 or one of the literals above. With
// `signing_keys`, the day's signing key comes from there (as SDKs keep it) instead of being
// derived for every request.
Result<SignedRequest> SignRequest(const SigV4Request& request, const Credentials& credentials,
                                  std::string_view region, int64_t now_s,
                                  std::string_view payload_hash,
                                  SigningKeyCache* signing_keys = nullptr);

// The query string of a presigned URL for `request` valid for `expires_s` (1..604800)
// seconds from `now_s`: the request's own query parameters and the X-Amz-* ones, canonically
// encoded, X-Amz-Signature last. Headers are signed as in SignRequest (usually only host).
Result<std::string> PresignQuery(const SigV4Request& request, const Credentials& credentials,
                                 std::string_view region, int64_t now_s, int64_t expires_s);

}  // namespace dase::s3
