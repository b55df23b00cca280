// S3 bucket operations: ListBuckets, CreateBucket, DeleteBucket, ListObjects (v1 and v2),
// DeleteObjects.
#include <fmt/format.h>

#include <charconv>

#include "s3/canonical.h"
#include "s3/checksum.h"
#include "s3/http_util.h"
#include "s3/keys.h"
#include "s3/listing.h"
#include "s3/service.h"
#include "xml/xml.h"

namespace dase::s3 {
using estore::FileType;

namespace {

std::optional<int> ParseCount(const std::string& text, int max) {
  if (text.empty()) return max;
  int v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 0) return std::nullopt;
  return std::min(v, max);
}

}  // namespace

http::Response S3Service::ListBuckets(S3Request& r) {
  auto buckets = catalog_.Buckets();
  if (!buckets.ok()) return ErrorFrom(r, buckets.status(), "NoSuchBucket");
  xml::XmlWriter w;
  w.Open("ListAllMyBucketsResult", {{"xmlns", xml::kS3Namespace}});
  w.Open("Owner");
  w.Element("ID", r.identity.user);
  w.Element("DisplayName", r.identity.user);
  w.Close();
  w.Open("Buckets");
  for (const Bucket& b : *buckets) {
    if (!Catalog::MayAccess(r.identity, b)) continue;
    w.Open("Bucket");
    w.Element("Name", b.name);
    w.Element("CreationDate", IsoTime(b.created_us));
    w.Close();
  }
  w.Close();
  w.Close();
  return XmlReply(200, w.Finish());
}

http::Response S3Service::CreateBucket(S3Request& r) {
  if (!r.body.empty()) {
    auto config = xml::Parse(r.body);
    if (!config.ok() || config->name != "CreateBucketConfiguration") return Error(r, MalformedXml());
  }
  auto existing = catalog_.FindBucket(r.bucket);
  if (!existing.ok()) return ErrorFrom(r, existing.status(), "NoSuchBucket");
  if (*existing) {
    if (Catalog::MayAccess(r.identity, **existing) && (*existing)->owner == r.identity.user) {
      return Error(r, {409, "BucketAlreadyOwnedByYou",
                       "Your previous request to create the named bucket succeeded and you "
                       "already own it."});
    }
    return Error(r, {409, "BucketAlreadyExists",
                     "The requested bucket name is not available. The bucket namespace is shared "
                     "by all users of the system. Please select a different name and try again."});
  }
  if (!r.identity.superuser && !r.identity.allow_create_bucket) {
    return Error(r, {403, "AccessDenied", "Access Denied: the user may not create buckets"});
  }
  auto created = catalog_.CreateBucket(r.bucket, r.identity);
  if (!created.ok()) {
    if (created.status().code() == Code::kInvalidArgument) {
      return Error(r, {400, "InvalidBucketName", "The specified bucket is not valid: " +
                                                     std::string(created.status().message())});
    }
    if (created.status().code() == Code::kAlreadyExists) {
      return Error(r, {409, "BucketAlreadyExists", std::string(created.status().message())});
    }
    return ErrorFrom(r, created.status(), "NoSuchBucket");
  }
  http::Response reply = XmlReply(200, "");
  reply.set("Location", "/" + r.bucket);
  return reply;
}

http::Response S3Service::DeleteBucket(S3Request& r, const Bucket& b) {
  auto root = BucketDir(b);
  if (root.ok()) {
    KeyWalker walker(ns_, *root, WalkOptions{});
    auto first = walker.Next();
    if (!first.ok()) return ErrorFrom(r, first.status(), "NoSuchBucket");
    if (*first) {
      return Error(r, {409, "BucketNotEmpty", "The bucket you tried to delete is not empty"});
    }
  }
  // Uploads in progress go with the bucket.
  auto uploads = ns_->Resolve(kUploadsDir, estore::kSystemRootIno);
  if (uploads.ok()) {
    Status removed = objects_->RemoveTree(uploads->ino, std::to_string(b.view_id));
    if (!removed.ok() && removed.code() != Code::kNotFound) return ErrorFrom(r, removed, "NoSuchBucket");
  }
  Status deleted = catalog_.DeleteBucket(b);
  if (!deleted.ok()) return ErrorFrom(r, deleted, "NoSuchBucket");
  // The bucket's directory goes too, with the empty directories left in it (it holds no
  // object); the root of the namespace stays.
  size_t slash = b.path.rfind('/');
  if (root.ok() && b.path != "/" && slash != std::string::npos) {
    auto parent = ns_->Resolve(b.path.substr(0, slash));
    if (parent.ok()) (void)objects_->RemoveTree(parent->ino, b.path.substr(slash + 1));
  }
  return XmlReply(204, "");
}

