// S3 request authentication and payload checks: SigV4 (headers or presigned URL), the body's
// signed hash, aws-chunked bodies (chunk signatures, trailers), Content-MD5 and
// x-amz-checksum-* values. Every request must be signed by a known, enabled access key.
#include <charconv>

#include <boost/beast/http/verb.hpp>

#include "common/log.h"
#include "s3/checksum.h"
#include "s3/chunked.h"
#include "s3/http_util.h"
#include "s3/service.h"
#include "s3/sigv4.h"

namespace dase::s3 {
namespace bhttp = boost::beast::http;
namespace {

S3Error FromAuthError(const AuthError& e) {
  switch (e.kind) {
    case AuthErrorKind::kMissing:
      return {403, "AccessDenied", "Access Denied: anonymous requests are not allowed"};
    case AuthErrorKind::kMalformed:
      if (e.method == AuthMethod::kPresigned) {
        return {400, "AuthorizationQueryParametersError", e.message};
      }
      return {400, "AuthorizationHeaderMalformed", e.message};
    case AuthErrorKind::kInvalidRequest: return {400, "InvalidRequest", e.message};
    case AuthErrorKind::kAccessDenied: return {403, "AccessDenied", e.message};
    case AuthErrorKind::kInvalidAccessKeyId:
      return {403, "InvalidAccessKeyId",
              "The AWS Access Key Id you provided does not exist in our records."};
    case AuthErrorKind::kSignatureDoesNotMatch:
      return {403, "SignatureDoesNotMatch",
              "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method."};
    case AuthErrorKind::kRequestTimeTooSkewed:
      return {403, "RequestTimeTooSkewed",
              "The difference between the request time and the current time is too large."};
    case AuthErrorKind::kExpired: return {403, "AccessDenied", "Request has expired"};
    case AuthErrorKind::kPayloadHashMismatch:
      return {400, "XAmzContentSHA256Mismatch",
              "The provided 'x-amz-content-sha256' header does not match what was computed."};
    case AuthErrorKind::kInternal: break;
  }
  return {500, "InternalError", "We encountered an internal error. Please try again."};
}

S3Error FromBodyError(const BodyError& e) {
  switch (e.kind) {
    case BodyErrorKind::kSignatureDoesNotMatch:
      return {403, "SignatureDoesNotMatch",
              "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method."};
    case BodyErrorKind::kIncompleteBody:
      return {400, "IncompleteBody", "You did not provide the number of bytes specified: " + e.message};
    case BodyErrorKind::kBadDigest: return {400, "BadDigest", e.message};
    case BodyErrorKind::kInvalidRequest: break;
  }
  return {400, "InvalidRequest", "Malformed aws-chunked body: " + e.message};
}

}  // namespace

bool S3Service::KeepsSnapshot(const S3Request& r) {
  if (r.key.empty() || r.HasQuery("uploadId")) return false;
  switch (r.http->method()) {
    case bhttp::verb::get:
    case bhttp::verb::head: return true;
    case bhttp::verb::put: return !r.HasQuery("partNumber") && r.Header("x-amz-copy-source").empty();
    default: return false;
  }
}

std::optional<S3Error> S3Service::Authenticate(S3Request& r) {
  http::Request& request = *r.http;
  SigV4Request sig;
  sig.method = std::string(request.method_string());
  std::string_view target = request.target();
  size_t q = target.find('?');
  sig.path = std::string(target.substr(0, q));
  sig.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  for (const auto& field : request) {
    sig.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  std::optional<KeyInfo> key;
  Status lookup_error = Status::Ok();
  SecretLookup lookup = [&](std::string_view access_key) -> Result<std::string> {
    auto txn = store_->Begin();
    if (!txn.ok()) {
      lookup_error = txn.status();
      return txn.status();
    }
    auto found = catalog_.LookupKeyAndBucket(**txn, access_key, r.bucket);
    if (!found.ok()) {
      lookup_error = found.status();
      return found.status();
    }
    if (!found->key) return NotFound("no such access key");
    key = std::move(found->key);
    r.bucket_record = std::move(found->bucket);
    if (KeepsSnapshot(r)) r.snapshot = std::move(txn).value();
    return key->secret;
  };
  int64_t now_s = env_->NowMicros() / 1000000;
  VerifyOptions options;
  options.signing_keys = &signing_keys_;  // the secret is still read above, every time
  auto verified = VerifyRequest(sig, lookup, now_s, options);
  if (!verified.ok()) {
    r.snapshot.reset();
    if (!lookup_error.ok()) LOG_WARN("s3: access key lookup failed: {}", lookup_error.ToString());
    return FromAuthError(verified.error());
  }
  r.identity = key->identity;

  // The payload.
  switch (verified->payload_mode) {
    case PayloadMode::kSha256: {
      auto checked = VerifyPayloadSha256(*verified, request.body());
      if (!checked.ok()) return FromAuthError(checked.error());
      r.body = std::move(request.body());
      break;
    }
    case PayloadMode::kUnsigned: r.body = std::move(request.body()); break;
    default: {
      std::string declared = r.Header("x-amz-decoded-content-length");
      uint64_t decoded_length = 0;
      auto parsed = std::from_chars(declared.data(), declared.data() + declared.size(), decoded_length);
      if (declared.empty() || parsed.ec != std::errc() || parsed.ptr != declared.data() + declared.size()) {
        return S3Error{411, "MissingContentLength", "x-amz-decoded-content-length is required for aws-chunked bodies"};
      }
      std::string trailer = r.Header("x-amz-trailer");
      ChunkedDecodeOptions options;
      options.mode = verified->payload_mode;
      options.decoded_length = decoded_length;
      options.signing = &verified->signing;
      options.declared_trailers = trailer;
      auto decoded = DecodeChunked(request.body(), options);
      if (!decoded.ok()) return FromBodyError(decoded.error());
      r.body = std::move(decoded->data);
      for (const auto& [name, value] : decoded->trailers) {
        if (ChecksumAlgorithmOfHeader(name)) sig.headers.emplace_back(name, value);
      }
      break;
    }
  }
  request.body().clear();

  // Content-MD5 and x-amz-checksum-* (from headers, or trailers added to sig.headers above).
  std::string md5 = r.Header("content-md5");
  if (!md5.empty()) {
    auto expected = Base64Decode(md5);
    if (!expected.ok() || expected->size() != 16) {
      return S3Error{400, "InvalidDigest", "The Content-MD5 you specified was invalid."};
    }
    if (*expected != Md5(r.body)) {
      return S3Error{400, "BadDigest", "The Content-MD5 you specified did not match what we received."};
    }
  }
  for (const auto& [name, value] : sig.headers) {
    auto algorithm = ChecksumAlgorithmOfHeader(name);
    if (!algorithm) continue;
    auto expected = Base64Decode(value);
    if (!expected.ok() || expected->size() != ChecksumDigestBytes(*algorithm)) {
      return S3Error{400, "InvalidRequest",
                     "Value for " + ChecksumHeaderName(*algorithm) + " header is invalid."};
    }
    // A checksum header on a request whose body is not the object (CompleteMultipartUpload
    // carries the object's composite checksum) is not about the body.
    if (r.HasQuery("uploadId") && !r.HasQuery("partNumber")) continue;
    if (*expected != ComputeChecksum(*algorithm, r.body)) {
      return S3Error{400, "BadDigest",
                     "The " + std::string(ChecksumAlgorithmName(*algorithm)) +
                         " you specified did not match the calculated checksum."};
    }
    r.checksum_algorithm = std::string(ChecksumAlgorithmName(*algorithm));
    r.checksum = value;
  }
  return std::nullopt;
}

}  // namespace dase::s3
