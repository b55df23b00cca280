#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "env/env.h"
#include "meta/kv.h"
#include "meta/sqlite_store.h"
#include "common/testing.h"

namespace dase::meta {
namespace {


class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ + "/meta/kv.db";  // the store creates the missing parent
  }

  std::unique_ptr<SqliteStore> OpenStore(SqliteOptions options = {}) {
    auto store = SqliteStore::Open(env_, path_, options);
    CHECK(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }

  static std::unique_ptr<Transaction> BeginOn(Store& store) {
    auto txn = store.Begin();
    CHECK(txn.ok()) << txn.status().ToString();
    return std::move(txn).value();
  }

  static Status PutOne(Store& store, std::string_view key, std::string_view value) {
    return store.RunTransaction([&](Transaction& txn) {
      txn.Put(key, value);
      return Status::Ok();
    });
  }

  static std::optional<std::string> GetOne(Store& store, std::string_view key) {
    auto value = BeginOn(store)->Get(key);
    CHECK(value.ok()) << value.status().ToString();
    return *value;
  }

  static std::vector<KeyValue> ScanAll(Transaction& txn, std::string_view begin = "",
                                       std::string_view end = "", size_t limit = 1000) {
    auto rows = txn.Scan(begin, end, limit);
    CHECK(rows.ok()) << rows.status().ToString();
    return *rows;
  }

  static std::vector<std::string> Keys(const std::vector<KeyValue>& rows) {
    std::vector<std::string> keys;
    for (const KeyValue& row : rows) keys.push_back(row.key);
    return keys;
  }

  env::Env* env_ = env::Env::Default();
  ::dase::testing::TempDir tmp_{"dase_meta_test"};
  const std::string dir_ = tmp_.path();
  std::string path_;
};

TEST_F(SqliteStoreTest, PutGetDelete) {
  auto store = OpenStore();
  EXPECT_EQ(GetOne(*store, "k"), std::nullopt);
  ASSERT_OK(PutOne(*store, "k", "v1"));
  EXPECT_EQ(GetOne(*store, "k"), "v1");
  ASSERT_OK(PutOne(*store, "k", "v2"));
  EXPECT_EQ(GetOne(*store, "k"), "v2");
  ASSERT_OK(store->RunTransaction([](Transaction& txn) {
    txn.Delete("k");
    return Status::Ok();
  }));
  EXPECT_EQ(GetOne(*store, "k"), std::nullopt);
}

TEST_F(SqliteStoreTest, EmptyKeyAndEmptyValueAreValues) {
  auto store = OpenStore();
  ASSERT_OK(PutOne(*store, "", ""));
  EXPECT_EQ(GetOne(*store, ""), "");
  auto txn = BeginOn(*store);
  EXPECT_EQ(ScanAll(*txn), (std::vector<KeyValue>{{"", ""}}));
}

TEST_F(SqliteStoreTest, ScanIsInByteOrder) {
  using namespace std::string_literals;
  std::vector<std::string> keys = {"b", "\xff"s, "a\x00"s, "\x00"s, "a\xff"s,
                                   "\xff\xff"s, "a", "\x00\x00"s, "\x7f"s, "\x80"s};
  auto store = OpenStore();
  ASSERT_OK(store->RunTransaction([&](Transaction& txn) {
    for (const std::string& key : keys) txn.Put(key, "v" + key);
    return Status::Ok();
  }));
  std::sort(keys.begin(), keys.end());  // std::string compares bytes as unsigned
  auto txn = BeginOn(*store);
  EXPECT_EQ(Keys(ScanAll(*txn)), keys);
  EXPECT_EQ(ScanAll(*txn)[3], (KeyValue{"a\x00"s, "va\x00"s}));
  EXPECT_EQ(Keys(ScanAll(*txn, "a", PrefixEnd("a"))),
            (std::vector<std::string>{"a", "a\x00"s, "a\xff"s}));
  EXPECT_EQ(Keys(ScanAll(*txn, "\xff"s)), (std::vector<std::string>{"\xff"s, "\xff\xff"s}));
  EXPECT_EQ(Keys(ScanAll(*txn, "", "a")), (std::vector<std::string>{"\x00"s, "\x00\x00"s}));
  // Unsigned: 0x80 sorts after 0x7f, not before 0x00.
  EXPECT_EQ(Keys(ScanAll(*txn, "b", "\xff"s)),
            (std::vector<std::string>{"b", "\x7f"s, "\x80"s}));
  EXPECT_EQ(Keys(ScanAll(*txn, "", "", 3)), (std::vector<std::string>(keys.begin(),
                                                                       keys.begin() + 3)));
  EXPECT_TRUE(ScanAll(*txn, "b", "a").empty());
  EXPECT_TRUE(ScanAll(*txn, "", "", 0).empty());
}

TEST_F(SqliteStoreTest, PrefixEndAndKeySuccessor) {
  using namespace std::string_literals;
  EXPECT_EQ(PrefixEnd("vms/"), "vms0");
  EXPECT_EQ(PrefixEnd("a\xff\xff"s), "b");
  EXPECT_EQ(PrefixEnd("\xff"s), "");
  EXPECT_EQ(PrefixEnd(""), "");
  EXPECT_EQ(KeySuccessor("a"), "a\x00"s);
}

TEST_F(SqliteStoreTest, GetReadsItsOwnWrites) {
  auto store = OpenStore();
  ASSERT_OK(PutOne(*store, "stored", "old"));
  auto txn = BeginOn(*store);
  txn->Put("new", "1");
  txn->Put("stored", "changed");
  EXPECT_EQ(*txn->Get("new"), "1");
  EXPECT_EQ(*txn->Get("stored"), "changed");
  txn->Delete("stored");
  EXPECT_EQ(*txn->Get("stored"), std::nullopt);
  EXPECT_EQ(GetOne(*store, "stored"), "old");  // nothing visible before Commit
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(GetOne(*store, "stored"), std::nullopt);
  EXPECT_EQ(GetOne(*store, "new"), "1");
}

TEST_F(SqliteStoreTest, ScanMergesItsOwnWrites) {
  auto store = OpenStore();
  ASSERT_OK(store->RunTransaction([](Transaction& txn) {
    for (const char* key : {"a", "c", "e", "g"}) txn.Put(key, std::string("s") + key);
    return Status::Ok();
  }));
  auto txn = BeginOn(*store);
  txn->Put("b", "wb");
  txn->Delete("c");
  txn->Put("e", "we");
  txn->Put("f", "wf");
  txn->Delete("zz");  // deleting an absent key shows nothing
  EXPECT_EQ(ScanAll(*txn),
            (std::vector<KeyValue>{{"a", "sa"}, {"b", "wb"}, {"e", "we"}, {"f", "wf"},
                                   {"g", "sg"}}));
  EXPECT_EQ(ScanAll(*txn, "", "", 2), (std::vector<KeyValue>{{"a", "sa"}, {"b", "wb"}}));
  EXPECT_EQ(ScanAll(*txn, "b", "f"), (std::vector<KeyValue>{{"b", "wb"}, {"e", "we"}}));
  EXPECT_EQ(ScanAll(*txn, "c", "e"), std::vector<KeyValue>{});
}

TEST_F(SqliteStoreTest, WriteAfterReadOfAChangedKeyAborts) {
  auto store = OpenStore();
  ASSERT_OK(PutOne(*store, "k", "0"));
  auto t1 = BeginOn(*store);
  EXPECT_EQ(*t1->Get("k"), "0");
  ASSERT_OK(PutOne(*store, "k", "t2"));
  t1->Put("k", "t1");
  Status s = t1->Commit();
  EXPECT_EQ(s.code(), Code::kAborted) << s.ToString();
  EXPECT_EQ(GetOne(*store, "k"), "t2");
}

TEST_F(SqliteStoreTest, KeyReadAsAbsentThenCreatedAborts) {
  auto store = OpenStore();
  auto t1 = BeginOn(*store);
  EXPECT_EQ(*t1->Get("k"), std::nullopt);
  ASSERT_OK(PutOne(*store, "k", "t2"));
  t1->Put("other", "t1");
  EXPECT_EQ(t1->Commit().code(), Code::kAborted);
  EXPECT_EQ(GetOne(*store, "other"), std::nullopt);
}

TEST_F(SqliteStoreTest, DeleteAndRecreateOfAReadKeyAborts) {
  auto store = OpenStore();
  ASSERT_OK(PutOne(*store, "k", "same"));
  auto t1 = BeginOn(*store);
  EXPECT_EQ(*t1->Get("k"), "same");
  ASSERT_OK(store->RunTransaction([](Transaction& txn) {
    txn.Delete("k");
    return Status::Ok();
  }));
  ASSERT_OK(PutOne(*store, "k", "same"));  // same value, new version
  t1->Put("k", "t1");
  EXPECT_EQ(t1->Commit().code(), Code::kAborted);
}

TEST_F(SqliteStoreTest, PhantomInAScannedRangeAborts) {
  auto store = OpenStore();
  ASSERT_OK(PutOne(*store, "dir/a", "1"));
  ASSERT_OK(PutOne(*store, "dir/c", "1"));
  auto t1 = BeginOn(*store);
  EXPECT_EQ(ScanAll(*t1, "dir/", PrefixEnd("dir/")).size(), 2u);
  ASSERT_OK(PutOne(*store, "dir/b", "phantom"));
  t1->Put("count", "2");
  EXPECT_EQ(t1->Commit().code(), Code::kAborted);

  auto t2 = BeginOn(*store);
  EXPECT_EQ(ScanAll(*t2, "dir/", PrefixEnd("dir/")).size(), 3u);
  ASSERT_OK(store->RunTransaction([](Transaction& txn) {
    txn.Delete("dir/a");
    return Status::Ok();
  }));
  t2->Put("count", "3");
  EXPECT_EQ(t2->Commit().code(), Code::kAborted);
}

TEST_F(SqliteStoreTest, ChangesBeyondALimitedScanDoNotConflict) {
  auto store = OpenStore();
  for (const char* key : {"a", "b", "c", "d"}) ASSERT_OK(PutOne(*store, key, "1"));
  auto t1 = BeginOn(*store);
  EXPECT_EQ(Keys(ScanAll(*t1, "a", "", 2)), (std::vector<std::string>{"a", "b"}));
  ASSERT_OK(PutOne(*store, "bb", "1"));  // after the last key seen
  ASSERT_OK(PutOne(*store, "d", "2"));
  t1->Put("x", "1");
  ASSERT_OK(t1->Commit());

  auto t2 = BeginOn(*store);
  EXPECT_EQ(Keys(ScanAll(*t2, "a", "", 2)), (std::vector<std::string>{"a", "b"}));
  ASSERT_OK(PutOne(*store, "ab", "1"));  // inside what was seen
  t2->Put("x", "2");
  EXPECT_EQ(t2->Commit().code(), Code::kAborted);
}

TEST_F(SqliteStoreTest, NonConflictingTransactionsBothCommit) {
  auto store = OpenStore();
  ASSERT_OK(PutOne(*store, "a", "0"));
  ASSERT_OK(PutOne(*store, "b", "0"));
  auto t1 = BeginOn(*store);
  auto t2 = BeginOn(*store);
  EXPECT_EQ(*t1->Get("a"), "0");
  EXPECT_EQ(*t2->Get("b"), "0");
  EXPECT_EQ(ScanAll(*t2, "b", "c").size(), 1u);
  t1->Put("a", "1");
  t2->Put("b", "1");
  ASSERT_OK(t2->Commit());
  ASSERT_OK(t1->Commit());
  EXPECT_EQ(GetOne(*store, "a"), "1");
  EXPECT_EQ(GetOne(*store, "b"), "1");
}

TEST_F(SqliteStoreTest, BlindWritesDoNotConflict) {
  auto store = OpenStore();
  auto t1 = BeginOn(*store);
  auto t2 = BeginOn(*store);
  t1->Put("k", "t1");
  t2->Put("k", "t2");
  ASSERT_OK(t2->Commit());
  ASSERT_OK(t1->Commit());
  EXPECT_EQ(GetOne(*store, "k"), "t1");
}

TEST_F(SqliteStoreTest, ReadsComeFromOneSnapshot) {
  auto store = OpenStore();
  ASSERT_OK(store->RunTransaction([](Transaction& txn) {
    txn.Put("x", "old");
    txn.Put("y", "old");
    return Status::Ok();
  }));
  auto t1 = BeginOn(*store);
  EXPECT_EQ(*t1->Get("x"), "old");
  ASSERT_OK(store->RunTransaction([](Transaction& txn) {
    txn.Put("x", "new");
    txn.Put("y", "new");
    return Status::Ok();
  }));
  EXPECT_EQ(*t1->Get("y"), "old");
  EXPECT_EQ(ScanAll(*t1).size(), 2u);
  EXPECT_EQ(ScanAll(*t1)[1].value, "old");
  ASSERT_OK(t1->Commit());  // read-only: serializable at its snapshot
}

TEST_F(SqliteStoreTest, RunTransactionRetriesAConflict) {
  auto store = OpenStore();
  ASSERT_OK(PutOne(*store, "k", "0"));
  int attempts = 0;
  ASSERT_OK(store->RunTransaction([&](Transaction& txn) -> Status {
    ++attempts;
    ASSIGN_OR_RETURN(auto value, txn.Get("k"));
    if (attempts == 1) RETURN_IF_ERROR(PutOne(*store, "k", "interloper"));
    txn.Put("k", *value + "+mine");
    return Status::Ok();
  }));
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(GetOne(*store, "k"), "interloper+mine");
}

TEST_F(SqliteStoreTest, RunTransactionGivesUpAfterMaxAttempts) {
  auto store = OpenStore();
  int attempts = 0;
  Status s = store->RunTransaction(
      [&](Transaction& txn) -> Status {
        ++attempts;
        ASSIGN_OR_RETURN(auto value, txn.Get("k"));
        RETURN_IF_ERROR(PutOne(*store, "k", std::to_string(attempts)));
        txn.Put("k", "never");
        return Status::Ok();
      },
      3);
  EXPECT_EQ(s.code(), Code::kAborted) << s.ToString();
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(GetOne(*store, "k"), "3");
}

TEST_F(SqliteStoreTest, RunTransactionReturnsBodyErrorsWithoutCommitting) {
  auto store = OpenStore();
  int attempts = 0;
  Status s = store->RunTransaction([&](Transaction& txn) {
    ++attempts;
    txn.Put("k", "v");
    return NotFound("no such thing");
  });
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(GetOne(*store, "k"), std::nullopt);
}

TEST_F(SqliteStoreTest, TransactionDestroyedWithoutCommitDoesNothing) {
  auto store = OpenStore();
  {
    auto txn = BeginOn(*store);
    EXPECT_EQ(*txn->Get("k"), std::nullopt);
    txn->Put("k", "v");
  }
  EXPECT_EQ(GetOne(*store, "k"), std::nullopt);
}

TEST_F(SqliteStoreTest, OversizedWritesFailAtCommit) {
  auto store = OpenStore();
  auto t1 = BeginOn(*store);
  t1->Put("small", "v");
  t1->Put(std::string(kKeyBytesMax + 1, 'k'), "v");
  EXPECT_EQ(t1->Commit().code(), Code::kInvalidArgument);
  auto t2 = BeginOn(*store);
  t2->Put("k", std::string(kValueBytesMax + 1, 'v'));
  EXPECT_EQ(t2->Commit().code(), Code::kInvalidArgument);
  EXPECT_EQ(GetOne(*store, "small"), std::nullopt);
}

TEST_F(SqliteStoreTest, OpenTransactionsAreLimited) {
  auto store = OpenStore(SqliteOptions{.open_transactions_max = 2});
  auto t1 = BeginOn(*store);
  auto t2 = BeginOn(*store);
  EXPECT_EQ(store->Begin().status().code(), Code::kResourceExhausted);
  t1.reset();
  EXPECT_TRUE(store->Begin().ok());
}

// SQLite's own checkpoints are off (they would run in every commit once the WAL is long); the
// store checkpoints on the thread that syncs: SyncCommitted, or a durable Commit past a longer
// WAL. Either way the database file takes in what the WAL held.
TEST_F(SqliteStoreTest, SyncCommittedCheckpointsTheWal) {
  auto store = OpenStore();
  uint64_t before = env_->Stat(path_)->size;
  const std::string value(3000, 'v');
  for (int i = 0; i < 1200; ++i) {  // at least a leaf page and the commit counter's page each
    auto txn = BeginOn(*store);
    txn->Put(fmt::format("k{:05}", i), value);
    ASSERT_OK(txn->CommitUnsynced());
  }
  EXPECT_EQ(env_->Stat(path_)->size, before) << "checkpointed before any sync";
  ASSERT_OK(store->SyncCommitted());
  EXPECT_GT(env_->Stat(path_)->size, before + 1200 * value.size());
}

TEST_F(SqliteStoreTest, DurableCommitsCheckpointALongerWal) {
  auto store = OpenStore();
  uint64_t before = env_->Stat(path_)->size;
  const std::string value(3000, 'v');
  for (int i = 0; i < 2500; ++i) ASSERT_OK(PutOne(*store, fmt::format("k{:05}", i), value));
  EXPECT_GT(env_->Stat(path_)->size, before + 1000 * value.size());
}

TEST_F(SqliteStoreTest, DataPersistsAcrossReopen) {
  {
    auto store = OpenStore();
    ASSERT_OK(PutOne(*store, "k", "durable"));
  }
  auto store = OpenStore();
  EXPECT_EQ(GetOne(*store, "k"), "durable");
  // Commit numbers continue rather than restart, so versions stay unique.
  auto t1 = BeginOn(*store);
  EXPECT_EQ(*t1->Get("k"), "durable");
  ASSERT_OK(PutOne(*store, "k", "durable"));
  t1->Put("k", "x");
  EXPECT_EQ(t1->Commit().code(), Code::kAborted);
}

TEST_F(SqliteStoreTest, TwoStoresOnOneFileSeeEachOthersCommits) {
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_OK(PutOne(*a, "from-a", "1"));
  EXPECT_EQ(GetOne(*b, "from-a"), "1");
  auto ta = BeginOn(*a);
  EXPECT_EQ(*ta->Get("shared"), std::nullopt);
  ASSERT_OK(PutOne(*b, "shared", "b"));
  ta->Put("shared", "a");
  EXPECT_EQ(ta->Commit().code(), Code::kAborted);
  EXPECT_EQ(GetOne(*a, "shared"), "b");
}

// A write waits for another connection's write lock (here a plain SQLite connection in a
// write transaction) while the lock is held, up to busy_timeout_ms, and then reports it.
TEST_F(SqliteStoreTest, CommitWaitsForTheWriteLockUpToTheBusyTimeout) {
  auto store = OpenStore(SqliteOptions{.busy_timeout_ms = 300});
  ASSERT_OK(PutOne(*store, "k", "0"));
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto refused = BeginOn(*store);
  refused->Put("k", "1");
  const Status s = refused->Commit();
  EXPECT_EQ(s.code(), Code::kAborted) << s.ToString();
  // Freed while the store waits: the commit goes through.
  std::thread release([other] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  });
  const Status waited = PutOne(*store, "k", "2");
  EXPECT_TRUE(waited.ok()) << waited.ToString();
  release.join();
  sqlite3_close(other);
  EXPECT_EQ(GetOne(*store, "k"), "2");
}

