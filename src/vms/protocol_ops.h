// Writes of the protocol records (protocol_records.h), shared by the REST API and the protocol
// servers (S3 CreateBucket and DeleteBucket create and delete views through CreateView and
// DeleteView, on the CNode, without the VMS).
//
// Every write is one metadata transaction that checks what it depends on in the store (the
// policy a view names, the owner of a bucket, duplicates) and allocates ids from the store's
// counters (vms/next/<kind>), so concurrent writers in different processes never hand out one id
// twice or create two views of one bucket: the loser's commit is Aborted and RunTransaction
// runs it again against the winner's result. The Transaction& forms do not commit; the Store*
// forms run their own transaction.
//
// Errors: a bad request is a FieldError (protocol_records.h): InvalidArgument for a bad value
// or a reference to a missing object, AlreadyExists for a duplicate. NotFound means the object
// written does not exist, FailedPrecondition that it is in use (a policy of views, a user that
// owns buckets) or protected (the defaults), ResourceExhausted that a limit is reached.
//
// Directories are not this library's: a view over a missing directory can be created (the
// REST API checks it, or creates it with create_dir, through the element store first).
//
// Thread-safety: free functions; the Store and Transaction rules of meta/kv.h apply.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "env/env.h"
#include "meta/kv.h"
#include "vms/protocol_records.h"

namespace dase::vms {

// Runs `body` in a transaction of `store` (retried on conflict, see meta::Store::RunTransaction)
// and returns what it returned once the transaction committed.
template <typename T>
Result<T> Transact(meta::Store* store, const std::function<Result<T>(meta::Transaction&)>& body) {
  std::optional<T> out;
  Status s = store->RunTransaction([&](meta::Transaction& txn) -> Status {
    auto r = body(txn);
    if (!r.ok()) return r.status();
    out = std::move(r).value();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return std::move(*out);
}

// Creates, once per store, the tenant "default" (id 1), the view policies "default" (1) and
// "s3_default_policy" (2, S3_NATIVE, is_s3_default_policy) and the VIP pool "default"
// (127.0.10.1-127.0.10.8). Each kind is seeded only while its id counter is absent, so an
// object deleted later stays deleted across restarts.
Status SeedDefaults(meta::Store* store, env::Env* env);

// The next id of `kind` (1 for the first), read and advanced in `txn`.
Result<int64_t> AllocateId(meta::Transaction& txn, std::string_view kind);

// ---- views

struct ViewRequest {
  std::string path;       // required
  int64_t policy_id = 0;  // required
  std::string name;       // empty: "view-<id>"
  int64_t tenant_id = kDefaultTenantId;
  std::vector<std::string> protocols{"NFS"};  // "NFS", "S3"
  std::string bucket;                         // required with "S3"
  std::string bucket_owner;                   // a local user's name; required with "S3"
  bool s3_versioning = false;
  bool allow_s3_anonymous_access = false;
};

// Checks the request, allocates the id and writes the view and its bucket index entry.
Result<ViewRecord> CreateView(meta::Transaction& txn, env::Env* env, const ViewRequest& request);
Result<ViewRecord> CreateView(meta::Store* store, env::Env* env, const ViewRequest& request);
// Replaces view `desired.id` by `desired` with CreateView's checks; id, guid, tenant and
// creation time stay as stored. The bucket index follows a changed or removed bucket.
Result<ViewRecord> UpdateView(meta::Transaction& txn, const ViewRecord& desired);
// Deletes the view and its bucket index entry (never the data under its path).
Status DeleteView(meta::Transaction& txn, int64_t id);
Status DeleteView(meta::Store* store, int64_t id);

// ---- view policies (id, guid and created_us of the argument are ignored / kept)

Result<ViewPolicyRecord> CreateViewPolicy(meta::Transaction& txn, env::Env* env,
                                          const ViewPolicyRecord& request);
Result<ViewPolicyRecord> UpdateViewPolicy(meta::Transaction& txn, const ViewPolicyRecord& desired);
// FailedPrecondition for the seeded policies and for a policy that views use.
Status DeleteViewPolicy(meta::Transaction& txn, int64_t id);

// ---- tenants

Result<TenantRecord> CreateTenant(meta::Transaction& txn, env::Env* env, std::string_view name);
Result<TenantRecord> UpdateTenant(meta::Transaction& txn, const TenantRecord& desired);
// FailedPrecondition for the default tenant and for a tenant that objects belong to.
Status DeleteTenant(meta::Transaction& txn, int64_t id);

// ---- local users and their S3 access keys

// Names are unique, and so are uids when set.
Result<LocalUserRecord> CreateLocalUser(meta::Transaction& txn, env::Env* env,
                                        const LocalUserRecord& request);
// The name and tenant of a user stay as stored (buckets name their owner).
Result<LocalUserRecord> UpdateLocalUser(meta::Transaction& txn, const LocalUserRecord& desired);
// Deletes the user and its access keys; FailedPrecondition while it owns buckets.
Status DeleteLocalUser(meta::Transaction& txn, int64_t id);

// A new key pair for the user: a 20-character access key [A-Z0-9] and a 40-character secret
// [A-Za-z0-9+/] from the Env's random source. The returned record holds the secret, which the
// caller shows once.
Result<AccessKeyRecord> CreateAccessKey(meta::Transaction& txn, env::Env* env, int64_t user_id);
// NotFound (field "access_key") unless the user has that key.
Status SetAccessKeyEnabled(meta::Transaction& txn, int64_t user_id, std::string_view access_key,
                           bool enabled);
Status DeleteAccessKey(meta::Transaction& txn, int64_t user_id, std::string_view access_key);

// ---- VIP pools (ranges checked by ValidateVipRanges against the other pools)

Result<VipPoolRecord> CreateVipPool(meta::Transaction& txn, env::Env* env,
                                    const VipPoolRecord& request);
Result<VipPoolRecord> UpdateVipPool(meta::Transaction& txn, const VipPoolRecord& desired);
Status DeleteVipPool(meta::Transaction& txn, int64_t id);

}  // namespace dase::vms
