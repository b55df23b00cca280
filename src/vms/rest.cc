#include "vms/rest.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/url.hpp>

#include "common/check.h"

namespace dase::vms::rest {

namespace json = boost::json;
namespace urls = boost::urls;
namespace bhttp = boost::beast::http;

namespace {

constexpr size_t kFieldsMax = 256;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool IsVersionSegment(std::string_view s) {
  return s == "latest" || (s.size() == 2 && s[0] == 'v' && s[1] >= '1' && s[1] <= '7');
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<MatchOp> OpFromSuffix(std::string_view s) {
  if (s == "exact") return MatchOp::kExact;
  if (s == "iexact") return MatchOp::kIExact;
  if (s == "contains") return MatchOp::kContains;
  if (s == "icontains") return MatchOp::kIContains;
  if (s == "startswith") return MatchOp::kStartsWith;
  if (s == "endswith") return MatchOp::kEndsWith;
  if (s == "in") return MatchOp::kIn;
  return std::nullopt;
}

std::vector<std::string> Split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  while (true) {
    size_t at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + sep.size());
  }
}

Result<int64_t> ParseBoundedInt(std::string_view name, std::string_view text, int64_t max) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 1 || v > max) {
    return InvalidArgument(fmt::format("{} must be an integer from 1 to {}", name, max));
  }
  return v;
}

Result<Filter> ParseFilter(const std::string& key, const std::string& value) {
  Filter filter;
  filter.field_path = Split(key, "__");
  if (filter.field_path.size() >= 2) {
    if (auto op = OpFromSuffix(filter.field_path.back())) {
      filter.op = *op;
      filter.field_path.pop_back();
    }
  }
  for (const std::string& part : filter.field_path) {
    if (part.empty()) return InvalidArgument("bad filter parameter '" + key + "'");
  }
  filter.value = value;
  return filter;
}

Status AddParam(ListQuery& q, const std::string& key, const std::string& value) {
  if (key == "page") {
    ASSIGN_OR_RETURN(q.page, ParseBoundedInt("page", value, std::numeric_limits<int64_t>::max()));
  } else if (key == "page_size") {
    ASSIGN_OR_RETURN(q.page_size, ParseBoundedInt("page_size", value, kPageSizeMax));
  } else if (key == "fields") {
    for (std::string& f : Split(value, ",")) {
      if (!f.empty()) q.fields.push_back(std::move(f));
    }
    if (q.fields.size() > kFieldsMax) return InvalidArgument("too many fields");
  } else if (key != "ordering" && key != "format") {
    ASSIGN_OR_RETURN(Filter filter, ParseFilter(key, value));
    q.filters.push_back(std::move(filter));
  }
  q.params.emplace_back(key, value);
  return Status::Ok();
}

const json::value* Lookup(const json::object& object, const std::vector<std::string>& path) {
  const json::object* current = &object;
  const json::value* v = nullptr;
  for (size_t i = 0; i < path.size(); ++i) {
    v = current->if_contains(path[i]);
    if (v == nullptr) return nullptr;
    if (i + 1 < path.size()) {
      if (!v->is_object()) return nullptr;
      current = &v->as_object();
    }
  }
  return v;
}

// The text an exact filter compares against: strings as they are, numbers in decimal,
// true/false, null.
std::string CanonicalText(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return std::string(v.as_string());
    case json::kind::int64: return std::to_string(v.as_int64());
    case json::kind::uint64: return std::to_string(v.as_uint64());
    case json::kind::double_: return fmt::format("{}", v.as_double());
    case json::kind::bool_: return v.as_bool() ? "true" : "false";
    case json::kind::null: return "null";
    default: return json::serialize(v);
  }
}

bool MatchText(const std::string& actual, MatchOp op, const std::string& want, bool is_bool) {
  switch (op) {
    case MatchOp::kExact: return is_bool ? AsciiLower(want) == actual : actual == want;
    case MatchOp::kIExact: return AsciiLower(actual) == AsciiLower(want);
    case MatchOp::kContains: return actual.find(want) != std::string::npos;
    case MatchOp::kIContains: return AsciiLower(actual).find(AsciiLower(want)) != std::string::npos;
    case MatchOp::kStartsWith: return actual.starts_with(want);
    case MatchOp::kEndsWith: return actual.ends_with(want);
    case MatchOp::kIn:
      for (const std::string& w : Split(want, ",")) {
        if (MatchText(actual, MatchOp::kExact, w, is_bool)) return true;
      }
      return false;
  }
  return false;
}

bool MatchValue(const json::value& v, const Filter& filter) {
  // On a list field, (i)contains asks whether the list holds the value (protocols__contains=NFS).
  if (v.is_array() && (filter.op == MatchOp::kContains || filter.op == MatchOp::kIContains)) {
    MatchOp element_op = filter.op == MatchOp::kContains ? MatchOp::kExact : MatchOp::kIExact;
    return std::any_of(v.as_array().begin(), v.as_array().end(), [&](const json::value& e) {
      return MatchText(CanonicalText(e), element_op, filter.value, e.is_bool());
    });
  }
  return MatchText(CanonicalText(v), filter.op, filter.value, v.is_bool());
}

