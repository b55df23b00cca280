// S3 object operations: PutObject, CopyObject, GetObject, HeadObject, DeleteObject.
#include <fmt/format.h>

#include <boost/beast/http/field.hpp>

#include "common/log.h"
#include "estore/records.h"
#include "s3/canonical.h"
#include "s3/checksum.h"
#include "s3/http_util.h"
#include "s3/keys.h"
#include "s3/service.h"
#include "xml/xml.h"

namespace dase::s3 {
namespace bhttp = boost::beast::http;
using estore::FileType;
using estore::Inode;

namespace {

constexpr size_t kUserMetadataBytesMax = 2048;

std::string Quoted(std::string_view etag) { return fmt::format("\"{}\"", etag); }

}  // namespace

Result<HeaderList> StoredHeadersOf(const http::Request& request) {
  HeaderList headers;
  size_t user_bytes = 0;
  for (const auto& field : request) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool content = name == "content-type" || name == "content-disposition" ||
                   name == "content-language" || name == "cache-control" || name == "expires";
    std::string value(field.value());
    if (name == "content-encoding") {
      // aws-chunked is the transfer framing, not the object's encoding.
      std::string kept;
      for (std::string_view item : SplitCommaList(value)) {
        if (item == "aws-chunked") continue;
        if (!kept.empty()) kept.push_back(',');
        kept.append(item);
      }
      if (!kept.empty()) headers.emplace_back(name, kept);
      continue;
    }
    if (name.starts_with("x-amz-meta-")) {
      user_bytes += name.size() - 11 + value.size();
      content = true;
    }
    if (content) headers.emplace_back(std::move(name), std::move(value));
  }
  if (user_bytes > kUserMetadataBytesMax) {
    return InvalidArgument("Your metadata headers exceed the maximum allowed metadata size.");
  }
  return headers;
}

namespace {

bool HasHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return true;
  }
  return false;
}

