#include "env/mem_env.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dase::env {
namespace {

// Lexically normalized components: "" and "." vanish, ".." drops the previous component (and
// stays at "/" above the root). Exact here because there are no symlinks.
std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + begin, end - begin);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    begin = end + 1;
  }
  return parts;
}

}  // namespace

std::string_view EnvOpName(EnvOp op) {
  switch (op) {
    case EnvOp::kRead: return "read";
    case EnvOp::kWrite: return "write";
    case EnvOp::kTruncate: return "truncate";
    case EnvOp::kSync: return "sync";
    case EnvOp::kSyncDir: return "syncdir";
    case EnvOp::kOpen: return "open";
    case EnvOp::kCreateDir: return "createdir";
    case EnvOp::kRemove: return "remove";
    case EnvOp::kRename: return "rename";
    case EnvOp::kStat: return "stat";
    case EnvOp::kListDir: return "listdir";
    case EnvOp::kLock: return "lock";
  }
  return "unknown";
}

class MemEnv::MemFile final : public File {
 public:
  MemFile(MemEnv* env, std::string path, NodePtr node, bool writable)
      : env_(env), path_(std::move(path)), node_(std::move(node)), writable_(writable),
        epoch_(env->epoch_) {}

  Result<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    std::string what = "read " + path_;
    RETURN_IF_ERROR(BeginLocked(EnvOp::kRead, what));
    if (node_->is_dir) return ErrnoStatus(what, EISDIR);
    const std::string& data = node_->data;
    if (offset >= data.size()) return size_t{0};
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), data.size() - offset));
    std::memcpy(out.data(), data.data() + offset, n);
    return n;
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    std::string what = "write " + path_;
    RETURN_IF_ERROR(BeginLocked(EnvOp::kWrite, what));
    if (!writable_) return ErrnoStatus(what, EBADF);
    return env_->WriteLocked(node_, offset, data, what);
  }

  Status Sync() override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    std::string what = "fdatasync " + path_;
    RETURN_IF_ERROR(CheckEpochLocked(what));
    return env_->SyncFileLocked(node_).WithContext(what);
  }

  Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    std::string what = "truncate " + path_;
    RETURN_IF_ERROR(BeginLocked(EnvOp::kTruncate, what));
    if (!writable_) return ErrnoStatus(what, EINVAL);  // ftruncate on a read-only fd
    return env_->TruncateLocked(node_, size, what);
  }

  Result<uint64_t> Size() override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    RETURN_IF_ERROR(BeginLocked(EnvOp::kStat, "stat " + path_));
    return node_->is_dir ? uint64_t{0} : uint64_t{node_->data.size()};
  }

 private:
  Status CheckEpochLocked(const std::string& what) const {
    if (epoch_ != env_->epoch_) return IOError(what + ": handle died in a power cut");
    return Status::Ok();
  }
  Status BeginLocked(EnvOp op, const std::string& what) const {
    RETURN_IF_ERROR(CheckEpochLocked(what));
    return env_->BeforeOp(op).WithContext(what);
  }

  MemEnv* const env_;
  const std::string path_;
  const NodePtr node_;
  const bool writable_;
  const uint64_t epoch_;
};

class MemEnv::MemLock final : public FileLock {
 public:
  MemLock(MemEnv* env, NodePtr node) : env_(env), node_(std::move(node)), epoch_(env->epoch_) {}
  ~MemLock() override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    // After a power cut the lock table was reset; the node may be locked again by now.
    if (epoch_ == env_->epoch_) env_->locked_.erase(node_.get());
  }

 private:
  MemEnv* const env_;
  const NodePtr node_;
  const uint64_t epoch_;
};

MemEnv::MemEnv(uint64_t seed, TimeSource time_source)
    : root_(std::make_shared<Node>()), time_source_(time_source), rng_(seed) {
  root_->is_dir = true;
  root_->mode = 0755;
}

MemEnv::~MemEnv() = default;

