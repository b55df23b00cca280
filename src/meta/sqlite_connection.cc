#include "meta/sqlite_connection.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "common/check.h"
#include "meta/env_vfs.h"

namespace dase::meta::internal {
namespace {

// The schema of format version 1 (docs/formats/meta.md). `version` is the commit number of the
// transaction that last wrote the row; commit numbers come from counters.commit_seq and only
// grow, so a (key, version) pair names one value forever, even across delete and re-create.
constexpr const char* kCreateSchema = R"sql(
CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO counters(name, value) VALUES('commit_seq', 0);
PRAGMA user_version = 1;
)sql";

// Indexed by Sql.
constexpr std::array<const char*, static_cast<size_t>(Sql::kCount)> kStatements = {
    "BEGIN",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SELECT value, version FROM kv WHERE key = ?1",
    "SELECT version FROM kv WHERE key = ?1",
    "SELECT key, value, version FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key",
    "SELECT key, value, version FROM kv WHERE key >= ?1 ORDER BY key",
    "SELECT key, version FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key",
    "SELECT key, version FROM kv WHERE key >= ?1 ORDER BY key",
    "INSERT INTO kv(key, value, version) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, version = excluded.version",
    "DELETE FROM kv WHERE key = ?1",
    "SELECT value FROM counters WHERE name = 'commit_seq'",
    "UPDATE counters SET value = ?1 WHERE name = 'commit_seq'",
};

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

}  // namespace

Status SqliteError(sqlite3* db, int rc, std::string_view context) {
  std::string message = fmt::format("{}: {} (sqlite {})", context,
                                    db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
  // SQLite says only "disk I/O error"; the Env said which file and why. Taken in any case, so
  // that a stale one never decorates a later, unrelated error.
  std::string env_error = TakeEnvVfsError();
  int primary = rc & 0xff;
  bool from_env = primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN;
  if (from_env && !env_error.empty()) message += fmt::format(" [{}]", env_error);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Aborted(std::move(message));
    case SQLITE_FULL: return NoSpace(std::move(message));
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: return IOError(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Corruption(std::move(message));
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return PermissionDenied(std::move(message));
    case SQLITE_TOOBIG: return InvalidArgument(std::move(message));
    case SQLITE_NOMEM: return ResourceExhausted(std::move(message));
    default: return Internal(std::move(message));
  }
}

Query::~Query() {
  // The step's error, if any, was reported by Step; reset repeats it and is not news.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Query& Query::Bind(std::string_view blob) {
  // A null pointer would bind SQL NULL instead of an empty blob.
  const char* data = blob.empty() ? "" : blob.data();
  int rc = sqlite3_bind_blob64(stmt_, next_param_++, data, blob.size(), SQLITE_STATIC);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::Bind(int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, next_param_++, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Query::Step() {
  if (bind_rc_ != SQLITE_OK) return SqliteError(db_, bind_rc_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, sqlite3_sql(stmt_));
}

Status Query::Run() {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::string_view Query::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);  // after column_blob, as SQLite asks
  if (data == nullptr) return {};                  // an empty blob
  return std::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
}

int64_t Query::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                const std::string& vfs,
                                                                int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
              SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs.c_str());
  // The handle exists even on failure (unless out of memory) and must be closed.
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db));
  if (rc != SQLITE_OK) return SqliteError(db, rc, "open " + path);
  RETURN_IF_ERROR(connection->Configure(busy_timeout_ms));
  RETURN_IF_ERROR(connection->EnsureSchema());
  RETURN_IF_ERROR(connection->Prepare());
  return connection;
}

