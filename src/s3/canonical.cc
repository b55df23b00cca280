#include "s3/canonical.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "common/check.h"
#include "s3/checksum.h"

namespace dase::s3 {
namespace {

constexpr std::string_view kTerminator = "aws4_request";

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct CivilTime {
  int64_t year;
  int month, day, hour, minute, second;
};

CivilTime CivilFromUnix(int64_t unix_s) {
  int64_t days = unix_s / 86400;
  int64_t rem = unix_s % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year,
          month,
          day,
          static_cast<int>(rem / 3600),
          static_cast<int>(rem / 60 % 60),
          static_cast<int>(rem % 60)};
}

int DaysInMonth(int64_t year, int month) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Seconds since the epoch of a validated UTC date and time.
Result<int64_t> UnixFromCivil(const CivilTime& t) {
  if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > DaysInMonth(t.year, t.month) ||
      t.hour > 23 || t.minute > 59 || t.second > 59) {
    return InvalidArgument("date or time out of range");
  }
  return DaysFromCivil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
}

// The number in s[pos, pos+len), all digits.
std::optional<int> Digits(std::string_view s, size_t pos, size_t len) {
  if (pos + len > s.size() || !IsDigits(s.substr(pos, len))) return std::nullopt;
  int v = 0;
  for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

}  // namespace

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string_view> SplitCommaList(std::string_view list) {
  std::vector<std::string_view> items;
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = TrimSpaces(list.substr(0, comma));
    if (!item.empty()) items.push_back(item);
    if (comma == std::string_view::npos) return items;
    list.remove_prefix(comma + 1);
  }
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

bool EqualsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

namespace {

// HMAC-SHA256 with the MAC and digest fetched once (per thread): HMAC() fetches both again on
// every call, which costs more than hashing the few hundred bytes a signature covers.
class HmacSha256Context {
 public:
  HmacSha256Context() {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    CHECK(mac != nullptr) << "OpenSSL has no HMAC";
    ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context holds its own reference
    CHECK(ctx_ != nullptr) << "EVP_MAC_CTX_new failed";
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    CHECK(EVP_MAC_CTX_set_params(ctx_, params) == 1) << "HMAC-SHA256 setup failed";
  }
  ~HmacSha256Context() { EVP_MAC_CTX_free(ctx_); }
  HmacSha256Context(const HmacSha256Context&) = delete;
  HmacSha256Context& operator=(const HmacSha256Context&) = delete;

  std::string Sign(std::string_view key, std::string_view data) {
    // A null key would mean "the previous key again": an empty key is passed as a real pointer.
    static const unsigned char kNoKeyBytes[1] = {0};
    const unsigned char* key_bytes =
        key.empty() ? kNoKeyBytes : reinterpret_cast<const unsigned char*>(key.data());
    CHECK(EVP_MAC_init(ctx_, key_bytes, key.size(), nullptr) == 1) << "HMAC-SHA256 init failed";
    CHECK(EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) ==
          1)
        << "HMAC-SHA256 update failed";
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t n = 0;
    CHECK(EVP_MAC_final(ctx_, out, &n, sizeof(out)) == 1 && n == 32) << "HMAC-SHA256 failed";
    return std::string(reinterpret_cast<const char*>(out), n);
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
};

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  thread_local HmacSha256Context context;
  return context.Sign(key, data);
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string key = HmacSha256("AWS4" + std::string(secret), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  return HmacSha256(key, kTerminator);
}

std::string CredentialScopeString(std::string_view date, std::string_view region) {
  return std::string(date) + "/" + std::string(region) + "/s3/" + std::string(kTerminator);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

std::string UriEncode(std::string_view s, SlashEncoding slash) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (c == '/' && slash == SlashEncoding::kKeep)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string FormatAmzDate(int64_t unix_s) {
  const CivilTime t = CivilFromUnix(unix_s);
  CHECK(t.year >= 0 && t.year <= 9999) << "time out of range: " << unix_s;
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", t.year, t.month, t.day, t.hour, t.minute,
                     t.second);
}

Result<int64_t> ParseAmzDate(std::string_view text) {
  // yyyymmddThhmmssZ
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') {
    return InvalidArgument("not an ISO 8601 basic date and time: '" +
                           std::string(text.substr(0, 32)) + "'");
  }
  const auto year = Digits(text, 0, 4), month = Digits(text, 4, 2), day = Digits(text, 6, 2);
  const auto hour = Digits(text, 9, 2), minute = Digits(text, 11, 2), second = Digits(text, 13, 2);
  if (!year || !month || !day || !hour || !minute || !second) {
    return InvalidArgument("not an ISO 8601 basic date and time: '" + std::string(text) + "'");
  }
  return UnixFromCivil({*year, *month, *day, *hour, *minute, *second});
}

