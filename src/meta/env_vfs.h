// A SQLite VFS over env::Env: every byte SQLite reads or writes (database, WAL, journals,
// temp files), every fsync, delete and existence check goes through an Env, so the
// fault-injecting Env (power cut, EIO, ENOSPC) covers the metadata store as it covers the rest
// of dase. Clocks and randomness come from the Env too.
//
// Locking and the WAL index are not file I/O and Env has no API for them, so VfsLocking picks
// where they live:
//   kDelegate   the default "unix" VFS opens the same real path beside the Env file and does
//               the POSIX byte-range locks and the mmap'd "-shm" WAL index, exactly as plain
//               SQLite would: several processes may share the database. Valid only when the
//               Env's paths are real files (the POSIX Env, or a fault Env over it).
//   kInProcess  locks and the WAL index live in this process's heap, shared by every
//               connection of this process that opens the same path through the same Env;
//               other processes are not excluded. For in-memory and fault-injecting Envs in
//               tests. The WAL index dies with the last connection, as a "-shm" would at a
//               power cut, so the next open recovers it from the WAL.
//
// POSIX drops every fcntl lock a process holds on a file when any descriptor of that file is
// closed. So that closing one connection's Env file cannot drop another connection's locks,
// the VFS keeps the Env files of a main database open until the last connection to that path
// in this process closes. Within one process, open a database through one VFS only.
//
// Durability beyond what SQLite asks of the unix VFS (each needed by the power-cut test,
// docs/formats/meta.md "File I/O"): a failed directory sync fails the commit; after a failed sync
// of a file, everything written to it since its last good sync is written again before the
// next sync (Linux forgets failed writeback: "fsyncgate"). Powersafe overwrite is claimed, as
// the unix VFS does, so SQLite does not pad WAL commits to sector boundaries.
//
// Thread-safety: RegisterEnvVfs may be called from any thread. The VFS itself is safe for
// connections on different threads (SQLite's usual rule: one connection, one thread at a time).
#pragma once

#include <string>

#include "common/result.h"
#include "env/env.h"

namespace dase::meta {

enum class VfsLocking {
  kDelegate,
  kInProcess,
};

struct VfsOptions {
  VfsLocking locking = VfsLocking::kDelegate;
  // Where the files SQLite opens without a name (temp databases, sorter spill) are created,
  // through the Env; they are removed on close.
  std::string temp_dir = "/tmp";
};

// Registers (once per Env and options; later calls return the same name) a VFS over `env` and
// returns its name, for sqlite3_open_v2's zVfs. The registration lasts for the life of the
// process; `env` must outlive every connection opened with the name. FailedPrecondition if
// kDelegate is asked for and SQLite has no "unix" VFS.
Result<std::string> RegisterEnvVfs(env::Env* env, const VfsOptions& options);

// The message of the last Env error that an EnvVfs call on this thread turned into a SQLite
// error code, and clears it; empty if none. SQLite reports only "disk I/O error"; this says
// which file and why.
std::string TakeEnvVfsError();

}  // namespace dase::meta
