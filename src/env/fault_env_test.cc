// FaultEnv: what survives a power cut, and injected faults. Randomized tests print their seed;
// replay one with DASE_TEST_SEED=<seed>.
#include "env/fault_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <set>
#include "common/testing.h"

namespace dase::env {
namespace {


constexpr PowerCutMode kAllModes[] = {PowerCutMode::kDropAll, PowerCutMode::kKeepAll,
                                      PowerCutMode::kRandom};


// The file's content, or "<Code>" when it cannot be read.
std::string Read(Env* env, const std::string& path) {
  auto data = ReadFile(env, path);
  if (!data.ok()) return "<" + std::string(CodeName(data.status().code())) + ">";
  return *data;
}

Status WriteAt(Env* env, const std::string& path, uint64_t offset, std::string_view data) {
  ASSIGN_OR_RETURN(auto file, env->Open(path, OpenMode::kCreate));
  return file->WriteAt(offset, data);
}

// A FaultEnv in which /d exists durably.
std::unique_ptr<FaultEnv> NewEnv(uint64_t seed) {
  auto env = std::make_unique<FaultEnv>(seed);
  CHECK(env->CreateDir("/d").ok());
  CHECK(env->SyncDir("/").ok());
  return env;
}

TEST(FaultEnvTest, SyncedDataSurvivesEveryPowerCut) {
  for (PowerCutMode mode : kAllModes) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      auto env = NewEnv(seed);
      std::string big(3000, 'x');
      ASSERT_OK(WriteFileAtomic(env.get(), "/d/a", big));
      ASSERT_OK(WriteFileAtomic(env.get(), "/d/b", "first"));
      {
        auto file = env->Open("/d/b", OpenMode::kReadWrite);
        ASSERT_TRUE(file.ok());
        ASSERT_OK((*file)->WriteAt(5, " second"));
        ASSERT_OK((*file)->Sync());  // the name was already durable: no SyncDir needed
      }
      PowerCutReport report = env->PowerCut(seed, mode);
      EXPECT_EQ(Read(env.get(), "/d/a"), big);
      EXPECT_EQ(Read(env.get(), "/d/b"), "first second");
      EXPECT_TRUE(report.outcomes.empty());
    }
  }
}

// Synced "old content", then an unsynced overwrite, append and truncate.
std::unique_ptr<FaultEnv> EnvWithUnsyncedChanges() {
  auto env = NewEnv(1);
  CHECK(WriteFileAtomic(env.get(), "/d/f", "old content").ok());
  auto file = env->Open("/d/f", OpenMode::kReadWrite).value();
  CHECK(file->WriteAt(0, "NEW").ok());
  CHECK(file->WriteAt(20, "tail").ok());
  CHECK(file->Truncate(22).ok());
  return env;
}

TEST(FaultEnvTest, UnsyncedChangesAreLostOrKeptByMode) {
  const std::string old_data = "old content";
  const std::string new_data = std::string("NEW content") + std::string(9, '\0') + "ta";
  auto drop = EnvWithUnsyncedChanges();
  EXPECT_EQ(Read(drop.get(), "/d/f"), new_data);  // reads see the page cache
  PowerCutReport report = drop->PowerCut(3, PowerCutMode::kDropAll);
  EXPECT_EQ(Read(drop.get(), "/d/f"), old_data);
  EXPECT_EQ(report.count(Fate::kDropped), 3u);

  auto keep = EnvWithUnsyncedChanges();
  report = keep->PowerCut(3, PowerCutMode::kKeepAll);
  EXPECT_EQ(Read(keep.get(), "/d/f"), new_data);
  EXPECT_EQ(report.count(Fate::kKept), 3u);
}

struct Change {
  ChangeKind kind;
  uint64_t offset;
  std::string data;
};

