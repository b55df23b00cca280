// REST resources views/, viewpolicies/ and tenants/ (VAST VMS schema field names). Every
// request reads the records from the store; writes go through protocol_ops.h.
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

// Names of the objects that views and policies refer to by id, for their API forms.
struct Names {
  std::map<int64_t, std::string> policies;
  std::map<int64_t, std::string> tenants;
  std::map<int64_t, int64_t> views_per_policy;

  static Result<Names> Load(Transaction& txn) {
    Names n;
    ASSIGN_OR_RETURN(auto policies, LoadViewPolicies(txn));
    for (const ViewPolicyRecord& p : policies) n.policies[p.id] = p.name;
    ASSIGN_OR_RETURN(auto tenants, LoadTenants(txn));
    for (const TenantRecord& t : tenants) n.tenants[t.id] = t.name;
    ASSIGN_OR_RETURN(auto views, LoadViews(txn));
    for (const ViewRecord& v : views) n.views_per_policy[v.policy_id]++;
    return n;
  }
  static std::string Of(const std::map<int64_t, std::string>& names, int64_t id) {
    auto it = names.find(id);
    return it == names.end() ? "" : it->second;
  }
};

json::object ViewToApi(const ViewRecord& v, const Names& names, const std::string& base,
                       const ClusterRecord& c) {
  return {{"id", v.id},
          {"guid", v.guid},
          {"name", v.name},
          {"title", v.name},
          {"path", v.path},
          {"alias", ""},
          {"policy_id", v.policy_id},
          {"policy", Names::Of(names.policies, v.policy_id)},
          {"tenant_id", v.tenant_id},
          {"tenant_name", Names::Of(names.tenants, v.tenant_id)},
          {"protocols", StringArray(v.protocols)},
          {"bucket", v.bucket},
          {"bucket_owner", v.bucket_owner},
          {"s3_versioning", v.s3_versioning},
          {"allow_s3_anonymous_access", v.allow_s3_anonymous_access},
          {"allow_anonymous_access", v.allow_s3_anonymous_access},
          {"directory", true},
          {"internal", false},
          {"is_remote", false},
          {"logical_capacity", 0},
          {"physical_capacity", 0},
          {"created", FormatTime(v.created_us)},
          {"cluster", c.name},
          {"cluster_id", c.id},
          {"url", fmt::format("{}/api/views/{}/", base, v.id)}};
}

json::object PolicyToApi(const ViewPolicyRecord& p, const Names& names, const std::string& base,
                         const ClusterRecord& c) {
  auto views = names.views_per_policy.find(p.id);
  return {{"id", p.id},
          {"guid", p.guid},
          {"name", p.name},
          {"title", p.name},
          {"tenant_id", p.tenant_id},
          {"tenant_name", Names::Of(names.tenants, p.tenant_id)},
          {"flavor", p.flavor},
          {"nfs_read_write", StringArray(p.nfs_read_write)},
          {"nfs_read_only", StringArray(p.nfs_read_only)},
          {"read_write", StringArray(p.nfs_read_write)},
          {"read_only", StringArray(p.nfs_read_only)},
          {"nfs_root_squash", StringArray(p.nfs_root_squash)},
          {"nfs_all_squash", StringArray(p.nfs_all_squash)},
          {"nfs_no_squash", StringArray(p.nfs_no_squash)},
          {"s3_read_write", StringArray(p.s3_read_write)},
          {"s3_read_only", StringArray(p.s3_read_only)},
          {"s3_visibility", StringArray(p.s3_visibility)},
          {"s3_visibility_groups", StringArray(p.s3_visibility_groups)},
          {"is_s3_default_policy", p.is_s3_default_policy},
          {"count_views", views == names.views_per_policy.end() ? 0 : views->second},
          {"created", FormatTime(p.created_us)},
          {"cluster", c.name},
          {"cluster_id", c.id},
          {"url", fmt::format("{}/api/viewpolicies/{}/", base, p.id)}};
}

