#include "meta/env_vfs.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/check.h"
#include "meta/vfs_shared_file.h"

namespace dase::meta {
namespace {

using internal::LockHolder;
using internal::SharedFile;

// At least the physical sector of any disk dase runs on, and a multiple of FaultEnv's 512.
constexpr int kSectorBytes = 4096;
constexpr int kPathBytesMax = 1024;
// The Unix epoch as a Julian day number in milliseconds, the unit of xCurrentTimeInt64.
constexpr sqlite3_int64 kUnixEpochJulianMs = 210866760000000;

thread_local std::string last_env_error;

// Remembers why an Env call failed and returns the SQLite code that stands for it.
int Fail(const Status& status, int rc) {
  last_env_error = status.ToString();
  return rc;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

struct EnvVfs {
  sqlite3_vfs base{};
  env::Env* env = nullptr;
  VfsOptions options;
  sqlite3_vfs* unix_vfs = nullptr;  // the default VFS, for kDelegate locking and xDl*
  std::string name;
  std::atomic<uint64_t> temp_files{0};
};

EnvVfs* VfsOf(sqlite3_vfs* vfs) { return static_cast<EnvVfs*>(vfs->pAppData); }

struct VfsRegistry {
  std::mutex mu;
  std::map<std::tuple<env::Env*, VfsLocking, std::string>, EnvVfs*> vfses;
};

VfsRegistry& GetVfsRegistry() {
  static VfsRegistry* registry = new VfsRegistry();  // never destroyed: SQLite holds our VFSes
  return *registry;
}

struct OpenFile {
  EnvVfs* vfs = nullptr;
  std::string path;
  std::unique_ptr<env::File> file;
  bool delete_on_close = false;
  // A journal or WAL file just created: its directory entry is synced with its first sync.
  bool sync_dir_pending = false;
  bool main_db = false;
  std::shared_ptr<SharedFile> shared;  // null for temp files
  sqlite3_file* delegate = nullptr;    // kDelegate main databases: the unix VFS's file
  LockHolder locks;                    // kInProcess main databases
  bool InProcessLocks() const { return main_db && delegate == nullptr; }
};

// What SQLite allocates for a file (szOsFile): its base, then a pointer to ours.
struct Handle {
  sqlite3_file base;
  OpenFile* file;
};

OpenFile* Of(sqlite3_file* f) { return reinterpret_cast<Handle*>(f)->file; }

// ---- Data path: through the Env.

int Close(sqlite3_file* f) {
  std::unique_ptr<OpenFile> file(Of(f));
  if (file->delegate != nullptr) {
    if (file->delegate->pMethods != nullptr) file->delegate->pMethods->xClose(file->delegate);
    sqlite3_free(file->delegate);
  }
  int rc = SQLITE_OK;
  if (file->shared != nullptr) {
    SharedFile::Release(file->vfs->env, file->path, std::move(file->shared),
                        std::move(file->file), /*keep_open=*/file->main_db);
  }
  file->file.reset();
  if (file->delete_on_close) {
    Status s = file->vfs->env->RemoveFile(file->path);
    if (!s.ok() && s.code() != Code::kNotFound) rc = Fail(s, SQLITE_IOERR_DELETE);
  }
  return rc;
}

int Read(sqlite3_file* f, void* buf, int amount, sqlite3_int64 offset) {
  OpenFile* file = Of(f);
  char* out = static_cast<char*>(buf);
  size_t want = static_cast<size_t>(amount);
  Result<size_t> n = file->file->ReadAt(static_cast<uint64_t>(offset), std::span(out, want));
  if (!n.ok()) return Fail(n.status(), SQLITE_IOERR_READ);
  if (*n < want) {
    // SQLite requires the missing tail zeroed: it reads past the end of WAL and journal files.
    std::memset(out + *n, 0, want - *n);
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int Write(sqlite3_file* f, const void* buf, int amount, sqlite3_int64 offset) {
  OpenFile* file = Of(f);
  // Noted first: a failed write may still have changed part of the range.
  if (file->shared) file->shared->NoteWrite(offset, static_cast<uint64_t>(amount));
  Status s = file->file->WriteAt(static_cast<uint64_t>(offset),
                                 std::string_view(static_cast<const char*>(buf),
                                                  static_cast<size_t>(amount)));
  if (s.ok()) return SQLITE_OK;
  return Fail(s, s.code() == Code::kNoSpace ? SQLITE_FULL : SQLITE_IOERR_WRITE);
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  OpenFile* file = Of(f);
  if (file->shared) file->shared->NoteTruncate();
  Status s = file->file->Truncate(static_cast<uint64_t>(size));
  return s.ok() ? SQLITE_OK : Fail(s, SQLITE_IOERR_TRUNCATE);
}

int Sync(sqlite3_file* f, int /*flags*/) {
  OpenFile* file = Of(f);
  if (file->shared != nullptr) {
    if (Status s = file->shared->RewriteIfSyncFailed(*file->file); !s.ok()) {
      return Fail(s, SQLITE_IOERR_FSYNC);
    }
    internal::Ranges taken = file->shared->BeginSync();
    Status s = file->file->Sync();
    file->shared->EndSync(std::move(taken), s.ok());
    if (!s.ok()) return Fail(s, SQLITE_IOERR_FSYNC);
  } else if (Status s = file->file->Sync(); !s.ok()) {
    return Fail(s, SQLITE_IOERR_FSYNC);
  }
  if (file->sync_dir_pending) {
    // Unlike the unix VFS, a failed directory sync fails the commit: without it the journal
    // or WAL file itself may vanish at a power cut, committed transactions with it.
    Status s = file->vfs->env->SyncDir(DirName(file->path));
    if (!s.ok()) return Fail(s, SQLITE_IOERR_DIR_FSYNC);
    file->sync_dir_pending = false;
  }
  return SQLITE_OK;
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  Result<uint64_t> n = Of(f)->file->Size();
  if (!n.ok()) return Fail(n.status(), SQLITE_IOERR_FSTAT);
  *size = static_cast<sqlite3_int64>(*n);
  return SQLITE_OK;
}

// ---- Locks: delegated, or kept in this process (kInProcess).

int Lock(sqlite3_file* f, int level) {
  OpenFile* file = Of(f);
  if (file->delegate != nullptr) return file->delegate->pMethods->xLock(file->delegate, level);
  if (!file->InProcessLocks()) return SQLITE_OK;  // only a main database is ever locked
  return file->shared->Lock(file->locks, level);
}

int Unlock(sqlite3_file* f, int level) {
  OpenFile* file = Of(f);
  if (file->delegate != nullptr) {
    return file->delegate->pMethods->xUnlock(file->delegate, level);
  }
  if (!file->InProcessLocks()) return SQLITE_OK;
  return file->shared->Unlock(file->locks, level);
}

int CheckReservedLock(sqlite3_file* f, int* reserved) {
  OpenFile* file = Of(f);
  if (file->delegate != nullptr) {
    return file->delegate->pMethods->xCheckReservedLock(file->delegate, reserved);
  }
  *reserved = file->InProcessLocks() && file->shared->Reserved();
  return SQLITE_OK;
}

int FileControl(sqlite3_file* f, int op, void* arg) {
  OpenFile* file = Of(f);
  switch (op) {
    case SQLITE_FCNTL_VFSNAME:
      *static_cast<char**>(arg) = sqlite3_mprintf("%s", file->vfs->name.c_str());
      return SQLITE_OK;
    case SQLITE_FCNTL_HAS_MOVED:  // is the path still the file that is open?
    case SQLITE_FCNTL_LOCKSTATE:
      if (file->delegate != nullptr) {
        return file->delegate->pMethods->xFileControl(file->delegate, op, arg);
      }
      return SQLITE_NOTFOUND;
    default:
      // Size hints, chunk sizes and mmap would act on the delegate's descriptor, bypassing
      // the Env: refused, SQLite then does without.
      return SQLITE_NOTFOUND;
  }
}

int SectorSize(sqlite3_file*) { return kSectorBytes; }

// Powersafe overwrite: a write that does not complete damages only the bytes it was writing,
// as SQLite's unix VFS assumes (and FaultEnv models by default). So SQLite neither pads WAL
// commits to a sector boundary nor fears appending into a sector that holds committed frames,
// which lets commits run with synchronous=NORMAL and their WAL sync outside the write lock.
int DeviceCharacteristics(sqlite3_file*) { return SQLITE_IOCAP_POWERSAFE_OVERWRITE; }

// ---- WAL index: delegated, or heap memory shared in this process (kInProcess).

int ShmMap(sqlite3_file* f, int region, int region_bytes, int extend, void volatile** out) {
  OpenFile* file = Of(f);
  if (file->delegate != nullptr) {
    return file->delegate->pMethods->xShmMap(file->delegate, region, region_bytes, extend, out);
  }
  if (!file->InProcessLocks()) return SQLITE_IOERR_SHMMAP;
  return file->shared->ShmMap(file->locks, region, region_bytes, extend != 0, out);
}

int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  OpenFile* file = Of(f);
  if (file->delegate != nullptr) {
    return file->delegate->pMethods->xShmLock(file->delegate, offset, n, flags);
  }
  if (!file->InProcessLocks()) return SQLITE_IOERR_SHMLOCK;
  return file->shared->ShmLock(file->locks, offset, n, flags);
}

void ShmBarrier(sqlite3_file* f) {
  OpenFile* file = Of(f);
  if (file->delegate != nullptr) {
    file->delegate->pMethods->xShmBarrier(file->delegate);
    return;
  }
  if (file->InProcessLocks()) file->shared->ShmBarrier();
}

int ShmUnmap(sqlite3_file* f, int delete_flag) {
  OpenFile* file = Of(f);
  if (file->delegate != nullptr) {
    return file->delegate->pMethods->xShmUnmap(file->delegate, delete_flag);
  }
  if (file->InProcessLocks()) file->shared->ShmUnmap(file->locks);
  return SQLITE_OK;
}

constexpr sqlite3_io_methods kIoMethods = {
    2,  // iVersion: with the xShm* methods WAL needs
    Close, Read, Write, Truncate, Sync, FileSize, Lock, Unlock, CheckReservedLock, FileControl,
    SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier, ShmUnmap,
    nullptr, nullptr,  // xFetch, xUnfetch (version 3): no mmap, every read goes to the Env
};

// ---- The VFS.

env::OpenMode ModeFor(int flags) {
  bool create = (flags & SQLITE_OPEN_CREATE) != 0;
  if (create && (flags & SQLITE_OPEN_EXCLUSIVE) != 0) return env::OpenMode::kCreateExclusive;
  if (create) return env::OpenMode::kCreate;
  if (flags & SQLITE_OPEN_READWRITE) return env::OpenMode::kReadWrite;
  return env::OpenMode::kRead;
}

// Opens the unix VFS's file on the same path, for its locks and its "-shm".
int OpenDelegate(EnvVfs* vfs, const char* name, int flags, OpenFile& file) {
  sqlite3_vfs* unix_vfs = vfs->unix_vfs;
  file.delegate = static_cast<sqlite3_file*>(sqlite3_malloc(unix_vfs->szOsFile));
  if (file.delegate == nullptr) return SQLITE_NOMEM;
  std::memset(file.delegate, 0, static_cast<size_t>(unix_vfs->szOsFile));
  // `name` itself, not a copy: the unix VFS keeps the pointer and reads URI parameters after
  // it, and SQLite keeps it valid until xClose. Never creating: the Env made the file, and a
  // delegate must not conjure a real file for a path the Env keeps elsewhere.
  int out_flags = 0;
  int delegate_flags =
      flags & ~(SQLITE_OPEN_DELETEONCLOSE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE);
  return unix_vfs->xOpen(unix_vfs, name, file.delegate, delegate_flags, &out_flags);
}

int Open(sqlite3_vfs* base, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  EnvVfs* vfs = VfsOf(base);
  auto* handle = reinterpret_cast<Handle*>(f);
  handle->base.pMethods = nullptr;  // SQLite calls no xClose on a failed open
  handle->file = nullptr;
  auto file = std::make_unique<OpenFile>();
  file->vfs = vfs;
  if (name == nullptr) {
    file->path = fmt::format("{}/dase-sqlite-{}-{}.tmp", vfs->options.temp_dir,
                             env::RandomHex(vfs->env, 8), vfs->temp_files++);
    flags |= SQLITE_OPEN_DELETEONCLOSE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE;
  } else {
    file->path = name;
  }
  file->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  Result<std::unique_ptr<env::File>> opened = vfs->env->Open(file->path, ModeFor(flags));
  if (!opened.ok()) return Fail(opened.status(), SQLITE_CANTOPEN);
  file->file = std::move(opened).value();
  constexpr int kJournals = SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL;
  file->sync_dir_pending = (flags & SQLITE_OPEN_CREATE) != 0 && (flags & kJournals) != 0;
  file->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0 && name != nullptr;
  if (file->main_db && vfs->options.locking == VfsLocking::kDelegate) {
    int rc = OpenDelegate(vfs, name, flags, *file);
    if (rc != SQLITE_OK) {
      if (file->delegate != nullptr && file->delegate->pMethods != nullptr) {
        file->delegate->pMethods->xClose(file->delegate);
      }
      sqlite3_free(file->delegate);
      return Fail(IOError(fmt::format("the unix VFS cannot open {} for its locks: "
                                      "VfsLocking::kDelegate needs an Env over real files",
                                      file->path)),
                  rc);
    }
  }
  if (!file->delete_on_close) file->shared = SharedFile::Acquire(vfs->env, file->path);
  handle->file = file.release();
  handle->base.pMethods = &kIoMethods;
  if (out_flags != nullptr) *out_flags = flags;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs* base, const char* name, int sync_dir) {
  env::Env* env = VfsOf(base)->env;
  Status s = env->RemoveFile(name);
  if (s.code() == Code::kNotFound) return SQLITE_IOERR_DELETE_NOENT;
  if (!s.ok()) return Fail(s, SQLITE_IOERR_DELETE);
  if (sync_dir) {
    s = env->SyncDir(DirName(name));
    if (!s.ok()) return Fail(s, SQLITE_IOERR_DIR_FSYNC);
  }
  return SQLITE_OK;
}

int Access(sqlite3_vfs* base, const char* name, int flags, int* result) {
  Result<env::FileInfo> info = VfsOf(base)->env->Stat(name);
  *result = 0;
  if (!info.ok()) {
    if (info.status().code() == Code::kNotFound) return SQLITE_OK;
    return Fail(info.status(), SQLITE_IOERR_ACCESS);
  }
  switch (flags) {
    // As the unix VFS: an empty file does not count, so a zero-length WAL or journal left by
    // a crash is not taken for one that needs recovery.
    case SQLITE_ACCESS_EXISTS: *result = info->is_dir || info->size > 0; break;
    case SQLITE_ACCESS_READWRITE: *result = (info->mode & 0200) != 0; break;
    default: *result = 1; break;
  }
  return SQLITE_OK;
}

int FullPathname(sqlite3_vfs* base, const char* name, int out_bytes, char* out) {
  EnvVfs* vfs = VfsOf(base);
  if (vfs->options.locking == VfsLocking::kDelegate) {
    // The real path, as the delegate will see it (symlinks resolved, relative made absolute).
    return vfs->unix_vfs->xFullPathname(vfs->unix_vfs, name, out_bytes, out);
  }
  size_t n = std::strlen(name);
  if (n + 1 > static_cast<size_t>(out_bytes)) return SQLITE_CANTOPEN;
  std::memcpy(out, name, n + 1);
  return SQLITE_OK;
}

int Randomness(sqlite3_vfs* base, int bytes, char* out) {
  VfsOf(base)->env->RandomBytes(std::span(out, static_cast<size_t>(bytes)));
  return bytes;
}

int Sleep(sqlite3_vfs*, int micros) {
  std::this_thread::sleep_for(std::chrono::microseconds(micros));
  return micros;
}

int CurrentTimeInt64(sqlite3_vfs* base, sqlite3_int64* julian_ms) {
  *julian_ms = kUnixEpochJulianMs + VfsOf(base)->env->NowMicros() / 1000;
  return SQLITE_OK;
}

int CurrentTime(sqlite3_vfs* base, double* julian_days) {
  sqlite3_int64 ms = 0;
  CurrentTimeInt64(base, &ms);
  *julian_days = static_cast<double>(ms) / 86400000.0;
  return SQLITE_OK;
}

int GetLastError(sqlite3_vfs*, int bytes, char* out) {
  if (bytes > 0) {
    size_t n = std::min(last_env_error.size(), static_cast<size_t>(bytes) - 1);
    std::memcpy(out, last_env_error.data(), n);
    out[n] = '\0';
  }
  return 0;
}

// Extensions are never loaded, but SQLite calls these without checking them for null.
void* DlOpen(sqlite3_vfs*, const char*) { return nullptr; }
void DlError(sqlite3_vfs*, int bytes, char* out) {
  if (bytes > 0) std::snprintf(out, static_cast<size_t>(bytes), "no extensions in dase");
}
void (*DlSym(sqlite3_vfs*, void*, const char*))(void) { return nullptr; }
void DlClose(sqlite3_vfs*, void*) {}

}  // namespace

Result<std::string> RegisterEnvVfs(env::Env* env, const VfsOptions& options) {
  VfsRegistry& registry = GetVfsRegistry();
  std::lock_guard lock(registry.mu);
  auto key = std::make_tuple(env, options.locking, options.temp_dir);
  if (auto it = registry.vfses.find(key); it != registry.vfses.end()) return it->second->name;
  sqlite3_vfs* unix_vfs = sqlite3_vfs_find("unix");
  if (options.locking == VfsLocking::kDelegate && unix_vfs == nullptr) {
    return FailedPrecondition("SQLite has no unix VFS to delegate locking to");
  }
  // Never freed: SQLite keeps registered VFSes for the life of the process.
  auto* vfs = new EnvVfs();
  vfs->env = env;
  vfs->options = options;
  vfs->unix_vfs = unix_vfs;
  vfs->name = fmt::format("dase-env-{}", registry.vfses.size() + 1);
  sqlite3_vfs& v = vfs->base;
  v.iVersion = 2;  // up to xCurrentTimeInt64
  v.szOsFile = sizeof(Handle);
  v.mxPathname = kPathBytesMax;
  v.zName = vfs->name.c_str();
  v.pAppData = vfs;
  v.xOpen = Open;
  v.xDelete = Delete;
  v.xAccess = Access;
  v.xFullPathname = FullPathname;
  v.xDlOpen = DlOpen;
  v.xDlError = DlError;
  v.xDlSym = DlSym;
  v.xDlClose = DlClose;
  v.xRandomness = Randomness;
  v.xSleep = Sleep;
  v.xCurrentTime = CurrentTime;
  v.xGetLastError = GetLastError;
  v.xCurrentTimeInt64 = CurrentTimeInt64;
  int rc = sqlite3_vfs_register(&vfs->base, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    delete vfs;
    return Internal(fmt::format("sqlite3_vfs_register: {}", sqlite3_errstr(rc)));
  }
  registry.vfses.emplace(key, vfs);
  return vfs->name;
}

std::string TakeEnvVfsError() { return std::exchange(last_env_error, std::string()); }

}  // namespace dase::meta