// Evaluates If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since (RFC 7232 order).
std::optional<S3Error> CheckConditions(const S3Request& r, const std::string& etag,
                                       int64_t mtime_us, bool* not_modified) {
  *not_modified = false;
  auto etag_matches = [&](const std::string& list) {
    for (std::string_view item : SplitCommaList(list)) {
      if (item == "*" || item == Quoted(etag) || item == etag) return true;
    }
    return false;
  };
  int64_t mtime_s = mtime_us / 1000000;
  std::string if_match = r.Header("if-match");
  std::string if_none_match = r.Header("if-none-match");
  if (!if_match.empty()) {
    if (!etag_matches(if_match)) return S3Error{412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"};
  } else if (auto since = ParseHttpDate(r.Header("if-unmodified-since")); since.ok()) {
    if (mtime_s > *since) return S3Error{412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"};
  }
  if (!if_none_match.empty()) {
    if (etag_matches(if_none_match)) *not_modified = true;
  } else if (auto since = ParseHttpDate(r.Header("if-modified-since")); since.ok()) {
    if (mtime_s <= *since) *not_modified = true;
  }
  return std::nullopt;
}

}  // namespace

Result<uint64_t> S3Service::BucketDir(const Bucket& b, meta::Transaction* in) {
  ASSIGN_OR_RETURN(Inode dir, in ? estore::Namespace::ResolveIn(*in, b.path) : ns_->Resolve(b.path));
  if (dir.type != FileType::kDirectory) return FailedPrecondition("the bucket's view is not a directory");
  return dir.ino;
}

Result<Inode> S3Service::ResolveObject(const Bucket& b, std::string_view key) {
  ASSIGN_OR_RETURN(KeyPath path, SplitKey(key));
  // One metadata read from the root through the view's directory.
  ASSIGN_OR_RETURN(Inode inode, ns_->Resolve(fmt::format("{}/{}", b.path, path.Full())));
  if (path.marker != (inode.type == FileType::kDirectory)) return NotFound("no such key");
  if (path.marker) {
    // A directory is an object only while it carries a marker.
    ASSIGN_OR_RETURN(auto attrs, ns_->GetObjectAttrs(inode.ino));
    if (!attrs) return NotFound("no such key");
  }
  return inode;
}

void S3Service::PruneEmptyDirs(const Bucket& b, std::string_view key) {
  auto path = SplitKey(key);
  auto root = BucketDir(b);
  if (!path.ok() || !root.ok()) return;
  std::vector<std::string> dirs = path->Directories();
  if (path->marker && !dirs.empty()) dirs.pop_back();  // the marker's own directory went already
  // Innermost first; stop at the first directory that is not empty or is itself an object.
  while (!dirs.empty()) {
    std::string dir = dirs.back();
    dirs.pop_back();
    auto parent = ns_->Resolve(dirs.empty() ? "" : dirs.back(), *root);
    auto self = ns_->Resolve(dir, *root);
    if (!parent.ok() || !self.ok()) return;
    auto attrs = ns_->GetObjectAttrs(self->ino);
    if (!attrs.ok() || *attrs) return;
    std::string name = dir.substr(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/') + 1);
    if (!ns_->Rmdir(parent->ino, name).ok()) return;  // not empty (or raced): leave it
  }
}

awaitable<Result<estore::WriteResult>> S3Service::StoreObject(const Bucket& b,
                                                              const std::string& key,
                                                              std::string data,
                                                              const ObjectAttrs& attrs,
                                                              std::unique_ptr<meta::Transaction> snapshot) {
  CO_ASSIGN_OR_RETURN(KeyPath path, SplitKey(key));
  CO_ASSIGN_OR_RETURN(uint64_t root, BucketDir(b, snapshot.get()));
  if (path.marker && !data.empty()) {
    co_return InvalidArgument("a key ending in '/' names a directory: its object must be empty");
  }
  // Usually the key's directory exists: found in the snapshot, else made. The commit checks
  // it again, so a stale answer costs a retry, nothing more.
  Result<Inode> made = ns_->MakeDirs(path.marker ? path.Full() : path.parent, 0755, root,
                                     snapshot.get());
  snapshot.reset();  // never held across a wait
  CO_ASSIGN_OR_RETURN(Inode dir, std::move(made));
  if (path.marker) {
    CO_RETURN_IF_ERROR(ns_->SetObjectAttrs(dir.ino, EncodeObjectAttrs(attrs)));
    co_return estore::WriteResult{dir, {}};
  }
  estore::PutOptions options;
  options.attrs = EncodeObjectAttrs(attrs);
  auto written = co_await objects_->Put(dir.ino, path.name, std::move(data), options);
  if (!written.ok() && written.status().code() == Code::kNotFound) {
    // A delete removed the (then empty) parent between MakeDirs and the commit: nothing was
    // committed, and the client may try again (503 is retried by S3 clients).
    co_return Unavailable("the key's directory was removed concurrently; please retry");
  }
  co_return written;
}

awaitable<http::Response> S3Service::PutObject(S3Request& r, const Bucket& b) {
  auto headers = StoredHeadersOf(*r.http);
  if (!headers.ok()) co_return Error(r, {400, "MetadataTooLarge", std::string(headers.status().message())});
  if (auto key_error = CheckKey(r.key)) co_return Error(r, *key_error);
  ObjectAttrs attrs;
  attrs.etag = HexEncode(Md5(r.body));
  attrs.headers = std::move(headers).value();
  if (!HasHeader(attrs.headers, "content-type")) {
    attrs.headers.emplace_back("content-type", "binary/octet-stream");
  }
  attrs.checksum_algorithm = r.checksum_algorithm;
  attrs.checksum = r.checksum;
  attrs.marker = r.key.ends_with('/');
  auto written = co_await StoreObject(b, r.key, std::move(r.body), attrs, std::move(r.snapshot));
  if (!written.ok()) co_return KeyWriteError(r, written.status());
  http::Response reply = XmlReply(200, "");
  reply.set(bhttp::field::etag, Quoted(attrs.etag));
  if (!attrs.checksum.empty()) {
    auto algorithm = ParseChecksumAlgorithmName(attrs.checksum_algorithm);
    if (algorithm.ok()) reply.set(ChecksumHeaderName(*algorithm), attrs.checksum);
  }
  co_return reply;
}

awaitable<Result<estore::ReadResult>> S3Service::ReadCopySource(S3Request& r,
                                                         std::optional<S3Error>* error,
                                                         std::string_view range_header) {
  std::string source = r.Header("x-amz-copy-source");
  auto decoded = PercentDecode(source.substr(0, source.find('?')), PlusDecoding::kLiteral);
  if (!decoded.ok()) {
    *error = S3Error{400, "InvalidArgument", "Invalid copy source encoding"};
    co_return InvalidArgument("bad copy source");
  }
  std::string_view path = *decoded;
  if (path.starts_with('/')) path.remove_prefix(1);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash + 1 == path.size()) {
    *error = S3Error{400, "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"};
    co_return InvalidArgument("bad copy source");
  }
  auto bucket = catalog_.FindBucket(path.substr(0, slash));
  if (!bucket.ok()) co_return bucket.status();
  if (!*bucket) {
    *error = S3Error{404, "NoSuchBucket", "The specified bucket does not exist"};
    co_return NotFound("no bucket");
  }
  if (!Catalog::MayAccess(r.identity, **bucket)) {
    *error = S3Error{403, "AccessDenied", "Access Denied"};
    co_return PermissionDenied("copy source");
  }
  auto inode = ResolveObject(**bucket, path.substr(slash + 1));
  if (!inode.ok()) {
    if (inode.status().code() == Code::kNotFound || inode.status().code() == Code::kInvalidArgument) {
      *error = S3Error{404, "NoSuchKey", "The specified key does not exist."};
    }
    co_return inode.status();
  }
  uint64_t first = 0;
  uint64_t length = inode->size;
  if (!range_header.empty()) {
    bool unsatisfiable = false;
    auto range = ParseRange(range_header, inode->size, &unsatisfiable);
    if (!range) {
      *error = S3Error{400, "InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"};
      co_return InvalidArgument("bad range");
    }
    first = range->first;
    length = range->last - range->first + 1;
  }
  if (length > kPutBytesMax) {
    *error = S3Error{400, "InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: 268435456"};
    co_return InvalidArgument("too large");
  }
  if (inode->type == FileType::kDirectory) {
    CO_ASSIGN_OR_RETURN(estore::Namespace::ReadView view, objects_->Stat(inode->ino));
    co_return estore::ReadResult{view.inode, std::move(view.attrs), std::string()};
  }
  co_return co_await objects_->Read(inode->ino, first, length);
}

awaitable<http::Response> S3Service::CopyObject(S3Request& r, const Bucket& b) {
  if (auto key_error = CheckKey(r.key)) co_return Error(r, *key_error);
  std::string source = r.Header("x-amz-copy-source");
  auto decoded = PercentDecode(source.substr(0, source.find('?')), PlusDecoding::kLiteral);
  std::string_view source_path = decoded.ok() ? std::string_view(*decoded) : std::string_view();
  if (source_path.starts_with('/')) source_path.remove_prefix(1);
  if (source_path == b.name + "/" + r.key && r.Header("x-amz-metadata-directive") != "REPLACE") {
    co_return Error(r, {400, "InvalidRequest",
                        "This copy request is illegal because it is trying to copy an object to "
                        "itself without changing the object's metadata, storage class, website "
                        "redirect location or encryption attributes."});
  }
  std::optional<S3Error> error;
  auto read = co_await ReadCopySource(r, &error, "");
  if (!read.ok()) co_return error ? Error(r, *error) : ErrorFrom(r, read.status(), "NoSuchKey");
  // The metadata: copied from the source unless the request replaces it.
  ObjectAttrs attrs;
  if (r.Header("x-amz-metadata-directive") == "REPLACE") {
    auto headers = StoredHeadersOf(*r.http);
    if (!headers.ok()) co_return Error(r, {400, "MetadataTooLarge", std::string(headers.status().message())});
    attrs.headers = std::move(headers).value();
  } else if (read->attrs) {
    auto old = DecodeObjectAttrs(*read->attrs);
    if (old.ok()) attrs.headers = std::move(old->headers);
  }
  std::string body = std::move(read->data);  // a named local: see common/asio.h
  attrs.etag = HexEncode(Md5(body));
  attrs.marker = r.key.ends_with('/');
  auto written = co_await StoreObject(b, r.key, std::move(body), attrs, nullptr);
  if (!written.ok()) co_return KeyWriteError(r, written.status());
  xml::XmlWriter w;
  w.Open("CopyObjectResult", {{"xmlns", xml::kS3Namespace}});
  w.Element("LastModified", IsoTime(written->inode.mtime_us));
  w.Element("ETag", Quoted(attrs.etag));
  w.Close();
  co_return XmlReply(200, w.Finish());
}

S3Service::ObjectHead S3Service::ObjectReply(const S3Request& r, const Inode& file,
                                             const ObjectAttrs& attrs,
                                             const std::optional<ByteRange>& range,
                                             bool unsatisfiable) {
  bool not_modified = false;
  if (auto failed = CheckConditions(r, attrs.etag, file.mtime_us, &not_modified)) {
    return {Error(r, *failed), true};
  }
  http::Response reply{bhttp::status::ok, 11};
  reply.set(bhttp::field::etag, Quoted(attrs.etag));
  reply.set(bhttp::field::last_modified, HttpDate(file.mtime_us));
  if (not_modified) {
    reply.result(bhttp::status::not_modified);
    return {std::move(reply), true};
  }
  reply.set(bhttp::field::accept_ranges, "bytes");
  for (const auto& [name, value] : attrs.headers) reply.set(name, value);
  if (attrs.parts > 0) reply.set("x-amz-mp-parts-count", std::to_string(attrs.parts));
  // Presigned GETs may override response headers.
  if (!r.query.empty()) {
    for (const char* name : {"content-type", "content-language", "expires", "cache-control",
                             "content-disposition", "content-encoding"}) {
      std::string value = r.Query(std::string("response-") + name);
      if (!value.empty()) reply.set(name, value);
    }
  }
  const uint64_t size = file.type == FileType::kFile ? file.size : 0;
  if (unsatisfiable) {
    http::Response err = Error(r, {416, "InvalidRange", "The requested range is not satisfiable"});
    err.set(bhttp::field::content_range, fmt::format("bytes */{}", size));
    return {std::move(err), true};
  }
  if (range) {
    reply.result(bhttp::status::partial_content);
    reply.set(bhttp::field::content_range,
              fmt::format("bytes {}-{}/{}", range->first, range->last, size));
  } else if (!attrs.checksum.empty() && r.Header("x-amz-checksum-mode") == "ENABLED") {
    auto algorithm = ParseChecksumAlgorithmName(attrs.checksum_algorithm);
    if (algorithm.ok()) reply.set(ChecksumHeaderName(*algorithm), attrs.checksum);
  }
  return {std::move(reply), false};
}

awaitable<http::Response> S3Service::GetObject(S3Request& r, const Bucket& b, bool head) {
  if (auto key_error = CheckKey(r.key)) co_return Error(r, *key_error);
  auto key_path = SplitKey(r.key);
  if (!key_path.ok()) co_return Error(r, {404, "NoSuchKey", "The specified key does not exist."});
  const std::string path = fmt::format("{}/{}", b.path, key_path->Full());
  const std::string range_header = r.Header("range");
  // Inode, attributes and extents come from one snapshot: the one the key and the bucket were
  // read in, when Authenticate kept it. If the data moved before it was read (migration,
  // reclaim: an error, never other bytes), all again from a new snapshot.
  std::unique_ptr<meta::Transaction> snapshot = std::move(r.snapshot);
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    if (!snapshot) {
      auto begun = store_->Begin();
      if (!begun.ok()) co_return ErrorFrom(r, begun.status(), "NoSuchKey");
      snapshot = std::move(begun).value();
    }
    auto inode = estore::Namespace::ResolveIn(*snapshot, path);
    if (!inode.ok()) {
      Code c = inode.status().code();
      if (c != Code::kNotFound && c != Code::kInvalidArgument) {
        co_return ErrorFrom(r, inode.status(), "NoSuchKey");
      }
      co_return Error(r, {404, "NoSuchKey", "The specified key does not exist."});
    }
    if (key_path->marker != (inode->type == FileType::kDirectory)) {
      co_return Error(r, {404, "NoSuchKey", "The specified key does not exist."});
    }
    const uint64_t size = inode->type == FileType::kFile ? inode->size : 0;
    bool unsatisfiable = false;
    std::optional<ByteRange> range;
    if (!range_header.empty()) range = ParseRange(range_header, size, &unsatisfiable);
    const uint64_t first = range ? range->first : 0;
    const uint64_t length = range ? range->last - range->first + 1 : size;
    const bool body = !head && !unsatisfiable && length > 0;
    auto view = estore::Namespace::ReadViewIn(*snapshot, *inode, first, body ? length : 0);
    snapshot.reset();  // nothing more to read from it; never held across a wait
    if (!view.ok()) co_return ErrorFrom(r, view.status(), "NoSuchKey");
    // A directory is an object only while it carries a marker.
    if (key_path->marker && !view->attrs) {
      co_return Error(r, {404, "NoSuchKey", "The specified key does not exist."});
    }
    ObjectAttrs attrs;
    if (view->attrs) {
      auto decoded = DecodeObjectAttrs(*view->attrs);
      if (decoded.ok()) attrs = std::move(decoded).value();
    }
    if (attrs.etag.empty()) attrs.etag = fmt::format("{:016x}{:016x}", inode->ino, inode->change);
    ObjectHead answer = ObjectReply(r, *inode, attrs, range, unsatisfiable);
    if (answer.final) co_return std::move(answer.reply);
    if (!body) {
      answer.reply.set(bhttp::field::content_length, std::to_string(length));
      co_return std::move(answer.reply);
    }
    auto data = co_await objects_->ReadFromView(*view, first, length);
    if (!data.ok()) {
      Code c = data.status().code();
      if ((c == Code::kCorruption || c == Code::kNotFound) && attempt < kAttempts) continue;
      co_return ErrorFrom(r, data.status(), "NoSuchKey");
    }
    answer.reply.body() = std::move(data).value();
    co_return std::move(answer.reply);
  }
}