void MemEnv::ApplyEntrySets(Entries& entries, std::span<const EntrySet> sets) {
  for (const EntrySet& set : sets) {
    if (set.node != nullptr) {
      entries[set.name] = set.node;
    } else {
      entries.erase(set.name);
    }
  }
}

void MemEnv::WriteBytes(std::string& data, uint64_t offset, std::string_view bytes) {
  if (bytes.empty()) return;
  if (data.size() < offset + bytes.size()) data.resize(offset + bytes.size(), '\0');
  std::memcpy(data.data() + offset, bytes.data(), bytes.size());
}

Status MemEnv::BeforeOp(EnvOp) { return Status::Ok(); }
Status MemEnv::BeforeWrite(const NodePtr&, uint64_t, std::string_view) { return Status::Ok(); }
Status MemEnv::BeforeTruncate(const NodePtr&, uint64_t) { return Status::Ok(); }
void MemEnv::BeforeEntryChange(const NodePtr&, std::span<const EntrySet>) {}
Status MemEnv::SyncFileLocked(const NodePtr&) { return BeforeOp(EnvOp::kSync); }
Status MemEnv::SyncDirLocked(const NodePtr&) { return Status::Ok(); }

Result<MemEnv::NodePtr> MemEnv::LookupLocked(const std::string& path, const std::string& what) {
  if (path.empty()) return ErrnoStatus(what, ENOENT);
  NodePtr node = root_;
  for (const std::string& part : SplitPath(path)) {
    if (!node->is_dir) return ErrnoStatus(what, ENOTDIR);
    auto it = node->entries.find(part);
    if (it == node->entries.end()) return ErrnoStatus(what, ENOENT);
    node = it->second;
  }
  return node;
}

Result<MemEnv::Parent> MemEnv::LookupParentLocked(const std::string& path,
                                                  const std::string& what) {
  if (path.empty()) return ErrnoStatus(what, ENOENT);
  std::vector<std::string> parts = SplitPath(path);
  if (parts.empty()) return Parent{root_, ""};
  NodePtr dir = root_;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto it = dir->entries.find(parts[i]);
    if (it == dir->entries.end()) return ErrnoStatus(what, ENOENT);
    dir = it->second;
    if (!dir->is_dir) return ErrnoStatus(what, ENOTDIR);
  }
  return Parent{std::move(dir), std::move(parts.back())};
}

Result<MemEnv::NodePtr> MemEnv::FindOrCreateLocked(const Parent& parent, bool create,
                                                   uint32_t mode, const std::string& what) {
  if (parent.name.empty()) return root_;
  auto it = parent.dir->entries.find(parent.name);
  if (it != parent.dir->entries.end()) return it->second;
  if (!create) return ErrnoStatus(what, ENOENT);
  auto node = std::make_shared<Node>();
  node->mode = mode & 07777;
  SetEntryLocked(parent.dir, parent.name, node);
  return node;
}

void MemEnv::SetEntryLocked(const NodePtr& dir, const std::string& name, NodePtr node) {
  const EntrySet set{name, std::move(node)};
  BeforeEntryChange(dir, std::span<const EntrySet>(&set, 1));
  ApplyEntrySets(dir->entries, std::span<const EntrySet>(&set, 1));
}

// The checks rename(2) makes once both names are resolved, in the order Linux makes them.
Status MemEnv::CheckRename(const std::string& from, const std::string& to, const NodePtr& node,
                           const NodePtr& target, const std::string& what) {
  if (node->is_dir) {
    std::vector<std::string> f = SplitPath(from), t = SplitPath(to);
    if (t.size() > f.size() && std::equal(f.begin(), f.end(), t.begin())) {
      return ErrnoStatus(what, EINVAL);  // a directory cannot move into itself
    }
  }
  if (target == nullptr) return Status::Ok();
  if (node->is_dir && !target->is_dir) return ErrnoStatus(what, ENOTDIR);
  if (!node->is_dir && target->is_dir) return ErrnoStatus(what, EISDIR);
  if (target->is_dir && !target->entries.empty()) return ErrnoStatus(what, ENOTEMPTY);
  return Status::Ok();
}

