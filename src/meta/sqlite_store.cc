#include "meta/sqlite_store.h"

#include <fmt/format.h>

#include <atomic>
#include <map>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/log.h"
#include "meta/sqlite_connection.h"

namespace dase::meta {
namespace {

using internal::ConnectionPool;
using internal::Query;
using internal::Sql;
using internal::SqliteConnection;

// A row version meaning "absent": commit numbers start at 1.
constexpr int64_t kAbsent = 0;

// Keys are bytes; messages show them printable.
std::string Printable(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p that makes each directory it creates durable: a power cut must not take away the
// directory of a database that acknowledged commits. A directory's entry is in its parent, so
// the parent is synced after each creation. Mode 0700: the store holds secrets (S3 secret keys,
// the JWT signing key), so only the cluster's user may enter.
Status CreateDirsDurably(env::Env* env, const std::string& path) {
  if (env::Exists(env, path)) return Status::Ok();
  std::string parent = DirName(path);
  if (parent != path) RETURN_IF_ERROR(CreateDirsDurably(env, parent));
  Status s = env->CreateDir(path, 0700);
  if (!s.ok() && s.code() != Code::kAlreadyExists) return s;  // AlreadyExists: lost a race
  return env->SyncDir(parent);
}

struct KeyVersion {
  std::string key;
  int64_t version;

  bool operator==(const KeyVersion&) const = default;
};

// A range this transaction scanned in the store, [begin, end) (empty end: to the end of the
// key space), with every stored row it saw there. The commit fails unless the range holds
// exactly the same rows at the same versions then: that catches changed, deleted and new keys
// (phantoms) alike.
struct ScannedRange {
  std::string begin;
  std::string end;
  std::vector<KeyVersion> rows;
};

// Syncs the WAL through `connection`; on failure fails the store.
Status SyncWal(SqliteConnection& connection, SqliteStore::Health& health) {
  // The WAL is appended in commit order, so this covers every commit made before it. If it
  // fails, they may or may not survive a power cut (their outcome is unknown), and retrying
  // must not turn that into a success: the store fails for writes.
  Status s = connection.SyncWal();
  if (s.ok()) return s;
  health.Fail(s);
  return s.WithContext("commit made but its WAL sync failed, outcome unknown");
}

}  // namespace

// SQLite would checkpoint inside the commit that finds the WAL past 1000 frames, and again in
// every later commit while the WAL is that long, which under steady writes (the WAL cannot
// restart while commits keep coming) meant a checkpoint attempt per commit, on the caller's
// thread. Instead the pool's connections report the WAL's length (ReportWalFrames) and the
// store checkpoints once per options.checkpoint_frames frames written, on the thread that syncs.
class SqliteStore::Syncer {
 public:
  Syncer(SqliteStore::Health* health, int checkpoint_frames)
      : health_(health), checkpoint_frames_(checkpoint_frames) {}
  void set_connection(std::unique_ptr<SqliteConnection> c) { connection_ = std::move(c); }
  std::atomic<int>* wal_frames() { return &wal_frames_; }

  Status SyncCommitted() {
    RETURN_IF_ERROR(health_->Get());
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(SyncWal(*connection_, *health_));
    CheckpointIfGrown(checkpoint_frames_);
    return Status::Ok();
  }

  // After a commit's own sync, on the committer's thread: only once the WAL is four times as
  // long, so that a store whose group commits sync on a sync thread leaves checkpoints to it.
  void AfterInlineSync() {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (lock.owns_lock()) CheckpointIfGrown(4 * checkpoint_frames_);  // else a sync runs
  }

 private:
  void CheckpointIfGrown(int frames_since) {
    int frames = wal_frames_.load(std::memory_order_relaxed);
    if (frames < checkpointed_at_) checkpointed_at_ = 0;  // the WAL restarted from its start
    if (frames - checkpointed_at_ < frames_since) return;
    checkpointed_at_ = frames;
    // Under steady commits a passive checkpoint never catches up with the WAL's end, so the
    // WAL would never start over: it grew past 150 MB in a minute of small creates, and every
    // commit appended to it, which makes each WAL sync also persist the file's growth (twice
    // the cost of syncing an overwrite on ext4). Past kRestartFactor times the interval, the
    // checkpoint waits for readers and writers to let it finish, and the WAL is reused.
    const auto mode = frames >= kRestartFactor * checkpoint_frames_
                          ? SqliteConnection::CheckpointMode::kRestart
                          : SqliteConnection::CheckpointMode::kPassive;
    // A failed checkpoint loses nothing: the WAL keeps every frame it did not copy.
    Status s = connection_->Checkpoint(mode);
    if (!s.ok()) LOG_WARN("metadata WAL checkpoint failed: {}", s.ToString());
  }