http::Response S3Service::ListObjects(S3Request& r, const Bucket& b) {
  bool v2 = r.Query("list-type") == "2";
  bool url = r.Query("encoding-type") == "url";
  if (r.HasQuery("encoding-type") && !url) {
    return Error(r, {400, "InvalidArgument", "Invalid Encoding Method specified in Request"});
  }
  auto max_keys = ParseCount(r.Query("max-keys"), kListKeysMax);
  if (!max_keys) return Error(r, {400, "InvalidArgument", "Provided max-keys not an integer or within integer range"});
  WalkOptions options;
  options.prefix = r.Query("prefix");
  options.delimiter = r.Query("delimiter");
  std::string resume;  // a marker or continuation token: resuming after a common prefix skips it
  if (v2) {
    if (r.HasQuery("continuation-token")) {
      auto token = Base64Decode(r.Query("continuation-token"));
      if (!token.ok() || token->empty()) {
        return Error(r, {400, "InvalidArgument", "The continuation token provided is incorrect"});
      }
      resume = *token;
    } else {
      options.start_after = r.Query("start-after");
    }
  } else {
    resume = r.Query("marker");
  }
  if (!resume.empty()) {
    options.start_after = resume;
    // A key ending in the delimiter beyond the prefix is always rolled into a common prefix,
    // so such a resume point was one: skip everything under it.
    if (!options.delimiter.empty() && resume.ends_with(options.delimiter) &&
        resume.starts_with(options.prefix) &&
        resume.size() >= options.prefix.size() + options.delimiter.size() &&
        resume.find(options.delimiter, options.prefix.size()) ==
            resume.size() - options.delimiter.size()) {
      options.skip_prefix = resume;
    }
  }
  auto encode = [&](const std::string& text) { return url ? UriEncode(text, SlashEncoding::kKeep) : text; };

  auto root = BucketDir(b);
  if (!root.ok()) return ErrorFrom(r, root.status(), "NoSuchBucket");
  KeyWalker walker(ns_, *root, options);
  std::vector<WalkItem> items;
  bool truncated = false;
  while (*max_keys > 0) {
    auto next = walker.Next();
    if (!next.ok()) return ErrorFrom(r, next.status(), "NoSuchKey");
    if (!*next) break;
    if (static_cast<int>(items.size()) == *max_keys) {
      truncated = true;
      break;
    }
    items.push_back(std::move(**next));
  }

  xml::XmlWriter w;
  w.Open("ListBucketResult", {{"xmlns", xml::kS3Namespace}});
  w.Element("Name", b.name);
  w.Element("Prefix", encode(options.prefix));
  if (v2) {
    if (r.HasQuery("continuation-token")) w.Element("ContinuationToken", r.Query("continuation-token"));
    if (r.HasQuery("start-after")) w.Element("StartAfter", encode(r.Query("start-after")));
    w.UintElement("KeyCount", items.size());
  } else {
    w.Element("Marker", encode(r.Query("marker")));
  }
  w.UintElement("MaxKeys", static_cast<uint64_t>(*max_keys));
  if (!options.delimiter.empty()) w.Element("Delimiter", encode(options.delimiter));
  if (url) w.Element("EncodingType", "url");
  w.BoolElement("IsTruncated", truncated);
  if (truncated && !items.empty()) {
    if (v2) {
      w.Element("NextContinuationToken", Base64Encode(items.back().key));
    } else if (!options.delimiter.empty()) {
      w.Element("NextMarker", encode(items.back().key));
    }
  }
  bool owner = !v2 || r.Query("fetch-owner") == "true";
  for (const WalkItem& item : items) {
    if (item.common_prefix) continue;
    auto view = objects_->Stat(item.ino);
    if (!view.ok()) continue;  // deleted meanwhile
    ObjectAttrs attrs;
    if (view->attrs) {
      auto decoded = DecodeObjectAttrs(*view->attrs);
      if (decoded.ok()) attrs = std::move(decoded).value();
    }
    w.Open("Contents");
    w.Element("Key", encode(item.key));
    w.Element("LastModified", IsoTime(view->inode.mtime_us));
    w.Element("ETag", "\"" + attrs.etag + "\"");
    w.UintElement("Size", view->inode.type == FileType::kFile ? view->inode.size : 0);
    if (!attrs.checksum_algorithm.empty()) w.Element("ChecksumAlgorithm", attrs.checksum_algorithm);
    w.Element("StorageClass", "STANDARD");
    if (owner) {
      w.Open("Owner");
      w.Element("ID", b.owner);
      w.Element("DisplayName", b.owner);
      w.Close();
    }
    w.Close();
  }
  for (const WalkItem& item : items) {
    if (!item.common_prefix) continue;
    w.Open("CommonPrefixes");
    w.Element("Prefix", encode(item.key));
    w.Close();
  }
  w.Close();
  return XmlReply(200, w.Finish());
}

awaitable<http::Response> S3Service::DeleteObjects(S3Request& r, const Bucket& b) {
  const S3Error malformed = MalformedXml();
  auto doc = xml::Parse(r.body);
  if (!doc.ok() || doc->name != "Delete") co_return Error(r, malformed);
  std::vector<const xml::Node*> objects = doc->Children("Object");
  if (objects.empty() || objects.size() > kDeleteKeysMax) co_return Error(r, malformed);
  bool quiet = doc->ChildText("Quiet").value_or("false") == "true";
  auto root = BucketDir(b);
  if (!root.ok()) co_return ErrorFrom(r, root.status(), "NoSuchBucket");
  xml::XmlWriter w;
  w.Open("DeleteResult", {{"xmlns", xml::kS3Namespace}});
  for (const xml::Node* object : objects) {
    auto key = object->ChildText("Key");
    if (!key) co_return Error(r, malformed);
    // (The parser refuses text XML cannot carry, so every key here can be written back.)
    Status s = Status::Ok();
    auto path = SplitKey(*key);
    if (path.ok()) s = DeleteKey(b, *root, *path);
    if (s.ok() || s.code() == Code::kNotFound) {
      if (quiet) continue;
      w.Open("Deleted");
      w.Element("Key", *key);
      w.Close();
    } else {
      w.Open("Error");
      w.Element("Key", *key);
      w.Element("Code", "InternalError");
      w.Element("Message", std::string(s.message()));
      w.Close();
    }
  }
  w.Close();
  co_return XmlReply(200, w.Finish());
}

}  // namespace dase::s3
