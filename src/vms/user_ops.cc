// Local users, S3 access keys and VIP pools (protocol_ops.h).
#include <fmt/format.h>

#include <algorithm>

#include "vms/protocol_ops.h"
#include "vms/record_writes.h"

namespace dase::vms {

using meta::Transaction;

namespace {

constexpr int64_t kIdMax = 0xffffffffll;  // uids and gids are 32-bit on the wire (NFS)

Status CheckUnixId(std::string_view field, std::optional<int64_t> id) {
  if (id && (*id < 0 || *id > kIdMax)) {
    return Invalid(field, fmt::format("Ensure this value is between 0 and {}.", kIdMax));
  }
  return Status::Ok();
}

Status CheckLocalUser(Transaction& txn, const LocalUserRecord& u) {
  RETURN_IF_ERROR(ValidateName("name", u.name));
  if (u.name.find_first_of("/: ") != std::string::npos) {
    return Invalid("name", "A user name must not contain '/', ':' or spaces.");
  }
  RETURN_IF_ERROR(CheckUnixId("uid", u.uid));
  RETURN_IF_ERROR(CheckUnixId("leading_gid", u.leading_gid));
  if (u.gids.size() > kHostListMax) {
    return Invalid("gids",
                   fmt::format("Ensure this list has no more than {} items.", kHostListMax));
  }
  for (int64_t gid : u.gids) RETURN_IF_ERROR(CheckUnixId("gids", gid));
  ASSIGN_OR_RETURN(auto tenant, LoadTenant(txn, u.tenant_id));
  if (!tenant) return Invalid("tenant_id", NoSuchObject(u.tenant_id));
  ASSIGN_OR_RETURN(auto all, LoadLocalUsers(txn));
  RETURN_IF_ERROR(CheckRoom(u.id, all.size(), kLocalUsersMax, "users"));
  for (const LocalUserRecord& other : all) {
    if (other.id == u.id) continue;
    if (other.name == u.name) return Duplicate("name", "A user with this name already exists.");
    if (u.uid && other.uid == u.uid) {
      return Duplicate("uid", fmt::format("User {} already has uid {}.", other.name, *u.uid));
    }
  }
  return Status::Ok();
}

void PutLocalUser(Transaction& txn, const LocalUserRecord& u) {
  txn.Put(LocalUserKey(u.id), EncodeRecord(u));
}

constexpr RecordKind<LocalUserRecord> kLocalUserKind{"localuser", LoadLocalUser, CheckLocalUser,
                                                     PutLocalUser};

// `n` characters drawn uniformly from `alphabet` (rejection sampling: no modulo bias).
std::string RandomChars(env::Env* env, size_t n, std::string_view alphabet) {
  const unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  while (out.size() < n) {
    for (unsigned char c : env::RandomString(env, n)) {
      if (c < limit && out.size() < n) out.push_back(alphabet[c % alphabet.size()]);
    }
  }
  return out;
}

constexpr std::string_view kAccessKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr std::string_view kSecretAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Result<AccessKeyRecord> LoadUserKey(Transaction& txn, int64_t user_id,
                                    std::string_view access_key) {
  ASSIGN_OR_RETURN(auto user, LoadExisting(txn, kLocalUserKind, user_id));
  ASSIGN_OR_RETURN(auto keys, LoadAccessKeysOf(txn, user_id));
  for (AccessKeyRecord& k : keys) {
    if (k.access_key == access_key) return std::move(k);
  }
  return FieldError(
      Code::kNotFound, "access_key",
      fmt::format("User {} has no access key {}.", user.name, access_key.substr(0, 64)));
}

}  // namespace

Result<LocalUserRecord> CreateLocalUser(Transaction& txn, env::Env* env,
                                        const LocalUserRecord& request) {
  return CreateRecord(txn, env, kLocalUserKind, request, DefaultName::kNone);
}

Result<LocalUserRecord> UpdateLocalUser(Transaction& txn, const LocalUserRecord& desired) {
  return UpdateRecord(txn, kLocalUserKind, desired,
                      [](const LocalUserRecord& old, LocalUserRecord& u) {
                        u.name = old.name;  // buckets name their owner
                        u.tenant_id = old.tenant_id;
                        return Status::Ok();
                      });
}

Status DeleteLocalUser(Transaction& txn, int64_t id) {
  ASSIGN_OR_RETURN(auto u, LoadExisting(txn, kLocalUserKind, id));
  ASSIGN_OR_RETURN(auto views, LoadViews(txn));
  for (const ViewRecord& v : views) {
    if (v.tenant_id == u.tenant_id && v.bucket_owner == u.name) {
      return FailedPrecondition(
          fmt::format("User {} owns the bucket {}; delete the bucket or "
                      "give it another owner first.",
                      u.name, v.bucket));
    }
  }
  ASSIGN_OR_RETURN(auto keys, LoadAccessKeysOf(txn, id));
  for (const AccessKeyRecord& k : keys) txn.Delete(AccessKeyKey(k.access_key));
  txn.Delete(LocalUserKey(id));
  return Status::Ok();
}

Result<AccessKeyRecord> CreateAccessKey(Transaction& txn, env::Env* env, int64_t user_id) {
  ASSIGN_OR_RETURN(auto user, LoadExisting(txn, kLocalUserKind, user_id));
  ASSIGN_OR_RETURN(auto all, LoadAccessKeys(txn));
  size_t mine = std::count_if(all.begin(), all.end(),
                              [&](const AccessKeyRecord& k) { return k.user_id == user_id; });
  if (mine >= kAccessKeysPerUserMax) {
    return FieldError(
        Code::kResourceExhausted, "non_field_errors",
        fmt::format("User {} already has {} access keys, the most it may have.", user.name, mine));
  }
  RETURN_IF_ERROR(CheckRoom(0, all.size(), kAccessKeysMax, "access keys"));
  AccessKeyRecord k;
  for (int attempt = 0;; ++attempt) {
    k.access_key = RandomChars(env, 20, kAccessKeyAlphabet);
    ASSIGN_OR_RETURN(auto taken, txn.Get(AccessKeyKey(k.access_key)));
    if (!taken) break;
    if (attempt == 8) return Internal("cannot find an unused access key");  // 36^20: never
  }
  k.secret_key = RandomChars(env, 40, kSecretAlphabet);
  k.user_id = user_id;
  k.tenant_id = user.tenant_id;
  k.enabled = true;
  k.created_us = env->NowMicros();
  txn.Put(AccessKeyKey(k.access_key), EncodeRecord(k));
  return k;
}

Status SetAccessKeyEnabled(Transaction& txn, int64_t user_id, std::string_view access_key,
                           bool enabled) {
  ASSIGN_OR_RETURN(AccessKeyRecord k, LoadUserKey(txn, user_id, access_key));
  k.enabled = enabled;
  txn.Put(AccessKeyKey(k.access_key), EncodeRecord(k));
  return Status::Ok();
}

Status DeleteAccessKey(Transaction& txn, int64_t user_id, std::string_view access_key) {
  ASSIGN_OR_RETURN(AccessKeyRecord k, LoadUserKey(txn, user_id, access_key));
  txn.Delete(AccessKeyKey(k.access_key));
  return Status::Ok();
}

// ---- VIP pools

namespace {

Status CheckVipPool(Transaction& txn, const VipPoolRecord& p) {
  RETURN_IF_ERROR(ValidateName("name", p.name));
  if (p.subnet_cidr < 1 || p.subnet_cidr > 32) {
    return Invalid("subnet_cidr", "Ensure this value is between 1 and 32.");
  }
  if (p.role != "PROTOCOLS") {
    return Invalid("role", p.role == "REPLICATION"
                               ? "dase has no replication: PROTOCOLS is the only role."
                               : fmt::format("\"{}\" is not a valid choice.", p.role));
  }
  if (p.cnode_ids.size() > kHostListMax) return Invalid("cnode_ids", "Too many CNodes.");
  ASSIGN_OR_RETURN(auto all, LoadVipPools(txn));
  RETURN_IF_ERROR(CheckRoom(p.id, all.size(), kVipPoolsMax, "VIP pools"));
  std::vector<VipPoolRecord> others;
  for (VipPoolRecord& other : all) {
    if (other.id == p.id) continue;
    if (other.name == p.name) return Duplicate("name", "A VIP pool with this name already exists.");
    others.push_back(std::move(other));
  }
  return ValidateVipRanges(p.ip_ranges, others).status();
}

void PutVipPool(Transaction& txn, const VipPoolRecord& p) {
  txn.Put(VipPoolKey(p.id), EncodeRecord(p));
}

constexpr RecordKind<VipPoolRecord> kVipPoolKind{"vippool", LoadVipPool, CheckVipPool, PutVipPool};

}  // namespace

Result<VipPoolRecord> CreateVipPool(Transaction& txn, env::Env* env, const VipPoolRecord& request) {
  return CreateRecord(txn, env, kVipPoolKind, request, DefaultName::kCounterDashId);
}

Result<VipPoolRecord> UpdateVipPool(Transaction& txn, const VipPoolRecord& desired) {
  return UpdateRecord(txn, kVipPoolKind, desired);
}

Status DeleteVipPool(Transaction& txn, int64_t id) {
  RETURN_IF_ERROR(LoadExisting(txn, kVipPoolKind, id).status());
  txn.Delete(VipPoolKey(id));
  return Status::Ok();
}

}  // namespace dase::vms
