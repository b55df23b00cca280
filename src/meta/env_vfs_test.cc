// The SQLite VFS over env::Env (meta/env_vfs.h): SqliteStore's file I/O reaches the Env, Env
// errors come back as the right Status codes, and the store works on an in-memory Env with
// in-process locking, across threads and reopens.
#include "meta/env_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <charconv>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "env/env.h"
#include "env/fault_env.h"
#include "env/mem_env.h"
#include "meta/sqlite_store.h"
#include "common/testing.h"

namespace dase::meta {
namespace {


// Forwards to another Env and records what reached it: the paths opened, and how many writes
// and syncs went through the Files it made.
class RecordingEnv final : public env::Env {
 public:
  explicit RecordingEnv(env::Env* base) : base_(base) {}

  std::atomic<int> writes{0};
  std::atomic<int> syncs{0};
  std::set<std::string> Opened() {
    std::lock_guard lock(mu_);
    return opened_;
  }

  Result<std::unique_ptr<env::File>> Open(const std::string& path, env::OpenMode open_mode,
                                          uint32_t mode) override {
    {
      std::lock_guard lock(mu_);
      opened_.insert(path);
    }
    ASSIGN_OR_RETURN(auto file, base_->Open(path, open_mode, mode));
    return std::unique_ptr<env::File>(new RecordingFile(this, std::move(file)));
  }
  Status CreateDir(const std::string& path, uint32_t mode) override {
    return base_->CreateDir(path, mode);
  }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status RemoveDir(const std::string& path) override { return base_->RemoveDir(path); }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_->Rename(from, to);
  }
  Status SyncDir(const std::string& path) override { return base_->SyncDir(path); }
  Result<env::FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  Result<std::unique_ptr<env::FileLock>> LockFile(const std::string& path) override {
    return base_->LockFile(path);
  }
  int64_t NowMicros() override { return base_->NowMicros(); }
  int64_t MonotonicMicros() override { return base_->MonotonicMicros(); }
  void RandomBytes(std::span<char> out) override { base_->RandomBytes(out); }

 private:
  class RecordingFile final : public env::File {
   public:
    RecordingFile(RecordingEnv* env, std::unique_ptr<env::File> base)
        : env_(env), base_(std::move(base)) {}
    Result<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
      return base_->ReadAt(offset, out);
    }
    Status WriteAt(uint64_t offset, std::string_view data) override {
      ++env_->writes;
      return base_->WriteAt(offset, data);
    }
    Status Sync() override {
      ++env_->syncs;
      return base_->Sync();
    }
    Status Truncate(uint64_t size) override { return base_->Truncate(size); }
    Result<uint64_t> Size() override { return base_->Size(); }

   private:
    RecordingEnv* env_;
    std::unique_ptr<env::File> base_;
  };

  env::Env* base_;
  std::mutex mu_;
  std::set<std::string> opened_;
};

Status PutOne(Store& store, std::string_view key, std::string_view value) {
  return store.RunTransaction([&](Transaction& txn) {
    txn.Put(key, value);
    return Status::Ok();
  });
}

Result<std::optional<std::string>> GetOne(Store& store, std::string_view key) {
  ASSIGN_OR_RETURN(auto txn, store.Begin());
  return txn->Get(key);
}

Status Increment(Store& store, std::string_view key) {
  return store.RunTransaction(
      [&](Transaction& txn) -> Status {
        ASSIGN_OR_RETURN(auto value, txn.Get(key));
        int64_t n = 0;
        if (value) std::from_chars(value->data(), value->data() + value->size(), n);
        txn.Put(key, std::to_string(n + 1));
        return Status::Ok();
      },
      /*max_attempts=*/1000);
}

class PosixVfsTest : public ::testing::Test {
 protected:
  env::Env* posix_ = env::Env::Default();
  ::dase::testing::TempDir tmp_{"dase_env_vfs_test"};
  const std::string dir_ = tmp_.path();
};

TEST_F(PosixVfsTest, StoreFileIoGoesThroughTheEnv) {
  RecordingEnv env(posix_);
  std::string path = dir_ + "/kv.db";
  auto store = SqliteStore::Open(&env, path);
  ASSERT_OK(store.status());
  int syncs_before = env.syncs;
  for (int i = 0; i < 5; ++i) ASSERT_OK(PutOne(**store, "k" + std::to_string(i), "v"));
  EXPECT_EQ(*GetOne(**store, "k3"), "v");
  // Every commit is durable: at least one sync of the WAL each.
  EXPECT_GE(env.syncs - syncs_before, 5);
  EXPECT_GT(env.writes, 5);
  std::set<std::string> opened = env.Opened();
  EXPECT_TRUE(opened.count(path)) << "database not opened through the Env";
  EXPECT_TRUE(opened.count(path + "-wal")) << "WAL not opened through the Env";
  // The WAL index is shared memory, mapped by the delegate: not data the Env should see.
  EXPECT_FALSE(opened.count(path + "-shm"));
}