  static constexpr int kRestartFactor = 4;
  SqliteStore::Health* health_;
  const int checkpoint_frames_;
  std::atomic<int> wal_frames_{0};
  std::mutex mu_;
  // Guarded by mu_: a connection used only for syncs and checkpoints, from any thread.
  std::unique_ptr<SqliteConnection> connection_;
  int checkpointed_at_ = 0;  // the WAL's frame count at this store's last checkpoint
};

namespace {

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(ConnectionPool* pool, std::unique_ptr<SqliteConnection> connection,
                    SqliteStore::Health* health, SqliteStore::Syncer* syncer)
      : pool_(pool), connection_(std::move(connection)), health_(health), syncer_(syncer) {}
  ~SqliteTransaction() override {
    if (connection_ != nullptr) Finish();
  }

  Result<std::optional<std::string>> Get(std::string_view key) override;
  Result<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                     size_t limit) override;
  void Put(std::string_view key, std::string_view value) override;
  void Delete(std::string_view key) override;
  Status Commit() override;
  Status CommitUnsynced() override;

 private:
  Status EnsureSnapshot();
  Status ScanStored(std::string_view begin, std::string_view end, size_t limit,
                    std::vector<KeyValue>& out);
  void Buffer(std::string_view key, std::optional<std::string_view> value);
  Status CommitWrites();
  Status Validate();
  Status ValidateRange(const ScannedRange& range);
  Status Apply();
  // Ends any open SQLite transaction and gives the connection back to the pool.
  void Finish();