json::value PageUrl(std::string_view base, const ListQuery& q, std::optional<int64_t> page) {
  urls::url url;
  auto parsed = urls::parse_uri_reference(base);
  if (parsed) {
    url = urls::url(*parsed);
  } else {
    url.set_path(base);
  }
  url.remove_query();
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& p : q.params) {
    if (p.first != "page") params.push_back(p);
  }
  if (page) params.emplace_back("page", std::to_string(*page));
  if (params.empty()) return json::string(url.buffer());
  auto url_params = url.params();
  for (const auto& [key, value] : params) url_params.append({key, value});
  return json::string(url.buffer());
}

}  // namespace

std::optional<std::vector<std::string>> ParseApiPath(std::string_view target_path) {
  target_path = target_path.substr(0, target_path.find_first_of("?#"));
  if (!target_path.starts_with("/api")) return std::nullopt;
  std::string_view rest = target_path.substr(4);
  std::vector<std::string> segments;
  if (rest.empty()) return segments;
  if (rest[0] != '/') return std::nullopt;  // "/apix"
  rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return segments;
  for (const std::string& raw : Split(rest, "/")) {
    if (raw.empty() || segments.size() >= kPathSegmentsMax) return std::nullopt;
    std::optional<std::string> segment = PercentDecode(raw);
    if (!segment || *segment == "." || *segment == "..") return std::nullopt;
    segments.push_back(std::move(*segment));
  }
  if (IsVersionSegment(segments.front())) segments.erase(segments.begin());
  return segments;
}

Result<ListQuery> ParseListQuery(std::string_view query) {
  ListQuery q;
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  if (query.empty()) return q;
  // Boost.URL 1.81's parser reads one byte past the end of its input (ASan caught it on a
  // request target inside Beast's buffer); a std::string copy always has a terminator there.
  std::string owned(query);
  query = owned;
  auto parsed = urls::parse_query(query);
  if (!parsed) return InvalidArgument("bad query string: " + parsed.error().message());
  if (parsed->size() > kQueryParamsMax) {
    return InvalidArgument(fmt::format("more than {} query parameters", kQueryParamsMax));
  }
  // Clients form-encode query strings: '+' is a space. Cannot throw: `query` parsed above.
  urls::params_view params(query, urls::encoding_opts(/*space_as_plus=*/true));
  for (const urls::param& p : params) {
    if (p.key.empty()) continue;
    RETURN_IF_ERROR(AddParam(q, p.key, p.value));
  }
  return q;
}

bool Matches(const json::object& object, const std::vector<Filter>& filters) {
  for (const Filter& filter : filters) {
    const json::value* v = Lookup(object, filter.field_path);
    if (v == nullptr || !MatchValue(*v, filter)) return false;
  }
  return true;
}

json::object Project(const json::object& object, const std::vector<std::string>& fields) {
  if (fields.empty()) return object;
  json::object out;
  for (const std::string& field : fields) {
    if (const json::value* v = object.if_contains(field)) out[field] = *v;
  }
  return out;
}

json::value ApplyList(const json::array& objects, const ListQuery& query,
                      std::string_view absolute_base_url_with_path) {
  std::vector<const json::object*> matched;
  for (const json::value& v : objects) {
    if (v.is_object() && Matches(v.as_object(), query.filters)) matched.push_back(&v.as_object());
  }
  json::array results;
  if (!query.page_size) {
    for (const json::object* o : matched) results.push_back(Project(*o, query.fields));
    return results;
  }
  uint64_t count = matched.size();
  uint64_t size = static_cast<uint64_t>(*query.page_size);
  int64_t page = query.page.value_or(1);
  uint64_t skipped_pages = static_cast<uint64_t>(page - 1);
  uint64_t start = skipped_pages >= count ? count : std::min(count, skipped_pages * size);
  uint64_t end = std::min(count, start + size);
  for (uint64_t i = start; i < end; ++i) results.push_back(Project(*matched[i], query.fields));
  json::object envelope;
  envelope["count"] = count;
  envelope["next"] =
      end < count ? PageUrl(absolute_base_url_with_path, query, page + 1) : json::value(nullptr);
  // Like DRF, the link to the first page carries no page parameter.
  envelope["previous"] =
      page > 1 ? PageUrl(absolute_base_url_with_path, query,
                         page == 2 ? std::nullopt : std::optional<int64_t>(page - 1))
               : json::value(nullptr);
  envelope["results"] = std::move(results);
  return envelope;
}

http::Response JsonResponse(unsigned status, const json::value& body) {
  CHECK(status >= 100 && status <= 999) << "status " << status;
  http::Response res;
  res.result(status);
  res.version(11);
  res.set(bhttp::field::content_type, "application/json");
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

http::Response DetailError(unsigned status, std::string_view detail) {
  return JsonResponse(status, json::object{{"detail", detail}});
}

http::Response FieldErrors(unsigned status,
                           const std::vector<std::pair<std::string, std::string>>& errors) {
  json::object body;
  for (const auto& [field, message] : errors) {
    json::value& list = body[field];
    if (!list.is_array()) list = json::array();
    list.as_array().push_back(json::string(message));
  }
  return JsonResponse(status, body);
}

http::Response NoContent() {
  http::Response res{bhttp::status::no_content, 11};
  return res;
}

}  // namespace dase::vms::rest
