// Internal to meta/env_vfs.cc: what the connections of this process that have one file open
// through the Env VFS share. One SharedFile exists per (Env, path) from the first open to the
// last close. It holds:
//   - the Env files of closed connections to a main database, kept open until the last close
//     (closing any descriptor drops the process's POSIX locks on the file: env_vfs.h);
//   - the ranges written since the file's last successful sync, so that after a failed sync
//     they can be written again before the next one (see RewriteIfSyncFailed);
//   - for VfsLocking::kInProcess, the database's file locks and its WAL index.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "env/env.h"

namespace dase::meta::internal {

// One connection's hold on a SharedFile's in-process locks (kInProcess only).
struct LockHolder {
  int lock = 0;  // SQLITE_LOCK_NONE
  bool shm_mapped = false;
  uint32_t shm_shared = 0;     // bit i: holds WAL-index lock slot i shared
  uint32_t shm_exclusive = 0;  // bit i: holds slot i exclusively
};

// File ranges, begin → end, disjoint and not touching.
using Ranges = std::map<uint64_t, uint64_t>;

class SharedFile {
 public:
  static std::shared_ptr<SharedFile> Acquire(env::Env* env, const std::string& path);
  // Gives back a closing connection's hold, and its Env file: destroyed now, or with
  // `keep_open` (main databases) only when the last connection to the path closes.
  static void Release(env::Env* env, const std::string& path, std::shared_ptr<SharedFile> shared,
                      std::unique_ptr<env::File> file, bool keep_open);

  // ---- Writes since the last good sync.
  //
  // Linux marks the pages of a failed writeback clean: a later fsync succeeds without writing
  // them, though reads still return them (fsyncgate; FaultEnv models it). SQLite relies on
  // bytes it wrote before a failed sync being made durable by a later one: with
  // synchronous=NORMAL every commit's frames are written unsynced and covered by a later sync
  // (the committer's own, or a checkpoint's), and WAL recovery stops at the first frame that is
  // not intact. So after a failed sync
  // of a file, the next sync first writes every range written since the last good sync again,
  // with the bytes reads return now.
  void NoteWrite(uint64_t offset, uint64_t length);
  void NoteTruncate();
  Status RewriteIfSyncFailed(env::File& file);
  // Brackets a sync: takes the ranges written so far; EndSync forgets them if the sync
  // succeeded, or puts them back and arms the rewrite if it failed.
  Ranges BeginSync();
  void EndSync(Ranges taken, bool ok);

  // ---- kInProcess: SQLite's file locks and WAL index, shared in this process. Return SQLite
  // result codes.
  int Lock(LockHolder& holder, int level);
  int Unlock(LockHolder& holder, int level);
  bool Reserved();
  int ShmMap(LockHolder& holder, int region, int region_bytes, bool extend,
             void volatile** out);
  int ShmLock(LockHolder& holder, int offset, int n, int flags);
  void ShmBarrier();
  void ShmUnmap(LockHolder& holder);

 private:
  void ShmReleaseLocked(LockHolder& holder, uint32_t mask);

  std::mutex mu_;
  // Guarded by the registry's mutex.
  int open_files_ = 0;
  std::vector<std::unique_ptr<env::File>> closed_files_;

  Ranges unsynced_;
  bool truncated_ = false;
  bool sync_failed_ = false;

  // File locks, after SQLite's lock levels (sqlite3.h, "File Locking Levels").
  int shared_locks_ = 0;
  const LockHolder* reserved_ = nullptr;
  const LockHolder* pending_ = nullptr;
  const LockHolder* exclusive_ = nullptr;

  // The WAL index: the regions of what would be the "-shm" file, and its lock slots (> 0:
  // that many shared holders, -1: one exclusive holder).
  int shm_users_ = 0;
  std::vector<std::unique_ptr<char[]>> shm_regions_;
  int shm_locks_[8] = {};  // SQLITE_SHM_NLOCK
};

}  // namespace dase::meta::internal
