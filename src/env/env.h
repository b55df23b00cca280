// Env: the only route from dase code to files, clocks and randomness.
//
// Production code uses Env::Default() (POSIX); tests substitute implementations that inject
// faults (EIO, ENOSPC, failed fsync, dropped unsynced writes at a simulated power cut) or run a
// fake clock. Code that touches the OS any other way cannot be tested against those faults, so
// it does not exist outside src/env/.
//
// Thread-safety: every Env method may be called from any thread. A File may be used from several
// threads for positional reads and writes; Sync is safe to call concurrently with them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace dase::env {

enum class OpenMode {
  kRead,             // existing file, read-only
  kReadWrite,        // existing file
  kCreate,           // read-write, created if missing
  kCreateExclusive,  // read-write, must not exist
  kTruncate,         // read-write, created if missing, emptied if present
};

class File {
 public:
  virtual ~File() = default;
  // Reads up to out.size() bytes at `offset`; fewer only at end of file.
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<char> out) = 0;
  // ReadAt if it can be done without waiting for the disk (every byte is in memory now);
  // otherwise Unavailable, having read nothing, so that the caller can take the read somewhere
  // waiting does no harm. By default always Unavailable.
  virtual Result<size_t> ReadAtWithoutWaiting(uint64_t offset, std::span<char> out);
  // Writes all of `data` at `offset` (retrying short writes).
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // Makes every completed write durable (fdatasync). A failure here is never retried into
  // success: callers treat the file's contents as unknown.
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
};

struct FileInfo {
  uint64_t size = 0;
  bool is_dir = false;
  uint32_t mode = 0;  // permission bits
};

// Held while alive; released on destruction or when the process dies (flock semantics).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never destroyed.
  static Env* Default();

  // Files and directories. `mode` applies when a file is created.
  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode open_mode,
                                             uint32_t mode = 0644) = 0;
  // Creates one directory; AlreadyExists if something is there.
  virtual Status CreateDir(const std::string& path, uint32_t mode = 0755) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveDir(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  // An exclusive advisory lock on `path` (created if missing). FailedPrecondition if another
  // process holds it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // Clocks. Wall time is for timestamps people read; intervals use the monotonic clock.
  virtual int64_t NowMicros() = 0;
  virtual int64_t MonotonicMicros() = 0;

  // Cryptographically secure random bytes (passwords, tokens, ids).
  virtual void RandomBytes(std::span<char> out) = 0;
};

// Helpers built only on the Env interface, so they inherit its fault injection.
Result<std::string> ReadFile(Env* env, const std::string& path);
// Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync directory.
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data,
                       uint32_t mode = 0644);
// mkdir -p; OK if the directory exists already.
Status CreateDirs(Env* env, const std::string& path, uint32_t mode = 0755);
bool Exists(Env* env, const std::string& path);
// `bytes` random bytes, raw or as lowercase hex.
std::string RandomString(Env* env, size_t bytes);
std::string RandomHex(Env* env, size_t bytes);

}  // namespace dase::env
