#include "s3/http_util.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <ctime>

#include <boost/beast/http/field.hpp>

namespace dase::s3 {
namespace bhttp = boost::beast::http;
namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::tm UtcOf(int64_t micros) {
  time_t seconds = static_cast<time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return tm;
}

std::optional<uint64_t> ParseNumber(std::string_view text) {
  uint64_t v = 0;
  if (text.empty()) return std::nullopt;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string HostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') return std::string(host.substr(0, host.find(']') + 1));
  return std::string(host.substr(0, host.rfind(':')));
}

std::string HttpDate(int64_t micros) {
  std::tm tm = UtcOf(micros);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string IsoTime(int64_t micros) {
  std::tm tm = UtcOf(micros);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (micros / 1000) % 1000);
}

std::optional<ByteRange> ParseRange(std::string_view header, uint64_t size, bool* unsatisfiable) {
  *unsatisfiable = false;
  if (!header.starts_with("bytes=")) return std::nullopt;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;  // one range only
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view a = spec.substr(0, dash);
  std::string_view b = spec.substr(dash + 1);
  if (a.empty()) {
    auto suffix = ParseNumber(b);
    if (!suffix) return std::nullopt;
    if (*suffix == 0 || size == 0) {
      *unsatisfiable = true;
      return std::nullopt;
    }
    uint64_t n = std::min(*suffix, size);
    return ByteRange{size - n, size - 1};
  }
  auto first = ParseNumber(a);
  if (!first) return std::nullopt;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto end = ParseNumber(b);
    if (!end || *end < *first) return std::nullopt;
    last = std::min(*end, last);
  }
  if (*first >= size) {
    *unsatisfiable = true;
    return std::nullopt;
  }
  return ByteRange{*first, last};
}

http::Response XmlReply(int status, std::string body) {
  http::Response reply{static_cast<bhttp::status>(status), 11};
  if (!body.empty()) reply.set(bhttp::field::content_type, "application/xml");
  reply.body() = std::move(body);
  return reply;
}

}  // namespace dase::s3