// Replays a report over the durable content. `wild` marks the bytes a garbled write left as
// noise: they may hold anything; every other byte is determined.
void Replay(const std::vector<Change>& changes, const PowerCutReport& report, bool powersafe,
            std::string& expected, std::vector<bool>& wild) {
  ASSERT_EQ(report.outcomes.size(), changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    const Change& change = changes[i];
    const ChangeOutcome& outcome = report.outcomes[i];
    ASSERT_EQ(outcome.kind, change.kind);
    ASSERT_EQ(outcome.offset, change.offset);
    ASSERT_EQ(outcome.length, change.data.size());
    uint64_t write_bytes = change.data.size();
    switch (outcome.fate) {
      case Fate::kKept: break;
      case Fate::kDropped: continue;
      case Fate::kTorn:
        ASSERT_LT(outcome.torn_kept_bytes, change.data.size());
        if (outcome.torn_kept_bytes > 0) {
          ASSERT_EQ((change.offset + outcome.torn_kept_bytes) % FaultEnv::kSectorBytes, 0u);
        }
        write_bytes = outcome.torn_kept_bytes;
        if (write_bytes == 0) continue;  // nothing landed: the file did not grow either
        break;
      case Fate::kGarbled: break;
      case Fate::kLost: FAIL() << "no sync failed, yet a write was lost";
    }
    if (change.kind == ChangeKind::kTruncate) {
      expected.resize(change.offset, '\0');
      wild.resize(change.offset, false);
      continue;
    }
    uint64_t end = change.offset + write_bytes;
    if (expected.size() < end) {
      expected.resize(end, '\0');
      wild.resize(end, false);
    }
    if (outcome.fate == Fate::kGarbled) {
      if (powersafe) {  // the neighbours of the write are untouched
        ASSERT_EQ(outcome.garbled_begin, change.offset);
        ASSERT_EQ(outcome.garbled_end, end);
      } else {
        ASSERT_LE(outcome.garbled_begin, change.offset);
        ASSERT_GE(outcome.garbled_end, end);
        ASSERT_LE(outcome.garbled_end - outcome.garbled_begin,
                  change.data.size() + 2 * FaultEnv::kSectorBytes);
      }
      for (uint64_t j = outcome.garbled_begin; j < outcome.garbled_end; ++j) wild[j] = true;
      continue;
    }
    for (uint64_t j = 0; j < write_bytes; ++j) {
      expected[change.offset + j] = change.data[j];
      wild[change.offset + j] = false;
    }
  }
}

class RandomCutTest : public ::testing::TestWithParam<bool> {};

TEST_P(RandomCutTest, CutsMatchTheirReports) {
  const bool powersafe = GetParam();
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  PowerCutReport totals;
  for (int iteration = 0; iteration < 300; ++iteration) {
    uint64_t cut_seed = rng();
    SCOPED_TRACE("iteration " + std::to_string(iteration) + " cut seed " +
                 std::to_string(cut_seed));
    auto env = NewEnv(cut_seed);
    env->SetPowersafeOverwrite(powersafe);
    std::string durable(rng() % 3000, 'D');
    ASSERT_OK(WriteFileAtomic(env.get(), "/d/f", durable));
    auto file = env->Open("/d/f", OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok());
    std::vector<Change> changes;
    for (int i = 0, n = 1 + static_cast<int>(rng() % 6); i < n; ++i) {
      if (rng() % 5 == 0) {
        uint64_t size = rng() % 4000;
        // Truncating to the current size changes nothing, so there is nothing to lose.
        if (size != *(*file)->Size()) changes.push_back({ChangeKind::kTruncate, size, ""});
        ASSERT_OK((*file)->Truncate(size));
      } else {
        std::string data(1 + rng() % 1500, static_cast<char>('a' + i));
        changes.push_back({ChangeKind::kWrite, rng() % 4000, data});
        ASSERT_OK((*file)->WriteAt(changes.back().offset, data));
      }
    }
    PowerCutReport report = env->PowerCut(cut_seed, PowerCutMode::kRandom);
    std::string expected = durable;
    std::vector<bool> wild(expected.size(), false);
    Replay(changes, report, powersafe, expected, wild);
    if (HasFatalFailure()) return;
    std::string actual = Read(env.get(), "/d/f");
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t j = 0; j < actual.size(); ++j) {
      if (!wild[j]) {
        ASSERT_EQ(actual[j], expected[j]) << "byte " << j;
      }
    }
    for (int f = 0; f < kFateCount; ++f) totals.fates[f] += report.fates[f];
  }
  for (Fate fate : {Fate::kKept, Fate::kDropped, Fate::kTorn, Fate::kGarbled}) {
    EXPECT_GT(totals.count(fate), 0u) << FateName(fate);
  }
}

