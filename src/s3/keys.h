// How an S3 object key maps to a path under its bucket's directory (docs/s3.md): "a/b/c" is
// file "c" in directory "a/b"; "a/b/" is the directory "a/b" itself, an object only while it
// carries a marker. Every component must be a valid element-store name: keys with an empty
// component ("a//b", "/a"), "." or "..", a NUL, or a component over 255 bytes are refused.
// Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "s3/service.h"

namespace dase::s3 {

struct KeyPath {
  std::string parent;  // "a/b" ("" for the bucket's directory)
  std::string name;    // "c"; for a marker the directory's own name
  bool marker = false;

  std::string Full() const { return parent.empty() ? name : parent + "/" + name; }
  // "a", "a/b", ... every directory on the way to the object (for a marker, its own too).
  std::vector<std::string> Directories() const;
};

Result<KeyPath> SplitKey(std::string_view key);
// The S3 error for a key that cannot be stored, if it cannot.
std::optional<S3Error> CheckKey(std::string_view key);

}  // namespace dase::s3