Result<int64_t> ParseHttpDate(std::string_view text) {
  // "Fri, 24 May 2013 00:00:00 GMT"
  constexpr std::array<std::string_view, 7> kWeekdays = {"Mon", "Tue", "Wed", "Thu",
                                                         "Fri", "Sat", "Sun"};
  constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto bad = [&] {
    return InvalidArgument("not an IMF-fixdate: '" + std::string(text.substr(0, 40)) + "'");
  };
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return bad();
  }
  if (std::find(kWeekdays.begin(), kWeekdays.end(), text.substr(0, 3)) == kWeekdays.end()) {
    return bad();
  }
  const auto month_it = std::find(kMonths.begin(), kMonths.end(), text.substr(8, 3));
  const auto day = Digits(text, 5, 2), year = Digits(text, 12, 4);
  const auto hour = Digits(text, 17, 2), minute = Digits(text, 20, 2), second = Digits(text, 23, 2);
  if (month_it == kMonths.end() || !day || !year || !hour || !minute || !second) return bad();
  const int month = static_cast<int>(month_it - kMonths.begin()) + 1;
  return UnixFromCivil({*year, month, *day, *hour, *minute, *second});
}

Result<std::string> CanonicalQueryString(std::string_view raw_query) {
  ASSIGN_OR_RETURN(std::vector<QueryParam> params, ParseQuery(raw_query));
  return CanonicalQuery(params, SignatureParam::kKeep);
}

Result<std::string> PercentDecode(std::string_view s, PlusDecoding plus) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return InvalidArgument("truncated % escape");
      const int hi = HexDigit(s[i + 1]);
      const int lo = HexDigit(s[i + 2]);
      if (hi < 0 || lo < 0) return InvalidArgument("bad % escape");
      out.push_back(static_cast<char>(hi << 4 | lo));
      i += 2;
    } else if (s[i] == '+' && plus == PlusDecoding::kSpace) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<std::vector<QueryParam>> ParseQuery(std::string_view raw) {
  std::vector<QueryParam> params;
  while (!raw.empty()) {
    const size_t amp = raw.find('&');
    std::string_view part = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (part.empty()) continue;  // "a=1&&b=2"
    if (params.size() == kQueryParamsMax) {
      return InvalidArgument("more than " + std::to_string(kQueryParamsMax) + " query parameters");
    }
    const size_t eq = part.find('=');
    ASSIGN_OR_RETURN(std::string name, PercentDecode(part.substr(0, eq), PlusDecoding::kSpace));
    std::string value;
    if (eq != std::string_view::npos) {
      ASSIGN_OR_RETURN(value, PercentDecode(part.substr(eq + 1), PlusDecoding::kSpace));
    }
    params.push_back({std::move(name), std::move(value)});
  }
  return params;
}

std::string CanonicalQuery(const std::vector<QueryParam>& params, SignatureParam signature) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const QueryParam& p : params) {
    if (signature == SignatureParam::kDrop && p.name == "X-Amz-Signature") continue;
    encoded.emplace_back(UriEncode(p.name, SlashEncoding::kEncode),
                         UriEncode(p.value, SlashEncoding::kEncode));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

const QueryParam* FindQueryParam(const std::vector<QueryParam>& params, std::string_view name) {
  for (const QueryParam& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string CanonicalHeaderValue(std::string_view v) {
  v = TrimSpaces(v);
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  return out;
}

std::optional<std::string> CanonicalHeader(const std::vector<Header>& headers,
                                           std::string_view lower_name) {
  std::optional<std::string> out;
  for (const auto& [name, value] : headers) {
    if (!EqualsIgnoreCaseAscii(name, lower_name)) continue;
    if (out) {
      out->push_back(',');
    } else {
      out.emplace();
    }
    *out += CanonicalHeaderValue(value);
  }
  return out;
}

std::string JoinSignedHeaders(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out.push_back(';');
    out += n;
  }
  return out;
}

Result<std::string> CanonicalHeaders(const std::vector<Header>& headers,
                                     const std::vector<std::string>& signed_headers) {
  std::string out;
  for (const std::string& name : signed_headers) {
    std::optional<std::string> value = CanonicalHeader(headers, name);
    if (!value) return NotFound("signed header '" + name + "' is not in the request");
    out += name;
    out.push_back(':');
    out += *value;
    out.push_back('\n');
  }
  return out;
}

std::string CanonicalRequest(const CanonicalRequestParts& p) {
  std::string out;
  out.reserve(p.method.size() + p.uri.size() + p.query.size() + p.headers.size() +
              p.signed_headers.size() + p.payload_hash.size() + 8);
  out.append(p.method).append("\n");
  out.append(p.uri.empty() ? std::string_view("/") : p.uri).append("\n");
  out.append(p.query).append("\n");
  out.append(p.headers).append("\n");
  out.append(p.signed_headers).append("\n");
  out.append(p.payload_hash);
  return out;
}

std::string RequestSignature(std::string_view signing_key, std::string_view timestamp,
                             std::string_view scope, std::string_view canonical_request) {
  std::string to_sign;
  to_sign.append(kSigV4Algorithm).append("\n");
  to_sign.append(timestamp).append("\n");
  to_sign.append(scope).append("\n");
  to_sign.append(Sha256Hex(canonical_request));
  return HexEncode(HmacSha256(signing_key, to_sign));
}

}  // namespace dase::s3