Status MemEnv::WriteLocked(const NodePtr& file, uint64_t offset, std::string_view data,
                           const std::string& what) {
  if (offset > kMaxFileBytes || data.size() > kMaxFileBytes - offset) {
    return ErrnoStatus(what, EFBIG);
  }
  if (data.empty()) return Status::Ok();  // pwrite of nothing changes nothing, not even size
  RETURN_IF_ERROR(BeforeWrite(file, offset, data).WithContext(what));
  WriteBytes(file->data, offset, data);
  return Status::Ok();
}

Status MemEnv::TruncateLocked(const NodePtr& file, uint64_t size, const std::string& what) {
  if (size > kMaxFileBytes) return ErrnoStatus(what, EFBIG);
  if (size == file->data.size()) return Status::Ok();
  RETURN_IF_ERROR(BeforeTruncate(file, size).WithContext(what));
  file->data.resize(size, '\0');
  return Status::Ok();
}

Result<std::unique_ptr<File>> MemEnv::Open(const std::string& path, OpenMode open_mode,
                                           uint32_t mode) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "open " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kOpen).WithContext(what));
  ASSIGN_OR_RETURN(Parent parent, LookupParentLocked(path, what));
  auto it = parent.dir->entries.find(parent.name);
  bool exists = parent.name.empty() || it != parent.dir->entries.end();
  bool is_dir = parent.name.empty() || (it != parent.dir->entries.end() && it->second->is_dir);
  if (open_mode == OpenMode::kCreateExclusive && exists) return ErrnoStatus(what, EEXIST);
  bool writable = open_mode != OpenMode::kRead;
  // Like open(2): a directory opens for reading only (and then fails to read).
  if (writable && is_dir) return ErrnoStatus(what, EISDIR);
  bool create = open_mode == OpenMode::kCreate || open_mode == OpenMode::kCreateExclusive ||
                open_mode == OpenMode::kTruncate;
  ASSIGN_OR_RETURN(NodePtr node, FindOrCreateLocked(parent, create, mode, what));
  if (open_mode == OpenMode::kTruncate) RETURN_IF_ERROR(TruncateLocked(node, 0, what));
  return std::unique_ptr<File>(new MemFile(this, path, std::move(node), writable));
}

Status MemEnv::CreateDir(const std::string& path, uint32_t mode) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "mkdir " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kCreateDir).WithContext(what));
  ASSIGN_OR_RETURN(Parent parent, LookupParentLocked(path, what));
  if (parent.name.empty() || parent.dir->entries.contains(parent.name)) {
    return ErrnoStatus(what, EEXIST);
  }
  auto node = std::make_shared<Node>();
  node->is_dir = true;
  node->mode = mode & 07777;
  SetEntryLocked(parent.dir, parent.name, std::move(node));
  return Status::Ok();
}

Status MemEnv::RemoveFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "unlink " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kRemove).WithContext(what));
  ASSIGN_OR_RETURN(Parent parent, LookupParentLocked(path, what));
  ASSIGN_OR_RETURN(NodePtr node, FindOrCreateLocked(parent, false, 0, what));
  if (node->is_dir) return ErrnoStatus(what, EISDIR);
  SetEntryLocked(parent.dir, parent.name, nullptr);
  return Status::Ok();
}

Status MemEnv::RemoveDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "rmdir " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kRemove).WithContext(what));
  ASSIGN_OR_RETURN(Parent parent, LookupParentLocked(path, what));
  if (parent.name.empty()) return ErrnoStatus(what, EBUSY);
  ASSIGN_OR_RETURN(NodePtr node, FindOrCreateLocked(parent, false, 0, what));
  if (!node->is_dir) return ErrnoStatus(what, ENOTDIR);
  if (!node->entries.empty()) return ErrnoStatus(what, ENOTEMPTY);
  SetEntryLocked(parent.dir, parent.name, nullptr);
  return Status::Ok();
}

