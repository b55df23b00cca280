// Internal to meta/: a thin RAII layer over the SQLite C API for SqliteStore.
//
// SqliteConnection is one database connection with the store's statements prepared once;
// Query runs one of them and resets it when it goes out of scope, so no statement is left
// mid-step holding a read snapshot open. ConnectionPool hands connections to transactions.
//
// Thread-safety: none of these are thread-safe; they belong to their Store's thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "meta/sqlite_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dase::meta::internal {

// The format version kept in PRAGMA user_version; see docs/formats/meta.md.
inline constexpr int64_t kFormatVersion = 1;

// Maps a SQLite result code to a Status. Lock contention (SQLITE_BUSY, including
// SQLITE_BUSY_SNAPSHOT, and SQLITE_LOCKED) becomes Aborted, so a whole transaction is retried.
Status SqliteError(sqlite3* db, int rc, std::string_view context);

enum class Sql {
  kBegin,           // deferred: the snapshot is taken by the first read
  kBeginImmediate,  // takes the write lock now, waiting up to busy_timeout
  kCommit,
  kRollback,
  kGet,                 // ?1 key → value, version
  kVersion,             // ?1 key → version
  kScan,                // ?1 begin, ?2 end → key, value, version
  kScanToEnd,           // ?1 begin → key, value, version
  kScanVersions,        // ?1 begin, ?2 end → key, version
  kScanVersionsToEnd,   // ?1 begin → key, version
  kPut,                 // ?1 key, ?2 value, ?3 version
  kDelete,              // ?1 key
  kReadCommitSeq,       // → value
  kWriteCommitSeq,      // ?1 value
  kCount,
};

// One execution of a prepared statement. Binds parameters in order; the first bind error is
// reported by Step. Column accessors are valid until the next Step.
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(std::string_view blob);
  Query& Bind(int64_t value);
  // true when a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps a statement that returns no rows (or whose rows are not wanted) to completion.
  Status Run();

  std::string_view Blob(int column) const;
  int64_t Int(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int next_param_ = 1;
  int bind_rc_ = 0;  // SQLITE_OK
};

class SqliteConnection {
 public:
  // Opens `path` (creating it) through the VFS named `vfs`, sets the pragmas, creates or
  // checks the schema and prepares the statements.
  static Result<std::unique_ptr<SqliteConnection>> Open(const std::string& path,
                                                        const std::string& vfs,
                                                        int busy_timeout_ms);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Query Start(Sql sql) { return Query(db_, statements_[static_cast<size_t>(sql)]); }
  Status Run(Sql sql) { return Start(sql).Run(); }
  // True between BEGIN and COMMIT/ROLLBACK.
  bool InTransaction() const;
  // Makes everything written to the WAL so far durable (fsync through the VFS). A commit is
  // durable once this returned OK after it: the WAL is appended in commit order, so the sync
  // also covers every earlier commit, whichever connection or process made it.
  Status SyncWal();
  // After each commit of this connection, stores the number of frames then in the WAL into
  // `*wal_frames`. Replaces SQLite's automatic checkpoint, which would run inside the
  // committing call; the owner checkpoints instead (Checkpoint).
  void ReportWalFrames(std::atomic<int>* wal_frames);
  // kPassive copies into the database what the WAL holds and no open snapshot still needs,
  // without waiting for any lock. kRestart also waits, holding off new writers, until it has
  // copied all of it and no reader uses the WAL, so the next commit writes the WAL from its
  // start again; it waits at most kRestartWaitMs, not the busy timeout, because the readers it
  // waits for may belong to an event loop that is itself stuck waiting to write (a CNode holds
  // a request's snapshot across its DNode calls): a long wait stalled whole clusters for
  // seconds. OK as well when another connection is checkpointing right now, or when kRestart
  // could not finish in time (it then did what kPassive does).
  enum class CheckpointMode { kPassive, kRestart };
  static constexpr int kRestartWaitMs = 20;
  Status Checkpoint(CheckpointMode mode);

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  // The busy handler (sqlite3_busy_handler): nonzero to try again after a short sleep.
  static int BusyWait(void* connection, int attempt);
  Status Configure(int busy_timeout_ms);
  Status EnsureWal(int busy_timeout_ms);
  // True if the schema exists at kFormatVersion, false if the database is empty.
  Result<bool> HasSchema();
  Status EnsureSchema();
  Status Exec(const char* sql);
  // Runs a one-off statement and hands its first row, if any, to `read`.
  Status QueryRow(const char* sql, const std::function<void(const Query&)>& read);
  Status Prepare();

  sqlite3* db_;
  int busy_timeout_ms_ = 0;  // how long BusyWait keeps trying
  std::array<sqlite3_stmt*, static_cast<size_t>(Sql::kCount)> statements_{};
};

// Connections for the transactions of one Store: reuses idle ones, opens more on demand up to
// options.open_transactions_max in use at once.
class ConnectionPool {
 public:
  // Every connection reports its WAL frame count to `*wal_frames` (ReportWalFrames).
  ConnectionPool(std::string path, std::string vfs, SqliteOptions options,
                 std::atomic<int>* wal_frames)
      : path_(std::move(path)), vfs_(std::move(vfs)), options_(options),
        wal_frames_(wal_frames) {}
  // Every connection must have been released: a Transaction outliving its Store is a bug.
  ~ConnectionPool();

  Result<std::unique_ptr<SqliteConnection>> Acquire();
  // Takes back a connection; one left inside a transaction (a failed rollback) is closed
  // rather than reused.
  void Release(std::unique_ptr<SqliteConnection> connection);

 private:
  std::string path_;
  std::string vfs_;  // registered by meta/env_vfs.h
  SqliteOptions options_;
  std::atomic<int>* wal_frames_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_;
  size_t in_use_ = 0;
};

}  // namespace dase::meta::internal
