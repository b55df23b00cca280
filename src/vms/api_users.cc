// REST resources users/ (VAST's local users: identities of the data protocols, not logins of
// this API), users/<id>/access_keys/ and s3keys/. A secret key is in the answer to the request
// that makes it, and nowhere else.
#include <fmt/format.h>

#include <map>

#include "vms/api.h"
#include "vms/api_util.h"
#include "vms/protocol_ops.h"
#include "vms/rest.h"

namespace dase::vms {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Response;
using meta::Transaction;

namespace {

json::value OptionalInt(const std::optional<int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object KeyToApi(const AccessKeyRecord& k) {
  // Both VAST's schema form (access_key, enabled) and the form of its user listings (key,
  // status); never the secret.
  return {{"access_key", k.access_key},
          {"key", k.access_key},
          {"enabled", k.enabled},
          {"status", k.enabled ? "enabled" : "disabled"},
          {"creation_time", FormatTime(k.created_us)},
          {"tenant_id", k.tenant_id}};
}

json::object UserToApi(const LocalUserRecord& u, const std::vector<AccessKeyRecord>& keys,
                       const std::string& base) {
  json::array key_list;
  for (const AccessKeyRecord& k : keys) {
    if (k.user_id == u.id) key_list.push_back(KeyToApi(k));
  }
  return {{"id", u.id},
          {"guid", u.guid},
          {"name", u.name},
          {"title", u.name},
          {"uid", OptionalInt(u.uid)},
          {"leading_gid", OptionalInt(u.leading_gid)},
          {"gids", IntArray(u.gids)},
          {"allow_create_bucket", u.allow_create_bucket},
          {"allow_delete_bucket", u.allow_delete_bucket},
          {"s3_superuser", u.s3_superuser},
          {"access_keys", std::move(key_list)},
          {"tenant_id", u.tenant_id},
          {"local", true},
          {"local_provider_id", 1},
          {"password_is_set", false},
          {"created", FormatTime(u.created_us)},
          {"url", fmt::format("{}/api/users/{}/", base, u.id)}};
}

json::object KeyPairToApi(const AccessKeyRecord& k) {
  return {{"access_key", k.access_key}, {"secret_key", k.secret_key}};
}

struct UserFields {
  std::optional<std::string> name;
  std::optional<int64_t> tenant_id;
  std::optional<std::optional<int64_t>> uid, leading_gid;
  std::optional<std::vector<int64_t>> gids;
  std::optional<bool> allow_create_bucket, allow_delete_bucket, s3_superuser;

  static UserFields Parse(BodyFields& f, Need need) {
    UserFields u;
    if (need == Need::kRequired) {
      u.name = f.String("name", Need::kRequired);
      u.tenant_id = f.Int("tenant_id");
      f.Int("local_provider_id");  // one local provider: checked for type, nothing to choose
    } else {
      f.Immutable("name");
      f.Immutable("tenant_id");
    }
    if (f.Has("password")) {
      f.Add("password", "dase serves no SMB: local users have no password.");
    }
    u.uid = f.NullableInt("uid");
    u.leading_gid = f.NullableInt("leading_gid");
    u.gids = f.Ints("gids");
    u.allow_create_bucket = f.Bool("allow_create_bucket");
    u.allow_delete_bucket = f.Bool("allow_delete_bucket");
    u.s3_superuser = f.Bool("s3_superuser");
    return u;
  }
};
BOOST_DESCRIBE_STRUCT(UserFields, (),
                      (name, tenant_id, uid, leading_gid, gids, allow_create_bucket,
                       allow_delete_bucket, s3_superuser))

}  // namespace

Response Api::Users(const http::Request& request, const std::vector<std::string>& path,
                    const std::string& base) {
  if (path.size() == 3 && path[2] == "access_keys") {
    auto id = ParseId(path[1]);
    return id ? AccessKeys(request, *id) : NotFoundResponse();
  }
  auto show = [&](int64_t id, unsigned status) {
    return ShowObject(store_, request, status, [&](Transaction& txn) -> Result<json::object> {
      ASSIGN_OR_RETURN(auto user, LoadLocalUser(txn, id));
      ASSIGN_OR_RETURN(auto keys, LoadAccessKeysOf(txn, id));
      if (!user) return NotFound("Not found.");
      return UserToApi(*user, keys, base);
    });
  };
  auto shown = [&](unsigned status) {
    return [&, status](const LocalUserRecord& u) { return show(u.id, status); };
  };
  return RouteResource(
      request, path,
      {.list =
           [&] {
             return ListObjects(store_, request, base, [&](Transaction& txn) -> Result<json::array> {
               ASSIGN_OR_RETURN(auto users, LoadLocalUsers(txn));
               ASSIGN_OR_RETURN(auto keys, LoadAccessKeys(txn));
               json::array all;
               for (const LocalUserRecord& u : users) all.push_back(UserToApi(u, keys, base));
               return all;
             });
           },
       .create =
           [&] {
             return CreateObject<UserFields>(store_, env_, request, CreateLocalUser, shown(201));
           },
       .show = [&](int64_t id) { return show(id, 200); },
       .remove = [&](int64_t id) { return DeleteObject(store_, id, DeleteLocalUser); },
       .patch =
           [&](int64_t id) {
             return PatchObject<UserFields>(store_, request, id, LoadLocalUser, UpdateLocalUser,
                                            shown(200));
           }});
}

// users/<id>/access_keys/: POST makes a pair (200, the secret shown once), PATCH {access_key,
// enabled} enables or disables one, DELETE {access_key} revokes one (204), as VAST's schema.
Response Api::AccessKeys(const http::Request& request, int64_t user_id) {
  auto method = request.method();
  auto body = BodyObject(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  BodyFields f(*body);
  if (method == bhttp::verb::post) {
    f.Int("tenant_id");  // a user's keys belong to its tenant
    if (!f.ok()) return f.Errors();
    auto key = Transact<AccessKeyRecord>(
        store_, [&](Transaction& txn) { return CreateAccessKey(txn, env_, user_id); });
    if (!key.ok()) return WriteErrorResponse(key.status());
    return rest::JsonResponse(200, KeyPairToApi(*key));
  }
  if (method != bhttp::verb::delete_ && method != bhttp::verb::patch) {
    return MethodNotAllowed(request);
  }
  auto access_key = f.String("access_key", Need::kRequired);
  std::optional<bool> enabled;
  if (method == bhttp::verb::patch) enabled = f.Bool("enabled", Need::kRequired);
  if (!f.ok()) return f.Errors();
  Status s = store_->RunTransaction([&](Transaction& txn) {
    return enabled ? SetAccessKeyEnabled(txn, user_id, *access_key, *enabled)
                   : DeleteAccessKey(txn, user_id, *access_key);
  });
  return s.ok() ? rest::NoContent() : WriteErrorResponse(s);
}

// s3keys/: the key pairs of the requesting user, which is the local user with the name of the
// API login (VAST's "created by and for the requesting user").
Response Api::S3Keys(const http::Request& request, const std::vector<std::string>& path,
                     const std::string& user, const std::string& base) {
  auto method = request.method();
  auto local = FindLocalUserByName(store_, user);
  if (!local.ok()) return ErrorResponse(local.status());
  std::string missing = fmt::format(
      "There is no local user named {}: create one with POST "
      "users/ to hold your S3 keys.",
      user);
  if (path.size() == 1 && method == bhttp::verb::get) {
    json::array all;
    if (*local) {
      auto txn = store_->Begin();
      if (!txn.ok()) return ErrorResponse(txn.status());
      auto keys = LoadAccessKeysOf(**txn, (*local)->id);
      if (!keys.ok()) return ErrorResponse(keys.status());
      for (const AccessKeyRecord& k : *keys) {
        json::object o = KeyToApi(k);
        o["user"] = user;
        all.push_back(std::move(o));
      }
    }
    return ListResponse(request, std::move(all), base);
  }
  if (path.size() == 1 && method == bhttp::verb::post) {
    if (!*local) return rest::DetailError(400, missing);
    auto key = Transact<AccessKeyRecord>(
        store_, [&](Transaction& txn) { return CreateAccessKey(txn, env_, (*local)->id); });
    if (!key.ok()) return WriteErrorResponse(key.status());
    return rest::JsonResponse(201, KeyPairToApi(*key));
  }
  if (path.size() == 1) return MethodNotAllowed(request);
  if (path.size() != 2) return NotFoundResponse();
  if (method != bhttp::verb::delete_) return MethodNotAllowed(request);
  if (!*local) return NotFoundResponse();
  Status s = store_->RunTransaction(
      [&](Transaction& txn) { return DeleteAccessKey(txn, (*local)->id, path[1]); });
  if (s.code() == Code::kNotFound) return NotFoundResponse();  // the key is in the path
  return s.ok() ? rest::NoContent() : WriteErrorResponse(s);
}

}  // namespace dase::vms
