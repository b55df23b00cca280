// MemEnv: a complete Env held in memory, with a fake clock and seeded randomness.
//
// Unit tests run components on it without touching the disk, and deterministically: wall and
// monotonic time move only through AdvanceMicros, and RandomBytes comes from a PRNG seeded at
// construction (TimeSource::kReal delegates both to Env::Default() instead).
//
// Paths form one namespace rooted at "/"; a relative path resolves against "/", and "." and
// ".." resolve lexically (with no symlinks that matches POSIX, except that "f/.." resolves even
// when f is a file). Every error carries the Code, and the message, that PosixEnv produces for
// the same call, because both are built from the same errno value. Not modelled: permission
// checks (the mode is stored and reported, never enforced), umask, hard links, directory sizes
// (always 0), and durability: everything written is at once "on disk" (FaultEnv, a subclass,
// models power loss). A file holds at most kMaxFileBytes (EFBIG beyond).
//
// Thread-safety: every method may be called from any thread; one mutex guards all state.
// Files and FileLocks must not outlive the MemEnv that made them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "env/env.h"

namespace dase::env {

// The operations of the Env and File interfaces, as FaultEnv counts and fails them.
enum class EnvOp : int {
  kRead,       // File::ReadAt
  kWrite,      // File::WriteAt
  kTruncate,   // File::Truncate
  kSync,       // File::Sync
  kSyncDir,    // Env::SyncDir
  kOpen,       // Env::Open
  kCreateDir,  // Env::CreateDir
  kRemove,     // Env::RemoveFile, Env::RemoveDir
  kRename,     // Env::Rename
  kStat,       // Env::Stat, File::Size
  kListDir,    // Env::ListDir
  kLock,       // Env::LockFile
};
inline constexpr int kEnvOpCount = 12;
std::string_view EnvOpName(EnvOp op);

enum class TimeSource {
  kFake,  // clocks move only by AdvanceMicros; RandomBytes from the seeded PRNG
  kReal,  // clocks and RandomBytes from Env::Default() (AdvanceMicros still adds an offset)
};

class MemEnv : public Env {
 public:
  // 2024-01-01T00:00:00Z: a realistic wall time, so formatted timestamps look ordinary.
  static constexpr int64_t kStartWallMicros = 1'704'067'200'000'000;
  // A machine that has been up for a while: intervals never start at zero by accident.
  static constexpr int64_t kStartMonotonicMicros = 1'000'000'000;
  static constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

  explicit MemEnv(uint64_t seed, TimeSource time_source = TimeSource::kFake);
  ~MemEnv() override;
  MemEnv(const MemEnv&) = delete;
  MemEnv& operator=(const MemEnv&) = delete;

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode open_mode,
                                     uint32_t mode = 0644) override;
  Status CreateDir(const std::string& path, uint32_t mode = 0755) override;
  Status RemoveFile(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& path) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

  int64_t NowMicros() override;
  int64_t MonotonicMicros() override;
  void RandomBytes(std::span<char> out) override;

  // Moves both clocks forward; time never runs backwards (CHECKed).
  void AdvanceMicros(int64_t micros);

 protected:
  struct Node {
    bool is_dir = false;
    uint32_t mode = 0;
    std::string data;                                      // a file's bytes
    std::map<std::string, std::shared_ptr<Node>> entries;  // a directory's entries, sorted
  };
  using NodePtr = std::shared_ptr<Node>;
  using Entries = std::map<std::string, NodePtr>;
  // One directory-entry update: `name` now names `node`, or is removed when `node` is null.
  struct EntrySet {
    std::string name;
    NodePtr node;
  };

  static void ApplyEntrySets(Entries& entries, std::span<const EntrySet> sets);
  // Writes `bytes` at `offset`, zero-filling any hole before it.
  static void WriteBytes(std::string& data, uint64_t offset, std::string_view bytes);

  // Hooks for FaultEnv, called with mu_ held. The defaults model a disk that never fails and
  // forgets nothing. An error from BeforeOp/BeforeWrite/BeforeTruncate fails the operation with
  // nothing applied; Before* hooks see the state as it was before the change.
  virtual Status BeforeOp(EnvOp op);
  virtual Status BeforeWrite(const NodePtr& file, uint64_t offset, std::string_view data);
  virtual Status BeforeTruncate(const NodePtr& file, uint64_t size);
  virtual void BeforeEntryChange(const NodePtr& dir, std::span<const EntrySet> sets);
  // All of File::Sync, BeforeOp(kSync) included, because a failed sync has effects of its own.
  // `node` may be a directory opened for reading (fsync on a directory fd).
  virtual Status SyncFileLocked(const NodePtr& node);
  // Runs after BeforeOp(kSyncDir) and the lookup succeeded.
  virtual Status SyncDirLocked(const NodePtr& dir);

  mutable std::mutex mu_;
  NodePtr root_;
  // Files and locks remember the epoch they were made in; FaultEnv's power cut starts a new
  // one, which kills them as a reboot would.
  uint64_t epoch_ = 0;
  std::set<const Node*> locked_;  // nodes under a live FileLock (flock is per inode)

 private:
  class MemFile;
  class MemLock;
  // Where a path's last component lives; `name` is empty for "/".
  struct Parent {
    NodePtr dir;
    std::string name;
  };

  Result<NodePtr> LookupLocked(const std::string& path, const std::string& what);
  Result<Parent> LookupParentLocked(const std::string& path, const std::string& what);
  // Finds the file `path` names, creating it when `create` says so.
  Result<NodePtr> FindOrCreateLocked(const Parent& parent, bool create, uint32_t mode,
                                     const std::string& what);
  void SetEntryLocked(const NodePtr& dir, const std::string& name, NodePtr node);
  Status WriteLocked(const NodePtr& file, uint64_t offset, std::string_view data,
                     const std::string& what);
  Status TruncateLocked(const NodePtr& file, uint64_t size, const std::string& what);
  static Status CheckRename(const std::string& from, const std::string& to, const NodePtr& node,
                            const NodePtr& target, const std::string& what);

  const TimeSource time_source_;
  int64_t clock_offset_micros_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace dase::env
