#include "control/layout.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace dase::control {

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  std::vector<char> buf(4096);
  if (::getcwd(buf.data(), buf.size()) == nullptr) return path;
  std::string cwd(buf.data());
  if (path.empty() || path == ".") return cwd;
  return cwd + "/" + path;
}

std::string DefaultDataDir() {
  if (const char* dir = std::getenv("DASE_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return AbsolutePath(dir);
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.local/share/dase";
  }
  return AbsolutePath("dase-data");
}

}  // namespace dase::control
