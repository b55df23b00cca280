// Helpers shared by the REST API's resource handlers (api*.cc): responses, ids, bodies, and
// BodyFields, which reads a request body's fields with DRF's checks and messages. Internal to
// src/vms.
//
// Thread-safety: free functions and a value type.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/server.h"
#include "vms/protocol_records.h"

namespace dase::vms {

http::Response NotFoundResponse();
http::Response MethodNotAllowed(const http::Request& request);
// A Status as the API answers it: 404, 401, 403, 400 {"detail"}, 409, 429, else 503.
http::Response ErrorResponse(const Status& s);
// The answer to a failed write of protocol_ops.h: a FieldError (bad value, duplicate, a named
// thing not found, a limit) is 400 {"field": ["text"]}; NotFound of the object itself 404; an
// object in use 409 {"detail"}; anything else as ErrorResponse.
http::Response WriteErrorResponse(const Status& s);
std::optional<int64_t> ParseId(std::string_view text);
// The JSON object of the request body; an empty body is an empty object.
Result<boost::json::object> BodyObject(const http::Request& request);
std::string_view QueryOf(const http::Request& request);
std::string PathOf(const http::Request& request);
// Lists and single objects share the query handling: filters, projection, pagination.
http::Response ListResponse(const http::Request& request, boost::json::array objects,
                            const std::string& base);
http::Response ObjectResponse(const http::Request& request, const boost::json::object& object);
boost::json::value TimeOrNull(int64_t us);
boost::json::array StringArray(const std::vector<std::string>& items);
boost::json::array IntArray(const std::vector<int64_t>& items);

enum class Need { kOptional, kRequired };

// Reads typed fields of a request body, collecting every problem as (field, message) so that one
// 400 answer names them all, as DRF does. A getter returns nullopt when the field is absent or
// bad; `null` is bad unless the getter says otherwise.
class BodyFields {
 public:
  explicit BodyFields(const boost::json::object& body) : body_(body) {}

  bool Has(std::string_view key) const { return body_.contains(key); }
  bool IsNull(std::string_view key) const;
  std::optional<std::string> String(std::string_view key, Need need = Need::kOptional);
  std::optional<int64_t> Int(std::string_view key, Need need = Need::kOptional);
  // An integer or null: absent → nullopt; null → a nullopt inside.
  std::optional<std::optional<int64_t>> NullableInt(std::string_view key);
  std::optional<bool> Bool(std::string_view key, Need need = Need::kOptional);
  std::optional<std::vector<std::string>> Strings(std::string_view key,
                                                  Need need = Need::kOptional);
  std::optional<std::vector<int64_t>> Ints(std::string_view key, Need need = Need::kOptional);
  // [[start, end], ...] of IPv4 address strings (checked later by ValidateVipRanges).
  std::optional<std::vector<IpRange>> Ranges(std::string_view key, Need need = Need::kOptional);
  // A field the client may not set here.
  void Immutable(std::string_view key);

  void Add(std::string field, std::string message);
  // A FieldError status (or any other, as non_field_errors).
  void Add(const Status& s);
  bool ok() const { return errors_.empty(); }
  http::Response Errors() const;  // 400 with every problem

 private:
  const boost::json::value* Find(std::string_view key, Need need);

  const boost::json::object& body_;
  std::vector<std::pair<std::string, std::string>> errors_;
};

}  // namespace dase::vms
