// Protocol records: the management objects the protocol servers read straight from the shared
// metadata store — tenants, view policies, views (and their bucket index), local (data) users
// and their S3 access keys, VIP pools — with their keys, their stored JSON, the checks every
// writer applies, and small loaders.
//
// The VMS writes these through the REST API and CNodes read them (and create or delete views
// for S3 CreateBucket/DeleteBucket, protocol_ops.h) without asking the VMS, so nothing here is
// cached: every call reads the store, and whoever reads sees every committed write, whichever
// process made it. This library depends on the metadata store only, never on the VMS process.
//
// Key layout (docs/formats/meta.md), values are JSON objects unless noted:
//   vms/tenant/<id:016>        TenantRecord
//   vms/viewpolicy/<id:016>    ViewPolicyRecord
//   vms/view/<id:016>          ViewRecord
//   vms/bucket/<bucket>        the id of the view that is that S3 bucket (decimal text)
//   vms/localuser/<id:016>     LocalUserRecord
//   vms/accesskey/<key>        AccessKeyRecord, including the secret (SigV4 needs it)
//   vms/vippool/<id:016>       VipPoolRecord
//   vms/next/<kind>            the next id of a kind (decimal text), read and written by the
//                              transaction that creates one, so ids are unique cluster-wide
//
// Records decode tolerantly: a field missing from the stored JSON keeps its default and an
// unknown one is ignored, so a field can be added without rewriting the store.
//
// Thread-safety: free functions and value types; the Store and Transaction rules of meta/kv.h
// apply to the arguments.
#pragma once

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <boost/mp11.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.h"
#include "meta/kv.h"

namespace dase::vms {

inline constexpr int64_t kDefaultTenantId = 1;
inline constexpr int64_t kDefaultPolicyId = 1;
inline constexpr int64_t kS3DefaultPolicyId = 2;
inline constexpr char kDefaultTenantName[] = "default";
inline constexpr char kDefaultPolicyName[] = "default";
inline constexpr char kS3DefaultPolicyName[] = "s3_default_policy";
inline constexpr char kDefaultVipPoolName[] = "default";

// Limits on what clients create (every list is loaded whole, so every list is bounded).
inline constexpr size_t kTenantsMax = 256;
inline constexpr size_t kViewPoliciesMax = 1000;
inline constexpr size_t kViewsMax = 10000;
inline constexpr size_t kLocalUsersMax = 10000;
inline constexpr size_t kAccessKeysPerUserMax = 10;
inline constexpr size_t kAccessKeysMax = 100000;
inline constexpr size_t kVipPoolsMax = 64;
inline constexpr size_t kVipsPerPoolMax = 256;
inline constexpr size_t kHostListMax = 1024;  // entries in one host or user list
inline constexpr size_t kNameBytesMax = 128;
inline constexpr size_t kViewPathBytesMax = 1024;

struct TenantRecord {
  int64_t id = 0;
  std::string guid;
  std::string name;
  int64_t created_us = 0;
};

// Who may reach a view and how (VAST's view policy). Host lists hold "*", an IPv4 address or
// an IPv4 CIDR block ("10.0.0.0/8").
struct ViewPolicyRecord {
  int64_t id = 0;
  std::string guid;
  std::string name;
  int64_t tenant_id = kDefaultTenantId;
  std::string flavor = "NFS";  // NFS | SMB | MIXED_LAST_WINS | S3_NATIVE
  std::vector<std::string> nfs_read_write{"*"};
  std::vector<std::string> nfs_read_only;
  std::vector<std::string> nfs_root_squash;
  std::vector<std::string> nfs_all_squash;
  std::vector<std::string> nfs_no_squash{"*"};
  std::vector<std::string> s3_read_write{"*"};
  std::vector<std::string> s3_read_only;
  // Users and groups allowed to list the buckets of views with this policy even without
  // permission on them.
  std::vector<std::string> s3_visibility;
  std::vector<std::string> s3_visibility_groups;
  bool is_s3_default_policy = false;  // the policy of buckets created over S3
  int64_t created_us = 0;
};

// A view exposes the element-store directory `path` over its protocols; with "S3" it is the
// bucket `bucket`, owned by the local user named `bucket_owner`.
struct ViewRecord {
  int64_t id = 0;
  std::string guid;
  std::string name;
  std::string path;  // absolute and normalized ("/a/b"; "/" is the root)
  int64_t policy_id = kDefaultPolicyId;
  int64_t tenant_id = kDefaultTenantId;
  std::vector<std::string> protocols;  // "NFS", "S3"
  std::string bucket;
  std::string bucket_owner;
  bool s3_versioning = false;
  bool allow_s3_anonymous_access = false;
  int64_t created_us = 0;

