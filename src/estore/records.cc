#include "estore/records.h"

#include "common/coding.h"

namespace dase::estore {
namespace {
constexpr uint8_t kFormatVersion = 1;

Status CheckVersion(Reader& r, const char* what) {
  ASSIGN_OR_RETURN(uint8_t version, r.GetU8());
  if (version != kFormatVersion) {
    return Corruption(std::string(what) + " has unknown format version " + std::to_string(version));
  }
  return Status::Ok();
}

Result<FileType> TypeFrom(uint8_t raw) {
  if (raw == static_cast<uint8_t>(FileType::kFile)) return FileType::kFile;
  if (raw == static_cast<uint8_t>(FileType::kDirectory)) return FileType::kDirectory;
  return Corruption("unknown file type " + std::to_string(raw));
}
}  // namespace

std::string EncodeInode(const Inode& inode) {
  Writer w;
  w.PutU8(kFormatVersion);
  w.PutVarint64(inode.ino);
  w.PutU8(static_cast<uint8_t>(inode.type));
  w.PutVarint64(inode.mode);
  w.PutVarint64(inode.uid);
  w.PutVarint64(inode.gid);
  w.PutVarint64(inode.nlink);
  w.PutVarint64(inode.size);
  w.PutU64(static_cast<uint64_t>(inode.mtime_us));
  w.PutU64(static_cast<uint64_t>(inode.ctime_us));
  w.PutVarint64(inode.parent);
  w.PutVarint64(inode.change);
  return std::move(w).Release();
}

Result<Inode> DecodeInode(std::string_view bytes) {
  Reader r(bytes);
  RETURN_IF_ERROR(CheckVersion(r, "inode"));
  Inode i;
  ASSIGN_OR_RETURN(i.ino, r.GetVarint64());
  ASSIGN_OR_RETURN(uint8_t type, r.GetU8());
  ASSIGN_OR_RETURN(i.type, TypeFrom(type));
  ASSIGN_OR_RETURN(uint64_t mode, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t uid, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t gid, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t nlink, r.GetVarint64());
  i.mode = static_cast<uint32_t>(mode);
  i.uid = static_cast<uint32_t>(uid);
  i.gid = static_cast<uint32_t>(gid);
  i.nlink = static_cast<uint32_t>(nlink);
  ASSIGN_OR_RETURN(i.size, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t mtime, r.GetU64());
  ASSIGN_OR_RETURN(uint64_t ctime, r.GetU64());
  i.mtime_us = static_cast<int64_t>(mtime);
  i.ctime_us = static_cast<int64_t>(ctime);
  ASSIGN_OR_RETURN(i.parent, r.GetVarint64());
  ASSIGN_OR_RETURN(i.change, r.GetVarint64());
  RETURN_IF_ERROR(r.ExpectEnd());
  return i;
}

std::string EncodeDirEntry(const DirEntry& entry) {
  Writer w;
  w.PutU8(kFormatVersion);
  w.PutVarint64(entry.ino);
  w.PutU8(static_cast<uint8_t>(entry.type));
  return std::move(w).Release();
}

Result<DirEntry> DecodeDirEntry(std::string_view name, std::string_view bytes) {
  Reader r(bytes);
  RETURN_IF_ERROR(CheckVersion(r, "directory entry"));
  DirEntry e;
  e.name = std::string(name);
  ASSIGN_OR_RETURN(e.ino, r.GetVarint64());
  ASSIGN_OR_RETURN(uint8_t type, r.GetU8());
  ASSIGN_OR_RETURN(e.type, TypeFrom(type));
  RETURN_IF_ERROR(r.ExpectEnd());
  return e;
}

std::string EncodeExtent(const Extent& extent) {
  Writer w;
  w.PutU8(kFormatVersion);
  w.PutVarint64(extent.length);
  w.PutString(extent.location);
  w.PutVarint64(extent.location_offset);
  return std::move(w).Release();
}

Result<Extent> DecodeExtent(uint64_t offset, std::string_view bytes) {
  Reader r(bytes);
  RETURN_IF_ERROR(CheckVersion(r, "extent"));
  Extent e;
  e.offset = offset;
  ASSIGN_OR_RETURN(e.length, r.GetVarint64());
  ASSIGN_OR_RETURN(e.location, r.GetString(kLocationBytesMax));
  ASSIGN_OR_RETURN(e.location_offset, r.GetVarint64());
  RETURN_IF_ERROR(r.ExpectEnd());
  if (e.length == 0) return Corruption("empty extent");
  return e;
}

Status ValidateName(std::string_view name) {
  if (name.empty()) return InvalidArgument("empty name");
  if (name.size() > kNameBytesMax) return InvalidArgument("name longer than 255 bytes");
  if (name == "." || name == "..") return InvalidArgument("name '" + std::string(name) + "'");
  if (name.find('/') != std::string_view::npos) return InvalidArgument("name contains '/'");
  if (name.find('\0') != std::string_view::npos) return InvalidArgument("name contains NUL");
  return Status::Ok();
}

}  // namespace dase::estore