INSTANTIATE_TEST_SUITE_P(FaultEnvTest, RandomCutTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "PowersafeOverwrite" : "SectorGarble";
                         });

TEST(FaultEnvTest, CreatedFileVanishesUnlessItsDirectoryIsSynced) {
  for (PowerCutMode mode : {PowerCutMode::kDropAll, PowerCutMode::kKeepAll}) {
    auto env = NewEnv(1);
    for (const char* path : {"/d/synced", "/d/unsynced"}) {
      auto file = env->Open(path, OpenMode::kCreate);
      ASSERT_TRUE(file.ok());
      ASSERT_OK((*file)->WriteAt(0, "data"));
      ASSERT_OK((*file)->Sync());  // the content is durable; the name is not, yet
      if (std::string(path) == "/d/synced") ASSERT_OK(env->SyncDir("/d"));
    }
    env->PowerCut(1, mode);
    EXPECT_EQ(Read(env.get(), "/d/synced"), "data");
    EXPECT_EQ(Read(env.get(), "/d/unsynced"),
              mode == PowerCutMode::kDropAll ? "<NotFound>" : "data");
  }
}

TEST(FaultEnvTest, DirectoryNotSyncedInItsParentVanishesWithItsContents) {
  auto env = NewEnv(1);
  ASSERT_OK(env->CreateDir("/d/sub"));
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/sub/f", "data"));  // syncs /d/sub, not /d
  env->PowerCut(1, PowerCutMode::kDropAll);
  EXPECT_FALSE(Exists(env.get(), "/d/sub"));
  EXPECT_TRUE(env->ListDir("/d")->empty());
}

TEST(FaultEnvTest, RenameAndRemovalWithoutSyncDirRevert) {
  auto env = NewEnv(1);
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/a", "A"));
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/b", "B"));
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/c", "C"));
  ASSERT_OK(env->Rename("/d/a", "/d/b"));
  ASSERT_OK(env->RemoveFile("/d/c"));
  EXPECT_EQ(Read(env.get(), "/d/b"), "A");
  PowerCutReport report = env->PowerCut(1, PowerCutMode::kDropAll);
  EXPECT_EQ(Read(env.get(), "/d/a"), "A");
  EXPECT_EQ(Read(env.get(), "/d/b"), "B");
  EXPECT_EQ(Read(env.get(), "/d/c"), "C");
  EXPECT_EQ(report.entry_changes_reverted, 2u);

  ASSERT_OK(env->Rename("/d/a", "/d/b"));
  ASSERT_OK(env->SyncDir("/d"));
  env->PowerCut(1, PowerCutMode::kDropAll);
  EXPECT_EQ(Read(env.get(), "/d/a"), "<NotFound>");
  EXPECT_EQ(Read(env.get(), "/d/b"), "A");
}

TEST(FaultEnvTest, RandomCutsKeepAPrefixOfEachDirectorysChanges) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  std::set<size_t> survivors_seen;
  for (int iteration = 0; iteration < 100; ++iteration) {
    uint64_t cut_seed = rng();
    SCOPED_TRACE("cut seed " + std::to_string(cut_seed));
    auto env = NewEnv(cut_seed);
    for (const char* path : {"/d/a", "/d/b", "/d/c"}) ASSERT_OK(WriteAt(env.get(), path, 0, "x"));
    env->PowerCut(cut_seed, PowerCutMode::kRandom);
    std::vector<std::string> names = env->ListDir("/d").value();
    std::vector<std::string> prefix = {"a", "b", "c"};
    prefix.resize(names.size());
    EXPECT_EQ(names, prefix);  // creations land in order, never with a gap
    survivors_seen.insert(names.size());
  }
  EXPECT_EQ(survivors_seen.size(), 4u);
}