  bool HasProtocol(std::string_view p) const;
};

// A local user of the data protocols (VAST's local provider); not a login of the REST API.
struct LocalUserRecord {
  int64_t id = 0;
  std::string guid;
  std::string name;
  std::optional<int64_t> uid;
  std::optional<int64_t> leading_gid;
  std::vector<int64_t> gids;
  bool allow_create_bucket = false;
  bool allow_delete_bucket = false;
  bool s3_superuser = false;
  int64_t tenant_id = kDefaultTenantId;
  int64_t created_us = 0;
};

// An S3 access key pair. The secret is stored as is: SigV4 signs with an HMAC keyed by the
// secret itself, so a hash of it would be of no use to the S3 server. It is shown once, when
// the pair is made, and never by the API again.
struct AccessKeyRecord {
  std::string access_key;  // 20 characters [A-Z0-9]
  std::string secret_key;  // 40 characters [A-Za-z0-9+/]
  int64_t user_id = 0;
  int64_t tenant_id = kDefaultTenantId;
  bool enabled = true;
  int64_t created_us = 0;
};

struct IpRange {
  std::string start;  // IPv4, dotted quad
  std::string end;    // inclusive, >= start
};

// A pool of virtual IPs that the VMS spreads over the ACTIVE CNodes (all of them, or
// `cnode_ids` if set).
struct VipPoolRecord {
  int64_t id = 0;
  std::string guid;
  std::string name;
  std::vector<IpRange> ip_ranges;
  int64_t subnet_cidr = 8;
  std::string role = "PROTOCOLS";
  std::vector<int64_t> cnode_ids;
  bool enabled = true;
  int64_t created_us = 0;
};

BOOST_DESCRIBE_STRUCT(TenantRecord, (), (id, guid, name, created_us))
BOOST_DESCRIBE_STRUCT(ViewPolicyRecord, (),
                      (id, guid, name, tenant_id, flavor, nfs_read_write, nfs_read_only,
                       nfs_root_squash, nfs_all_squash, nfs_no_squash, s3_read_write, s3_read_only,
                       s3_visibility, s3_visibility_groups, is_s3_default_policy, created_us))
BOOST_DESCRIBE_STRUCT(ViewRecord, (),
                      (id, guid, name, path, policy_id, tenant_id, protocols, bucket, bucket_owner,
                       s3_versioning, allow_s3_anonymous_access, created_us))
BOOST_DESCRIBE_STRUCT(LocalUserRecord, (),
                      (id, guid, name, uid, leading_gid, gids, allow_create_bucket,
                       allow_delete_bucket, s3_superuser, tenant_id, created_us))
BOOST_DESCRIBE_STRUCT(AccessKeyRecord, (),
                      (access_key, secret_key, user_id, tenant_id, enabled, created_us))
BOOST_DESCRIBE_STRUCT(IpRange, (), (start, end))
BOOST_DESCRIBE_STRUCT(VipPoolRecord, (),
                      (id, guid, name, ip_ranges, subnet_cidr, role, cnode_ids, enabled,
                       created_us))

// ---- keys

inline constexpr char kTenantPrefix[] = "vms/tenant/";
inline constexpr char kViewPolicyPrefix[] = "vms/viewpolicy/";
inline constexpr char kViewPrefix[] = "vms/view/";
inline constexpr char kBucketPrefix[] = "vms/bucket/";
inline constexpr char kLocalUserPrefix[] = "vms/localuser/";
inline constexpr char kAccessKeyPrefix[] = "vms/accesskey/";
inline constexpr char kVipPoolPrefix[] = "vms/vippool/";
inline constexpr char kNextIdPrefix[] = "vms/next/";

std::string TenantKey(int64_t id);
std::string ViewPolicyKey(int64_t id);
std::string ViewKey(int64_t id);
std::string BucketKey(std::string_view bucket);
std::string LocalUserKey(int64_t id);
std::string AccessKeyKey(std::string_view access_key);
std::string VipPoolKey(int64_t id);
std::string NextIdKey(std::string_view kind);  // kind: "tenant", "viewpolicy", "view", ...

// ---- stored JSON

template <typename T>
std::string EncodeRecord(const T& record) {
  return boost::json::serialize(boost::json::value_from(record));
}

// Decodes a described record: fields absent from `text` keep their defaults, unknown ones are
// ignored, a field of the wrong type is Corruption.
template <typename T>
Result<T> DecodeRecord(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return Corruption("stored record is not a JSON object");
  const boost::json::object& object = v.get_object();
  T out{};
  Status status;
  using Members = boost::describe::describe_members<T, boost::describe::mod_public>;
  boost::mp11::mp_for_each<Members>([&](auto member) {
    if (!status.ok()) return;
    const boost::json::value* field = object.if_contains(member.name);
    if (field == nullptr) return;
    using M = std::remove_cvref_t<decltype(out.*member.pointer)>;
    auto r = boost::json::try_value_to<M>(*field);
    if (r.has_error()) {
      status = Corruption(std::string("stored record: field ") + member.name + ": " +
                          r.error().message());
      return;
    }
    out.*member.pointer = std::move(r.value());
  });
  if (!status.ok()) return status;
  return out;
}

// ---- errors that name a field
//
// The checks and transactions of this library report a bad request as a Status whose message
// is "<field>: <text>" (field "non_field_errors" when no single field is at fault), so the REST
// API can answer DRF's {"field": ["text"]} and the S3 server can pick its own error code from
// the field and the code (AlreadyExists for a duplicate bucket, InvalidArgument otherwise).
Status FieldError(Code code, std::string_view field, std::string_view text);
// {field, text} of a FieldError status; {"non_field_errors", message} for any other status.
std::pair<std::string, std::string> SplitFieldError(const Status& status);

// ---- pure checks (InvalidArgument FieldErrors)

// S3's rules: 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit, no
// "..", not shaped like an IPv4 address, none of the prefixes "xn--", "sthree-" and suffixes
// "-s3alias", "--ol-s3" that AWS reserves.
Status ValidateBucketName(std::string_view bucket);
// An absolute, normalized element-store path: starts with '/', no trailing '/', no empty, "."
// or ".." component, no NUL, components at most 255 bytes, at most kViewPathBytesMax.
Status ValidateViewPath(std::string_view path);
// A display name: 1..kNameBytesMax bytes, no control characters.
Status ValidateName(std::string_view field, std::string_view name);
// A host list of a view policy: "*", IPv4 addresses and IPv4 CIDR blocks.
Status ValidateHostList(std::string_view field, const std::vector<std::string>& hosts);

// Strict dotted-quad IPv4 ("127.0.10.1"; no leading zeros, no shorthand).
Result<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t address);

