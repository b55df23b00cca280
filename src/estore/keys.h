// Metadata keys of the element store (docs/formats/estore.md).
//
// Numbers are big-endian so byte order is numeric order:
//   e/i/<ino:8>                 inode record
//   e/d/<dir ino:8>/<name>      directory entry → child inode number and type
//   e/x/<ino:8><offset:8>       extent starting at that file offset
//   e/a/<ino:8>                 object attributes of a file or directory (opaque to the namespace)
//   e/n                         next unallocated inode number
// and of the data layer (docs/formats/stripes.md, docs/formats/estore.md):
//   s/n                         next stripe number
//   s/r/<stripe:8>              stripe record
//   s/m/<stripe:8><ino:8><offset:8>  stripe member: a file range whose data is in the stripe
//   s/h/<dnode>/<drive:8>       high-water mark of chunk slots handed out on an SSD drive
//   s/f/<dnode>/<drive:8>/<offset:8>  a freed chunk slot
//   b/q/<cnode>/<seq:8>         buffer index: a committed chunk in the write buffer
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dnode/format.h"
#include "ec/geometry.h"

namespace dase::estore {

inline void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  return v;
}

inline constexpr char kNextInodeKey[] = "e/n";

inline std::string InodeKey(uint64_t ino) {
  std::string k = "e/i/";
  AppendBigEndian64(&k, ino);
  return k;
}

inline std::string DirPrefix(uint64_t dir) {
  std::string k = "e/d/";
  AppendBigEndian64(&k, dir);
  k.push_back('/');
  return k;
}

inline std::string DirEntryKey(uint64_t dir, std::string_view name) {
  std::string k = DirPrefix(dir);
  k.append(name);
  return k;
}

inline std::string ExtentPrefix(uint64_t ino) {
  std::string k = "e/x/";
  AppendBigEndian64(&k, ino);
  return k;
}

inline std::string ExtentKey(uint64_t ino, uint64_t offset) {
  std::string k = ExtentPrefix(ino);
  AppendBigEndian64(&k, offset);
  return k;
}

inline std::string ObjectAttrsKey(uint64_t ino) {
  std::string k = "e/a/";
  AppendBigEndian64(&k, ino);
  return k;
}

inline constexpr char kNextStripeKey[] = "s/n";
inline constexpr char kStripePrefix[] = "s/r/";
inline constexpr char kHighWaterPrefix[] = "s/h/";
inline constexpr char kFreeSlotPrefix[] = "s/f/";
inline constexpr char kBufferIndexPrefix[] = "b/q/";

// Every stripe chunk takes one slot of this size on its drive, whatever its length, so that
// free slots are interchangeable.
inline const uint64_t kSlotBytes = dnode::BlockFootprint(ec::kChunkBytesDefault);

inline std::string StripeKey(uint64_t number) {
  std::string k = kStripePrefix;
  AppendBigEndian64(&k, number);
  return k;
}

inline std::string MemberPrefix(uint64_t number) {
  std::string k = "s/m/";
  AppendBigEndian64(&k, number);
  return k;
}

inline std::string MemberKey(uint64_t number, uint64_t ino, uint64_t file_offset) {
  std::string k = MemberPrefix(number);
  AppendBigEndian64(&k, ino);
  AppendBigEndian64(&k, file_offset);
  return k;
}

// "<dnode>/<drive:8>": the part of s/h and s/f keys naming one SSD drive.
inline std::string DriveKeyPart(const std::string& dnode, uint32_t drive) {
  std::string k = dnode;
  k.push_back('/');
  AppendBigEndian64(&k, drive);
  return k;
}

inline std::string HighWaterKey(const std::string& dnode, uint32_t drive) {
  return kHighWaterPrefix + DriveKeyPart(dnode, drive);
}

inline std::string FreePrefix(const std::string& dnode, uint32_t drive) {
  return kFreeSlotPrefix + DriveKeyPart(dnode, drive) + "/";
}

inline std::string BufferIndexPrefix(const std::string& cnode) {
  return kBufferIndexPrefix + cnode + "/";
}

}  // namespace dase::estore