json::object TenantToApi(const TenantRecord& t, const std::string& base, const ClusterRecord& c) {
  return {{"id", t.id},
          {"guid", t.guid},
          {"name", t.name},
          {"title", t.name},
          {"created", FormatTime(t.created_us)},
          {"cluster", c.name},
          {"cluster_id", c.id},
          {"url", fmt::format("{}/api/tenants/{}/", base, t.id)}};
}

// The fields of a view a request may set; absent ones leave the view as it is.
struct ViewFields {
  std::optional<std::string> path, name, bucket, bucket_owner;
  std::optional<int64_t> policy_id, tenant_id;  // tenant_id: set on create only
  std::optional<std::vector<std::string>> protocols;
  std::optional<bool> s3_versioning, allow_s3_anonymous_access;
  bool create_dir = false;

  static ViewFields Parse(BodyFields& f, Need need) {
    ViewFields v;
    if (need == Need::kOptional) f.Immutable("tenant_id");
    v.path = f.String("path", need);
    v.policy_id = f.Int("policy_id", need);
    v.name = f.String("name");
    v.protocols = f.Strings("protocols");
    v.bucket = f.String("bucket");
    v.bucket_owner = f.String("bucket_owner");
    v.s3_versioning = f.Bool("s3_versioning");
    v.allow_s3_anonymous_access = f.Bool("allow_s3_anonymous_access");
    if (!v.allow_s3_anonymous_access) {
      v.allow_s3_anonymous_access = f.Bool("allow_anonymous_access");
    }
    v.create_dir = f.Bool("create_dir").value_or(false);
    if (v.path) {
      if (Status s = ValidateViewPath(*v.path); !s.ok()) f.Add(s);
    }
    if (need == Need::kRequired) v.tenant_id = f.Int("tenant_id");
    return v;
  }
  // For a create request, whose required fields were checked.
  ViewRequest ToRequest() const {
    ViewRequest r;
    r.path = *path;
    r.policy_id = *policy_id;
    r.name = name.value_or("");
    r.tenant_id = tenant_id.value_or(kDefaultTenantId);
    r.protocols = protocols.value_or(std::vector<std::string>{"NFS"});
    r.bucket = bucket.value_or("");
    r.bucket_owner = bucket_owner.value_or("");
    r.s3_versioning = s3_versioning.value_or(false);
    r.allow_s3_anonymous_access = allow_s3_anonymous_access.value_or(false);
    return r;
  }
};
// tenant_id is set on create only (ToRequest), create_dir is the request's, not the view's.
BOOST_DESCRIBE_STRUCT(ViewFields, (),
                      (path, name, policy_id, protocols, bucket, bucket_owner, s3_versioning,
                       allow_s3_anonymous_access))

struct TenantFields {
  std::optional<std::string> name;

  static TenantFields Parse(BodyFields& f, Need need) { return {f.String("name", need)}; }
};
BOOST_DESCRIBE_STRUCT(TenantFields, (), (name))

// CreateTenant in the form CreateObject takes.
Result<TenantRecord> CreateTenantRecord(Transaction& txn, env::Env* env,
                                        const TenantRecord& request) {
  return CreateTenant(txn, env, request.name);
}

struct PolicyFields {
  std::optional<std::string> name, flavor;
  std::optional<int64_t> tenant_id;
  std::optional<std::vector<std::string>> nfs_read_write, nfs_read_only, nfs_root_squash,
      nfs_all_squash, nfs_no_squash, s3_read_write, s3_read_only, s3_visibility,
      s3_visibility_groups;
  std::optional<bool> is_s3_default_policy;

