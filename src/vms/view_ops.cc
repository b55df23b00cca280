// Seeding, ids, views, view policies and tenants (protocol_ops.h).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "vms/protocol_ops.h"
#include "vms/record_writes.h"

namespace dase::vms {

using meta::Transaction;

namespace {

// The protocols dase serves on a view; VAST's others are refused by name.
constexpr std::string_view kServedProtocols[] = {"NFS", "S3"};
constexpr std::string_view kOtherVastProtocols[] = {"NFS4",     "SMB",   "ENDPOINT",
                                                    "DATABASE", "KAFKA", "BLOCK"};

Status CheckProtocols(const ViewRecord& v) {
  std::set<std::string_view> seen;
  for (const std::string& p : v.protocols) {
    bool served = std::find(std::begin(kServedProtocols), std::end(kServedProtocols), p) !=
                  std::end(kServedProtocols);
    if (!served) {
      bool vast = std::find(std::begin(kOtherVastProtocols), std::end(kOtherVastProtocols), p) !=
                  std::end(kOtherVastProtocols);
      return Invalid("protocols", vast ? fmt::format("dase does not serve {} (NFS and S3 only).", p)
                                       : fmt::format("\"{}\" is not a valid choice.", p));
    }
    if (!seen.insert(p).second) return Invalid("protocols", fmt::format("{} is listed twice.", p));
  }
  bool s3 = v.HasProtocol("S3");
  if (s3 && v.bucket.empty()) return Invalid("bucket", "A view with S3 needs a bucket name.");
  if (s3 && v.bucket_owner.empty()) {
    return Invalid("bucket_owner", "A view with S3 needs a bucket owner.");
  }
  if (!s3 && !v.bucket.empty()) return Invalid("bucket", "A bucket needs S3 in protocols.");
  if (!s3 && !v.bucket_owner.empty()) {
    return Invalid("bucket_owner", "A bucket owner needs S3 in protocols.");
  }
  if (s3) RETURN_IF_ERROR(ValidateBucketName(v.bucket));
  return Status::Ok();
}

// Everything CreateView and UpdateView check; `v.id` is the view's own id (excluded from the
// duplicate checks).
Status CheckView(Transaction& txn, const ViewRecord& v) {
  RETURN_IF_ERROR(ValidateName("name", v.name));
  RETURN_IF_ERROR(ValidateViewPath(v.path));
  RETURN_IF_ERROR(CheckProtocols(v));
  ASSIGN_OR_RETURN(auto tenant, LoadTenant(txn, v.tenant_id));
  if (!tenant) return Invalid("tenant_id", NoSuchObject(v.tenant_id));
  ASSIGN_OR_RETURN(auto policy, LoadViewPolicy(txn, v.policy_id));
  if (!policy) return Invalid("policy_id", NoSuchObject(v.policy_id));
  if (policy->tenant_id != v.tenant_id) {
    return Invalid("policy_id",
                   fmt::format("The view policy {} belongs to another tenant.", policy->name));
  }
  if (!v.bucket_owner.empty()) {
    ASSIGN_OR_RETURN(auto owner, FindLocalUserByName(txn, v.bucket_owner));
    if (!owner || owner->tenant_id != v.tenant_id) {
      return Invalid("bucket_owner", fmt::format("There is no user named \"{}\" in tenant {}.",
                                                 v.bucket_owner, tenant->name));
    }
  }
  ASSIGN_OR_RETURN(auto views, LoadViews(txn));
  RETURN_IF_ERROR(CheckRoom(v.id, views.size(), kViewsMax, "views"));
  for (const ViewRecord& other : views) {
    if (other.id == v.id) continue;
    if (other.tenant_id == v.tenant_id && other.path == v.path) {
      return Duplicate("path", fmt::format("View {} already exposes {} in tenant {}.", other.name,
                                           v.path, tenant->name));
    }
    if (other.tenant_id == v.tenant_id && other.name == v.name) {
      return Duplicate("name", "A view with this name already exists.");
    }
  }
  if (!v.bucket.empty()) {
    ASSIGN_OR_RETURN(auto existing, txn.Get(BucketKey(v.bucket)));
    if (existing && *existing != std::to_string(v.id)) {
      return Duplicate("bucket", fmt::format("The bucket {} already exists.", v.bucket));
    }
  }
  return Status::Ok();
}

void PutView(Transaction& txn, const ViewRecord& v) {
  txn.Put(ViewKey(v.id), EncodeRecord(v));
  if (!v.bucket.empty()) txn.Put(BucketKey(v.bucket), std::to_string(v.id));
}

constexpr RecordKind<ViewRecord> kViewKind{"view", LoadView, CheckView, PutView};

}  // namespace

Result<int64_t> AllocateId(Transaction& txn, std::string_view kind) {
  std::string key = NextIdKey(kind);
  ASSIGN_OR_RETURN(auto text, txn.Get(key));
  int64_t id = 1;
  if (text) {
    auto r = std::from_chars(text->data(), text->data() + text->size(), id);
    if (r.ec != std::errc() || r.ptr != text->data() + text->size() || id < 1) {
      return Corruption(fmt::format("{}: not an id", key));
    }
  }
  txn.Put(key, std::to_string(id + 1));
  return id;
}

Status SeedDefaults(meta::Store* store, env::Env* env) {
  return store->RunTransaction([&](Transaction& txn) -> Status {
    int64_t now = env->NowMicros();
    ASSIGN_OR_RETURN(auto tenants_seeded, txn.Get(NextIdKey("tenant")));
    if (!tenants_seeded) {
      TenantRecord t{kDefaultTenantId, env::RandomHex(env, 16), kDefaultTenantName, now};
      txn.Put(TenantKey(t.id), EncodeRecord(t));
      txn.Put(NextIdKey("tenant"), std::to_string(t.id + 1));
    }
    ASSIGN_OR_RETURN(auto policies_seeded, txn.Get(NextIdKey("viewpolicy")));
    if (!policies_seeded) {
      ViewPolicyRecord p;
      p.id = kDefaultPolicyId;
      p.guid = env::RandomHex(env, 16);
      p.name = kDefaultPolicyName;
      p.created_us = now;
      txn.Put(ViewPolicyKey(p.id), EncodeRecord(p));
      ViewPolicyRecord s3 = p;
      s3.id = kS3DefaultPolicyId;
      s3.guid = env::RandomHex(env, 16);
      s3.name = kS3DefaultPolicyName;
      s3.flavor = "S3_NATIVE";
      s3.is_s3_default_policy = true;
      txn.Put(ViewPolicyKey(s3.id), EncodeRecord(s3));
      txn.Put(NextIdKey("viewpolicy"), std::to_string(s3.id + 1));
    }
    ASSIGN_OR_RETURN(auto pools_seeded, txn.Get(NextIdKey("vippool")));
    if (!pools_seeded) {
      VipPoolRecord pool;
      pool.id = 1;
      pool.guid = env::RandomHex(env, 16);
      pool.name = kDefaultVipPoolName;
      pool.ip_ranges = {{"127.0.10.1", "127.0.10.8"}};
      pool.subnet_cidr = 8;
      pool.created_us = now;
      txn.Put(VipPoolKey(pool.id), EncodeRecord(pool));
      txn.Put(NextIdKey("vippool"), std::to_string(pool.id + 1));
    }
    return Status::Ok();
  });
}

// ---- views

Result<ViewRecord> CreateView(Transaction& txn, env::Env* env, const ViewRequest& request) {
  if (request.policy_id <= 0) return Invalid("policy_id", "This field is required.");
  ViewRecord v;
  v.path = request.path;
  v.policy_id = request.policy_id;
  v.tenant_id = request.tenant_id;
  v.protocols = request.protocols;
  v.bucket = request.bucket;
  v.bucket_owner = request.bucket_owner;
  v.s3_versioning = request.s3_versioning;
  v.allow_s3_anonymous_access = request.allow_s3_anonymous_access;
  v.name = request.name;
  return CreateRecord(txn, env, kViewKind, std::move(v), DefaultName::kCounterDashId);
}

Result<ViewRecord> CreateView(meta::Store* store, env::Env* env, const ViewRequest& request) {
  return Transact<ViewRecord>(store,
                              [&](Transaction& txn) { return CreateView(txn, env, request); });
}

Result<ViewRecord> UpdateView(Transaction& txn, const ViewRecord& desired) {
  std::string old_bucket;
  ASSIGN_OR_RETURN(ViewRecord v,
                   UpdateRecord(txn, kViewKind, desired, [&](const ViewRecord& old, ViewRecord& v) {
                     v.tenant_id = old.tenant_id;
                     old_bucket = old.bucket;
                     return Status::Ok();
                   }));
  // The index entry of a changed or removed bucket (a different key from the view's new one).
  if (!old_bucket.empty() && old_bucket != v.bucket) txn.Delete(BucketKey(old_bucket));
  return v;
}

Status DeleteView(Transaction& txn, int64_t id) {
  ASSIGN_OR_RETURN(auto v, LoadExisting(txn, kViewKind, id));
  txn.Delete(ViewKey(id));
  if (!v.bucket.empty()) txn.Delete(BucketKey(v.bucket));
  return Status::Ok();
}

Status DeleteView(meta::Store* store, int64_t id) {
  return store->RunTransaction([&](Transaction& txn) { return DeleteView(txn, id); });
}

// ---- view policies

namespace {

constexpr std::string_view kFlavors[] = {"NFS", "SMB", "MIXED_LAST_WINS", "S3_NATIVE"};

Status CheckViewPolicy(Transaction& txn, const ViewPolicyRecord& p) {
  RETURN_IF_ERROR(ValidateName("name", p.name));
  if (std::find(std::begin(kFlavors), std::end(kFlavors), p.flavor) == std::end(kFlavors)) {
    return Invalid("flavor", fmt::format("\"{}\" is not a valid choice.", p.flavor));
  }
  RETURN_IF_ERROR(ValidateHostList("nfs_read_write", p.nfs_read_write));
  RETURN_IF_ERROR(ValidateHostList("nfs_read_only", p.nfs_read_only));
  RETURN_IF_ERROR(ValidateHostList("nfs_root_squash", p.nfs_root_squash));
  RETURN_IF_ERROR(ValidateHostList("nfs_all_squash", p.nfs_all_squash));
  RETURN_IF_ERROR(ValidateHostList("nfs_no_squash", p.nfs_no_squash));
  RETURN_IF_ERROR(ValidateHostList("s3_read_write", p.s3_read_write));
  RETURN_IF_ERROR(ValidateHostList("s3_read_only", p.s3_read_only));
  for (const auto* list : {&p.s3_visibility, &p.s3_visibility_groups}) {
    const char* field = list == &p.s3_visibility ? "s3_visibility" : "s3_visibility_groups";
    if (list->size() > kHostListMax) {
      return Invalid(field,
                     fmt::format("Ensure this list has no more than {} items.", kHostListMax));
    }
    for (const std::string& name : *list) RETURN_IF_ERROR(ValidateName(field, name));
  }
  ASSIGN_OR_RETURN(auto tenant, LoadTenant(txn, p.tenant_id));
  if (!tenant) return Invalid("tenant_id", NoSuchObject(p.tenant_id));
  ASSIGN_OR_RETURN(auto all, LoadViewPolicies(txn));
  RETURN_IF_ERROR(CheckRoom(p.id, all.size(), kViewPoliciesMax, "view policies"));
  for (const ViewPolicyRecord& other : all) {
    if (other.id != p.id && other.tenant_id == p.tenant_id && other.name == p.name) {
      return Duplicate("name", "A view policy with this name already exists.");
    }
  }
  return Status::Ok();
}

void PutViewPolicy(Transaction& txn, const ViewPolicyRecord& p) {
  txn.Put(ViewPolicyKey(p.id), EncodeRecord(p));
}

constexpr RecordKind<ViewPolicyRecord> kViewPolicyKind{"viewpolicy", LoadViewPolicy,
                                                       CheckViewPolicy, PutViewPolicy};

}  // namespace

Result<ViewPolicyRecord> CreateViewPolicy(Transaction& txn, env::Env* env,
                                          const ViewPolicyRecord& request) {
  return CreateRecord(txn, env, kViewPolicyKind, request, DefaultName::kNone);
}

Result<ViewPolicyRecord> UpdateViewPolicy(Transaction& txn, const ViewPolicyRecord& desired) {
  return UpdateRecord(
      txn, kViewPolicyKind, desired,
      [&](const ViewPolicyRecord& old, ViewPolicyRecord& p) -> Status {
        if (p.tenant_id == old.tenant_id) return Status::Ok();
        ASSIGN_OR_RETURN(auto views, LoadViews(txn));
        for (const ViewRecord& v : views) {
          if (v.policy_id == p.id) {
            return Invalid("tenant_id", "Views use this policy: its tenant cannot change.");
          }
        }
        return Status::Ok();
      });
}

Status DeleteViewPolicy(Transaction& txn, int64_t id) {
  ASSIGN_OR_RETURN(auto p, LoadExisting(txn, kViewPolicyKind, id));
  if (id == kDefaultPolicyId || id == kS3DefaultPolicyId) {
    return FailedPrecondition(
        fmt::format("The view policy {} is a default and cannot be deleted.", p.name));
  }
  ASSIGN_OR_RETURN(auto views, LoadViews(txn));
  std::vector<std::string> users;
  for (const ViewRecord& v : views) {
    if (v.policy_id == id) users.push_back(v.name);
  }
  if (!users.empty()) {
    if (users.size() > 5) users.resize(5);
    return FailedPrecondition(
        fmt::format("The view policy {} is used by views ({}); delete them "
                    "or move them to another policy first.",
                    p.name, fmt::join(users, ", ")));
  }
  txn.Delete(ViewPolicyKey(id));
  return Status::Ok();
}

// ---- tenants

namespace {

Status CheckTenant(Transaction& txn, const TenantRecord& t) {
  RETURN_IF_ERROR(ValidateName("name", t.name));
  ASSIGN_OR_RETURN(auto all, LoadTenants(txn));
  RETURN_IF_ERROR(CheckRoom(t.id, all.size(), kTenantsMax, "tenants"));
  for (const TenantRecord& other : all) {
    if (other.id != t.id && other.name == t.name) {
      return Duplicate("name", "A tenant with this name already exists.");
    }
  }
  return Status::Ok();
}

void PutTenant(Transaction& txn, const TenantRecord& t) {
  txn.Put(TenantKey(t.id), EncodeRecord(t));
}

constexpr RecordKind<TenantRecord> kTenantKind{"tenant", LoadTenant, CheckTenant, PutTenant};

}  // namespace

Result<TenantRecord> CreateTenant(Transaction& txn, env::Env* env, std::string_view name) {
  TenantRecord t;
  t.name = std::string(name);
  return CreateRecord(txn, env, kTenantKind, std::move(t), DefaultName::kNone);
}

// Only the name of a tenant changes.
Result<TenantRecord> UpdateTenant(Transaction& txn, const TenantRecord& desired) {
  return UpdateRecord(txn, kTenantKind, desired);
}

Status DeleteTenant(Transaction& txn, int64_t id) {
  ASSIGN_OR_RETURN(auto t, LoadExisting(txn, kTenantKind, id));
  if (id == kDefaultTenantId) {
    return FailedPrecondition("The default tenant cannot be deleted.");
  }
  ASSIGN_OR_RETURN(auto views, LoadViews(txn));
  ASSIGN_OR_RETURN(auto policies, LoadViewPolicies(txn));
  ASSIGN_OR_RETURN(auto users, LoadLocalUsers(txn));
  bool used =
      std::any_of(views.begin(), views.end(), [&](auto& v) { return v.tenant_id == id; }) ||
      std::any_of(policies.begin(), policies.end(), [&](auto& p) { return p.tenant_id == id; }) ||
      std::any_of(users.begin(), users.end(), [&](auto& u) { return u.tenant_id == id; });
  if (used) {
    return FailedPrecondition(
        fmt::format("The tenant {} still has views, view policies or "
                    "users.",
                    t.name));
  }
  txn.Delete(TenantKey(id));
  return Status::Ok();
}

}  // namespace dase::vms