SqliteConnection::~SqliteConnection() {
  for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

bool SqliteConnection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Status SqliteConnection::SyncWal() {
  // SQLite hands out the pager's WAL file; its xSync is the VFS's, with the same fsyncgate and
  // directory handling as SQLite's own syncs.
  sqlite3_file* wal = nullptr;
  int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "find the WAL file");
  if (wal == nullptr || wal->pMethods == nullptr) {
    return Internal("the metadata connection has no open WAL file to sync");
  }
  rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
  if (rc == SQLITE_OK) return Status::Ok();
  // Called outside SQLite, so the connection holds no message: the VFS keeps the Env's.
  return IOError(fmt::format("sync the WAL: {} (sqlite {}) [{}]", sqlite3_errstr(rc), rc,
                             TakeEnvVfsError()));
}

void SqliteConnection::ReportWalFrames(std::atomic<int>* wal_frames) {
  sqlite3_wal_hook(
      db_,
      [](void* arg, sqlite3*, const char*, int frames) {
        static_cast<std::atomic<int>*>(arg)->store(frames, std::memory_order_relaxed);
        return SQLITE_OK;
      },
      wal_frames);
}

Status SqliteConnection::Checkpoint(CheckpointMode mode) {
  const int sqlite_mode =
      mode == CheckpointMode::kRestart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE;
  const int busy_timeout_ms = busy_timeout_ms_;
  busy_timeout_ms_ = std::min(busy_timeout_ms_, kRestartWaitMs);
  int rc = sqlite3_wal_checkpoint_v2(db_, "main", sqlite_mode, nullptr, nullptr);
  busy_timeout_ms_ = busy_timeout_ms;
  if (rc == SQLITE_OK || rc == SQLITE_BUSY) return Status::Ok();  // BUSY: another one runs
  return SqliteError(db_, rc, "checkpoint");
}

Status SqliteConnection::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
  return Status::Ok();
}

Status SqliteConnection::QueryRow(const char* sql,
                                  const std::function<void(const Query&)>& read) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, StatementDeleter> stmt(raw);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
  Query query(db_, stmt.get());
  ASSIGN_OR_RETURN(bool row, query.Step());
  if (row) read(query);
  return Status::Ok();
}

// Waits for another connection's lock: retried after 25, 50, 100 ... µs, at most 3.2 ms apart.
// SQLite's own handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10 ... ms, but the lock it
// mostly waits for is the write lock, held for one commit's page writes (tens of µs here):
// CNodes' loops sat asleep for milliseconds after the lock was free (perf trace: 13 % of a
// CNode loop's time in those sleeps during small creates).
int SqliteConnection::BusyWait(void* connection, int attempt) {
  constexpr int64_t kFirstMicros = 25, kDoublings = 7;  // 25 µs << 7 = 3.2 ms
  const int64_t a = attempt;
  const int64_t slept_micros = a <= kDoublings
                                   ? kFirstMicros * ((int64_t{1} << a) - 1)
                                   : kFirstMicros * ((int64_t{1} << kDoublings) - 1) +
                                         (a - kDoublings) * (kFirstMicros << kDoublings);
  const auto* self = static_cast<const SqliteConnection*>(connection);
  if (slept_micros >= int64_t{self->busy_timeout_ms_} * 1000) return 0;  // give up: BUSY
  const int64_t delay = kFirstMicros << std::min(a, kDoublings);
  sqlite3_vfs* vfs = nullptr;
  sqlite3_file_control(self->db_, "main", SQLITE_FCNTL_VFS_POINTER, &vfs);
  vfs->xSleep(vfs, static_cast<int>(delay));
  return 1;  // try again
}

Status SqliteConnection::Configure(int busy_timeout_ms) {
  // Wait for other connections' locks (sleeping and retrying) instead of failing at once.
  busy_timeout_ms_ = busy_timeout_ms;
  sqlite3_busy_handler(db_, &SqliteConnection::BusyWait, this);
  RETURN_IF_ERROR(EnsureWal(busy_timeout_ms));
  // NORMAL: COMMIT writes the WAL frames without syncing them, so the write lock is not held
  // across an fsync; SqliteTransaction syncs the WAL itself (SyncWal) after the lock is
  // released and before reporting the commit, which keeps every reported commit durable.
  // Checkpoints still sync the WAL before copying it and the database after.
  return Exec("PRAGMA synchronous = NORMAL");
}