TEST(FaultEnvTest, CrossDirectoryRenamesNeverLeaveADirectoryWithTwoParents) {
  auto env = NewEnv(1);
  ASSERT_OK(env->CreateDir("/d/x"));
  ASSERT_OK(env->CreateDir("/d/y"));
  ASSERT_OK(env->SyncDir("/d"));
  ASSERT_OK(env->Rename("/d/x", "/d/y/x"));
  ASSERT_OK(env->SyncDir("/d/y"));  // the new name is durable, the old one's removal is not
  PowerCutReport report = env->PowerCut(1, PowerCutMode::kDropAll);
  EXPECT_EQ(report.dir_links_dropped, 1u);
  EXPECT_TRUE(Exists(env.get(), "/d/x"));
  EXPECT_FALSE(Exists(env.get(), "/d/y/x"));
}

// WriteFileAtomic stopped by a fault at each of its operations, then a power cut: the file
// holds the old or the new content, never anything else, and the new one whenever the write
// was acknowledged.
void CheckAtomicWriteAtEveryCrashPoint(bool old_exists, Code code, uint64_t seed) {
  const std::string path = "/d/f", old_data(700, 'o'), new_data(1500, 'n');
  int64_t ops = 0;
  {
    auto probe = NewEnv(seed);
    if (old_exists) ASSERT_OK(WriteFileAtomic(probe.get(), path, old_data));
    uint64_t before = probe->OpCount(FaultOp::kAny);
    ASSERT_OK(WriteFileAtomic(probe.get(), path, new_data));
    ops = static_cast<int64_t>(probe->OpCount(FaultOp::kAny) - before);
  }
  std::mt19937_64 rng(seed);
  for (int64_t k = 1; k <= ops + 1; ++k) {
    for (PowerCutMode mode : kAllModes) {
      for (int rep = 0; rep < (mode == PowerCutMode::kRandom ? 10 : 1); ++rep) {
        uint64_t cut_seed = rng();
        SCOPED_TRACE("k=" + std::to_string(k) + " cut seed " + std::to_string(cut_seed));
        auto env = NewEnv(seed);
        if (old_exists) ASSERT_OK(WriteFileAtomic(env.get(), path, old_data));
        if (k <= ops) env->FailAfter(FaultOp::kAny, k, code);
        Status status = WriteFileAtomic(env.get(), path, new_data);
        EXPECT_EQ(status.ok(), k > ops) << status.ToString();
        if (!status.ok()) {
          EXPECT_EQ(status.code(), code);
        }
        env->ClearFaults();
        env->PowerCut(cut_seed, mode);
        std::string got = Read(env.get(), path);
        if (status.ok()) {
          EXPECT_EQ(got, new_data);
        } else {
          EXPECT_TRUE(got == new_data || got == (old_exists ? old_data : "<NotFound>"))
              << got.substr(0, 40);
        }
      }
    }
  }
}

TEST(FaultEnvTest, WriteFileAtomicIsAllOrNothingAtEveryCrashPoint) {
  const uint64_t seed = testing::TestSeed();
  CheckAtomicWriteAtEveryCrashPoint(true, Code::kIOError, seed);
  CheckAtomicWriteAtEveryCrashPoint(false, Code::kIOError, seed);
  CheckAtomicWriteAtEveryCrashPoint(true, Code::kNoSpace, seed);
}