  static PolicyFields Parse(BodyFields& f, Need need) {
    PolicyFields p;
    p.name = f.String("name", need);
    p.flavor = f.String("flavor");
    p.tenant_id = f.Int("tenant_id");
    p.nfs_read_write = f.Strings("nfs_read_write");
    if (!p.nfs_read_write) p.nfs_read_write = f.Strings("read_write");  // VAST's older name
    p.nfs_read_only = f.Strings("nfs_read_only");
    if (!p.nfs_read_only) p.nfs_read_only = f.Strings("read_only");
    p.nfs_root_squash = f.Strings("nfs_root_squash");
    p.nfs_all_squash = f.Strings("nfs_all_squash");
    p.nfs_no_squash = f.Strings("nfs_no_squash");
    p.s3_read_write = f.Strings("s3_read_write");
    p.s3_read_only = f.Strings("s3_read_only");
    p.s3_visibility = f.Strings("s3_visibility");
    p.s3_visibility_groups = f.Strings("s3_visibility_groups");
    p.is_s3_default_policy = f.Bool("is_s3_default_policy");
    return p;
  }
};
BOOST_DESCRIBE_STRUCT(PolicyFields, (),
                      (name, flavor, tenant_id, nfs_read_write, nfs_read_only, nfs_root_squash,
                       nfs_all_squash, nfs_no_squash, s3_read_write, s3_read_only, s3_visibility,
                       s3_visibility_groups, is_s3_default_policy))

// Runs `write` once in a transaction that is never committed, to learn whether it would fail
// before doing what cannot be undone by a failed transaction (creating a directory).
Status DryRun(meta::Store* store, const std::function<Status(Transaction&)>& write) {
  ASSIGN_OR_RETURN(auto txn, store->Begin());
  return write(*txn);
}

}  // namespace

Status Api::EnsureViewDirectory(const std::string& path, bool create) {
  if (!namespace_) {
    ASSIGN_OR_RETURN(namespace_, estore::Namespace::Open(store_, env_));
  }
  auto inode = namespace_->Resolve(path);
  if (inode.ok()) {
    if (inode->type == estore::FileType::kDirectory) return Status::Ok();
    return FieldError(Code::kInvalidArgument, "path", fmt::format("{} is not a directory.", path));
  }
  if (inode.status().code() == Code::kInvalidArgument) {
    return FieldError(Code::kInvalidArgument, "path", inode.status().message());
  }
  if (inode.status().code() != Code::kNotFound) return inode.status();
  if (!create) {
    return FieldError(
        Code::kInvalidArgument, "path",
        fmt::format("The directory {} does not exist (set create_dir to create it).", path));
  }
  auto made = namespace_->MakeDirs(path);
  if (made.ok()) return Status::Ok();
  if (made.status().code() == Code::kInvalidArgument ||
      made.status().code() == Code::kAlreadyExists) {
    return FieldError(Code::kInvalidArgument, "path",
                      fmt::format("Cannot create {}: {}", path, made.status().message()));
  }
  return made.status();
}

Response Api::Views(const http::Request& request, const std::vector<std::string>& path,
                    const std::string& base) {
  const ClusterRecord& c = cluster_->cluster();
  auto show = [&](int64_t id, unsigned status) {
    return ShowObject(store_, request, status, [&](Transaction& txn) -> Result<json::object> {
      ASSIGN_OR_RETURN(auto names, Names::Load(txn));
      ASSIGN_OR_RETURN(auto view, LoadView(txn, id));
      if (!view) return NotFound("Not found.");
      return ViewToApi(*view, names, base, c);
    });
  };
  // A write that may need the view's directory (`directory`, when set): tried first in a
  // transaction never committed, then the directory checked or made, then committed.
  auto write_view = [&](const std::function<Result<ViewRecord>(Transaction&)>& write,
                        const std::optional<std::string>& directory, bool create_dir,
                        unsigned status) {
    Status s = DryRun(store_, [&](Transaction& txn) { return write(txn).status(); });
    if (s.ok() && directory) s = EnsureViewDirectory(*directory, create_dir);
    if (!s.ok()) return WriteErrorResponse(s);
    return CommitWrite<ViewRecord>(store_, write,
                                   [&](const ViewRecord& v) { return show(v.id, status); });
  };
  return RouteResource(
      request, path,
      {.list =
           [&] {
             return ListObjects(store_, request, base, [&](Transaction& txn) -> Result<json::array> {
               ASSIGN_OR_RETURN(auto names, Names::Load(txn));
               ASSIGN_OR_RETURN(auto views, LoadViews(txn));
               json::array all;
               for (const ViewRecord& v : views) all.push_back(ViewToApi(v, names, base, c));
               return all;
             });
           },
       .create =
           [&] {
             return WithFields<ViewFields>(request, Need::kRequired, [&](const ViewFields& fields) {
               ViewRequest r = fields.ToRequest();
               return write_view([&](Transaction& txn) { return CreateView(txn, env_, r); },
                                 r.path, fields.create_dir, 201);
             });
           },
       .show = [&](int64_t id) { return show(id, 200); },
       .remove = [&](int64_t id) { return DeleteObject(store_, id, DeleteView); },
       .patch =
           [&](int64_t id) {
             return WithFields<ViewFields>(request, Need::kOptional, [&](const ViewFields& fields) {
               return write_view(
                   [&](Transaction& txn) {
                     return PatchRecord(txn, id, fields, LoadView, UpdateView);
                   },
                   fields.path, fields.create_dir, 200);
             });
           }});
}

