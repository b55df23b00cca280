#include <string>

#include "env/env.h"

namespace dase::env {

Result<size_t> File::ReadAtWithoutWaiting(uint64_t, std::span<char>) {
  return Unavailable("this file cannot tell whether a read would wait");
}

Result<std::string> ReadFile(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(auto file, env->Open(path, OpenMode::kRead));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string data(size, '\0');
  ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, std::span<char>(data.data(), data.size())));
  data.resize(n);
  return data;
}

static std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data, uint32_t mode) {
  std::string tmp = path + ".tmp";
  // A leftover temp file from a crash would keep its old mode through O_TRUNC.
  if (Status s = env->RemoveFile(tmp); !s.ok() && s.code() != Code::kNotFound) return s;
  {
    ASSIGN_OR_RETURN(auto file, env->Open(tmp, OpenMode::kTruncate, mode));
    RETURN_IF_ERROR(file->WriteAt(0, data));
    RETURN_IF_ERROR(file->Sync());
  }
  RETURN_IF_ERROR(env->Rename(tmp, path));
  return env->SyncDir(DirName(path));
}

Status CreateDirs(Env* env, const std::string& path, uint32_t mode) {
  if (path.empty()) return InvalidArgument("empty directory path");
  auto info = env->Stat(path);
  if (info.ok()) {
    if (!info->is_dir) return InvalidArgument(path + " exists and is not a directory");
    return Status::Ok();
  }
  std::string parent = DirName(path);
  if (parent != path) RETURN_IF_ERROR(CreateDirs(env, parent, mode));
  Status s = env->CreateDir(path, mode);
  if (s.code() == Code::kAlreadyExists) return Status::Ok();  // lost a race: fine
  return s;
}

bool Exists(Env* env, const std::string& path) { return env->Stat(path).ok(); }

std::string RandomString(Env* env, size_t bytes) {
  std::string raw(bytes, '\0');
  env->RandomBytes(std::span<char>(raw.data(), raw.size()));
  return raw;
}

std::string RandomHex(Env* env, size_t bytes) {
  std::string raw = RandomString(env, bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace dase::env
