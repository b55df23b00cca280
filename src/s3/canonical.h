// The pieces of an AWS Signature Version 4 canonical request, and the primitives signing uses:
// URI encoding, query and header canonicalization, the ISO 8601 and HTTP date forms, HMAC and
// the signing key. s3/sigv4.h builds verification and signing from them; s3/chunked.h signs
// chunks with them.
//
// Canonical request (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
//
//   <method>\n<uri>\n<canonical query>\n<canonical headers>\n<signed headers>\n<payload hash>
//
//   * query: each name and value percent-decoded ('+' decodes to a space, as in HTML forms),
//     then encoded again with UriEncode(kEncode), sorted by name and then value; a parameter
//     without '=' ("acl") becomes "acl=".
//   * headers: for each signed name in order, "name:value\n", the name in lower case, the value
//     trimmed with inner runs of spaces collapsed; a header sent several times is joined
//     with ",".
//
// String to sign: "AWS4-HMAC-SHA256\n<timestamp>\n<scope>\n<hex SHA-256 of the canonical
// request>"; the signature is the hex HMAC-SHA256 of it under the signing key.
//
// Thread-safety: free functions without shared state; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace dase::s3 {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
// Limit on what the client controls.
inline constexpr size_t kQueryParamsMax = 1024;

// (name, value). Names compare case-insensitively.
using Header = std::pair<std::string, std::string>;

// ASCII-only case helpers (header names, hex).
std::string ToLowerAscii(std::string_view s);
bool EqualsIgnoreCaseAscii(std::string_view a, std::string_view b);
// Without leading and trailing spaces and tabs.
std::string_view TrimSpaces(std::string_view s);
// One or more ASCII digits and nothing else.
bool IsDigits(std::string_view s);
// The items of a comma-separated list ("a, b,,c"), trimmed, empty ones left out.
std::vector<std::string_view> SplitCommaList(std::string_view list);

// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
// Lowercase hex SHA-256.
std::string Sha256Hex(std::string_view data);
// HMAC chain from "AWS4" + secret over `date` (yyyymmdd), region, service, "aws4_request".
std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service = "s3");
// "20130524/us-east-1/s3/aws4_request".
std::string CredentialScopeString(std::string_view date, std::string_view region);
// Compares without leaking through timing where the first difference is; lengths may differ
// (the length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

enum class SlashEncoding { kKeep, kEncode };
// RFC 3986 unreserved characters kept, '/' kept or not, every other byte %XX in upper case.
std::string UriEncode(std::string_view s, SlashEncoding slash);

enum class PlusDecoding { kLiteral, kSpace };
// InvalidArgument on a '%' not followed by two hex digits.
Result<std::string> PercentDecode(std::string_view s, PlusDecoding plus);

struct QueryParam {
  std::string name;  // decoded
  std::string value;
};
// The parameters of a raw query string in order, decoded; empty parts ("a=1&&b") are skipped.
// InvalidArgument on bad escapes or more than kQueryParamsMax parameters.
Result<std::vector<QueryParam>> ParseQuery(std::string_view raw);
// The first parameter called `name`, or nullptr.
const QueryParam* FindQueryParam(const std::vector<QueryParam>& params, std::string_view name);

enum class SignatureParam { kKeep, kDrop };
// kDrop leaves out X-Amz-Signature (presigned URLs).
std::string CanonicalQuery(const std::vector<QueryParam>& params, SignatureParam signature);
Result<std::string> CanonicalQueryString(std::string_view raw_query);

// Trimmed, with each inner run of spaces collapsed to one.
std::string CanonicalHeaderValue(std::string_view value);
// Every value of header `lower_name`, canonical and joined with ","; nullopt if absent.
std::optional<std::string> CanonicalHeader(const std::vector<Header>& headers,
                                           std::string_view lower_name);
// "name:value\n" for each of `signed_headers` (lower case); NotFound naming one the request
// lacks.
Result<std::string> CanonicalHeaders(const std::vector<Header>& headers,
                                     const std::vector<std::string>& signed_headers);
// "host;x-amz-date".
std::string JoinSignedHeaders(const std::vector<std::string>& signed_headers);

struct CanonicalRequestParts {
  std::string_view method;
  std::string_view uri;             // "" is taken as "/"
  std::string_view query;           // canonical
  std::string_view headers;         // canonical "name:value\n" lines
  std::string_view signed_headers;  // "host;x-amz-date"
  std::string_view payload_hash;
};
std::string CanonicalRequest(const CanonicalRequestParts& parts);
// Lowercase hex signature of `canonical_request`.
std::string RequestSignature(std::string_view signing_key, std::string_view timestamp,
                             std::string_view scope, std::string_view canonical_request);

// "20130524T000000Z" <-> seconds since the epoch (UTC, years 0000..9999). Parse is strict.
std::string FormatAmzDate(int64_t unix_s);
Result<int64_t> ParseAmzDate(std::string_view text);
// An HTTP Date header in IMF-fixdate form: "Fri, 24 May 2013 00:00:00 GMT".
Result<int64_t> ParseHttpDate(std::string_view text);

}  // namespace dase::s3