TEST_F(PosixVfsTest, RegisteringTwiceGivesTheSameName) {
  VfsOptions options{.locking = VfsLocking::kDelegate, .temp_dir = dir_};
  auto a = RegisterEnvVfs(posix_, options);
  auto b = RegisterEnvVfs(posix_, options);
  ASSERT_OK(a.status());
  EXPECT_EQ(*a, *b);
  env::MemEnv other(1);
  auto c = RegisterEnvVfs(&other, options);
  ASSERT_OK(c.status());
  EXPECT_NE(*a, *c);
  EXPECT_NE(sqlite3_vfs_find(c->c_str()), nullptr);
}

// A database opened without a name lives in a temp file the VFS names in temp_dir; once the
// cache spills into it, it is a file of the Env, and it is gone when the connection closes.
TEST_F(PosixVfsTest, TempFilesGoThroughTheEnvAndAreRemovedOnClose) {
  RecordingEnv env(posix_);
  auto vfs = RegisterEnvVfs(&env, VfsOptions{.locking = VfsLocking::kDelegate, .temp_dir = dir_});
  ASSERT_OK(vfs.status());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2("", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs->c_str()),
            SQLITE_OK);
  const char* sql =
      "PRAGMA cache_size = 4;"
      "CREATE TABLE t(x BLOB);"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
      "  INSERT INTO t SELECT randomblob(1000) FROM n;";
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  bool temp_opened = false;
  for (const std::string& path : env.Opened()) {
    temp_opened |= path.rfind(dir_ + "/dase-sqlite-", 0) == 0;
  }
  EXPECT_TRUE(temp_opened);
  EXPECT_FALSE(posix_->ListDir(dir_).value().empty());
  sqlite3_close(db);
  EXPECT_TRUE(posix_->ListDir(dir_).value().empty());
}

// ---- On FaultEnv (a MemEnv): in-process locking, and Env errors as Status codes.

class MemVfsTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<SqliteStore>> OpenStore(env::Env* env) {
    return SqliteStore::Open(env, path_, SqliteOptions{.locking = VfsLocking::kInProcess});
  }

  env::FaultEnv env_{42};
  std::string path_ = "/meta/kv.db";
};

TEST_F(MemVfsTest, StoreWorksAndPersistsOnAnInMemoryEnv) {
  {
    auto store = OpenStore(&env_);
    ASSERT_OK(store.status());
    ASSERT_OK(PutOne(**store, "k", "v1"));
    EXPECT_EQ(*GetOne(**store, "k"), "v1");
  }
  EXPECT_TRUE(env::Exists(&env_, path_));
  auto store = OpenStore(&env_);
  ASSERT_OK(store.status());
  EXPECT_EQ(*GetOne(**store, "k"), "v1");
}

TEST_F(MemVfsTest, DelegatedLockingNeedsRealFiles) {
  auto store = SqliteStore::Open(&env_, path_);  // kDelegate: the unix VFS finds no such file
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kIOError) << store.status().ToString();
  EXPECT_NE(store.status().message().find("kDelegate"), std::string::npos)
      << store.status().ToString();
}

TEST_F(MemVfsTest, ConnectionsOfOneProcessShareLocksAndWalIndex) {
  auto a = OpenStore(&env_);
  auto b = OpenStore(&env_);
  ASSERT_OK(a.status());
  ASSERT_OK(b.status());
  ASSERT_OK(PutOne(**a, "from-a", "1"));
  EXPECT_EQ(*GetOne(**b, "from-a"), "1");  // b's connection sees a's commit in the WAL index
  auto t1 = (*a)->Begin();
  ASSERT_OK(t1.status());
  EXPECT_EQ(*(*t1)->Get("shared"), std::nullopt);
  ASSERT_OK(PutOne(**b, "shared", "b"));
  (*t1)->Put("shared", "a");
  EXPECT_EQ((*t1)->Commit().code(), Code::kAborted);
  EXPECT_EQ(*GetOne(**a, "shared"), "b");
}

TEST_F(MemVfsTest, ThreadsIncrementingOneCounterLoseNoUpdate) {
  constexpr int kThreads = 4, kIncrements = 100;
  ASSERT_OK(OpenStore(&env_).status());  // creates the file and schema once
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto store = OpenStore(&env_);  // one Store per thread
      if (!store.ok()) {
        results[t] = store.status();
        return;
      }
      for (int i = 0; i < kIncrements && results[t].ok(); ++i) {
        results[t] = Increment(**store, "counter");
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const Status& s : results) ASSERT_OK(s);
  auto store = OpenStore(&env_);
  ASSERT_OK(store.status());
  EXPECT_EQ(*GetOne(**store, "counter"), std::to_string(kThreads * kIncrements));
}

