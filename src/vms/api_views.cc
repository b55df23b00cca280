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
  std::optional<int64_t> policy_id;
  std::optional<std::vector<std::string>> protocols;
  std::optional<bool> s3_versioning, allow_s3_anonymous_access;
  bool create_dir = false;

  static ViewFields Parse(BodyFields& f, Need need) {
    ViewFields v;
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
    return v;
  }
  // For a create request, whose required fields were checked.
  ViewRequest ToRequest(int64_t tenant_id) const {
    ViewRequest r;
    r.path = *path;
    r.policy_id = *policy_id;
    r.name = name.value_or("");
    r.tenant_id = tenant_id;
    r.protocols = protocols.value_or(std::vector<std::string>{"NFS"});
    r.bucket = bucket.value_or("");
    r.bucket_owner = bucket_owner.value_or("");
    r.s3_versioning = s3_versioning.value_or(false);
    r.allow_s3_anonymous_access = allow_s3_anonymous_access.value_or(false);
    return r;
  }
  void ApplyTo(ViewRecord& r) const {
    if (path) r.path = *path;
    if (name) r.name = *name;
    if (policy_id) r.policy_id = *policy_id;
    if (protocols) r.protocols = *protocols;
    if (bucket) r.bucket = *bucket;
    if (bucket_owner) r.bucket_owner = *bucket_owner;
    if (s3_versioning) r.s3_versioning = *s3_versioning;
    if (allow_s3_anonymous_access) r.allow_s3_anonymous_access = *allow_s3_anonymous_access;
  }
};

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
  void ApplyTo(ViewPolicyRecord& r) const {
    if (name) r.name = *name;
    if (flavor) r.flavor = *flavor;
    if (tenant_id) r.tenant_id = *tenant_id;
    if (nfs_read_write) r.nfs_read_write = *nfs_read_write;
    if (nfs_read_only) r.nfs_read_only = *nfs_read_only;
    if (nfs_root_squash) r.nfs_root_squash = *nfs_root_squash;
    if (nfs_all_squash) r.nfs_all_squash = *nfs_all_squash;
    if (nfs_no_squash) r.nfs_no_squash = *nfs_no_squash;
    if (s3_read_write) r.s3_read_write = *s3_read_write;
    if (s3_read_only) r.s3_read_only = *s3_read_only;
    if (s3_visibility) r.s3_visibility = *s3_visibility;
    if (s3_visibility_groups) r.s3_visibility_groups = *s3_visibility_groups;
    if (is_s3_default_policy) r.is_s3_default_policy = *is_s3_default_policy;
  }
};

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
  auto method = request.method();
  const ClusterRecord& c = cluster_->cluster();
  auto show = [&](int64_t id, unsigned status) -> Response {
    auto txn = store_->Begin();
    if (!txn.ok()) return ErrorResponse(txn.status());
    auto names = Names::Load(**txn);
    auto view = LoadView(**txn, id);
    if (!names.ok() || !view.ok()) {
      return ErrorResponse(!names.ok() ? names.status() : view.status());
    }
    if (!*view) return NotFoundResponse();
    json::object o = ViewToApi(**view, *names, base, c);
    return status == 200 ? ObjectResponse(request, o) : rest::JsonResponse(status, o);
  };
  if (path.size() == 1 && method == bhttp::verb::get) {
    auto txn = store_->Begin();
    if (!txn.ok()) return ErrorResponse(txn.status());
    auto names = Names::Load(**txn);
    auto views = LoadViews(**txn);
    if (!names.ok() || !views.ok()) {
      return ErrorResponse(!names.ok() ? names.status() : views.status());
    }
    json::array all;
    for (const ViewRecord& v : *views) all.push_back(ViewToApi(v, *names, base, c));
    return ListResponse(request, std::move(all), base);
  }
  auto body = BodyObject(request);
  if (path.size() == 1 && method == bhttp::verb::post) {
    if (!body.ok()) return rest::DetailError(400, body.status().message());
    BodyFields f(*body);
    ViewFields fields = ViewFields::Parse(f, Need::kRequired);
    auto tenant_id = f.Int("tenant_id");
    if (!f.ok()) return f.Errors();
    ViewRequest r = fields.ToRequest(tenant_id.value_or(kDefaultTenantId));
    Status s = DryRun(store_, [&](Transaction& txn) { return CreateView(txn, env_, r).status(); });
    if (s.ok()) s = EnsureViewDirectory(r.path, fields.create_dir);
    auto view = s.ok() ? CreateView(store_, env_, r) : Result<ViewRecord>(s);
    if (!view.ok()) return WriteErrorResponse(view.status());
    return show(view->id, 201);
  }
  if (path.size() == 1) return MethodNotAllowed(request);
  auto id = ParseId(path[1]);
  if (!id || path.size() != 2) return NotFoundResponse();
  if (method == bhttp::verb::get) return show(*id, 200);
  if (method == bhttp::verb::delete_) {
    Status s = DeleteView(store_, *id);
    return s.ok() ? rest::NoContent() : WriteErrorResponse(s);
  }
  if (method != bhttp::verb::patch) return MethodNotAllowed(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  BodyFields f(*body);
  f.Immutable("tenant_id");
  ViewFields fields = ViewFields::Parse(f, Need::kOptional);
  if (!f.ok()) return f.Errors();
  std::function<Result<ViewRecord>(Transaction&)> update =
      [&](Transaction& txn) -> Result<ViewRecord> {
    ASSIGN_OR_RETURN(auto v, LoadView(txn, *id));
    if (!v) return NotFound("Not found.");
    fields.ApplyTo(*v);
    return UpdateView(txn, *v);
  };
  Status s = DryRun(store_, [&](Transaction& txn) { return update(txn).status(); });
  if (s.ok() && fields.path) s = EnsureViewDirectory(*fields.path, fields.create_dir);
  auto view = s.ok() ? Transact<ViewRecord>(store_, update) : Result<ViewRecord>(s);
  if (!view.ok()) return WriteErrorResponse(view.status());
  return show(*id, 200);
}