TEST_F(SqliteStoreTest, RefusesAFileThatIsNotADatabase) {
  ASSERT_OK(env::CreateDirs(env_, dir_ + "/meta"));
  ASSERT_OK(env::WriteFileAtomic(env_, path_, std::string(4096, 'x')));
  EXPECT_EQ(SqliteStore::Open(env_, path_).status().code(), Code::kCorruption);
}

TEST_F(SqliteStoreTest, RefusesAnUnknownFormatVersion) {
  OpenStore().reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(SqliteStore::Open(env_, path_).status().code(), Code::kFailedPrecondition);
}

// Increments the decimal counter at "counter" `count` times, each in its own transaction.
Status IncrementMany(const std::string& path, int count, int* attempts) {
  ASSIGN_OR_RETURN(auto store, SqliteStore::Open(env::Env::Default(), path));
  for (int i = 0; i < count; ++i) {
    RETURN_IF_ERROR(store->RunTransaction(
        [&](Transaction& txn) -> Status {
          ++*attempts;
          ASSIGN_OR_RETURN(auto value, txn.Get("counter"));
          int64_t n = 0;
          if (value) std::from_chars(value->data(), value->data() + value->size(), n);
          txn.Put("counter", std::to_string(n + 1));
          return Status::Ok();
        },
        /*max_attempts=*/1000));
  }
  return Status::Ok();
}