  ConnectionPool* pool_;
  std::unique_ptr<SqliteConnection> connection_;  // null once finished
  SqliteStore::Health* health_;                   // the store's
  SqliteStore::Syncer* syncer_;                   // the store's
  // Buffered writes; nullopt is a delete.
  std::map<std::string, std::optional<std::string>, std::less<>> writes_;
  size_t write_bytes_ = 0;
  Status invalid_;  // the first limit a write exceeded, reported by Commit
  // Versions of the stored keys read by Get (kAbsent for keys read as absent), in the order
  // read; a key read again is recorded again (the snapshot gives it the same version). The
  // keys are packed into one string: most transactions only read and never validate, so a
  // read costs an append, not a tree node and a key string of its own.
  struct Read {
    size_t key_at = 0;
    size_t key_len = 0;
    int64_t version = kAbsent;
  };
  std::string read_keys_;
  std::vector<Read> reads_;
  std::vector<ScannedRange> scans_;
};

Status SqliteTransaction::EnsureSnapshot() {
  // A deferred BEGIN: SQLite takes the snapshot at the first read and keeps it until COMMIT.
  if (connection_->InTransaction()) return Status::Ok();
  return connection_->Run(Sql::kBegin);
}

Result<std::optional<std::string>> SqliteTransaction::Get(std::string_view key) {
  CHECK(connection_ != nullptr) << "Get on a finished transaction";
  if (auto it = writes_.find(key); it != writes_.end()) return it->second;
  RETURN_IF_ERROR(EnsureSnapshot());
  Query query = connection_->Start(Sql::kGet);
  query.Bind(key);
  ASSIGN_OR_RETURN(bool found, query.Step());
  if (reads_.empty()) {
    reads_.reserve(16);
    read_keys_.reserve(1024);
  }
  reads_.push_back(Read{read_keys_.size(), key.size(), found ? query.Int(1) : kAbsent});
  read_keys_.append(key);
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(query.Blob(0));
}

Result<std::vector<KeyValue>> SqliteTransaction::Scan(std::string_view begin,
                                                       std::string_view end, size_t limit) {
  CHECK(connection_ != nullptr) << "Scan on a finished transaction";
  std::vector<KeyValue> out;
  if (limit == 0 || (!end.empty() && begin >= end)) return out;
  RETURN_IF_ERROR(EnsureSnapshot());
  RETURN_IF_ERROR(ScanStored(begin, end, limit, out));
  return out;
}

// Merges the stored rows of [begin, end) with the buffered writes there, in key order, until
// `limit` pairs are out. Records the stored rows consumed, which are exactly those up to the
// last pair returned (or the whole range when it ran out first).
Status SqliteTransaction::ScanStored(std::string_view begin, std::string_view end, size_t limit,
                                     std::vector<KeyValue>& out) {
  Query query = connection_->Start(end.empty() ? Sql::kScanToEnd : Sql::kScan);
  query.Bind(begin);
  if (!end.empty()) query.Bind(end);
  auto write = writes_.lower_bound(begin);
  auto writes_end = end.empty() ? writes_.end() : writes_.lower_bound(end);
  ScannedRange range{std::string(begin), std::string(end), {}};
  ASSIGN_OR_RETURN(bool stored, query.Step());
  while (out.size() < limit && (stored || write != writes_end)) {
    // Which comes next: the stored row (< 0), the buffered write (> 0), or both for one key.
    int order = !stored ? 1 : write == writes_end ? -1 : query.Blob(0).compare(write->first);
    if (order <= 0) range.rows.push_back({std::string(query.Blob(0)), query.Int(2)});
    if (order < 0) {
      out.push_back({std::string(query.Blob(0)), std::string(query.Blob(1))});
    } else if (write->second.has_value()) {  // the buffered write shadows any stored row
      out.push_back({write->first, *write->second});
    }
    if (order >= 0) ++write;
    if (order <= 0) {
      ASSIGN_OR_RETURN(stored, query.Step());
    }
  }
  if (out.size() == limit) range.end = KeySuccessor(out.back().key);
  scans_.push_back(std::move(range));
  return Status::Ok();
}

void SqliteTransaction::Put(std::string_view key, std::string_view value) {
  CHECK(connection_ != nullptr) << "Put on a finished transaction";
  if (value.size() > kValueBytesMax && invalid_.ok()) {
    invalid_ = InvalidArgument(fmt::format("value of {} bytes for key {} exceeds {}",
                                           value.size(), Printable(key), kValueBytesMax));
  }
  Buffer(key, value);
}

void SqliteTransaction::Delete(std::string_view key) {
  CHECK(connection_ != nullptr) << "Delete on a finished transaction";
  Buffer(key, std::nullopt);
}

void SqliteTransaction::Buffer(std::string_view key, std::optional<std::string_view> value) {
  if (key.size() > kKeyBytesMax && invalid_.ok()) {
    invalid_ = InvalidArgument(
        fmt::format("key of {} bytes exceeds {}: {}...", key.size(), kKeyBytesMax,
                    Printable(key.substr(0, 64))));
  }
  // Counts overwrites of a buffered key again: an upper bound is enough for a limit.
  write_bytes_ += key.size() + (value ? value->size() : 0);
  if (write_bytes_ > kTransactionBytesMax && invalid_.ok()) {
    invalid_ = InvalidArgument(fmt::format("transaction writes exceed {} bytes",
                                           kTransactionBytesMax));
  }
  auto [it, inserted] = writes_.try_emplace(std::string(key));
  if (value) {
    it->second.emplace(*value);
  } else {
    it->second.reset();
  }
}

Status SqliteTransaction::Commit() {
  CHECK(connection_ != nullptr) << "Commit on a finished transaction";
  bool wrote = !writes_.empty();
  Status s = CommitWrites();
  // Committed and visible, but not yet durable (synchronous=NORMAL): sync outside the lock.
  if (s.ok() && wrote) s = SyncWal(*connection_, *health_);
  Finish();
  if (s.ok() && wrote) syncer_->AfterInlineSync();
  return s;
}

Status SqliteTransaction::CommitUnsynced() {
  CHECK(connection_ != nullptr) << "Commit on a finished transaction";
  Status s = CommitWrites();
  Finish();
  return s;
}

Status SqliteTransaction::CommitWrites() {
  RETURN_IF_ERROR(invalid_);
  // Read-only: every read came from one snapshot, a consistent prefix of the commit order, so
  // the transaction is already serializable there.
  if (writes_.empty()) {
    return connection_->InTransaction() ? connection_->Run(Sql::kCommit) : Status::Ok();
  }
  RETURN_IF_ERROR(health_->Get());
  if (connection_->InTransaction()) {
    // The first write turns the read snapshot into the write transaction, which SQLite allows
    // only while the snapshot is still the newest state (else SQLITE_BUSY_SNAPSHOT) and no
    // other connection writes (SQLITE_BUSY at once: SQLite does not wait for a lock here).
    // Then everything read is current and stays so under the write lock: nothing to validate.
    Status s = Apply();
    if (s.ok()) return connection_->Run(Sql::kCommit);
    if (s.code() != Code::kAborted) return s;
    // A commit came in between: end the snapshot and validate what was read, under the lock.
    RETURN_IF_ERROR(connection_->Run(Sql::kRollback));
  }
  RETURN_IF_ERROR(connection_->Run(Sql::kBeginImmediate));
  Status s = Validate();
  if (s.ok()) s = Apply();
  if (s.ok()) s = connection_->Run(Sql::kCommit);
  // On failure Finish rolls back whatever is still open.
  return s;
}

// Runs under the write lock, so nothing can change between this check and the commit.
Status SqliteTransaction::Validate() {
  std::unordered_set<std::string_view> checked;  // a key read twice is checked once
  for (const Read& read : reads_) {
    const std::string_view key = std::string_view(read_keys_).substr(read.key_at, read.key_len);
    if (!checked.insert(key).second) continue;
    const int64_t seen = read.version;
    Query query = connection_->Start(Sql::kVersion);
    query.Bind(key);
    ASSIGN_OR_RETURN(bool found, query.Step());
    int64_t now = found ? query.Int(0) : kAbsent;
    if (now != seen) {
      return Aborted(fmt::format("key {} changed since it was read (version {} → {})",
                                 Printable(key), seen, now));
    }
  }
  for (const ScannedRange& range : scans_) RETURN_IF_ERROR(ValidateRange(range));
  return Status::Ok();
}

Status SqliteTransaction::ValidateRange(const ScannedRange& range) {
  Query query =
      connection_->Start(range.end.empty() ? Sql::kScanVersionsToEnd : Sql::kScanVersions);
  query.Bind(range.begin);
  if (!range.end.empty()) query.Bind(range.end);
  size_t i = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query.Step());
    if (!row) break;
    if (i == range.rows.size() || range.rows[i].key != query.Blob(0) ||
        range.rows[i].version != query.Int(1)) {
      return Aborted(fmt::format("range [{}, {}) changed since it was scanned",
                                 Printable(range.begin), Printable(range.end)));
    }
    ++i;
  }
  if (i != range.rows.size()) {
    return Aborted(fmt::format("range [{}, {}) lost keys since it was scanned",
                               Printable(range.begin), Printable(range.end)));
  }
  return Status::Ok();
}