Response Api::ViewPolicies(const http::Request& request, const std::vector<std::string>& path,
                           const std::string& base) {
  auto method = request.method();
  const ClusterRecord& c = cluster_->cluster();
  auto show = [&](int64_t id, unsigned status) -> Response {
    auto txn = store_->Begin();
    if (!txn.ok()) return ErrorResponse(txn.status());
    auto names = Names::Load(**txn);
    auto policy = LoadViewPolicy(**txn, id);
    if (!names.ok() || !policy.ok()) {
      return ErrorResponse(!names.ok() ? names.status() : policy.status());
    }
    if (!*policy) return NotFoundResponse();
    json::object o = PolicyToApi(**policy, *names, base, c);
    return status == 200 ? ObjectResponse(request, o) : rest::JsonResponse(status, o);
  };
  if (path.size() == 1 && method == bhttp::verb::get) {
    auto txn = store_->Begin();
    if (!txn.ok()) return ErrorResponse(txn.status());
    auto names = Names::Load(**txn);
    auto policies = LoadViewPolicies(**txn);
    if (!names.ok() || !policies.ok()) {
      return ErrorResponse(!names.ok() ? names.status() : policies.status());
    }
    json::array all;
    for (const ViewPolicyRecord& p : *policies) all.push_back(PolicyToApi(p, *names, base, c));
    return ListResponse(request, std::move(all), base);
  }
  auto body = BodyObject(request);
  if (path.size() == 1 && method == bhttp::verb::post) {
    if (!body.ok()) return rest::DetailError(400, body.status().message());
    BodyFields f(*body);
    PolicyFields fields = PolicyFields::Parse(f, Need::kRequired);
    if (!f.ok()) return f.Errors();
    ViewPolicyRecord p;
    fields.ApplyTo(p);
    auto created = Transact<ViewPolicyRecord>(
        store_, [&](Transaction& txn) { return CreateViewPolicy(txn, env_, p); });
    if (!created.ok()) return WriteErrorResponse(created.status());
    return show(created->id, 201);
  }
  if (path.size() == 1) return MethodNotAllowed(request);
  auto id = ParseId(path[1]);
  if (!id || path.size() != 2) return NotFoundResponse();
  if (method == bhttp::verb::get) return show(*id, 200);
  if (method == bhttp::verb::delete_) {
    Status s = store_->RunTransaction([&](Transaction& txn) { return DeleteViewPolicy(txn, *id); });
    return s.ok() ? rest::NoContent() : WriteErrorResponse(s);
  }
  if (method != bhttp::verb::patch) return MethodNotAllowed(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  BodyFields f(*body);
  PolicyFields fields = PolicyFields::Parse(f, Need::kOptional);
  if (!f.ok()) return f.Errors();
  auto updated =
      Transact<ViewPolicyRecord>(store_, [&](Transaction& txn) -> Result<ViewPolicyRecord> {
        ASSIGN_OR_RETURN(auto p, LoadViewPolicy(txn, *id));
        if (!p) return NotFound("Not found.");
        fields.ApplyTo(*p);
        return UpdateViewPolicy(txn, *p);
      });
  if (!updated.ok()) return WriteErrorResponse(updated.status());
  return show(*id, 200);
}

Response Api::Tenants(const http::Request& request, const std::vector<std::string>& path,
                      const std::string& base) {
  auto method = request.method();
  const ClusterRecord& c = cluster_->cluster();
  if (path.size() == 1 && method == bhttp::verb::get) {
    auto txn = store_->Begin();
    if (!txn.ok()) return ErrorResponse(txn.status());
    auto tenants = LoadTenants(**txn);
    if (!tenants.ok()) return ErrorResponse(tenants.status());
    json::array all;
    for (const TenantRecord& t : *tenants) all.push_back(TenantToApi(t, base, c));
    return ListResponse(request, std::move(all), base);
  }
  auto body = BodyObject(request);
  if (path.size() == 1 && method == bhttp::verb::post) {
    if (!body.ok()) return rest::DetailError(400, body.status().message());
    BodyFields f(*body);
    auto name = f.String("name", Need::kRequired);
    if (!f.ok()) return f.Errors();
    auto t = Transact<TenantRecord>(
        store_, [&](Transaction& txn) { return CreateTenant(txn, env_, *name); });
    if (!t.ok()) return WriteErrorResponse(t.status());
    return rest::JsonResponse(201, TenantToApi(*t, base, c));
  }
  if (path.size() == 1) return MethodNotAllowed(request);
  auto id = ParseId(path[1]);
  if (!id || path.size() != 2) return NotFoundResponse();
  if (method == bhttp::verb::get) {
    auto txn = store_->Begin();
    if (!txn.ok()) return ErrorResponse(txn.status());
    auto t = LoadTenant(**txn, *id);
    if (!t.ok()) return ErrorResponse(t.status());
    if (!*t) return NotFoundResponse();
    return ObjectResponse(request, TenantToApi(**t, base, c));
  }
  if (method == bhttp::verb::delete_) {
    Status s = store_->RunTransaction([&](Transaction& txn) { return DeleteTenant(txn, *id); });
    return s.ok() ? rest::NoContent() : WriteErrorResponse(s);
  }
  if (method != bhttp::verb::patch) return MethodNotAllowed(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  BodyFields f(*body);
  auto name = f.String("name");
  if (!f.ok()) return f.Errors();
  auto t = Transact<TenantRecord>(store_, [&](Transaction& txn) -> Result<TenantRecord> {
    ASSIGN_OR_RETURN(auto old, LoadTenant(txn, *id));
    if (!old) return NotFound("Not found.");
    if (name) old->name = *name;
    return UpdateTenant(txn, *old);
  });
  if (!t.ok()) return WriteErrorResponse(t.status());
  return rest::JsonResponse(200, TenantToApi(*t, base, c));
}

}  // namespace dase::vms
