// ObjectAttrs: what S3 keeps with an object beyond its bytes (ETag, content headers, user
// metadata, checksum, part count), stored as the element store's object attributes of the file
// (estore::Namespace::PutObjectAttrs) in the transaction that commits the content. Also the
// records of multipart uploads in progress (UploadRecord) and of their parts (PartRecord),
// which live as attributes of the upload's directory and part files.
//
// Encodings are versioned (docs/formats/s3.md). Value types; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace dase::s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ObjectAttrs {
  std::string etag;  // without quotes: hex MD5, or "<hex>-<parts>" for multipart objects
  // Returned as they were stored: content-type, content-encoding, content-disposition,
  // content-language, cache-control, expires and x-amz-meta-* (names lower-case).
  HeaderList headers;
  std::string checksum_algorithm;  // "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" or empty
  std::string checksum;            // base64; for multipart objects "<base64>-<parts>"
  uint32_t parts = 0;              // parts of a multipart object, else 0
  bool marker = false;             // a directory marker object ("a/b/")
};

std::string EncodeObjectAttrs(const ObjectAttrs& attrs);
Result<ObjectAttrs> DecodeObjectAttrs(std::string_view bytes);

// A multipart upload in progress: the attributes of its directory.
struct UploadRecord {
  std::string bucket;
  std::string key;
  std::string owner;  // access key's user who started it
  int64_t initiated_us = 0;
  HeaderList headers;  // for the object, as with ObjectAttrs
  std::string checksum_algorithm;
};

std::string EncodeUploadRecord(const UploadRecord& record);
Result<UploadRecord> DecodeUploadRecord(std::string_view bytes);

// One uploaded part: the attributes of its file.
struct PartRecord {
  std::string etag;      // hex MD5 of the part
  std::string checksum;  // base64 of the upload's checksum algorithm, or empty
  int64_t uploaded_us = 0;
};

std::string EncodePartRecord(const PartRecord& record);
Result<PartRecord> DecodePartRecord(std::string_view bytes);

}  // namespace dase::s3