// Checks a pool's ranges (each a valid [start, end] inside 127.0.0.0/8, not the network or
// broadcast address, at most kVipsPerPoolMax addresses in all, no overlap within the pool or
// with `others`) and returns its addresses in range order.
Result<std::vector<std::string>> ValidateVipRanges(const std::vector<IpRange>& ranges,
                                                   const std::vector<VipPoolRecord>& others);
// The addresses of a stored pool (whose ranges were checked when it was written).
std::vector<std::string> PoolAddresses(const VipPoolRecord& pool);

// ---- loaders (each within the caller's transaction)

Result<std::vector<TenantRecord>> LoadTenants(meta::Transaction& txn);
Result<std::optional<TenantRecord>> LoadTenant(meta::Transaction& txn, int64_t id);
Result<std::vector<ViewPolicyRecord>> LoadViewPolicies(meta::Transaction& txn);
Result<std::optional<ViewPolicyRecord>> LoadViewPolicy(meta::Transaction& txn, int64_t id);
// The lowest-numbered policy with is_s3_default_policy, if any.
Result<std::optional<ViewPolicyRecord>> FindS3DefaultPolicy(meta::Transaction& txn);
Result<std::vector<ViewRecord>> LoadViews(meta::Transaction& txn);
Result<std::optional<ViewRecord>> LoadView(meta::Transaction& txn, int64_t id);
// The view that is S3 bucket `bucket` (one Get through the bucket index, one for the view).
Result<std::optional<ViewRecord>> LookupBucket(meta::Transaction& txn, std::string_view bucket);
Result<std::vector<LocalUserRecord>> LoadLocalUsers(meta::Transaction& txn);
Result<std::optional<LocalUserRecord>> LoadLocalUser(meta::Transaction& txn, int64_t id);
Result<std::optional<LocalUserRecord>> FindLocalUserByName(meta::Transaction& txn,
                                                           std::string_view name);
Result<std::vector<AccessKeyRecord>> LoadAccessKeys(meta::Transaction& txn);
Result<std::vector<AccessKeyRecord>> LoadAccessKeysOf(meta::Transaction& txn, int64_t user_id);
Result<std::vector<VipPoolRecord>> LoadVipPools(meta::Transaction& txn);
Result<std::optional<VipPoolRecord>> LoadVipPool(meta::Transaction& txn, int64_t id);

// What the S3 server needs to verify a request signed with `access_key`.
struct AccessKeyInfo {
  LocalUserRecord user;
  std::string access_key;
  std::string secret_key;
  bool enabled = false;
};
// nullopt if the key does not exist (or its user no longer does).
Result<std::optional<AccessKeyInfo>> LookupAccessKey(meta::Transaction& txn,
                                                     std::string_view access_key);

// The same, each in a read-only transaction of its own.
Result<std::vector<ViewRecord>> LoadViews(meta::Store* store);
Result<std::optional<ViewRecord>> LookupBucket(meta::Store* store, std::string_view bucket);
Result<std::optional<AccessKeyInfo>> LookupAccessKey(meta::Store* store,
                                                     std::string_view access_key);
Result<std::optional<LocalUserRecord>> LoadLocalUser(meta::Store* store, int64_t id);
Result<std::optional<LocalUserRecord>> FindLocalUserByName(meta::Store* store,
                                                           std::string_view name);
Result<std::vector<ViewPolicyRecord>> LoadViewPolicies(meta::Store* store);
Result<std::optional<ViewPolicyRecord>> LoadViewPolicy(meta::Store* store, int64_t id);
Result<std::vector<VipPoolRecord>> LoadVipPools(meta::Store* store);

}  // namespace dase::vms