TEST_F(MemVfsTest, EnvErrorsBecomeStatusCodesAndTheStoreRecovers) {
  auto store = OpenStore(&env_);
  ASSERT_OK(store.status());
  ASSERT_OK(PutOne(**store, "k", "before"));

  env_.FailAfter(env::FaultOp::kWrite, 1, Code::kNoSpace);
  Status s = PutOne(**store, "k", "full");
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("kv.db-wal"), std::string::npos) << "Env error lost: "
                                                              << s.ToString();

  env_.FailAfter(env::FaultOp::kWrite, 1, Code::kIOError);
  s = PutOne(**store, "k", "eio");
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();

  env_.ClearFaults();
  ASSERT_OK(PutOne(**store, "k", "after"));
  EXPECT_EQ(*GetOne(**store, "k"), "after");
}

// A failed WAL sync leaves the commit's outcome unknown, and the store takes no more writes
// until it is opened again (the disk "recovering" must not turn retries into success); reads
// carry on.
TEST_F(MemVfsTest, AFailedWalSyncFailsTheStoreForWritesUntilReopened) {
  auto store = OpenStore(&env_);
  ASSERT_OK(store.status());
  ASSERT_OK(PutOne(**store, "k", "before"));
  ASSERT_OK((*store)->WriteHealth());

  env_.FailAfter(env::FaultOp::kSync, 1, Code::kIOError);
  Status s = PutOne(**store, "k", "fsync");
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("outcome unknown"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("kv.db-wal"), std::string::npos) << s.ToString();
  env_.ClearFaults();
  EXPECT_EQ((*store)->WriteHealth().code(), Code::kIOError);
  s = PutOne(**store, "other", "v");
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("failed after a WAL sync error"), std::string::npos)
      << s.ToString();
  auto k = GetOne(**store, "k");  // unknown outcome: either value, never anything else
  ASSERT_OK(k.status());
  EXPECT_TRUE(*k == "before" || *k == "fsync") << k->value_or("(absent)");
  EXPECT_EQ(*GetOne(**store, "other"), std::nullopt);

  store->reset();
  auto reopened = OpenStore(&env_);
  ASSERT_OK(reopened.status());
  ASSERT_OK((*reopened)->WriteHealth());
  ASSERT_OK(PutOne(**reopened, "k", "after"));
  EXPECT_EQ(*GetOne(**reopened, "k"), "after");
}

// CommitUnsynced makes a commit visible at once; SyncCommitted, from any thread, makes every
// commit before it durable.
TEST_F(MemVfsTest, UnsyncedCommitsAreDurableOnceSyncCommittedReturns) {
  auto store = OpenStore(&env_);
  ASSERT_OK(store.status());
  auto commit_unsynced = [&](const char* key) {
    auto txn = (*store)->Begin();
    ASSERT_OK(txn.status());
    (*txn)->Put(key, "v");
    ASSERT_OK((*txn)->CommitUnsynced());
  };
  commit_unsynced("first");
  commit_unsynced("second");
  Status synced;
  std::thread syncer([&] { synced = (*store)->SyncCommitted(); });
  syncer.join();
  ASSERT_OK(synced);
  commit_unsynced("unsynced");
  EXPECT_EQ(*GetOne(**store, "unsynced"), "v");
  env_.PowerCut(1, env::PowerCutMode::kDropAll);
  store->reset();  // its files died in the cut
  auto reopened = OpenStore(&env_);
  ASSERT_OK(reopened.status());
  EXPECT_EQ(*GetOne(**reopened, "first"), "v");
  EXPECT_EQ(*GetOne(**reopened, "second"), "v");
  EXPECT_EQ(*GetOne(**reopened, "unsynced"), std::nullopt);
}

TEST_F(MemVfsTest, ACommitOnAFullDiskFailsWithNoSpace) {
  auto store = OpenStore(&env_);
  ASSERT_OK(store.status());
  env_.SetNoSpaceAfterBytes(env_.StoredBytes() + 16 * 1024);
  Status s;
  for (int i = 0; i < 1000 && s.ok(); ++i) {
    s = PutOne(**store, "k" + std::to_string(i), std::string(1000, 'v'));
  }
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  env_.ClearFaults();
  ASSERT_OK(PutOne(**store, "after", "v"));
}

}  // namespace
}  // namespace dase::meta