http::Response S3Service::DeleteObject(S3Request& r, const Bucket& b) {
  // Deleting a key that does not exist succeeds (S3).
  auto path = SplitKey(r.key);
  if (!path.ok()) return XmlReply(204, "");
  auto root = BucketDir(b);
  if (!root.ok()) return ErrorFrom(r, root.status(), "NoSuchBucket");
  Status s = DeleteKey(b, *root, *path);
  if (!s.ok() && s.code() != Code::kNotFound) return ErrorFrom(r, s, "NoSuchKey");
  return XmlReply(204, "");
}

Status S3Service::DeleteKey(const Bucket& b, uint64_t root, const KeyPath& path) {
  if (path.marker) {
    ASSIGN_OR_RETURN(Inode dir, ns_->Resolve(path.Full(), root));
    if (dir.type != FileType::kDirectory) return NotFound("no such key");
    RETURN_IF_ERROR(ns_->SetObjectAttrs(dir.ino, std::nullopt));
    PruneEmptyDirs(b, path.Full() + "/");
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(Inode parent, ns_->Resolve(path.parent, root));
  auto target = ns_->Lookup(parent.ino, path.name);
  if (!target.ok()) return target.status();
  if (target->type != FileType::kFile) return NotFound("no such key");
  RETURN_IF_ERROR(objects_->Unlink(parent.ino, path.name));
  PruneEmptyDirs(b, path.Full());
  return Status::Ok();
}

http::Response S3Service::KeyWriteError(const S3Request& r, const Status& s) const {
  if (s.code() == Code::kAlreadyExists ||
      (s.code() == Code::kInvalidArgument && s.message().find("not a directory") != std::string::npos)) {
    return Error(r, {409, "KeyConflict",
                     "The key names a directory where a file is, or a file where a directory is: "
                     "a name cannot be both (" + std::string(s.message()) + ")"});
  }
  return ErrorFrom(r, s, "NoSuchKey");
}

}  // namespace dase::s3
