#include "s3/catalog.h"

#include <fmt/format.h>

#include <algorithm>

#include "vms/protocol_ops.h"
#include "vms/protocol_records.h"

namespace dase::s3 {
namespace {

Bucket BucketOf(const vms::ViewRecord& view) {
  return Bucket{view.bucket, view.id, view.path, view.bucket_owner, view.created_us};
}

KeyInfo KeyInfoOf(const vms::AccessKeyInfo& found) {
  KeyInfo info;
  info.secret = found.secret_key;
  info.identity.access_key = found.access_key;
  info.identity.user = found.user.name;
  info.identity.user_id = found.user.id;
  info.identity.superuser = found.user.s3_superuser;
  info.identity.allow_create_bucket = found.user.allow_create_bucket;
  info.identity.allow_delete_bucket = found.user.allow_delete_bucket;
  return info;
}

// The stored bytes of each of `keys`, or nullopt if one is missing.
Result<std::optional<StoredRecords>> ReadRecords(meta::Transaction& txn,
                                                 std::vector<std::string> keys) {
  StoredRecords out;
  for (std::string& key : keys) {
    ASSIGN_OR_RETURN(std::optional<std::string> bytes, txn.Get(key));
    if (!bytes) return std::optional<StoredRecords>();
    out.emplace_back(std::move(key), std::move(*bytes));
  }
  return std::optional<StoredRecords>(std::move(out));
}

}  // namespace

Result<std::optional<KeyInfo>> Catalog::KeyIn(meta::Transaction& txn,
                                              std::string_view access_key) {
  ASSIGN_OR_RETURN(std::optional<KeyInfo> known, keys_.Find(txn, access_key));
  if (known) return known;
  ASSIGN_OR_RETURN(auto found, vms::LookupAccessKey(txn, access_key));
  if (!found || !found->enabled) return std::optional<KeyInfo>();
  KeyInfo info = KeyInfoOf(*found);
  // What LookupAccessKey read, in this snapshot: the key's record and its user's. Kept only if
  // the key's record names that user (so that a hit watches the very records read here).
  ASSIGN_OR_RETURN(auto records, ReadRecords(txn, {vms::AccessKeyKey(access_key),
                                                   vms::LocalUserKey(found->user.id)}));
  if (records) {
    auto key = vms::DecodeRecord<vms::AccessKeyRecord>(records->front().second);
    if (key.ok() && key->user_id == found->user.id) keys_.Put(access_key, std::move(*records), info);
  }
  return std::optional<KeyInfo>(std::move(info));
}

Result<std::optional<Bucket>> Catalog::BucketIn(meta::Transaction& txn, std::string_view name) {
  if (name.empty() || name.size() > 63) return std::optional<Bucket>();
  ASSIGN_OR_RETURN(std::optional<Bucket> known, buckets_.Find(txn, name));
  if (known) return known;
  ASSIGN_OR_RETURN(auto view, vms::LookupBucket(txn, name));
  if (!view || !view->HasProtocol("S3")) return std::optional<Bucket>();
  Bucket bucket = BucketOf(*view);
  // What LookupBucket read, in this snapshot: the bucket's index entry (the view's id) and the
  // view. Kept only if the entry names that view.
  ASSIGN_OR_RETURN(auto records,
                   ReadRecords(txn, {vms::BucketKey(name), vms::ViewKey(view->id)}));
  if (records && records->front().second == std::to_string(view->id)) {
    buckets_.Put(name, std::move(*records), bucket);
  }
  return std::optional<Bucket>(std::move(bucket));
}

Result<std::optional<Bucket>> Catalog::FindBucket(std::string_view name) {
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  return BucketIn(*txn, name);
}

Result<KeyAndBucket> Catalog::LookupKeyAndBucket(std::string_view access_key,
                                                 std::string_view bucket) {
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  return LookupKeyAndBucket(*txn, access_key, bucket);
}

Result<KeyAndBucket> Catalog::LookupKeyAndBucket(meta::Transaction& txn,
                                                 std::string_view access_key,
                                                 std::string_view bucket) {
  KeyAndBucket out;
  ASSIGN_OR_RETURN(out.key, KeyIn(txn, access_key));
  // Only a known key's request gets as far as its bucket.
  if (out.key) out.bucket = BucketIn(txn, bucket);
  return out;
}

Result<std::vector<Bucket>> Catalog::Buckets() {
  ASSIGN_OR_RETURN(auto views, vms::LoadViews(store_));
  std::vector<Bucket> out;
  for (const vms::ViewRecord& v : views) {
    if (v.HasProtocol("S3") && !v.bucket.empty()) out.push_back(BucketOf(v));
  }
  std::sort(out.begin(), out.end(), [](const Bucket& a, const Bucket& b) { return a.name < b.name; });
  return out;
}

Result<Bucket> Catalog::CreateBucket(std::string_view name, const Identity& owner) {
  RETURN_IF_ERROR(vms::ValidateBucketName(name));
  ASSIGN_OR_RETURN(auto policy, vms::Transact<std::optional<vms::ViewPolicyRecord>>(
                                    store_, [](meta::Transaction& txn) {
                                      return vms::FindS3DefaultPolicy(txn);
                                    }));
  vms::ViewRequest request;
  request.path = fmt::format("/{}", name);  // ("/" + name: a false GCC 12 -Wrestrict)
  request.policy_id = policy ? policy->id : vms::kS3DefaultPolicyId;
  request.protocols = {"S3"};
  request.bucket = std::string(name);
  request.bucket_owner = owner.user;
  // The directory first: a view never names a path that is missing.
  ASSIGN_OR_RETURN(estore::Inode dir, ns_->MakeDirs(request.path));
  (void)dir;
  auto view = vms::CreateView(store_, env_, request);
  if (!view.ok()) {
    auto [field, text] = vms::SplitFieldError(view.status());
    if (field == "bucket" && view.status().code() == Code::kInvalidArgument) return view.status();
    return AlreadyExists(field + ": " + text);
  }
  return BucketOf(*view);
}

Status Catalog::DeleteBucket(const Bucket& bucket) { return vms::DeleteView(store_, bucket.view_id); }

}  // namespace dase::s3