// WAL lets readers keep their snapshots while another connection commits, and makes a commit
// one sequential append. The mode is stored in the file, so only a new file needs the switch.
Status SqliteConnection::EnsureWal(int busy_timeout_ms) {
  std::string mode;
  auto read_mode = [&](const Query& q) { mode = std::string(q.Blob(0)); };
  RETURN_IF_ERROR(QueryRow("PRAGMA journal_mode", read_mode));
  if (mode == "wal") return Status::Ok();
  // Switching needs an exclusive lock, and SQLite reports a competing opener (another process
  // creating the same file right now) as SQLITE_BUSY without calling the busy handler. Retry
  // with backoff for as long as the busy handler would have waited.
  int slept_ms = 0;
  for (int delay_ms = 1;; delay_ms = std::min(2 * delay_ms, 64)) {
    Status s = QueryRow("PRAGMA journal_mode = WAL", read_mode);
    if (s.ok() && mode == "wal") return Status::Ok();
    if (!s.ok() && s.code() != Code::kAborted) return s;
    if (slept_ms >= busy_timeout_ms) {
      return s.ok() ? Aborted("cannot switch the metadata database to WAL, still " + mode) : s;
    }
    slept_ms += sqlite3_sleep(delay_ms);
  }
}

Result<bool> SqliteConnection::HasSchema() {
  int64_t version = 0, objects = 0;
  RETURN_IF_ERROR(QueryRow(
      "SELECT (SELECT user_version FROM pragma_user_version), "
      "(SELECT count(*) FROM sqlite_schema)",
      [&](const Query& q) { version = q.Int(0), objects = q.Int(1); }));
  if (version == kFormatVersion) return true;
  if (version != 0) {
    return FailedPrecondition(
        fmt::format("metadata format version {} is not {}", version, kFormatVersion));
  }
  if (objects != 0) return FailedPrecondition("not a dase metadata database");
  return false;
}

Status SqliteConnection::EnsureSchema() {
  // Fast path without the write lock, taken by every open but the very first.
  ASSIGN_OR_RETURN(bool exists, HasSchema());
  if (exists) return Status::Ok();
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // Check again under the lock: another process may have created the schema meanwhile.
  Result<bool> exists_now = HasSchema();
  Status s = exists_now.status();
  if (s.ok() && !*exists_now) s = Exec(kCreateSchema);
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) Exec("ROLLBACK").IgnoreError();
  return s.WithContext("create metadata schema");
}

Status SqliteConnection::Prepare() {
  for (size_t i = 0; i < kStatements.size(); ++i) {
    // PERSISTENT: these live as long as the connection.
    int rc = sqlite3_prepare_v3(db_, kStatements[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &statements_[i], nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, kStatements[i]);
  }
  return Status::Ok();
}

ConnectionPool::~ConnectionPool() {
  CHECK(in_use_ == 0) << in_use_ << " transactions outlive their SqliteStore";
}

Result<std::unique_ptr<SqliteConnection>> ConnectionPool::Acquire() {
  if (in_use_ >= options_.open_transactions_max) {
    return ResourceExhausted(fmt::format("{} metadata transactions open", in_use_));
  }
  std::unique_ptr<SqliteConnection> connection;
  if (!idle_.empty()) {
    connection = std::move(idle_.back());
    idle_.pop_back();
  } else {
    ASSIGN_OR_RETURN(connection, SqliteConnection::Open(path_, vfs_, options_.busy_timeout_ms));
    connection->ReportWalFrames(wal_frames_);
  }
  ++in_use_;
  return connection;
}

void ConnectionPool::Release(std::unique_ptr<SqliteConnection> connection) {
  CHECK(in_use_ > 0);
  --in_use_;
  if (connection->InTransaction() || idle_.size() >= options_.idle_connections_max) return;
  idle_.push_back(std::move(connection));
}

}  // namespace dase::meta::internal
