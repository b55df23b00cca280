#include "s3/object_attrs.h"

#include "common/coding.h"

namespace dase::s3 {
namespace {

constexpr uint8_t kObjectVersion = 1;
constexpr uint8_t kUploadVersion = 1;
constexpr uint8_t kPartVersion = 1;
constexpr size_t kHeadersMax = 256;
constexpr size_t kStringMax = 8192;

void PutHeaders(Writer& w, const HeaderList& headers) {
  w.PutVarint64(headers.size());
  for (const auto& [name, value] : headers) {
    w.PutString(name);
    w.PutString(value);
  }
}

Result<HeaderList> GetHeaders(Reader& r) {
  ASSIGN_OR_RETURN(uint64_t count, r.GetVarint64());
  if (count > kHeadersMax) return Corruption("too many stored headers");
  HeaderList headers;
  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(std::string name, r.GetString(kStringMax));
    ASSIGN_OR_RETURN(std::string value, r.GetString(kStringMax));
    headers.emplace_back(std::move(name), std::move(value));
  }
  return headers;
}

Status ExpectVersion(Reader& r, uint8_t version, std::string_view what) {
  ASSIGN_OR_RETURN(uint8_t v, r.GetU8());
  if (v != version) return Corruption(std::string(what) + " of unknown version");
  return Status::Ok();
}

}  // namespace

std::string EncodeObjectAttrs(const ObjectAttrs& attrs) {
  Writer w;
  w.PutU8(kObjectVersion);
  w.PutString(attrs.etag);
  PutHeaders(w, attrs.headers);
  w.PutString(attrs.checksum_algorithm);
  w.PutString(attrs.checksum);
  w.PutVarint64(attrs.parts);
  w.PutU8(attrs.marker ? 1 : 0);
  return std::move(w).Release();
}

Result<ObjectAttrs> DecodeObjectAttrs(std::string_view bytes) {
  Reader r(bytes);
  RETURN_IF_ERROR(ExpectVersion(r, kObjectVersion, "object attributes"));
  ObjectAttrs a;
  ASSIGN_OR_RETURN(a.etag, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(a.headers, GetHeaders(r));
  ASSIGN_OR_RETURN(a.checksum_algorithm, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(a.checksum, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(uint64_t parts, r.GetVarint64());
  if (parts > 10000) return Corruption("part count out of range");
  a.parts = static_cast<uint32_t>(parts);
  ASSIGN_OR_RETURN(uint8_t marker, r.GetU8());
  a.marker = marker != 0;
  RETURN_IF_ERROR(r.ExpectEnd());
  return a;
}

std::string EncodeUploadRecord(const UploadRecord& record) {
  Writer w;
  w.PutU8(kUploadVersion);
  w.PutString(record.bucket);
  w.PutString(record.key);
  w.PutString(record.owner);
  w.PutU64(static_cast<uint64_t>(record.initiated_us));
  PutHeaders(w, record.headers);
  w.PutString(record.checksum_algorithm);
  return std::move(w).Release();
}

Result<UploadRecord> DecodeUploadRecord(std::string_view bytes) {
  Reader r(bytes);
  RETURN_IF_ERROR(ExpectVersion(r, kUploadVersion, "upload record"));
  UploadRecord u;
  ASSIGN_OR_RETURN(u.bucket, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(u.key, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(u.owner, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(uint64_t initiated, r.GetU64());
  u.initiated_us = static_cast<int64_t>(initiated);
  ASSIGN_OR_RETURN(u.headers, GetHeaders(r));
  ASSIGN_OR_RETURN(u.checksum_algorithm, r.GetString(kStringMax));
  RETURN_IF_ERROR(r.ExpectEnd());
  return u;
}

std::string EncodePartRecord(const PartRecord& record) {
  Writer w;
  w.PutU8(kPartVersion);
  w.PutString(record.etag);
  w.PutString(record.checksum);
  w.PutU64(static_cast<uint64_t>(record.uploaded_us));
  return std::move(w).Release();
}

Result<PartRecord> DecodePartRecord(std::string_view bytes) {
  Reader r(bytes);
  RETURN_IF_ERROR(ExpectVersion(r, kPartVersion, "part record"));
  PartRecord p;
  ASSIGN_OR_RETURN(p.etag, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(p.checksum, r.GetString(kStringMax));
  ASSIGN_OR_RETURN(uint64_t uploaded, r.GetU64());
  p.uploaded_us = static_cast<int64_t>(uploaded);
  RETURN_IF_ERROR(r.ExpectEnd());
  return p;
}

}  // namespace dase::s3
