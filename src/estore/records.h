// Element store records: inodes, directory entries and extents, and their binary encodings.
//
// Every encoding starts with a format version byte (1), so a later layout can be told apart.
// Value types; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dase::estore {

enum class FileType : uint8_t { kFile = 1, kDirectory = 2 };

inline constexpr uint64_t kRootIno = 1;
// The root of a second tree that no path from kRootIno reaches: the element store's own work
// areas (multipart uploads in progress). Inode numbers are allocated upwards from 2 and never
// get here.
inline constexpr uint64_t kSystemRootIno = 0xffff'ffff'ffff'ff00ull;
inline constexpr size_t kNameBytesMax = 255;
inline constexpr size_t kLocationBytesMax = 256;

struct Inode {
  uint64_t ino = 0;
  FileType type = FileType::kFile;
  uint32_t mode = 0644;  // permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
  uint64_t size = 0;
  int64_t mtime_us = 0;
  int64_t ctime_us = 0;
  uint64_t parent = 0;  // directories only: the directory holding it (root: itself)
  uint64_t change = 0;  // bumped on every change: NFS change attribute, S3 ETag helpers
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  FileType type = FileType::kFile;
};

// A run of file bytes [offset, offset + length) stored at `location` (an opaque reference the
// data layer understands: a buffer record or a stripe), starting `location_offset` bytes into
// what that reference names. Several extents may share a location after partial overwrites.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string location;
  uint64_t location_offset = 0;
};

std::string EncodeInode(const Inode& inode);
Result<Inode> DecodeInode(std::string_view bytes);
std::string EncodeDirEntry(const DirEntry& entry);  // the name is in the key, not the value
Result<DirEntry> DecodeDirEntry(std::string_view name, std::string_view bytes);
std::string EncodeExtent(const Extent& extent);     // the offset is in the key
Result<Extent> DecodeExtent(uint64_t offset, std::string_view bytes);

// Checks one path component: 1..255 bytes, no '/', no NUL, not "." or "..".
Status ValidateName(std::string_view name);

}  // namespace dase::estore