Status MemEnv::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "rename " + from + " to " + to;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kRename).WithContext(what));
  ASSIGN_OR_RETURN(Parent src, LookupParentLocked(from, what));
  ASSIGN_OR_RETURN(Parent dst, LookupParentLocked(to, what));
  if (src.name.empty() || dst.name.empty()) return ErrnoStatus(what, EBUSY);
  ASSIGN_OR_RETURN(NodePtr node, FindOrCreateLocked(src, false, 0, what));
  auto it = dst.dir->entries.find(dst.name);
  NodePtr target = it == dst.dir->entries.end() ? nullptr : it->second;
  if (target == node) return Status::Ok();  // both names already refer to the same file
  RETURN_IF_ERROR(CheckRename(from, to, node, target, what));
  if (src.dir == dst.dir) {
    // One change, so a power cut keeps the rename whole: both names or neither.
    const EntrySet sets[] = {{dst.name, node}, {src.name, nullptr}};
    BeforeEntryChange(src.dir, sets);
    ApplyEntrySets(src.dir->entries, sets);
  } else {
    SetEntryLocked(dst.dir, dst.name, node);
    SetEntryLocked(src.dir, src.name, nullptr);
  }
  return Status::Ok();
}

Status MemEnv::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "open dir " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kSyncDir).WithContext("fsync dir " + path));
  ASSIGN_OR_RETURN(NodePtr dir, LookupLocked(path, what));
  if (!dir->is_dir) return ErrnoStatus(what, ENOTDIR);
  return SyncDirLocked(dir).WithContext("fsync dir " + path);
}

Result<FileInfo> MemEnv::Stat(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "stat " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kStat).WithContext(what));
  ASSIGN_OR_RETURN(NodePtr node, LookupLocked(path, what));
  return FileInfo{node->is_dir ? 0 : node->data.size(), node->is_dir, node->mode};
}

Result<std::vector<std::string>> MemEnv::ListDir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "opendir " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kListDir).WithContext(what));
  ASSIGN_OR_RETURN(NodePtr dir, LookupLocked(path, what));
  if (!dir->is_dir) return ErrnoStatus(what, ENOTDIR);
  std::vector<std::string> names;
  names.reserve(dir->entries.size());
  for (const auto& [name, node] : dir->entries) names.push_back(name);
  return names;
}

Result<std::unique_ptr<FileLock>> MemEnv::LockFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string what = "open lock " + path;
  RETURN_IF_ERROR(BeforeOp(EnvOp::kLock).WithContext(what));
  ASSIGN_OR_RETURN(Parent parent, LookupParentLocked(path, what));
  auto it = parent.dir->entries.find(parent.name);
  if (parent.name.empty() || (it != parent.dir->entries.end() && it->second->is_dir)) {
    return ErrnoStatus(what, EISDIR);
  }
  ASSIGN_OR_RETURN(NodePtr node, FindOrCreateLocked(parent, true, 0644, what));
  if (!locked_.insert(node.get()).second) {
    return FailedPrecondition(path + " is locked by another process");
  }
  return std::unique_ptr<FileLock>(new MemLock(this, std::move(node)));
}

int64_t MemEnv::NowMicros() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t base = time_source_ == TimeSource::kReal ? Env::Default()->NowMicros()
                                                   : kStartWallMicros;
  return base + clock_offset_micros_;
}

int64_t MemEnv::MonotonicMicros() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t base = time_source_ == TimeSource::kReal ? Env::Default()->MonotonicMicros()
                                                   : kStartMonotonicMicros;
  return base + clock_offset_micros_;
}

void MemEnv::AdvanceMicros(int64_t micros) {
  CHECK(micros >= 0) << "time never runs backwards: " << micros;
  std::lock_guard<std::mutex> lock(mu_);
  clock_offset_micros_ += micros;
}

void MemEnv::RandomBytes(std::span<char> out) {
  if (time_source_ == TimeSource::kReal) {
    Env::Default()->RandomBytes(out);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < out.size(); i += 8) {
    uint64_t word = rng_();
    std::memcpy(out.data() + i, &word, std::min<size_t>(8, out.size() - i));
  }
}

}  // namespace dase::env
