#include "vms/api_util.h"

#include <fmt/format.h>

#include <charconv>

#include "vms/model.h"
#include "vms/rest.h"

namespace dase::vms {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Response;

Response NotFoundResponse() { return rest::DetailError(404, "Not found."); }

Response MethodNotAllowed(const http::Request& request) {
  return rest::DetailError(
      405, fmt::format("Method \"{}\" not allowed.", std::string(request.method_string())));
}

Response ErrorResponse(const Status& s) {
  switch (s.code()) {
    case Code::kNotFound: return NotFoundResponse();
    case Code::kUnauthenticated: return rest::DetailError(401, s.message());
    case Code::kPermissionDenied: return rest::DetailError(403, s.message());
    case Code::kInvalidArgument: return rest::DetailError(400, s.message());
    case Code::kFailedPrecondition: return rest::DetailError(409, s.message());
    case Code::kResourceExhausted: return rest::DetailError(429, s.message());
    default: return rest::DetailError(503, s.ToString());
  }
}

Response WriteErrorResponse(const Status& s) {
  auto [field, text] = SplitFieldError(s);
  bool named = field != "non_field_errors";
  switch (s.code()) {
    case Code::kInvalidArgument:
    case Code::kAlreadyExists:
    case Code::kResourceExhausted: return rest::FieldErrors(400, {{field, text}});
    case Code::kNotFound:
      if (named) return rest::FieldErrors(400, {{field, text}});
      return NotFoundResponse();
    default: return ErrorResponse(s);
  }
}

std::optional<int64_t> ParseId(std::string_view text) {
  int64_t id = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), id);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || id < 1) return std::nullopt;
  return id;
}

Result<json::object> BodyObject(const http::Request& request) {
  if (request.body().empty()) return json::object{};
  boost::system::error_code ec;
  json::value v = json::parse(request.body(), ec);
  if (ec || !v.is_object()) return InvalidArgument("JSON parse error - expected a JSON object");
  return std::move(v.get_object());
}

std::string_view QueryOf(const http::Request& request) {
  std::string_view target = request.target();
  size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

std::string PathOf(const http::Request& request) {
  std::string_view target = request.target();
  return std::string(target.substr(0, target.find('?')));
}

Response ListResponse(const http::Request& request, json::array objects, const std::string& base) {
  auto query = rest::ParseListQuery(QueryOf(request));
  if (!query.ok()) return rest::DetailError(400, query.status().message());
  return rest::JsonResponse(200, rest::ApplyList(objects, *query, base + PathOf(request)));
}

Response ObjectResponse(const http::Request& request, const json::object& object) {
  auto query = rest::ParseListQuery(QueryOf(request));
  if (!query.ok()) return rest::DetailError(400, query.status().message());
  if (query->fields.empty()) return rest::JsonResponse(200, object);
  return rest::JsonResponse(200, rest::Project(object, query->fields));
}

Response RouteResource(const http::Request& request, const std::vector<std::string>& path,
                       const ResourceRoutes& routes) {
  auto method = request.method();
  if (path.size() == 1) {
    if (method == bhttp::verb::get) return routes.list();
    if (method == bhttp::verb::post) return routes.create();
    return MethodNotAllowed(request);
  }
  auto id = ParseId(path[1]);
  if (!id || path.size() != 2) return NotFoundResponse();
  if (method == bhttp::verb::get) return routes.show(*id);
  if (method == bhttp::verb::delete_) return routes.remove(*id);
  if (method == bhttp::verb::patch) return routes.patch(*id);
  return MethodNotAllowed(request);
}

Response ShowObject(meta::Store* store, const http::Request& request, unsigned status,
                    const std::function<Result<json::object>(meta::Transaction&)>& read) {
  auto txn = store->Begin();
  if (!txn.ok()) return ErrorResponse(txn.status());
  auto object = read(**txn);
  if (!object.ok()) return ErrorResponse(object.status());
  return status == 200 ? ObjectResponse(request, *object) : rest::JsonResponse(status, *object);
}

Response ListObjects(meta::Store* store, const http::Request& request, const std::string& base,
                     const std::function<Result<json::array>(meta::Transaction&)>& read) {
  auto txn = store->Begin();
  if (!txn.ok()) return ErrorResponse(txn.status());
  auto objects = read(**txn);
  if (!objects.ok()) return ErrorResponse(objects.status());
  return ListResponse(request, std::move(objects).value(), base);
}

Response DeleteObject(meta::Store* store, int64_t id,
                      Status (*remove)(meta::Transaction&, int64_t),
                      const std::function<void()>& after) {
  Status s = store->RunTransaction([&](meta::Transaction& txn) { return remove(txn, id); });
  if (!s.ok()) return WriteErrorResponse(s);
  after();
  return rest::NoContent();
}

json::value TimeOrNull(int64_t us) { return us > 0 ? json::value(FormatTime(us)) : nullptr; }

json::array StringArray(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& s : items) out.emplace_back(s);
  return out;
}