Status SqliteTransaction::Apply() {
  int64_t seq = kAbsent;
  {
    Query query = connection_->Start(Sql::kReadCommitSeq);
    ASSIGN_OR_RETURN(bool found, query.Step());
    if (!found) return Corruption("metadata commit counter is missing");
    seq = query.Int(0) + 1;
  }
  {
    Query query = connection_->Start(Sql::kWriteCommitSeq);
    RETURN_IF_ERROR(query.Bind(seq).Run());
  }
  for (const auto& [key, value] : writes_) {
    Query query = connection_->Start(value ? Sql::kPut : Sql::kDelete);
    query.Bind(key);
    if (value) query.Bind(*value).Bind(seq);
    RETURN_IF_ERROR(query.Run());
  }
  return Status::Ok();
}

void SqliteTransaction::Finish() {
  // Ends a read snapshot or undoes a failed commit; if even that fails the pool closes the
  // connection, which rolls back.
  if (connection_->InTransaction()) connection_->Run(Sql::kRollback).IgnoreError();
  pool_->Release(std::move(connection_));
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(env::Env* env, const std::string& path,
                                                       SqliteOptions options) {
  CHECK(options.open_transactions_max > 0);
  CHECK(options.checkpoint_frames > 0);
  std::string dir = DirName(path);
  RETURN_IF_ERROR(CreateDirsDurably(env, dir).WithContext("metadata directory"));
  // SQLite's temp files go beside the database, on the same Env.
  ASSIGN_OR_RETURN(std::string vfs,
                   RegisterEnvVfs(env, VfsOptions{.locking = options.locking, .temp_dir = dir}));
  auto health = std::make_unique<Health>();
  auto syncer = std::make_unique<Syncer>(health.get(), options.checkpoint_frames);
  auto pool = std::make_unique<ConnectionPool>(path, vfs, options, syncer->wal_frames());
  // Opening one connection now creates the file and schema and reports a bad file at once.
  // It stays open for the Syncer, and its WAL file with it.
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> connection,
                   SqliteConnection::Open(path, vfs, options.busy_timeout_ms));
  syncer->set_connection(std::move(connection));
  // The VFS syncs the directory of the WAL and journals it creates, not of the database file.
  RETURN_IF_ERROR(env->SyncDir(dir));
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(health), std::move(syncer), std::move(pool)));
}

SqliteStore::SqliteStore(std::unique_ptr<Health> health, std::unique_ptr<Syncer> syncer,
                         std::unique_ptr<ConnectionPool> pool)
    : health_(std::move(health)), syncer_(std::move(syncer)), pool_(std::move(pool)) {}

Status SqliteStore::Health::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void SqliteStore::Health::Fail(const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.ok()) {
    failure_ = IOError(fmt::format(
        "metadata store failed after a WAL sync error (reopen it to write again): {}",
        why.ToString()));
  }
}

Status SqliteStore::SyncCommitted() { return syncer_->SyncCommitted(); }

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<Transaction>> SqliteStore::Begin() {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> connection, pool_->Acquire());
  return std::unique_ptr<Transaction>(
      std::make_unique<SqliteTransaction>(pool_.get(), std::move(connection), health_.get(),
                                          syncer_.get()));
}

}  // namespace dase::meta
