// Metadata keys of the element store (docs/formats/estore.md).
//
// Numbers are big-endian so byte order is numeric order:
//   e/i/<ino:8>                 inode record
//   e/d/<dir ino:8>/<name>      directory entry → child inode number and type
//   e/x/<ino:8><offset:8>       extent starting at that file offset
//   e/n                         next unallocated inode number
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace dase::estore
