// SqliteStore: the embedded metadata backend, a Store (meta/kv.h) over one SQLite file.
//
// SQLite runs in WAL mode with synchronous=NORMAL (each write commit then syncs the WAL after
// releasing the write lock, before it reports success) and serves as a single KV table; the schema,
// versioning and pragmas are in docs/formats/meta.md. Several processes on one host may open the
// same file at once (every node process of a loopback cluster does): SQLite's file locks
// serialize commits, and conflict detection works across processes because it compares row
// versions stored in the file.
//
// Concurrency model. Each Transaction has its own SQLite connection (pooled by the Store) and
// reads from one consistent snapshot, taken at its first read and held until Commit or
// destruction. Commit first tries to write inside that snapshot, which SQLite allows only
// while no other commit came after it (nothing read can have changed then). Otherwise it takes
// the database write lock (BEGIN IMMEDIATE, waiting up to busy_timeout_ms for other writers),
// checks that every key and every scanned range it read still has the versions it saw, applies
// the writes stamped with a new commit number, and commits. A read-only transaction commits without touching the file: its snapshot is a
// consistent prefix of the serial commit order. Keep transactions short: an open snapshot
// stops SQLite from checkpointing past it, so the WAL grows meanwhile.
//
// Thread-safety: one Store per thread (the Store and its Transactions are used by one thread at
// a time), except SyncCommitted and WriteHealth, which any thread may call; many Stores, in
// this process or others, may open the same file concurrently.
//
// File I/O. SQLite reads and writes only through the Env given to Open (meta/env_vfs.h), so the
// fault-injecting Env's power cuts and I/O errors reach the metadata store too. Locks and the
// WAL index follow SqliteOptions::locking: real POSIX locks for a database that several
// processes share (the default, for the POSIX Env), or locks in this process's memory for an
// in-memory or fault-injecting Env in a test.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "env/env.h"
#include "meta/env_vfs.h"
#include "meta/kv.h"

namespace dase::meta {

namespace internal {
class ConnectionPool;
class SqliteConnection;
}  // namespace internal

struct SqliteOptions {
  // How long a commit (or a read that meets a WAL recovery) waits for another connection's lock
  // before giving up with Aborted.
  int busy_timeout_ms = 5000;
  // Connections kept open after their transaction ends, so the next Begin is cheap.
  size_t idle_connections_max = 4;
  // Transactions open at once on one Store; each holds a connection (a file descriptor and a
  // page cache), so this bounds the resources a runaway caller can pin.
  size_t open_transactions_max = 64;
  // kDelegate: several processes may share the file; the Env must be the POSIX Env (or wrap
  // it). kInProcess: only the Stores of this process share it; for in-memory and fault Envs.
  VfsLocking locking = VfsLocking::kDelegate;
  // The WAL is checkpointed into the database each time it has grown by this many frames
  // (pages): by SyncCommitted, or by a durable Commit once it has grown by four times as many
  // (see SqliteStore::Syncer). 1000 is SQLite's default. Once the WAL is four times this
  // long, the checkpoint waits to finish, so that the WAL starts over instead of growing.
  int checkpoint_frames = 1000;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if missing, along with its parent directories, durably) the database at
  // `path`, through `env`.
  // FailedPrecondition if the file has a format version this code does not know; Corruption if
  // it is not a SQLite database.
  static Result<std::unique_ptr<SqliteStore>> Open(env::Env* env, const std::string& path,
                                                   SqliteOptions options = {});
  ~SqliteStore() override;

  // ResourceExhausted when options.open_transactions_max transactions are open already.
  Result<std::unique_ptr<Transaction>> Begin() override;
  Status WriteHealth() const override { return health_->Get(); }
  Status SyncCommitted() override;

  // OK, or why the store takes no more writes (kv.h WriteHealth). Thread-safe.
  class Health {
   public:
    Status Get() const;
    // Records the first failure; later ones add nothing.
    void Fail(const Status& why);

   private:
    mutable std::mutex mu_;
    Status failure_;
  };

  // Syncs the WAL for SyncCommitted and checkpoints it (internal to sqlite_store.cc).
  class Syncer;

 private:
  SqliteStore(std::unique_ptr<Health> health, std::unique_ptr<Syncer> syncer,
              std::unique_ptr<internal::ConnectionPool> pool);

  std::unique_ptr<Health> health_;
  std::unique_ptr<Syncer> syncer_;
  std::unique_ptr<internal::ConnectionPool> pool_;
};

}  // namespace dase::meta
