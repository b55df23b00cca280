#include "s3/keys.h"

#include "estore/records.h"

namespace dase::s3 {

std::vector<std::string> KeyPath::Directories() const {
  std::vector<std::string> dirs;
  std::string path = marker ? Full() : parent;
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    dirs.push_back(path.substr(0, slash));
  }
  if (!path.empty()) dirs.push_back(path);
  return dirs;
}

Result<KeyPath> SplitKey(std::string_view key) {
  if (key.empty()) return InvalidArgument("empty key");
  if (key.size() > kKeyBytesMax) return InvalidArgument("key longer than 1024 bytes");
  KeyPath out;
  out.marker = key.back() == '/';
  if (out.marker) key.remove_suffix(1);
  size_t slash = key.rfind('/');
  out.name = std::string(slash == std::string_view::npos ? key : key.substr(slash + 1));
  out.parent = std::string(slash == std::string_view::npos ? "" : key.substr(0, slash));
  for (std::string_view rest = key; true;) {
    size_t next = rest.find('/');
    RETURN_IF_ERROR(estore::ValidateName(rest.substr(0, next)));
    if (next == std::string_view::npos) break;
    rest.remove_prefix(next + 1);
  }
  return out;
}

std::optional<S3Error> CheckKey(std::string_view key) {
  auto path = SplitKey(key);
  if (path.ok()) return std::nullopt;
  return S3Error{400, "InvalidArgument",
                 "Object key cannot be stored: " + std::string(path.status().message()) +
                     " (keys map to paths: no empty, '.' or '..' components, no NUL, components "
                     "of at most 255 bytes)"};
}

}  // namespace dase::s3
