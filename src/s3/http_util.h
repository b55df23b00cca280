// HTTP helpers of the S3 server: host names, dates, ranges, XML replies.
// Pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "http/server.h"

namespace dase::s3 {

// (URI encoding and decoding, query strings and HTTP dates are in s3/canonical.h.)
std::string HostWithoutPort(std::string_view host);

// RFC 7231 IMF-fixdate: "Tue, 24 Nov 2026 15:04:05 GMT".
std::string HttpDate(int64_t micros);
// ISO 8601 with milliseconds, as S3 lists: "2026-11-24T15:04:05.000Z".
std::string IsoTime(int64_t micros);

// A byte range request ("bytes=0-99", "bytes=100-", "bytes=-50") against an object of `size`
// bytes: [first, last] inclusive. nullopt if the header is not one range of that form (then
// the whole object is sent, as RFC 7233 allows); `unsatisfiable` set if it is but selects
// nothing.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};
std::optional<ByteRange> ParseRange(std::string_view header, uint64_t size, bool* unsatisfiable);

http::Response XmlReply(int status, std::string body);

}  // namespace dase::s3
