// Helpers shared by the REST API's resource handlers (api*.cc): responses, ids, bodies,
// BodyFields, which reads a request body's fields with DRF's checks and messages, and the routes
// and steps that every protocol resource (views, view policies, tenants, users, VIP pools)
// shares. Internal to src/vms.
//
// Thread-safety: free functions and a value type.
#pragma once

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/mp11.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.h"
#include "env/env.h"
#include "http/server.h"
#include "meta/kv.h"
#include "vms/protocol_ops.h"
#include "vms/protocol_records.h"
#include "vms/rest.h"

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

// ---- protocol resources: <resource>/ and <resource>/<id>/

struct ResourceRoutes {
  std::function<http::Response()> list;             // GET <resource>/
  std::function<http::Response()> create;           // POST <resource>/
  std::function<http::Response(int64_t)> show;      // GET <resource>/<id>/
  std::function<http::Response(int64_t)> remove;    // DELETE <resource>/<id>/
  std::function<http::Response(int64_t)> patch;     // PATCH <resource>/<id>/
};
// Answers `path` (the resource's name, maybe an id) with one of `routes`: 404 for a bad id or a
// longer path, 405 for any other method.
http::Response RouteResource(const http::Request& request, const std::vector<std::string>& path,
                             const ResourceRoutes& routes);

// One object read in a transaction of its own, as GET answers it (`status` 200: fields=
// applies) or as a write does (201, or 200 without fields=). `read` returns NotFound for 404.
http::Response ShowObject(meta::Store* store, const http::Request& request, unsigned status,
                          const std::function<Result<boost::json::object>(meta::Transaction&)>& read);
// Every object, read in a transaction of its own, as a list.
http::Response ListObjects(meta::Store* store, const http::Request& request,
                           const std::string& base,
                           const std::function<Result<boost::json::array>(meta::Transaction&)>& read);
// DELETE <resource>/<id>/: 204 once `remove` committed (and `after` ran), else the failed
// write's answer.
http::Response DeleteObject(
    meta::Store* store, int64_t id, Status (*remove)(meta::Transaction&, int64_t),
    const std::function<void()>& after = [] {});

// The fields of a resource that a request may write (UserFields, ...) are a struct with
//   static Fields Parse(BodyFields& f, Need need);  // kRequired for a POST, kOptional a PATCH
// whose BOOST_DESCRIBE_STRUCT lists the std::optional members that set the record's members of
// the same names (ApplyFields).

namespace internal {
template <typename T>
inline constexpr bool kIsOptional = false;
template <typename T>
inline constexpr bool kIsOptional<std::optional<T>> = true;
constexpr bool SameName(const char* a, const char* b) {
  return std::string_view(a) == std::string_view(b);
}
}  // namespace internal

// Sets every member of `record` whose namesake in `fields` is set. Each described member of
// `fields` must name a member of the record (checked when compiled).
template <typename Fields, typename Record>
void ApplyFields(const Fields& fields, Record& record) {
  using boost::describe::describe_members;
  using boost::describe::mod_public;
  using RecordMembers = describe_members<Record, mod_public>;
  boost::mp11::mp_for_each<describe_members<Fields, mod_public>>([&](auto field) {
    using Field = decltype(field);
    constexpr int kNamesakes = [] {
      int n = 0;
      boost::mp11::mp_for_each<RecordMembers>(
          [&](auto member) { n += internal::SameName(Field::name, decltype(member)::name); });
      return n;
    }();
    static_assert(kNamesakes == 1, "a member of the fields that the record does not have");
    boost::mp11::mp_for_each<RecordMembers>([&](auto member) {
      if constexpr (internal::SameName(Field::name, decltype(member)::name)) {
        static_assert(internal::kIsOptional<std::remove_cvref_t<decltype(fields.*field.pointer)>>);
        if (fields.*field.pointer) record.*member.pointer = *(fields.*field.pointer);
      }
    });
  });
}

// Parses `Fields` from the request body and answers `then(fields)`, or 400: {"detail"} for a
// body that is not a JSON object, else every problem of the fields and of `check(f, fields)`.
struct NoFieldCheck {
  template <typename Fields>
  void operator()(BodyFields&, const Fields&) const {}
};
template <typename Fields, typename Then, typename Check = NoFieldCheck>
http::Response WithFields(const http::Request& request, Need need, Then then, Check check = {}) {
  auto body = BodyObject(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  BodyFields f(*body);
  Fields fields = Fields::Parse(f, need);
  check(f, fields);
  if (!f.ok()) return f.Errors();
  return then(fields);
}

// Commits `write` (Transact) and answers `done(record)`, or the failed write's answer.
template <typename Record, typename Done>
http::Response CommitWrite(meta::Store* store,
                           const std::function<Result<Record>(meta::Transaction&)>& write,
                           Done done) {
  auto record = Transact<Record>(store, write);
  if (!record.ok()) return WriteErrorResponse(record.status());
  return done(*record);
}

// The write of a PATCH: the stored record `id` (NotFound if there is none) with `fields`
// applied, written by `update`.
template <typename Record, typename Fields>
Result<Record> PatchRecord(meta::Transaction& txn, int64_t id, const Fields& fields,
                           Result<std::optional<Record>> (*load)(meta::Transaction&, int64_t),
                           Result<Record> (*update)(meta::Transaction&, const Record&)) {
  ASSIGN_OR_RETURN(auto record, load(txn, id));
  if (!record) return NotFound("Not found.");
  ApplyFields(fields, *record);
  return update(txn, *record);
}

// POST <resource>/: a record made of the body's fields by `create`, answered by `done`.
template <typename Fields, typename Record, typename Done, typename Check = NoFieldCheck>
http::Response CreateObject(meta::Store* store, env::Env* env, const http::Request& request,
                            Result<Record> (*create)(meta::Transaction&, env::Env*,
                                                     const Record&),
                            Done done, Check check = {}) {
  auto then = [&](const Fields& fields) {
    return CommitWrite<Record>(
        store,
        [&](meta::Transaction& txn) {
          Record record;
          ApplyFields(fields, record);
          return create(txn, env, record);
        },
        done);
  };
  return WithFields<Fields>(request, Need::kRequired, then, check);
}

// PATCH <resource>/<id>/: PatchRecord with the body's fields, answered by `done`.
template <typename Fields, typename Record, typename Done, typename Check = NoFieldCheck>
http::Response PatchObject(meta::Store* store, const http::Request& request, int64_t id,
                           Result<std::optional<Record>> (*load)(meta::Transaction&, int64_t),
                           Result<Record> (*update)(meta::Transaction&, const Record&),
                           Done done, Check check = {}) {
  auto then = [&](const Fields& fields) {
    return CommitWrite<Record>(
        store,
        [&](meta::Transaction& txn) { return PatchRecord(txn, id, fields, load, update); },
        done);
  };
  return WithFields<Fields>(request, Need::kOptional, then, check);
}

}  // namespace dase::vms
