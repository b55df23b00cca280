#include "s3/sigv4.h"

#include <algorithm>
#include <array>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/check.h"
#include "s3/checksum.h"

namespace dase::s3 {
namespace {

constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kService = "s3";
constexpr size_t kSignatureHexBytes = 64;

// Headers a signer leaves out because proxies and HTTP stacks add, drop or rewrite them.
constexpr std::array<std::string_view, 6> kUnsignableHeaders = {
    "authorization", "connection", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"};

struct CredentialScope {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// The signing key of a credential scope: from `keys` if given (derived there once per scope),
// else derived now.
std::string SigningKey(SigningKeyCache* keys, std::string_view access_key_id,
                       std::string_view secret, std::string_view date, std::string_view region) {
  return keys != nullptr ? keys->KeyFor(access_key_id, secret, date, region, kService)
                         : DeriveSigningKey(secret, date, region, kService);
}


bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// A header field name (RFC 9110 token) in lower case.
bool IsLowerToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

size_t CountParam(const std::vector<QueryParam>& params, std::string_view name) {
  return static_cast<size_t>(std::count_if(params.begin(), params.end(),
                                           [&](const QueryParam& p) { return p.name == name; }));
}

// "AKID/20130524/us-east-1/s3/aws4_request". The key id is everything before the last four
// parts.
Result<CredentialScope> ParseCredential(std::string_view text) {
  std::array<std::string_view, 4> parts;
  for (int i = 3; i >= 0; --i) {
    const size_t slash = text.rfind('/');
    if (slash == std::string_view::npos) {
      return InvalidArgument("Credential must be <key id>/<date>/<region>/s3/aws4_request");
    }
    parts[static_cast<size_t>(i)] = text.substr(slash + 1);
    text = text.substr(0, slash);
  }
  if (text.empty()) return InvalidArgument("Credential has an empty access key id");
  if (parts[0].size() != 8 || !IsDigits(parts[0])) {
    return InvalidArgument("Credential date '" + std::string(parts[0]) + "' is not yyyymmdd");
  }
  if (parts[1].empty()) return InvalidArgument("Credential has an empty region");
  if (parts[2] != kService) {
    return InvalidArgument("incorrect service '" + std::string(parts[2]) +
                           "'; this endpoint belongs to 's3'");
  }
  if (parts[3] != kTerminator) {
    return InvalidArgument("incorrect terminal '" + std::string(parts[3]) +
                           "'; this endpoint uses 'aws4_request'");
  }
  return CredentialScope{std::string(text), std::string(parts[0]), std::string(parts[1])};
}

Result<std::vector<std::string>> ParseSignedHeaders(std::string_view text) {
  std::vector<std::string> names;
  while (true) {
    const size_t semi = text.find(';');
    std::string name = ToLowerAscii(text.substr(0, semi));
    if (!IsLowerToken(name)) return InvalidArgument("SignedHeaders has an empty or invalid name");
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return InvalidArgument("SignedHeaders names '" + name + "' twice");
    }
    if (names.size() == kSignedHeadersMax) {
      return InvalidArgument("more than " + std::to_string(kSignedHeadersMax) + " signed headers");
    }
    names.push_back(std::move(name));
    if (semi == std::string_view::npos) break;
    text.remove_prefix(semi + 1);
  }
  return names;
}

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool IsSignatureHex(std::string_view s) { return s.size() == kSignatureHexBytes && IsHex(s); }

struct AuthorizationFields {
  CredentialScope credential;
  std::vector<std::string> signed_headers;
  std::string signature;  // lowercase hex
};

// The part of an Authorization header after "AWS4-HMAC-SHA256": Credential=...,
// SignedHeaders=..., Signature=... in any order, separated by commas and/or spaces (no value
// contains either).
Result<AuthorizationFields> ParseAuthorizationFields(std::string_view text) {
  std::optional<std::string_view> credential, signed_headers, signature;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ',' || IsSpace(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && text[end] != ',' && !IsSpace(text[end])) ++end;
    const std::string_view item = text.substr(i, end - i);
    i = end;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("'" + std::string(item.substr(0, 64)) + "' is not key=value");
    }
    const std::string_view key = item.substr(0, eq);
    std::optional<std::string_view>* slot = key == "Credential"      ? &credential
                                            : key == "SignedHeaders" ? &signed_headers
                                            : key == "Signature"     ? &signature
                                                                     : nullptr;
    if (slot == nullptr) {
      return InvalidArgument("unknown component '" + std::string(key.substr(0, 64)) + "'");
    }
    if (slot->has_value()) return InvalidArgument(std::string(key) + " appears twice");
    *slot = item.substr(eq + 1);
  }
  if (!credential || !signed_headers || !signature) {
    return InvalidArgument(
        "the Authorization header needs Credential, SignedHeaders and Signature");
  }
  AuthorizationFields out;
  ASSIGN_OR_RETURN(out.credential, ParseCredential(*credential));
  ASSIGN_OR_RETURN(out.signed_headers, ParseSignedHeaders(*signed_headers));
  if (!IsSignatureHex(*signature)) return InvalidArgument("Signature is not 64 hex digits");
  out.signature = ToLowerAscii(*signature);
  return out;
}

AuthError Fail(AuthErrorKind kind, AuthMethod method, std::string message) {
  return AuthError{kind, method, std::move(message)};
}

// The part of verification both forms share, once each has gathered its fields.
struct Claim {
  AuthMethod method = AuthMethod::kNone;
  CredentialScope credential;
  std::vector<std::string> signed_headers;
  std::string signature;  // lowercase hex
  std::string timestamp;  // as it enters the string to sign
  int64_t time_s = 0;
  std::string canonical_query;
  std::string payload_hash;  // the value as signed
  PayloadMode payload_mode = PayloadMode::kUnsigned;
};

AuthResult<VerifiedRequest> CheckSignature(const SigV4Request& request, const Claim& claim,
                                           const SecretLookup& secret_for,
                                           const VerifyOptions& options) {
  const AuthMethod m = claim.method;
  if (!Contains(claim.signed_headers, "host")) {
    return Fail(AuthErrorKind::kAccessDenied, m, "the host header must be signed");
  }
  Result<std::string> headers = CanonicalHeaders(request.headers, claim.signed_headers);
  if (!headers.ok()) {
    return Fail(AuthErrorKind::kSignatureDoesNotMatch, m, std::string(headers.status().message()));
  }
  Result<std::string> secret = secret_for(claim.credential.access_key_id);
  if (!secret.ok()) {
    if (secret.status().code() == Code::kNotFound) {
      return Fail(AuthErrorKind::kInvalidAccessKeyId, m,
                  "the access key id '" + claim.credential.access_key_id + "' does not exist");
    }
    return Fail(AuthErrorKind::kInternal, m,
                "looking up the access key: " + secret.status().ToString());
  }
  VerifiedRequest out;
  out.method = m;
  out.access_key_id = claim.credential.access_key_id;
  out.region = claim.credential.region;
  out.time_s = claim.time_s;
  out.payload_mode = claim.payload_mode;
  if (claim.payload_mode == PayloadMode::kSha256) {
    out.payload_sha256 = ToLowerAscii(claim.payload_hash);
  }
  const CredentialScope& c = claim.credential;
  out.signing.signing_key =
      SigningKey(options.signing_keys, c.access_key_id, *secret, c.date, c.region);
  out.signing.timestamp = claim.timestamp;
  out.signing.scope = CredentialScopeString(c.date, c.region);

  const std::string signed_line = JoinSignedHeaders(claim.signed_headers);
  CanonicalRequestParts parts{request.method, request.path, claim.canonical_query,
                              *headers,       signed_line,  claim.payload_hash};
  std::string computed = RequestSignature(out.signing.signing_key, out.signing.timestamp,
                                          out.signing.scope, CanonicalRequest(parts));
  bool match = ConstantTimeEquals(computed, claim.signature);
  if (!match) {
    // A client that sent some characters raw may have signed them encoded (see the header).
    Result<std::string> decoded = PercentDecode(request.path, PlusDecoding::kLiteral);
    if (decoded.ok()) {
      const std::string recoded = UriEncode(*decoded, SlashEncoding::kKeep);
      if (recoded != request.path) {
        parts.uri = recoded;
        computed = RequestSignature(out.signing.signing_key, out.signing.timestamp,
                                    out.signing.scope, CanonicalRequest(parts));
        match = ConstantTimeEquals(computed, claim.signature);
      }
    }
  }
  if (!match) {
    return Fail(AuthErrorKind::kSignatureDoesNotMatch, m,
                "the request signature we calculated does not match the signature you provided");
  }
  out.signing.signature = claim.signature;
  return out;
}

// The credential, signed headers and signature of an Authorization header.
AuthResult<Claim> ParseAuthorizationHeader(std::string_view authorization) {
  constexpr AuthMethod m = AuthMethod::kHeader;
  if (authorization.size() > kAuthorizationBytesMax) {
    return Fail(AuthErrorKind::kMalformed, m, "the Authorization header is too long");
  }
  authorization = TrimSpaces(authorization);
  const size_t space = authorization.find_first_of(" \t");
  const std::string_view scheme = authorization.substr(0, space);
  if (scheme != kSigV4Algorithm) {
    const std::string what = scheme == "AWS" ? "Signature Version 2"
                             : scheme == "AWS4-ECDSA-P256-SHA256"
                                 ? "Signature Version 4A"
                                 : "'" + std::string(scheme.substr(0, 32)) + "'";
    return Fail(AuthErrorKind::kInvalidRequest, m,
                "the authorization mechanism " + what + " is not supported; use AWS4-HMAC-SHA256");
  }
  Result<AuthorizationFields> fields =
      ParseAuthorizationFields(space == std::string_view::npos ? "" : authorization.substr(space));
  if (!fields.ok()) {
    return Fail(AuthErrorKind::kMalformed, m, std::string(fields.status().message()));
  }
  Claim claim;
  claim.method = m;
  claim.credential = std::move(fields->credential);
  claim.signed_headers = std::move(fields->signed_headers);
  claim.signature = std::move(fields->signature);
  return claim;
}

struct SigningTime {
  std::string timestamp;  // as it enters the string to sign
  int64_t time_s;
};

// x-amz-date, else Date; either must be signed.
AuthResult<SigningTime> HeaderSigningTime(const std::vector<Header>& headers,
                                          const std::vector<std::string>& signed_headers) {
  constexpr AuthMethod m = AuthMethod::kHeader;
  if (std::optional<std::string> amz_date = CanonicalHeader(headers, "x-amz-date")) {
    Result<int64_t> t = ParseAmzDate(*amz_date);
    if (!t.ok()) return Fail(AuthErrorKind::kAccessDenied, m, "x-amz-date is not yyyymmddThhmmssZ");
    if (!Contains(signed_headers, "x-amz-date")) {
      return Fail(AuthErrorKind::kAccessDenied, m, "x-amz-date must be signed");
    }
    return SigningTime{*amz_date, *t};
  }
  if (std::optional<std::string> date = CanonicalHeader(headers, "date")) {
    Result<int64_t> t = ParseHttpDate(*date);
    if (!t.ok()) return Fail(AuthErrorKind::kAccessDenied, m, "the Date header is not valid");
    if (!Contains(signed_headers, "date")) {
      return Fail(AuthErrorKind::kAccessDenied, m, "the Date header must be signed");
    }
    return SigningTime{FormatAmzDate(*t), *t};
  }
  return Fail(AuthErrorKind::kAccessDenied, m,
              "AWS authentication requires a valid Date or x-amz-date header");
}

AuthResult<void> CheckAmzHeadersSigned(const std::vector<Header>& headers,
                                       const std::vector<std::string>& signed_headers) {
  std::vector<std::string> unsigned_names;
  for (const auto& [name, value] : headers) {
    std::string lower = ToLowerAscii(name);
    if (lower.starts_with("x-amz-") && !Contains(signed_headers, lower) &&
        !Contains(unsigned_names, lower)) {
      unsigned_names.push_back(std::move(lower));
    }
  }
  if (unsigned_names.empty()) return {};
  return Fail(AuthErrorKind::kAccessDenied, AuthMethod::kHeader,
              "there were headers present in the request which were not signed: " +
                  fmt::format("{}", fmt::join(unsigned_names, ", ")));
}

AuthResult<VerifiedRequest> VerifyHeaderAuth(const SigV4Request& request,
                                             std::string_view authorization,
                                             const std::vector<QueryParam>& params,
                                             const SecretLookup& secret_for, int64_t now_s,
                                             const VerifyOptions& options) {
  constexpr AuthMethod m = AuthMethod::kHeader;
  if (FindQueryParam(params, "X-Amz-Algorithm") != nullptr) {
    return Fail(
        AuthErrorKind::kInvalidRequest, m,
        "only one auth mechanism allowed: both an Authorization header and X-Amz-Algorithm");
  }
  AuthResult<Claim> claim = ParseAuthorizationHeader(authorization);
  if (!claim.ok()) return claim.error();
  AuthResult<SigningTime> time = HeaderSigningTime(request.headers, claim->signed_headers);
  if (!time.ok()) return time.error();
  claim->timestamp = time->timestamp;
  claim->time_s = time->time_s;
  if (claim->timestamp.substr(0, 8) != claim->credential.date) {
    return Fail(AuthErrorKind::kMalformed, m,
                "invalid credential date '" + claim->credential.date +
                    "': it is not the date of the request time " + claim->timestamp);
  }
  if (claim->time_s > now_s + options.clock_skew_max_s ||
      claim->time_s < now_s - options.clock_skew_max_s) {
    return Fail(AuthErrorKind::kRequestTimeTooSkewed, m,
                "the difference between the request time " + claim->timestamp +
                    " and the server's time " + FormatAmzDate(now_s) + " is too large");
  }
  std::optional<std::string> content_sha = CanonicalHeader(request.headers, "x-amz-content-sha256");
  if (!content_sha) {
    return Fail(AuthErrorKind::kInvalidRequest, m,
                "missing required header for this request: x-amz-content-sha256");
  }
  Result<PayloadMode> mode = ParsePayloadMode(*content_sha);
  if (!mode.ok()) {
    return Fail(AuthErrorKind::kInvalidRequest, m, std::string(mode.status().message()));
  }
  claim->payload_mode = *mode;
  claim->payload_hash = *content_sha;  // as signed; VerifiedRequest keeps it in lower case
  if (options.unsigned_amz_headers == UnsignedAmzHeaders::kReject) {
    AuthResult<void> all_signed = CheckAmzHeadersSigned(request.headers, claim->signed_headers);
    if (!all_signed.ok()) return all_signed.error();
  }
  claim->canonical_query = CanonicalQuery(params, SignatureParam::kKeep);
  return CheckSignature(request, *claim, secret_for, options);
}

AuthResult<VerifiedRequest> VerifyPresigned(const SigV4Request& request,
                                            const std::vector<QueryParam>& params,
                                            const SecretLookup& secret_for, int64_t now_s,
                                            const VerifyOptions& options) {
  constexpr AuthMethod m = AuthMethod::kPresigned;
  constexpr std::array<std::string_view, 6> kRequired = {"X-Amz-Algorithm", "X-Amz-Credential",
                                                         "X-Amz-Date",      "X-Amz-SignedHeaders",
                                                         "X-Amz-Signature", "X-Amz-Expires"};
  for (std::string_view name : kRequired) {
    const size_t n = CountParam(params, name);
    if (n == 0) {
      return Fail(AuthErrorKind::kMalformed, m,
                  "query-string authentication version 4 requires the X-Amz-Algorithm, "
                  "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                  "X-Amz-Expires parameters");
    }
    if (n > 1) return Fail(AuthErrorKind::kMalformed, m, std::string(name) + " appears twice");
  }
  if (FindQueryParam(params, "X-Amz-Algorithm")->value != kSigV4Algorithm) {
    return Fail(AuthErrorKind::kMalformed, m, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  Claim claim;
  claim.method = m;
  Result<CredentialScope> credential =
      ParseCredential(FindQueryParam(params, "X-Amz-Credential")->value);
  if (!credential.ok()) {
    return Fail(AuthErrorKind::kMalformed, m, std::string(credential.status().message()));
  }
  claim.credential = std::move(*credential);
  Result<std::vector<std::string>> signed_headers =
      ParseSignedHeaders(FindQueryParam(params, "X-Amz-SignedHeaders")->value);
  if (!signed_headers.ok()) {
    return Fail(AuthErrorKind::kMalformed, m, std::string(signed_headers.status().message()));
  }
  claim.signed_headers = std::move(*signed_headers);
  const std::string& signature = FindQueryParam(params, "X-Amz-Signature")->value;
  if (!IsSignatureHex(signature)) {
    return Fail(AuthErrorKind::kMalformed, m, "X-Amz-Signature is not 64 hex digits");
  }
  claim.signature = ToLowerAscii(signature);

  claim.timestamp = FindQueryParam(params, "X-Amz-Date")->value;
  Result<int64_t> t = ParseAmzDate(claim.timestamp);
  if (!t.ok()) {
    return Fail(AuthErrorKind::kMalformed, m, "X-Amz-Date must be in the ISO8601 long format");
  }
  claim.time_s = *t;
  const std::string& expires_text = FindQueryParam(params, "X-Amz-Expires")->value;
  if (!IsDigits(expires_text) || expires_text.size() > 7) {
    return Fail(AuthErrorKind::kMalformed, m, "X-Amz-Expires should be a number of seconds");
  }
  const int64_t expires_s = std::stoll(expires_text);
  if (expires_s < 1 || expires_s > kPresignExpiresMaxS) {
    return Fail(AuthErrorKind::kMalformed, m,
                "X-Amz-Expires must be between 1 and 604800 seconds (a week)");
  }
  if (claim.timestamp.substr(0, 8) != claim.credential.date) {
    return Fail(AuthErrorKind::kMalformed, m,
                "invalid credential date '" + claim.credential.date +
                    "': it is not the date of X-Amz-Date " + claim.timestamp);
  }
  if (claim.time_s > now_s + options.clock_skew_max_s) {
    return Fail(AuthErrorKind::kAccessDenied, m, "request is not valid yet");
  }
  if (now_s > claim.time_s + expires_s) {
    return Fail(AuthErrorKind::kExpired, m, "request has expired");
  }
  // A presigned URL signs no payload, unless it pins one (MinIO's extension).
  const QueryParam* content_sha = FindQueryParam(params, "X-Amz-Content-Sha256");
  claim.payload_hash = content_sha ? content_sha->value : std::string(kUnsignedPayload);
  Result<PayloadMode> mode = ParsePayloadMode(claim.payload_hash);
  if (!mode.ok()) {
    return Fail(AuthErrorKind::kInvalidRequest, m, std::string(mode.status().message()));
  }
  claim.payload_mode = *mode;
  claim.canonical_query = CanonicalQuery(params, SignatureParam::kDrop);
  return CheckSignature(request, claim, secret_for, options);
}

// Headers a signer covers: the request's own (minus unsignable ones) and `extra`, by lowercase
// name, sorted.
std::vector<std::string> NamesToSign(const std::vector<Header>& headers) {
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {
    std::string lower = ToLowerAscii(name);
    if (std::find(kUnsignableHeaders.begin(), kUnsignableHeaders.end(), lower) !=
        kUnsignableHeaders.end()) {
      continue;
    }
    if (std::find(names.begin(), names.end(), lower) == names.end()) {
      names.push_back(std::move(lower));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status CheckSignable(const SigV4Request& request, std::string_view region) {
  if (region.empty() || region.find_first_of("/ \t") != std::string_view::npos) {
    return InvalidArgument("bad region '" + std::string(region) + "'");
  }
  if (!CanonicalHeader(request.headers, "host")) {
    return InvalidArgument("the request has no host header");
  }
  return Status::Ok();
}

}  // namespace

Result<PayloadMode> ParsePayloadMode(std::string_view value) {
  if (value == kUnsignedPayload) return PayloadMode::kUnsigned;
  if (value == kStreamingSignedPayload) return PayloadMode::kStreamingSigned;
  if (value == kStreamingSignedPayloadTrailer) return PayloadMode::kStreamingSignedTrailer;
  if (value == kStreamingUnsignedPayloadTrailer) return PayloadMode::kStreamingUnsignedTrailer;
  if (value.size() == kSignatureHexBytes && IsHex(value)) {
    return PayloadMode::kSha256;
  }
  return InvalidArgument(
      "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a "
      "SHA-256 in hex");
}

std::string_view PayloadModeLiteral(PayloadMode mode) {
  switch (mode) {
    case PayloadMode::kSha256: break;
    case PayloadMode::kUnsigned: return kUnsignedPayload;
    case PayloadMode::kStreamingSigned: return kStreamingSignedPayload;
    case PayloadMode::kStreamingSignedTrailer: return kStreamingSignedPayloadTrailer;
    case PayloadMode::kStreamingUnsignedTrailer: return kStreamingUnsignedPayloadTrailer;
  }
  CHECK(false) << "PayloadModeLiteral of a mode without a literal: " << static_cast<int>(mode);
  return "";
}

bool IsStreaming(PayloadMode mode) {
  return mode == PayloadMode::kStreamingSigned || mode == PayloadMode::kStreamingSignedTrailer ||
         mode == PayloadMode::kStreamingUnsignedTrailer;
}

std::string_view AuthErrorKindName(AuthErrorKind kind) {
  switch (kind) {
    case AuthErrorKind::kMissing: return "Missing";
    case AuthErrorKind::kMalformed: return "Malformed";
    case AuthErrorKind::kInvalidRequest: return "InvalidRequest";
    case AuthErrorKind::kAccessDenied: return "AccessDenied";
    case AuthErrorKind::kInvalidAccessKeyId: return "InvalidAccessKeyId";
    case AuthErrorKind::kSignatureDoesNotMatch: return "SignatureDoesNotMatch";
    case AuthErrorKind::kRequestTimeTooSkewed: return "RequestTimeTooSkewed";
    case AuthErrorKind::kExpired: return "Expired";
    case AuthErrorKind::kPayloadHashMismatch: return "PayloadHashMismatch";
    case AuthErrorKind::kInternal: return "Internal";
  }
  return "Unknown";
}

Status AuthError::ToStatus() const {
  std::string text = std::string(AuthErrorKindName(kind)) + ": " + message;
  switch (kind) {
    case AuthErrorKind::kMalformed:
    case AuthErrorKind::kInvalidRequest: return InvalidArgument(std::move(text));
    case AuthErrorKind::kInternal: return Internal(std::move(text));
    default: return Unauthenticated(std::move(text));
  }
}

AuthResult<VerifiedRequest> VerifyRequest(const SigV4Request& request,
                                          const SecretLookup& secret_for, int64_t now_s,
                                          const VerifyOptions& options) {
  std::optional<std::string> authorization;
  for (const auto& [name, value] : request.headers) {
    if (!EqualsIgnoreCaseAscii(name, "authorization")) continue;
    if (authorization) {
      return Fail(AuthErrorKind::kMalformed, AuthMethod::kHeader,
                  "more than one Authorization header");
    }
    authorization = value;
  }
  Result<std::vector<QueryParam>> params = ParseQuery(request.query);
  if (!params.ok()) {
    return Fail(AuthErrorKind::kInvalidRequest,
                authorization ? AuthMethod::kHeader : AuthMethod::kNone,
                "malformed query string: " + std::string(params.status().message()));
  }
  if (authorization) {
    return VerifyHeaderAuth(request, *authorization, *params, secret_for, now_s, options);
  }
  if (FindQueryParam(*params, "X-Amz-Algorithm") != nullptr) {
    return VerifyPresigned(request, *params, secret_for, now_s, options);
  }
  if (FindQueryParam(*params, "AWSAccessKeyId") != nullptr &&
      FindQueryParam(*params, "Signature") != nullptr) {
    return Fail(AuthErrorKind::kInvalidRequest, AuthMethod::kPresigned,
                "Signature Version 2 is not supported; use AWS4-HMAC-SHA256");
  }
  return Fail(AuthErrorKind::kMissing, AuthMethod::kNone, "the request is not signed");
}

AuthResult<void> VerifyPayloadDigest(const VerifiedRequest& verified, std::string_view sha256) {
  if (verified.payload_mode != PayloadMode::kSha256) return {};
  if (!ConstantTimeEquals(HexEncode(sha256), verified.payload_sha256)) {
    return Fail(AuthErrorKind::kPayloadHashMismatch, verified.method,
                "the provided x-amz-content-sha256 header does not match what was computed");
  }
  return {};
}

AuthResult<void> VerifyPayloadSha256(const VerifiedRequest& verified, std::string_view body) {
  if (verified.payload_mode != PayloadMode::kSha256) return {};
  return VerifyPayloadDigest(verified, Sha256(body));
}

Result<SignedRequest> SignRequest(const SigV4Request& request, const Credentials& credentials,
                                  std::string_view region, int64_t now_s,
                                  std::string_view payload_hash, SigningKeyCache* signing_keys) {
  RETURN_IF_ERROR(CheckSignable(request, region));
  for (std::string_view taken : {"x-amz-date", "x-amz-content-sha256", "authorization"}) {
    if (CanonicalHeader(request.headers, taken)) {
      return InvalidArgument("the request to sign already has " + std::string(taken));
    }
  }
  RETURN_IF_ERROR(ParsePayloadMode(payload_hash).status());
  ASSIGN_OR_RETURN(std::vector<QueryParam> params, ParseQuery(request.query));

  SignedRequest out;
  const std::string timestamp = FormatAmzDate(now_s);
  const std::string date = timestamp.substr(0, 8);
  out.headers = {{"x-amz-date", timestamp}, {"x-amz-content-sha256", std::string(payload_hash)}};
  std::vector<Header> all = request.headers;
  all.insert(all.end(), out.headers.begin(), out.headers.end());
  const std::vector<std::string> names = NamesToSign(all);
  ASSIGN_OR_RETURN(std::string canonical_headers, CanonicalHeaders(all, names));
  const std::string signed_line = JoinSignedHeaders(names);
  const std::string query = CanonicalQuery(params, SignatureParam::kKeep);

  out.signing.signing_key = SigningKey(signing_keys, credentials.access_key_id,
                                       credentials.secret_access_key, date, region);
  out.signing.timestamp = timestamp;
  out.signing.scope = CredentialScopeString(date, region);
  out.signing.signature =
      RequestSignature(out.signing.signing_key, timestamp, out.signing.scope,
                       CanonicalRequest({request.method, request.path, query, canonical_headers,
                                         signed_line, payload_hash}));
  out.headers.emplace_back(
      "Authorization", std::string(kSigV4Algorithm) + " Credential=" + credentials.access_key_id +
                           "/" + out.signing.scope + ", SignedHeaders=" + signed_line +
                           ", Signature=" + out.signing.signature);
  return out;
}

Result<std::string> PresignQuery(const SigV4Request& request, const Credentials& credentials,
                                 std::string_view region, int64_t now_s, int64_t expires_s) {
  RETURN_IF_ERROR(CheckSignable(request, region));
  if (expires_s < 1 || expires_s > kPresignExpiresMaxS) {
    return InvalidArgument("expiry of " + std::to_string(expires_s) +
                           " s is outside 1..604800 seconds");
  }
  ASSIGN_OR_RETURN(std::vector<QueryParam> params, ParseQuery(request.query));
  for (const QueryParam& p : params) {
    if (p.name.starts_with("X-Amz-")) {
      return InvalidArgument("the request to presign already has " + p.name);
    }
  }
  const std::string timestamp = FormatAmzDate(now_s);
  const std::string date = timestamp.substr(0, 8);
  const std::string scope = CredentialScopeString(date, region);
  const std::vector<std::string> names = NamesToSign(request.headers);
  const std::string signed_line = JoinSignedHeaders(names);
  params.push_back({"X-Amz-Algorithm", std::string(kSigV4Algorithm)});
  params.push_back({"X-Amz-Credential", credentials.access_key_id + "/" + scope});
  params.push_back({"X-Amz-Date", timestamp});
  params.push_back({"X-Amz-Expires", std::to_string(expires_s)});
  params.push_back({"X-Amz-SignedHeaders", signed_line});
  ASSIGN_OR_RETURN(std::string canonical_headers, CanonicalHeaders(request.headers, names));
  const std::string query = CanonicalQuery(params, SignatureParam::kKeep);
  const std::string key = DeriveSigningKey(credentials.secret_access_key, date, region);
  const std::string signature =
      RequestSignature(key, timestamp, scope,
                       CanonicalRequest({request.method, request.path, query, canonical_headers,
                                         signed_line, kUnsignedPayload}));
  return query + "&X-Amz-Signature=" + signature;
}

}  // namespace dase::s3
