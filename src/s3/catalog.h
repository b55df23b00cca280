// Catalog: what the S3 server needs from the VMS's records, read straight from the shared
// metadata store (a CNode serves S3 without asking the VMS process): buckets (views with the S3
// protocol and a bucket name), users and their access keys. The records are read on every
// request, so a view deleted or a key revoked through the API takes effect on the next one;
// only their decoding is kept: an answer is reused while the records it came from read back
// byte for byte the same (RecordMemo). A request's access key and bucket are read in one
// transaction (LookupKeyAndBucket): one snapshot, one transaction's cost.
//
// CreateBucket and DeleteBucket make and drop views through the same transactional functions
// the REST API uses (vms/protocol_records.h).
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "env/env.h"
#include "estore/namespace.h"
#include "meta/kv.h"
#include "s3/record_memo.h"

namespace dase::s3 {

struct Identity {
  std::string access_key;
  std::string user;
  int64_t user_id = 0;
  bool superuser = false;
  bool allow_create_bucket = false;
  bool allow_delete_bucket = false;
};

struct KeyInfo {
  Identity identity;
  std::string secret;
};

struct Bucket {
  std::string name;
  int64_t view_id = 0;
  std::string path;   // the view's directory in the element store
  std::string owner;  // user name; empty if none
  int64_t created_us = 0;
};

// An access key and the bucket a request names, from one snapshot.
struct KeyAndBucket {
  std::optional<KeyInfo> key;  // nullopt for an unknown or revoked key
  // What FindBucket answers for the name. Reading it may fail while the key was read: the
  // error stays here for the caller to handle where it handles FindBucket's.
  Result<std::optional<Bucket>> bucket = std::optional<Bucket>();
};

class Catalog {
 public:
  Catalog(meta::Store* store, estore::Namespace* ns, env::Env* env)
      : store_(store), ns_(ns), env_(env) {}

  // The access key (nullopt if unknown or revoked) and FindBucket(bucket), in one read
  // transaction.
  Result<KeyAndBucket> LookupKeyAndBucket(std::string_view access_key, std::string_view bucket);
  // The same in the caller's transaction, which may go on to read more from that snapshot.
  Result<KeyAndBucket> LookupKeyAndBucket(meta::Transaction& txn, std::string_view access_key,
                                          std::string_view bucket);
  Result<std::optional<Bucket>> FindBucket(std::string_view name);
  Result<std::vector<Bucket>> Buckets();
  // A view at "/<name>" with the S3 protocol, owned by `owner`, its directory created.
  // AlreadyExists if the bucket name (or the path) is taken.
  Result<Bucket> CreateBucket(std::string_view name, const Identity& owner);
  Status DeleteBucket(const Bucket& bucket);

  // May `who` use `bucket` (read, write, list)?
  static bool MayAccess(const Identity& who, const Bucket& bucket) {
    return who.superuser || (!bucket.owner.empty() && bucket.owner == who.user);
  }

 private:
  // Access keys and buckets whose answers are kept (see RecordMemo); each entry is a few
  // hundred bytes.
  static constexpr size_t kMemoEntriesMax = 1024;

  // nullopt for an unknown or revoked key.
  Result<std::optional<KeyInfo>> KeyIn(meta::Transaction& txn, std::string_view access_key);
  Result<std::optional<Bucket>> BucketIn(meta::Transaction& txn, std::string_view name);

  meta::Store* store_;
  estore::Namespace* ns_;
  env::Env* env_;
  RecordMemo<KeyInfo> keys_{kMemoEntriesMax};
  RecordMemo<Bucket> buckets_{kMemoEntriesMax};
};

}  // namespace dase::s3