TEST(FaultEnvTest, FailAfterFailsTheNthMatchingOperationOnce) {
  auto env = NewEnv(1);
  env->FailAfter(FaultOp::kWrite, 2, Code::kNoSpace);
  ASSERT_OK(WriteAt(env.get(), "/d/f", 0, "a"));
  EXPECT_EQ(WriteAt(env.get(), "/d/f", 1, "b").code(), Code::kNoSpace);
  ASSERT_OK(WriteAt(env.get(), "/d/f", 2, "c"));
  EXPECT_EQ(Read(env.get(), "/d/f"), std::string("a\0c", 3));  // the failed write did nothing

  env->FailAfter(FaultOp::kOpen, 1, Code::kIOError);
  EXPECT_EQ(env->Open("/d/g", OpenMode::kCreate).status().code(), Code::kIOError);
  EXPECT_FALSE(Exists(env.get(), "/d/g"));

  env->FailAfter(FaultOp::kRename, 1, Code::kIOError);
  EXPECT_EQ(env->Rename("/d/f", "/d/h").code(), Code::kIOError);
  EXPECT_TRUE(Exists(env.get(), "/d/f"));

  env->FailAfter(FaultOp::kAnyWrite, 1, Code::kIOError);
  EXPECT_TRUE(env->Stat("/d/f").ok());  // reads do not count
  EXPECT_TRUE(env->ListDir("/d").ok());
  EXPECT_EQ(env->CreateDir("/d/sub").code(), Code::kIOError);
  EXPECT_TRUE(env->CreateDir("/d/sub").ok());

  env->FailAfter(FaultOp::kSyncDir, 1, Code::kIOError);
  EXPECT_EQ(env->SyncDir("/d").code(), Code::kIOError);
  env->PowerCut(1, PowerCutMode::kDropAll);  // the failed SyncDir made nothing durable
  EXPECT_FALSE(Exists(env.get(), "/d/sub"));
}

TEST(FaultEnvTest, CountersCountEveryAttempt) {
  auto env = NewEnv(1);
  uint64_t syncdirs = env->OpCount(FaultOp::kSyncDir);
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/f", "x"));
  EXPECT_EQ(env->OpCount(FaultOp::kSyncDir), syncdirs + 1);
  EXPECT_EQ(env->OpCount(FaultOp::kSync), 1u);
  EXPECT_EQ(env->OpCount(FaultOp::kRemove), 1u);  // the stale temp file, not found
  uint64_t reads = env->OpCount(FaultOp::kRead);
  EXPECT_EQ(Read(env.get(), "/d/f"), "x");
  EXPECT_EQ(env->OpCount(FaultOp::kRead), reads + 1);
  EXPECT_GE(env->OpCount(FaultOp::kAny), env->OpCount(FaultOp::kAnyWrite) + reads + 1);
}

