// S3Service: the S3 REST protocol of a CNode over the element store: request routing (path-
// and virtual-host-style), SigV4 authentication (headers, presigned URLs, aws-chunked bodies
// with chunk signatures or trailing checksums), and the bucket, object and multipart operations.
// It answers requests; S3Listeners (below) puts it on the CNode's VIPs.
//
// Namespace mapping (docs/s3.md): a bucket is a view; key "a/b/c" is the file c in directory
// a/b under the view's directory, directories made as needed and removed again when a delete
// leaves them empty. A key ending in "/" is a directory marker. A name cannot be a file and a
// directory at once: a put that would need that gets 409 "KeyConflict"-style errors, never a
// corrupt namespace. Keys must map to valid names: no empty, "." or ".." component, no NUL,
// components of at most 255 bytes.
//
// Object writes are atomic (estore::ObjectStore): a reader sees the old object or the new one;
// an interrupted upload leaves nothing visible. Multipart uploads live in the element store's
// system tree (/uploads/<bucket>/<upload id>/<part>) and are spliced into the object without
// copying their data.
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/asio.h"
#include "env/env.h"
#include "estore/objects.h"
#include "http/server.h"
#include "meta/kv.h"
#include "s3/catalog.h"
#include "s3/http_util.h"
#include "s3/object_attrs.h"
#include "s3/signing_key_cache.h"

namespace dase::s3 {

inline constexpr uint64_t kPutBytesMax = 256ull << 20;  // one PutObject or UploadPart body
inline constexpr size_t kKeyBytesMax = 1024;
inline constexpr int kPartsMax = 10000;
inline constexpr uint64_t kPartBytesMin = 5ull << 20;  // every part but the last
inline constexpr int kDeleteKeysMax = 1000;
inline constexpr int kListKeysMax = 1000;
// Multipart uploads in progress: <system root>/uploads/<view id>/<upload id>/<part:05>.
inline constexpr char kUploadsDir[] = "uploads";

struct S3Options {
  std::string region = "us-east-1";
  // Host names under which buckets are addressed virtual-host style ("<bucket>.<domain>").
  std::vector<std::string> domains = {"s3.localhost", "localhost"};
};

struct KeyPath;

// An S3 error as the client sees it (defined below).
struct S3Error;
// What S3 answers for a request body that is not the XML it expects.
S3Error MalformedXml();

// The headers an object keeps from the request that writes it (content-type and the other
// content headers, x-amz-meta-*); InvalidArgument if the user metadata exceeds 2 KiB.
Result<HeaderList> StoredHeadersOf(const http::Request& request);

// An S3 error as the client sees it.
struct S3Error {
  int status = 500;
  std::string code;
  std::string message;
};

// What one request is about, after routing and authentication.
struct S3Request {
  http::Request* http = nullptr;
  std::string bucket;
  std::string key;
  std::map<std::string, std::string> query;  // decoded
  std::string resource;                      // "/bucket/key" for error bodies
  std::string request_id;
  Identity identity;
  // FindBucket's answer for `bucket` when Authenticate read it with the access key.
  std::optional<Result<std::optional<Bucket>>> bucket_record;
  // For GET and HEAD of an object: the read transaction Authenticate read the key and the
  // bucket in, for GetObject to read the object from the same snapshot (one transaction per
  // request); for PutObject, to find the bucket's and the key's directories in. Released
  // before the request first waits on anything.
  std::unique_ptr<meta::Transaction> snapshot;
  std::string body;  // the payload, decoded and verified
  // A checksum the client sent (header or trailer) and was verified: algorithm and base64.
  std::string checksum_algorithm;
  std::string checksum;
  bool HasQuery(const std::string& name) const { return query.count(name) > 0; }
  std::string Query(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
  std::string Header(std::string_view name) const;
};

class S3Service {
 public:
  S3Service(env::Env* env, estore::ObjectStore* objects, meta::Store* store, S3Options options);

  awaitable<http::Response> Handle(http::Request& request, const http::PeerInfo& peer);

 private:
  using Reply = http::Response;

  // Routing and authentication; fills `out` or gives the error.
  std::optional<S3Error> Route(http::Request& request, S3Request& out);
  std::optional<S3Error> Authenticate(S3Request& r);
  // GET or HEAD of an object (GetObject) or a plain PUT of one (PutObject): requests that go
  // on reading in Authenticate's snapshot.
  static bool KeepsSnapshot(const S3Request& r);
  awaitable<Reply> Dispatch(S3Request& r);

