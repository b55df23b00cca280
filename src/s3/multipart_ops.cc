// S3 multipart uploads: create, upload part (and part copy), list parts, list uploads,
// complete, abort. An upload is a directory in the element store's system tree whose
// attributes are its UploadRecord; each part is a file there, written to stripes, whose
// attributes are its PartRecord. Complete splices the parts' extents into the object in one
// transaction that also removes the upload (estore::ObjectStore::Concat): no data is copied.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "env/env.h"
#include "s3/canonical.h"
#include "s3/checksum.h"
#include "s3/http_util.h"
#include "s3/keys.h"
#include "s3/service.h"
#include "xml/xml.h"

namespace dase::s3 {
using estore::FileType;
using estore::Inode;

namespace {

constexpr size_t kUploadIdBytes = 16;  // 32 hex characters

std::string PartName(int number) { return fmt::format("{:05}", number); }

std::optional<int> ParseInt(const std::string& text) {
  int v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// ETags arrive quoted, sometimes with &quot; already decoded: compare without quotes.
std::string Unquote(std::string_view etag) {
  while (!etag.empty() && etag.front() == '"') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == '"') etag.remove_suffix(1);
  return std::string(etag);
}

const S3Error kNoSuchUpload{404, "NoSuchUpload",
                            "The specified upload does not exist. The upload ID may be invalid, "
                            "or the upload may have been aborted or completed."};

}  // namespace

Result<uint64_t> S3Service::UploadsDir(const Bucket& b, bool create) {
  std::string path = fmt::format("{}/{}", kUploadsDir, b.view_id);
  if (!create) {
    ASSIGN_OR_RETURN(Inode dir, ns_->Resolve(path, estore::kSystemRootIno));
    return dir.ino;
  }
  ASSIGN_OR_RETURN(Inode dir, ns_->MakeDirs(path, 0700, estore::kSystemRootIno));
  return dir.ino;
}

Result<std::pair<Inode, UploadRecord>> S3Service::FindUpload(const Bucket& b,
                                                             std::string_view upload_id) {
  if (upload_id.size() != 2 * kUploadIdBytes || !IsHex(upload_id)) return NotFound("bad upload id");
  ASSIGN_OR_RETURN(uint64_t uploads, UploadsDir(b, false));
  ASSIGN_OR_RETURN(Inode dir, ns_->Lookup(uploads, upload_id));
  ASSIGN_OR_RETURN(auto raw, ns_->GetObjectAttrs(dir.ino));
  if (!raw) return NotFound("upload without a record");
  ASSIGN_OR_RETURN(UploadRecord record, DecodeUploadRecord(*raw));
  return std::make_pair(dir, std::move(record));
}

http::Response S3Service::CreateUpload(S3Request& r, const Bucket& b) {
  if (auto key_error = CheckKey(r.key)) return Error(r, *key_error);
  if (r.key.ends_with('/')) {
    return Error(r, {400, "InvalidArgument", "A directory marker (a key ending in '/') cannot be uploaded in parts"});
  }
  UploadRecord record;
  record.bucket = b.name;
  record.key = r.key;
  record.owner = r.identity.user;
  record.initiated_us = env_->NowMicros();
  auto headers = StoredHeadersOf(*r.http);
  if (!headers.ok()) return Error(r, {400, "MetadataTooLarge", std::string(headers.status().message())});
  record.headers = std::move(headers).value();
  std::string algorithm = r.Header("x-amz-checksum-algorithm");
  if (!algorithm.empty()) {
    auto parsed = ParseChecksumAlgorithmName(algorithm);
    if (!parsed.ok()) return Error(r, {400, "InvalidRequest", "Checksum algorithm provided is unsupported."});
    record.checksum_algorithm = std::string(ChecksumAlgorithmName(*parsed));
  }
  std::string upload_id = env::RandomHex(env_, kUploadIdBytes);
  auto uploads = UploadsDir(b, true);
  if (!uploads.ok()) return ErrorFrom(r, uploads.status(), "NoSuchBucket");
  auto dir = ns_->Create(*uploads, upload_id, estore::NewNode{FileType::kDirectory, 0700, 0, 0},
                         estore::CreateMode::kExclusive);
  if (!dir.ok()) return ErrorFrom(r, dir.status(), "NoSuchBucket");
  Status made = ns_->SetObjectAttrs(dir->ino, EncodeUploadRecord(record));
  if (!made.ok()) return ErrorFrom(r, made, "NoSuchBucket");
  xml::XmlWriter w;
  w.Open("InitiateMultipartUploadResult", {{"xmlns", xml::kS3Namespace}});
  w.Element("Bucket", b.name);
  w.Element("Key", r.key);
  w.Element("UploadId", upload_id);
  w.Close();
  http::Response reply = XmlReply(200, w.Finish());
  if (!record.checksum_algorithm.empty()) {
    reply.set("x-amz-checksum-algorithm", record.checksum_algorithm);
  }
  return reply;
}

awaitable<http::Response> S3Service::UploadPart(S3Request& r, const Bucket& b, bool copy) {
  auto number = ParseInt(r.Query("partNumber"));
  if (!number || *number < 1 || *number > kPartsMax) {
    co_return Error(r, {400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"});
  }
  auto upload = FindUpload(b, r.Query("uploadId"));
  if (!upload.ok()) {
    if (upload.status().code() == Code::kNotFound) co_return Error(r, kNoSuchUpload);
    co_return ErrorFrom(r, upload.status(), "NoSuchUpload");
  }
  std::string data;
  if (copy) {
    std::optional<S3Error> error;
    std::string range = r.Header("x-amz-copy-source-range");  // named locals: common/asio.h
    auto read = co_await ReadCopySource(r, &error, range);
    if (!read.ok()) co_return error ? Error(r, *error) : ErrorFrom(r, read.status(), "NoSuchKey");
    data = std::move(read->data);
  } else {
    data = std::move(r.body);
  }
  PartRecord part;
  part.etag = HexEncode(Md5(data));
  part.uploaded_us = env_->NowMicros();
  const UploadRecord& record = upload->second;
  if (!record.checksum_algorithm.empty()) {
    if (!r.checksum.empty() && r.checksum_algorithm == record.checksum_algorithm) {
      part.checksum = r.checksum;  // verified against the body already
    } else {
      auto algorithm = ParseChecksumAlgorithmName(record.checksum_algorithm);
      if (algorithm.ok()) part.checksum = Base64Encode(ComputeChecksum(*algorithm, data));
    }
  }
  estore::PutOptions options;
  options.striped = true;  // Complete splices the part's extents into the object
  options.node = estore::NewNode{FileType::kFile, 0600, 0, 0};
  options.attrs = EncodePartRecord(part);
  std::string name = PartName(*number);
  auto written = co_await objects_->Put(upload->first.ino, name, std::move(data), options);
  if (!written.ok()) {
    if (written.status().code() == Code::kNotFound) co_return Error(r, kNoSuchUpload);
    co_return ErrorFrom(r, written.status(), "NoSuchUpload");
  }
  if (copy) {
    xml::XmlWriter w;
    w.Open("CopyPartResult", {{"xmlns", xml::kS3Namespace}});
    w.Element("LastModified", IsoTime(written->inode.mtime_us));
    w.Element("ETag", "\"" + part.etag + "\"");
    w.Close();
    co_return XmlReply(200, w.Finish());
  }
  http::Response reply = XmlReply(200, "");
  reply.set("ETag", "\"" + part.etag + "\"");
  if (!part.checksum.empty()) {
    auto algorithm = ParseChecksumAlgorithmName(record.checksum_algorithm);
    if (algorithm.ok()) reply.set(ChecksumHeaderName(*algorithm), part.checksum);
  }
  co_return reply;
}

http::Response S3Service::ListParts(S3Request& r, const Bucket& b) {
  auto upload = FindUpload(b, r.Query("uploadId"));
  if (!upload.ok()) {
    if (upload.status().code() == Code::kNotFound) return Error(r, kNoSuchUpload);
    return ErrorFrom(r, upload.status(), "NoSuchUpload");
  }
  int marker = ParseInt(r.Query("part-number-marker")).value_or(0);
  int max_parts = std::clamp(ParseInt(r.Query("max-parts")).value_or(1000), 0, 1000);
  auto page = ns_->ReadDir(upload->first.ino, marker > 0 ? PartName(marker) : "",
                           static_cast<size_t>(max_parts) + 1);
  if (!page.ok()) return ErrorFrom(r, page.status(), "NoSuchUpload");
  bool truncated = page->entries.size() > static_cast<size_t>(max_parts);
  if (truncated) page->entries.resize(static_cast<size_t>(max_parts));
  const UploadRecord& record = upload->second;
  xml::XmlWriter w;
  w.Open("ListPartsResult", {{"xmlns", xml::kS3Namespace}});
  w.Element("Bucket", b.name);
  w.Element("Key", record.key);
  w.Element("UploadId", r.Query("uploadId"));
  w.UintElement("PartNumberMarker", static_cast<uint64_t>(marker));
  if (truncated && !page->entries.empty()) {
    w.Element("NextPartNumberMarker", std::to_string(ParseInt(page->entries.back().name).value_or(0)));
  }
  w.UintElement("MaxParts", static_cast<uint64_t>(max_parts));
  w.BoolElement("IsTruncated", truncated);
  if (!record.checksum_algorithm.empty()) w.Element("ChecksumAlgorithm", record.checksum_algorithm);
  for (const char* who : {"Initiator", "Owner"}) {
    w.Open(who);
    w.Element("ID", record.owner);
    w.Element("DisplayName", record.owner);
    w.Close();
  }
  w.Element("StorageClass", "STANDARD");
  for (const estore::DirEntry& e : page->entries) {
    auto view = objects_->Stat(e.ino);
    if (!view.ok() || !view->attrs) continue;
    auto part = DecodePartRecord(*view->attrs);
    if (!part.ok()) continue;
    w.Open("Part");
    w.UintElement("PartNumber", static_cast<uint64_t>(ParseInt(e.name).value_or(0)));
    w.Element("LastModified", IsoTime(part->uploaded_us));
    w.Element("ETag", "\"" + part->etag + "\"");
    w.UintElement("Size", view->inode.size);
    if (!part->checksum.empty()) {
      auto algorithm = ParseChecksumAlgorithmName(record.checksum_algorithm);
      if (algorithm.ok()) {
        w.Element(fmt::format("Checksum{}", ChecksumAlgorithmName(*algorithm)), part->checksum);
      }
    }
    w.Close();
  }
  w.Close();
  return XmlReply(200, w.Finish());
}

awaitable<http::Response> S3Service::CompleteUpload(S3Request& r, const Bucket& b) {
  auto upload = FindUpload(b, r.Query("uploadId"));
  if (!upload.ok()) {
    if (upload.status().code() == Code::kNotFound) co_return Error(r, kNoSuchUpload);
    co_return ErrorFrom(r, upload.status(), "NoSuchUpload");
  }
  const UploadRecord& record = upload->second;
  if (record.key != r.key) co_return Error(r, kNoSuchUpload);
  const S3Error malformed = MalformedXml();
  auto doc = xml::Parse(r.body);
  if (!doc.ok() || doc->name != "CompleteMultipartUpload") co_return Error(r, malformed);
  std::vector<const xml::Node*> listed = doc->Children("Part");
  if (listed.empty()) {
    co_return Error(r, {400, "MalformedXML", "You must specify at least one part"});
  }
  if (listed.size() > static_cast<size_t>(kPartsMax)) co_return Error(r, malformed);

  std::vector<Inode> parts;
  std::string md5s;        // binary MD5s of the parts, for the multipart ETag
  std::string checksums;   // binary checksums of the parts, for the composite checksum
  bool all_checksums = !record.checksum_algorithm.empty();
  int previous = 0;
  for (size_t i = 0; i < listed.size(); ++i) {
    auto number = ParseInt(listed[i]->ChildText("PartNumber").value_or(""));
    auto etag = listed[i]->ChildText("ETag");
    if (!number || !etag) co_return Error(r, malformed);
    if (*number <= previous) {
      co_return Error(r, {400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number."});
    }
    previous = *number;
    S3Error invalid_part{400, "InvalidPart",
                         "One or more of the specified parts could not be found. The part may not "
                         "have been uploaded, or the specified entity tag may not match the "
                         "part's entity tag."};
    auto file = ns_->Lookup(upload->first.ino, PartName(*number));
    if (!file.ok()) co_return Error(r, invalid_part);
    auto view = objects_->Stat(file->ino);
    if (!view.ok() || !view->attrs) co_return Error(r, invalid_part);
    auto part = DecodePartRecord(*view->attrs);
    if (!part.ok() || part->etag != Unquote(*etag)) co_return Error(r, invalid_part);
    if (i + 1 < listed.size() && view->inode.size < kPartBytesMin) {
      co_return Error(r, {400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."});
    }
    auto md5 = HexDecode(part->etag);
    if (!md5.ok()) co_return Error(r, invalid_part);
    md5s += *md5;
    auto sum = Base64Decode(part->checksum);
    if (part->checksum.empty() || !sum.ok()) {
      all_checksums = false;
    } else {
      checksums += *sum;
    }
    parts.push_back(view->inode);
  }

  ObjectAttrs attrs;
  attrs.etag = fmt::format("{}-{}", HexEncode(Md5(md5s)), parts.size());
  attrs.headers = record.headers;
  bool has_type = std::any_of(attrs.headers.begin(), attrs.headers.end(),
                              [](const auto& h) { return h.first == "content-type"; });
  if (!has_type) attrs.headers.emplace_back("content-type", "binary/octet-stream");
  attrs.parts = static_cast<uint32_t>(parts.size());
  if (all_checksums) {
    auto algorithm = ParseChecksumAlgorithmName(record.checksum_algorithm);
    if (algorithm.ok()) {
      attrs.checksum_algorithm = record.checksum_algorithm;
      attrs.checksum = fmt::format("{}-{}", Base64Encode(ComputeChecksum(*algorithm, checksums)),
                                   parts.size());
    }
  }
  auto path = SplitKey(r.key);
  auto root = BucketDir(b);
  if (!path.ok() || !root.ok()) co_return Error(r, kNoSuchUpload);
  auto dir = ns_->MakeDirs(path->parent, 0755, *root);
  if (!dir.ok()) co_return KeyWriteError(r, dir.status());
  auto uploads = UploadsDir(b, false);
  if (!uploads.ok()) co_return Error(r, kNoSuchUpload);
  estore::PutOptions options;
  options.attrs = EncodeObjectAttrs(attrs);
  std::string upload_id = r.Query("uploadId");
  uint64_t uploads_ino = *uploads;
  std::function<Status(meta::Transaction&)> remove_upload = [this, uploads_ino,
                                                             upload_id](meta::Transaction& txn) {
    std::vector<estore::Extent> spliced;  // now the object's: not displaced
    return ns_->RemoveTree(txn, uploads_ino, upload_id, &spliced);
  };
  auto written = co_await objects_->Concat(dir->ino, path->name, std::move(parts), options,
                                           std::move(remove_upload));
  if (!written.ok()) {
    if (written.status().code() == Code::kAborted) {
      co_return Error(r, {409, "OperationAborted", "A part of the upload changed while it was being completed; please try again"});
    }
    co_return KeyWriteError(r, written.status());
  }
  xml::XmlWriter w;
  w.Open("CompleteMultipartUploadResult", {{"xmlns", xml::kS3Namespace}});
  w.Element("Location", fmt::format("/{}/{}", b.name, UriEncode(r.key, SlashEncoding::kKeep)));
  w.Element("Bucket", b.name);
  w.Element("Key", r.key);
  w.Element("ETag", "\"" + attrs.etag + "\"");
  if (!attrs.checksum.empty()) {
    auto algorithm = ParseChecksumAlgorithmName(attrs.checksum_algorithm);
    if (algorithm.ok()) {
      w.Element(fmt::format("Checksum{}", ChecksumAlgorithmName(*algorithm)), attrs.checksum);
    }
    w.Element("ChecksumType", "COMPOSITE");
  }
  w.Close();
  co_return XmlReply(200, w.Finish());
}

http::Response S3Service::AbortUpload(S3Request& r, const Bucket& b) {
  auto upload = FindUpload(b, r.Query("uploadId"));
  if (!upload.ok()) {
    if (upload.status().code() == Code::kNotFound) return Error(r, kNoSuchUpload);
    return ErrorFrom(r, upload.status(), "NoSuchUpload");
  }
  auto uploads = UploadsDir(b, false);
  if (!uploads.ok()) return Error(r, kNoSuchUpload);
  Status removed = objects_->RemoveTree(*uploads, r.Query("uploadId"));
  if (!removed.ok()) {
    if (removed.code() == Code::kNotFound) return Error(r, kNoSuchUpload);
    return ErrorFrom(r, removed, "NoSuchUpload");
  }
  return XmlReply(204, "");
}

http::Response S3Service::ListUploads(S3Request& r, const Bucket& b) {
  struct Entry {
    std::string key;
    std::string upload_id;
    UploadRecord record;
  };
  std::vector<Entry> entries;
  auto uploads = UploadsDir(b, false);
  if (uploads.ok()) {
    auto page = ns_->ReadDir(*uploads, "", estore::kReadDirMax);
    if (!page.ok()) return ErrorFrom(r, page.status(), "NoSuchBucket");
    for (const estore::DirEntry& e : page->entries) {
      auto raw = ns_->GetObjectAttrs(e.ino);
      if (!raw.ok() || !*raw) continue;
      auto record = DecodeUploadRecord(**raw);
      if (record.ok()) entries.push_back(Entry{record->key, e.name, std::move(record).value()});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& c) {
    return std::tie(a.key, a.record.initiated_us, a.upload_id) <
           std::tie(c.key, c.record.initiated_us, c.upload_id);
  });
  std::string prefix = r.Query("prefix");
  std::string delimiter = r.Query("delimiter");
  std::string key_marker = r.Query("key-marker");
  std::string id_marker = r.Query("upload-id-marker");
  int max_uploads = std::clamp(ParseInt(r.Query("max-uploads")).value_or(1000), 0, 1000);
  xml::XmlWriter w;
  w.Open("ListMultipartUploadsResult", {{"xmlns", xml::kS3Namespace}});
  w.Element("Bucket", b.name);
  w.Element("KeyMarker", key_marker);
  w.Element("UploadIdMarker", id_marker);
  w.Element("Prefix", prefix);
  if (!delimiter.empty()) w.Element("Delimiter", delimiter);
  w.UintElement("MaxUploads", static_cast<uint64_t>(max_uploads));
  std::vector<const Entry*> selected;
  std::vector<std::string> prefixes;
  bool truncated = false;
  auto full = [&] { return selected.size() + prefixes.size() == static_cast<size_t>(max_uploads); };
  for (const Entry& e : entries) {
    if (!e.key.starts_with(prefix)) continue;
    if (!key_marker.empty() &&
        (e.key < key_marker || (e.key == key_marker && (id_marker.empty() || e.upload_id <= id_marker)))) {
      continue;
    }
    size_t pos = delimiter.empty() ? std::string::npos : e.key.find(delimiter, prefix.size());
    if (pos != std::string::npos) {
      std::string common = e.key.substr(0, pos + delimiter.size());
      if (!prefixes.empty() && prefixes.back() == common) continue;
      if (full()) {
        truncated = true;
        break;
      }
      prefixes.push_back(std::move(common));
      continue;
    }
    if (full()) {
      truncated = true;
      break;
    }
    selected.push_back(&e);
  }
  if (truncated && !selected.empty()) {
    w.Element("NextKeyMarker", selected.back()->key);
    w.Element("NextUploadIdMarker", selected.back()->upload_id);
  }
  w.BoolElement("IsTruncated", truncated);
  for (const Entry* e : selected) {
    w.Open("Upload");
    w.Element("Key", e->key);
    w.Element("UploadId", e->upload_id);
    for (const char* who : {"Initiator", "Owner"}) {
      w.Open(who);
      w.Element("ID", e->record.owner);
      w.Element("DisplayName", e->record.owner);
      w.Close();
    }
    w.Element("StorageClass", "STANDARD");
    w.Element("Initiated", IsoTime(e->record.initiated_us));
    w.Close();
  }
  for (const std::string& p : prefixes) {
    w.Open("CommonPrefixes");
    w.Element("Prefix", p);
    w.Close();
  }
  w.Close();
  return XmlReply(200, w.Finish());
}

}  // namespace dase::s3