// Forks `children` processes that run IncrementMany at once; each opens its own Store, as every
// node process does (SQLite handles must not cross a fork).
std::vector<pid_t> IncrementInChildren(const std::string& path, int children, int count) {
  std::vector<pid_t> pids;
  for (int c = 0; c < children; ++c) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      int attempts = 0;
      Status s = IncrementMany(path, count, &attempts);
      std::fprintf(stderr, "child %d: %d increments in %d attempts: %s\n", c, count, attempts,
                   s.ToString().c_str());
      _exit(s.ok() ? 0 : 1);  // no gtest or static destructors in the child
    }
    pids.push_back(pid);
  }
  return pids;
}

// Returns how many of `pids` failed.
int WaitFor(const std::vector<pid_t>& pids) {
  int failed = 0;
  for (pid_t pid : pids) {
    int wstatus = 0;
    if (waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      ++failed;
    }
  }
  return failed;
}

TEST_F(SqliteStoreTest, TwoProcessesIncrementingOneCounterLoseNoUpdate) {
  constexpr int kIncrements = 500;
  ASSERT_OK(env::CreateDirs(env_, dir_ + "/meta"));
  std::vector<pid_t> children = IncrementInChildren(path_, 1, kIncrements);
  int attempts = 0;
  Status parent = IncrementMany(path_, kIncrements, &attempts);
  std::fprintf(stderr, "parent: %d increments in %d attempts\n", kIncrements, attempts);
  EXPECT_EQ(WaitFor(children), 0);
  ASSERT_OK(parent);
  auto store = OpenStore();
  EXPECT_EQ(GetOne(*store, "counter"), std::to_string(2 * kIncrements));
}

TEST_F(SqliteStoreTest, ProcessesCreatingOneNewFileAtOnceAllSucceed) {
  constexpr int kChildren = 4, kIncrements = 50;
  ASSERT_OK(env::CreateDirs(env_, dir_ + "/meta"));
  std::vector<pid_t> children = IncrementInChildren(path_, kChildren, kIncrements);
  EXPECT_EQ(WaitFor(children), 0);
  auto store = OpenStore();
  EXPECT_EQ(GetOne(*store, "counter"), std::to_string(kChildren * kIncrements));
}

}  // namespace
}  // namespace dase::meta