TEST(FaultEnvTest, NoSpaceLeavesNoPartialWrite) {
  auto env = NewEnv(1);
  env->SetNoSpaceAfterBytes(100);
  auto file = env->Open("/d/f", OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  ASSERT_OK((*file)->WriteAt(0, std::string(60, 'a')));
  EXPECT_EQ((*file)->WriteAt(60, std::string(60, 'b')).code(), Code::kNoSpace);
  EXPECT_EQ((*file)->Truncate(101).code(), Code::kNoSpace);
  EXPECT_EQ(*(*file)->Size(), 60u);
  EXPECT_EQ(Read(env.get(), "/d/f"), std::string(60, 'a'));
  ASSERT_OK((*file)->WriteAt(0, std::string(60, 'c')));  // overwriting needs no space
  ASSERT_OK((*file)->WriteAt(60, std::string(40, 'c')));  // exactly full
  EXPECT_EQ(env->StoredBytes(), 100u);
  EXPECT_EQ(WriteFileAtomic(env.get(), "/d/g", "x").code(), Code::kNoSpace);
  ASSERT_OK(env->RemoveFile("/d/f"));  // space returns
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/g", "x"));
  EXPECT_EQ(Read(env.get(), "/d/g"), "x");
}

// fsyncgate: after a failed Sync the data is in an unknown state; a retry that succeeds must
// not make it durable.
TEST(FaultEnvTest, FailedSyncNeverBecomesDurable) {
  for (bool always : {false, true}) {
    for (PowerCutMode mode : kAllModes) {
      auto env = NewEnv(1);
      ASSERT_OK(WriteFileAtomic(env.get(), "/d/f", "old"));
      auto file = env->Open("/d/f", OpenMode::kReadWrite);
      ASSERT_TRUE(file.ok());
      ASSERT_OK((*file)->WriteAt(0, "new"));
      if (always) {
        env->FailSyncAlways(true);
      } else {
        env->FailAfter(FaultOp::kSync, 1, Code::kIOError);
      }
      EXPECT_EQ((*file)->Sync().code(), Code::kIOError);
      env->FailSyncAlways(false);
      ASSERT_OK((*file)->WriteAt(3, "+more"));
      ASSERT_OK((*file)->Sync());  // the retry succeeds...
      EXPECT_EQ(Read(env.get(), "/d/f"), "new+more");  // ...and the page cache looks fine
      env->PowerCut(7, mode);
      EXPECT_EQ(Read(env.get(), "/d/f"), "old+more");  // ...but "new" never reached the disk
    }
  }
}

TEST(FaultEnvTest, LostWritesAreReportedAsLost) {
  auto env = NewEnv(1);
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/f", "old"));
  auto file = env->Open("/d/f", OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_OK((*file)->WriteAt(0, "new"));
  env->FailSyncAlways(true);
  EXPECT_FALSE((*file)->Sync().ok());
  PowerCutReport report = env->PowerCut(1, PowerCutMode::kKeepAll);
  EXPECT_EQ(report.count(Fate::kLost), 1u);
  EXPECT_EQ(Read(env.get(), "/d/f"), "old");
}

TEST(FaultEnvTest, HandlesAndLocksDieAtPowerCut) {
  auto env = NewEnv(1);
  ASSERT_OK(WriteFileAtomic(env.get(), "/d/f", "data"));
  auto file = env->Open("/d/f", OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  auto lock = env->LockFile("/d/lock");
  ASSERT_TRUE(lock.ok());
  ASSERT_OK(env->SyncDir("/d"));
  env->PowerCut(1, PowerCutMode::kKeepAll);
  char buf[4];
  Status read = (*file)->ReadAt(0, std::span<char>(buf, 4)).status();
  EXPECT_EQ(read.code(), Code::kIOError);
  EXPECT_NE(read.message().find("power cut"), std::string_view::npos) << read.ToString();
  EXPECT_EQ((*file)->WriteAt(0, "x").code(), Code::kIOError);
  EXPECT_EQ((*file)->Sync().code(), Code::kIOError);
  EXPECT_EQ((*file)->Truncate(0).code(), Code::kIOError);
  EXPECT_EQ((*file)->Size().status().code(), Code::kIOError);
  // The rebooted machine can take the lock; releasing the dead one does not release it.
  auto relock = env->LockFile("/d/lock");
  ASSERT_TRUE(relock.ok()) << relock.status().ToString();
  lock->reset();
  EXPECT_EQ(env->LockFile("/d/lock").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Read(env.get(), "/d/f"), "data");  // fresh opens work
}

TEST(FaultEnvTest, PowerCutReplaysFromItsSeed) {
  const uint64_t seed = testing::TestSeed();
  std::string results[2];
  for (std::string& result : results) {
    auto env = NewEnv(seed);
    for (int i = 0; i < 8; ++i) {
      std::string path = "/d/f" + std::to_string(i);
      ASSERT_OK(WriteAt(env.get(), path, 0, std::string(700, 'a')));
      ASSERT_OK(WriteAt(env.get(), path, 300, std::string(900, 'b')));
    }
    PowerCutReport report = env->PowerCut(seed, PowerCutMode::kRandom);
    for (const auto& name : env->ListDir("/d").value()) {
      result += name + Read(env.get(), "/d/" + name);
    }
    for (const ChangeOutcome& outcome : report.outcomes) result += FateName(outcome.fate);
  }
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace
}  // namespace dase::env