  // Buckets.
  Reply ListBuckets(S3Request& r);
  Reply CreateBucket(S3Request& r);
  Reply DeleteBucket(S3Request& r, const Bucket& b);
  Reply ListObjects(S3Request& r, const Bucket& b);
  Reply ListUploads(S3Request& r, const Bucket& b);
  awaitable<Reply> DeleteObjects(S3Request& r, const Bucket& b);

  // Objects.
  awaitable<Reply> PutObject(S3Request& r, const Bucket& b);
  awaitable<Reply> CopyObject(S3Request& r, const Bucket& b);
  awaitable<Reply> GetObject(S3Request& r, const Bucket& b, bool head);
  // The answer to a GET or HEAD of `file` with `attrs`, but for the body; `final` when it is
  // complete as it is: a failed condition, 304, or a range that selects nothing.
  struct ObjectHead {
    Reply reply;
    bool final = false;
  };
  ObjectHead ObjectReply(const S3Request& r, const estore::Inode& file, const ObjectAttrs& attrs,
                         const std::optional<ByteRange>& range, bool unsatisfiable);
  Reply DeleteObject(S3Request& r, const Bucket& b);

  // Multipart uploads.
  Reply CreateUpload(S3Request& r, const Bucket& b);
  awaitable<Reply> UploadPart(S3Request& r, const Bucket& b, bool copy);
  Reply ListParts(S3Request& r, const Bucket& b);
  awaitable<Reply> CompleteUpload(S3Request& r, const Bucket& b);
  Reply AbortUpload(S3Request& r, const Bucket& b);

  // Helpers.
  Reply Error(const S3Request& r, const S3Error& e) const;
  // A failed object write: KeyConflict when a name would be a file and a directory at once.
  Reply KeyWriteError(const S3Request& r, const Status& s) const;
  Reply ErrorFrom(const S3Request& r, const Status& s, std::string_view not_found_code) const;
  // The directory of the view, looked up in `in` if given.
  Result<uint64_t> BucketDir(const Bucket& b, meta::Transaction* in = nullptr);
  // Resolves an object: the file, or a marked directory for keys ending in '/'.
  Result<estore::Inode> ResolveObject(const Bucket& b, std::string_view key);
  // Removes directories left empty by a delete, from the key's parent up to the bucket.
  void PruneEmptyDirs(const Bucket& b, std::string_view key);
  // Deletes one key (NotFound if there is none).
  Status DeleteKey(const Bucket& b, uint64_t root, const KeyPath& path);
  // Writes a whole object; `attrs` describes it. `snapshot`, if given, is where the bucket's
  // and the key's directories are looked up first (released before the write).
  awaitable<Result<estore::WriteResult>> StoreObject(const Bucket& b, const std::string& key,
                                                     std::string data, const ObjectAttrs& attrs,
                                                     std::unique_ptr<meta::Transaction> snapshot);
  // The directory of the bucket's uploads (made if `create`), and of one upload with its
  // record (NotFound for an unknown or malformed upload id).
  Result<uint64_t> UploadsDir(const Bucket& b, bool create);
  Result<std::pair<estore::Inode, UploadRecord>> FindUpload(const Bucket& b,
                                                            std::string_view upload_id);
  // Reads the object a copy request names (x-amz-copy-source, optional range): the bytes and
  // the source's stored attributes, from one snapshot.
  awaitable<Result<estore::ReadResult>> ReadCopySource(S3Request& r, std::optional<S3Error>* error,
                                                std::string_view range_header);

  env::Env* env_;
  estore::ObjectStore* objects_;
  estore::Namespace* ns_;
  meta::Store* store_;
  S3Options options_;
  Catalog catalog_;
  SigningKeyCache signing_keys_;
  uint64_t request_counter_ = 0;
  // The Date header of answers, for the second it was formatted in.
  int64_t date_second_ = -1;
  std::string date_;
};

// Serves an S3Service on a set of addresses (the CNode's VIPs), one HTTP server per address so
// an address can be given up alone (its connections close; clients retry on its new holder).
class S3Listeners {
 public:
  S3Listeners(asio::any_io_executor executor, S3Service* service, uint16_t port)
      : executor_(std::move(executor)), service_(service), port_(port) {}

  // Listens on every address of `vips` not yet served and stops serving the others. An address
  // that cannot be bound yet (its former holder still has it) is retried on the next call.
  void Update(const std::vector<std::string>& vips);
  std::vector<std::string> Serving() const;
  void StopAll() { servers_.clear(); }

 private:
  asio::any_io_executor executor_;
  S3Service* service_;
  uint16_t port_;
  std::map<std::string, std::unique_ptr<http::Server>> servers_;
};

}  // namespace dase::s3