json::array IntArray(const std::vector<int64_t>& items) {
  json::array out;
  for (int64_t i : items) out.emplace_back(i);
  return out;
}

// ---- BodyFields

namespace {

std::string TypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return "str";
    case json::kind::int64:
    case json::kind::uint64: return "int";
    case json::kind::double_: return "float";
    case json::kind::bool_: return "bool";
    case json::kind::object: return "dict";
    case json::kind::array: return "list";
    case json::kind::null: return "NoneType";
  }
  return "unknown";
}

// Lists in a body are bounded like every other client input.
constexpr size_t kBodyListMax = 4096;

}  // namespace

bool BodyFields::IsNull(std::string_view key) const {
  const json::value* v = body_.if_contains(key);
  return v != nullptr && v->is_null();
}

const json::value* BodyFields::Find(std::string_view key, Need need) {
  const json::value* v = body_.if_contains(key);
  if (v == nullptr) {
    if (need == Need::kRequired) Add(std::string(key), "This field is required.");
    return nullptr;
  }
  if (v->is_null()) {
    Add(std::string(key), "This field may not be null.");
    return nullptr;
  }
  return v;
}

std::optional<std::string> BodyFields::String(std::string_view key, Need need) {
  const json::value* v = Find(key, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    Add(std::string(key), "Not a valid string.");
    return std::nullopt;
  }
  return std::string(v->get_string());
}

std::optional<int64_t> BodyFields::Int(std::string_view key, Need need) {
  const json::value* v = Find(key, need);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  Add(std::string(key), "A valid integer is required.");
  return std::nullopt;
}

std::optional<std::optional<int64_t>> BodyFields::NullableInt(std::string_view key) {
  if (IsNull(key)) return std::optional<int64_t>();
  auto v = Int(key);
  if (!v) return std::nullopt;
  return std::optional<int64_t>(*v);
}

std::optional<bool> BodyFields::Bool(std::string_view key, Need need) {
  const json::value* v = Find(key, need);
  if (v == nullptr) return std::nullopt;
  if (v->is_bool()) return v->get_bool();
  Add(std::string(key), "Must be a valid boolean.");
  return std::nullopt;
}

std::optional<std::vector<std::string>> BodyFields::Strings(std::string_view key, Need need) {
  const json::value* v = Find(key, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    Add(std::string(key),
        fmt::format("Expected a list of items but got type \"{}\".", TypeName(*v)));
    return std::nullopt;
  }
  if (v->get_array().size() > kBodyListMax) {
    Add(std::string(key),
        fmt::format("Ensure this field has no more than {} elements.", kBodyListMax));
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const json::value& item : v->get_array()) {
    if (!item.is_string()) {
      Add(std::string(key), "Not a valid string.");
      return std::nullopt;
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

std::optional<std::vector<int64_t>> BodyFields::Ints(std::string_view key, Need need) {
  const json::value* v = Find(key, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array() || v->get_array().size() > kBodyListMax) {
    Add(std::string(key),
        fmt::format("Expected a list of items but got type \"{}\".", TypeName(*v)));
    return std::nullopt;
  }
  std::vector<int64_t> out;
  for (const json::value& item : v->get_array()) {
    if (!item.is_int64()) {
      Add(std::string(key), "A valid integer is required.");
      return std::nullopt;
    }
    out.push_back(item.get_int64());
  }
  return out;
}

std::optional<std::vector<IpRange>> BodyFields::Ranges(std::string_view key, Need need) {
  const json::value* v = Find(key, need);
  if (v == nullptr) return std::nullopt;
  const char* shape = "Expected a list of [start, end] pairs of IPv4 addresses.";
  if (!v->is_array() || v->get_array().size() > kBodyListMax) {
    Add(std::string(key), shape);
    return std::nullopt;
  }
  std::vector<IpRange> out;
  for (const json::value& item : v->get_array()) {
    const json::array* pair = item.if_array();
    if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_string() ||
        !(*pair)[1].is_string()) {
      Add(std::string(key), shape);
      return std::nullopt;
    }
    out.push_back({std::string((*pair)[0].get_string()), std::string((*pair)[1].get_string())});
  }
  return out;
}

void BodyFields::Immutable(std::string_view key) {
  if (Has(key)) Add(std::string(key), "This field cannot be changed.");
}

void BodyFields::Add(std::string field, std::string message) {
  errors_.emplace_back(std::move(field), std::move(message));
}

void BodyFields::Add(const Status& s) {
  auto [field, text] = SplitFieldError(s);
  Add(std::move(field), std::move(text));
}

Response BodyFields::Errors() const { return rest::FieldErrors(400, errors_); }

}  // namespace dase::vms
