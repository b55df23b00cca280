// Local users, S3 access keys and VIP pools (protocol_ops.h).
#include <fmt/format.h>

#include <algorithm>

#include "vms/protocol_ops.h"

namespace dase::vms {

using meta::Transaction;

namespace {

Status Invalid(std::string_view field, std::string_view text) {
  return FieldError(Code::kInvalidArgument, field, text);
}
Status Duplicate(std::string_view field, std::string_view text) {
  return FieldError(Code::kAlreadyExists, field, text);
}

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
  if (!tenant) {
    return Invalid("tenant_id",
                   fmt::format("Invalid pk \"{}\" - object does not exist.", u.tenant_id));
  }
  ASSIGN_OR_RETURN(auto all, LoadLocalUsers(txn));
  if (u.id == 0 && all.size() >= kLocalUsersMax) {
    return FieldError(Code::kResourceExhausted, "non_field_errors",
                      fmt::format("A cluster holds at most {} users.", kLocalUsersMax));
  }
  for (const LocalUserRecord& other : all) {
    if (other.id == u.id) continue;
    if (other.name == u.name) return Duplicate("name", "A user with this name already exists.");
    if (u.uid && other.uid == u.uid) {
      return Duplicate("uid", fmt::format("User {} already has uid {}.", other.name, *u.uid));
    }
  }
  return Status::Ok();
}

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
  ASSIGN_OR_RETURN(auto user, LoadLocalUser(txn, user_id));
  if (!user) return NotFound("Not found.");
  ASSIGN_OR_RETURN(auto keys, LoadAccessKeysOf(txn, user_id));
  for (AccessKeyRecord& k : keys) {
    if (k.access_key == access_key) return std::move(k);
  }
  return FieldError(
      Code::kNotFound, "access_key",
      fmt::format("User {} has no access key {}.", user->name, access_key.substr(0, 64)));
}

}  // namespace

Result<LocalUserRecord> CreateLocalUser(Transaction& txn, env::Env* env,
                                        const LocalUserRecord& request) {
  LocalUserRecord u = request;
  u.id = 0;
  RETURN_IF_ERROR(CheckLocalUser(txn, u));
  ASSIGN_OR_RETURN(u.id, AllocateId(txn, "localuser"));
  u.guid = env::RandomHex(env, 16);
  u.created_us = env->NowMicros();
  txn.Put(LocalUserKey(u.id), EncodeRecord(u));
  return u;
}

Result<LocalUserRecord> UpdateLocalUser(Transaction& txn, const LocalUserRecord& desired) {
  ASSIGN_OR_RETURN(auto old, LoadLocalUser(txn, desired.id));
  if (!old) return NotFound("Not found.");
  LocalUserRecord u = desired;
  u.guid = old->guid;
  u.name = old->name;
  u.tenant_id = old->tenant_id;
  u.created_us = old->created_us;
  RETURN_IF_ERROR(CheckLocalUser(txn, u));
  txn.Put(LocalUserKey(u.id), EncodeRecord(u));
  return u;
}

Status DeleteLocalUser(Transaction& txn, int64_t id) {
  ASSIGN_OR_RETURN(auto u, LoadLocalUser(txn, id));
  if (!u) return NotFound("Not found.");
  ASSIGN_OR_RETURN(auto views, LoadViews(txn));
  for (const ViewRecord& v : views) {
    if (v.tenant_id == u->tenant_id && v.bucket_owner == u->name) {
      return FailedPrecondition(
          fmt::format("User {} owns the bucket {}; delete the bucket or "
                      "give it another owner first.",
                      u->name, v.bucket));
    }
  }
  ASSIGN_OR_RETURN(auto keys, LoadAccessKeysOf(txn, id));
  for (const AccessKeyRecord& k : keys) txn.Delete(AccessKeyKey(k.access_key));
  txn.Delete(LocalUserKey(id));
  return Status::Ok();
}

Result<AccessKeyRecord> CreateAccessKey(Transaction& txn, env::Env* env, int64_t user_id) {
  ASSIGN_OR_RETURN(auto user, LoadLocalUser(txn, user_id));
  if (!user) return NotFound("Not found.");
  ASSIGN_OR_RETURN(auto all, LoadAccessKeys(txn));
  size_t mine = std::count_if(all.begin(), all.end(),
                              [&](const AccessKeyRecord& k) { return k.user_id == user_id; });
  if (mine >= kAccessKeysPerUserMax) {
    return FieldError(
        Code::kResourceExhausted, "non_field_errors",
        fmt::format("User {} already has {} access keys, the most it may have.", user->name, mine));
  }
  if (all.size() >= kAccessKeysMax) {
    return FieldError(Code::kResourceExhausted, "non_field_errors",
                      fmt::format("A cluster holds at most {} access keys.", kAccessKeysMax));
  }
  AccessKeyRecord k;
  for (int attempt = 0;; ++attempt) {
    k.access_key = RandomChars(env, 20, kAccessKeyAlphabet);
    ASSIGN_OR_RETURN(auto taken, txn.Get(AccessKeyKey(k.access_key)));
    if (!taken) break;
    if (attempt == 8) return Internal("cannot find an unused access key");  // 36^20: never
  }
  k.secret_key = RandomChars(env, 40, kSecretAlphabet);
  k.user_id = user_id;
  k.tenant_id = user->tenant_id;
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
  if (p.id == 0 && all.size() >= kVipPoolsMax) {
    return FieldError(Code::kResourceExhausted, "non_field_errors",
                      fmt::format("A cluster holds at most {} VIP pools.", kVipPoolsMax));
  }
  std::vector<VipPoolRecord> others;
  for (VipPoolRecord& other : all) {
    if (other.id == p.id) continue;
    if (other.name == p.name) return Duplicate("name", "A VIP pool with this name already exists.");
    others.push_back(std::move(other));
  }
  return ValidateVipRanges(p.ip_ranges, others).status();
}

}  // namespace

Result<VipPoolRecord> CreateVipPool(Transaction& txn, env::Env* env, const VipPoolRecord& request) {
  VipPoolRecord p = request;
  p.id = 0;
  bool default_name = p.name.empty();
  if (default_name) p.name = "vippool";  // checked before the id exists
  RETURN_IF_ERROR(CheckVipPool(txn, p));
  ASSIGN_OR_RETURN(p.id, AllocateId(txn, "vippool"));
  if (default_name) {
    p.name = fmt::format("vippool-{}", p.id);
    RETURN_IF_ERROR(CheckVipPool(txn, p));
  }
  p.guid = env::RandomHex(env, 16);
  p.created_us = env->NowMicros();
  txn.Put(VipPoolKey(p.id), EncodeRecord(p));
  return p;
}

Result<VipPoolRecord> UpdateVipPool(Transaction& txn, const VipPoolRecord& desired) {
  ASSIGN_OR_RETURN(auto old, LoadVipPool(txn, desired.id));
  if (!old) return NotFound("Not found.");
  VipPoolRecord p = desired;
  p.guid = old->guid;
  p.created_us = old->created_us;
  RETURN_IF_ERROR(CheckVipPool(txn, p));
  txn.Put(VipPoolKey(p.id), EncodeRecord(p));
  return p;
}

Status DeleteVipPool(Transaction& txn, int64_t id) {
  ASSIGN_OR_RETURN(auto p, LoadVipPool(txn, id));
  if (!p) return NotFound("Not found.");
  txn.Delete(VipPoolKey(id));
  return Status::Ok();
}

}  // namespace dase::vms