Response Api::ViewPolicies(const http::Request& request, const std::vector<std::string>& path,
                           const std::string& base) {
  const ClusterRecord& c = cluster_->cluster();
  auto show = [&](int64_t id, unsigned status) {
    return ShowObject(store_, request, status, [&](Transaction& txn) -> Result<json::object> {
      ASSIGN_OR_RETURN(auto names, Names::Load(txn));
      ASSIGN_OR_RETURN(auto policy, LoadViewPolicy(txn, id));
      if (!policy) return NotFound("Not found.");
      return PolicyToApi(*policy, names, base, c);
    });
  };
  auto shown = [&](unsigned status) {
    return [&, status](const ViewPolicyRecord& p) { return show(p.id, status); };
  };
  return RouteResource(
      request, path,
      {.list =
           [&] {
             return ListObjects(store_, request, base, [&](Transaction& txn) -> Result<json::array> {
               ASSIGN_OR_RETURN(auto names, Names::Load(txn));
               ASSIGN_OR_RETURN(auto policies, LoadViewPolicies(txn));
               json::array all;
               for (const ViewPolicyRecord& p : policies) {
                 all.push_back(PolicyToApi(p, names, base, c));
               }
               return all;
             });
           },
       .create =
           [&] {
             return CreateObject<PolicyFields>(store_, env_, request, CreateViewPolicy,
                                               shown(201));
           },
       .show = [&](int64_t id) { return show(id, 200); },
       .remove = [&](int64_t id) { return DeleteObject(store_, id, DeleteViewPolicy); },
       .patch =
           [&](int64_t id) {
             return PatchObject<PolicyFields>(store_, request, id, LoadViewPolicy,
                                              UpdateViewPolicy, shown(200));
           }});
}

Response Api::Tenants(const http::Request& request, const std::vector<std::string>& path,
                      const std::string& base) {
  const ClusterRecord& c = cluster_->cluster();
  // Writes answer with the record written (without fields=, as GET has).
  auto written = [&](unsigned status) {
    return [&, status](const TenantRecord& t) {
      return rest::JsonResponse(status, TenantToApi(t, base, c));
    };
  };
  return RouteResource(
      request, path,
      {.list =
           [&] {
             return ListObjects(store_, request, base, [&](Transaction& txn) -> Result<json::array> {
               ASSIGN_OR_RETURN(auto tenants, LoadTenants(txn));
               json::array all;
               for (const TenantRecord& t : tenants) all.push_back(TenantToApi(t, base, c));
               return all;
             });
           },
       .create =
           [&] {
             return CreateObject<TenantFields>(store_, env_, request, CreateTenantRecord,
                                               written(201));
           },
       .show =
           [&](int64_t id) {
             return ShowObject(store_, request, 200, [&](Transaction& txn) -> Result<json::object> {
               ASSIGN_OR_RETURN(auto t, LoadTenant(txn, id));
               if (!t) return NotFound("Not found.");
               return TenantToApi(*t, base, c);
             });
           },
       .remove = [&](int64_t id) { return DeleteObject(store_, id, DeleteTenant); },
       .patch =
           [&](int64_t id) {
             return PatchObject<TenantFields>(store_, request, id, LoadTenant, UpdateTenant,
                                              written(200));
           }});
}

}  // namespace dase::vms
