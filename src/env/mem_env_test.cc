// The Env contract, run against PosixEnv (in a temp dir), MemEnv and a fault-free FaultEnv: the
// in-memory Envs must give the same results and the same error Codes as the real one.
#include "env/mem_env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "env/fault_env.h"
#include "common/testing.h"

namespace dase::env {
namespace {


enum class Backend { kPosix, kMem, kFault };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kPosix: return "Posix";
    case Backend::kMem: return "Mem";
    case Backend::kFault: return "Fault";
  }
  return "Unknown";
}

class EnvContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Backend::kPosix: {
        posix_dir_.emplace("dase_mem_env_test");
        dir_ = posix_dir_->path();
        env_ = Env::Default();
        return;
      }
      case Backend::kMem: owned_ = std::make_unique<MemEnv>(1); break;
      case Backend::kFault: owned_ = std::make_unique<FaultEnv>(1); break;
    }
    env_ = owned_.get();
    dir_ = "/tmp/dase_mem_env_test";
    ASSERT_OK(CreateDirs(env_, dir_));
  }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }

  Code OpenCode(const std::string& path, OpenMode mode) {
    return env_->Open(path, mode).status().code();
  }

  std::string ReadAll(File& file) {
    std::string buf(4096, '\0');
    auto n = file.ReadAt(0, std::span<char>(buf.data(), buf.size()));
    if (!n.ok()) return "<" + n.status().ToString() + ">";
    buf.resize(*n);
    return buf;
  }

  std::unique_ptr<MemEnv> owned_;
  Env* env_ = nullptr;
  std::optional<::dase::testing::TempDir> posix_dir_;  // kPosix
  std::string dir_;
};

TEST_P(EnvContractTest, WriteBeyondTheEndLeavesAZeroFilledHole) {
  auto file = env_->Open(P("f"), OpenMode::kCreate);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_OK((*file)->WriteAt(10, "abc"));
  EXPECT_EQ(*(*file)->Size(), 13u);
  EXPECT_EQ(ReadAll(**file), std::string(10, '\0') + "abc");
  // Reads stop at the end of the file, and past it return nothing.
  char buf[8];
  EXPECT_EQ(*(*file)->ReadAt(11, std::span<char>(buf, 8)), 2u);
  EXPECT_EQ(*(*file)->ReadAt(100, std::span<char>(buf, 8)), 0u);
  // An empty write past the end does not grow the file.
  ASSERT_OK((*file)->WriteAt(100, ""));
  EXPECT_EQ(*(*file)->Size(), 13u);
  ASSERT_OK((*file)->Sync());
}

TEST_P(EnvContractTest, TruncateShrinksAndGrowsWithZeros) {
  auto file = env_->Open(P("f"), OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  ASSERT_OK((*file)->WriteAt(0, "hello world"));
  ASSERT_OK((*file)->Truncate(5));
  EXPECT_EQ(ReadAll(**file), "hello");
  ASSERT_OK((*file)->Truncate(7));
  EXPECT_EQ(ReadAll(**file), std::string("hello\0\0", 7));
  EXPECT_EQ(env_->Stat(P("f"))->size, 7u);
}

TEST_P(EnvContractTest, OpenModes) {
  EXPECT_EQ(OpenCode(P("missing"), OpenMode::kRead), Code::kNotFound);
  EXPECT_EQ(OpenCode(P("missing"), OpenMode::kReadWrite), Code::kNotFound);
  EXPECT_EQ(OpenCode(P("no/such/dir/f"), OpenMode::kCreate), Code::kNotFound);
  ASSERT_OK(WriteFileAtomic(env_, P("f"), "content"));
  EXPECT_EQ(OpenCode(P("f"), OpenMode::kCreateExclusive), Code::kAlreadyExists);
  EXPECT_EQ(OpenCode(P("f/child"), OpenMode::kCreate), Code::kInvalidArgument);  // ENOTDIR
  {
    auto file = env_->Open(P("f"), OpenMode::kCreate);
    ASSERT_TRUE(file.ok());
    EXPECT_EQ(ReadAll(**file), "content");
  }
  auto ro = env_->Open(P("f"), OpenMode::kRead);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ((*ro)->WriteAt(0, "x").code(), Code::kIOError);  // EBADF
  EXPECT_EQ((*ro)->Truncate(0).code(), Code::kInvalidArgument);
  auto trunc = env_->Open(P("f"), OpenMode::kTruncate);
  ASSERT_TRUE(trunc.ok());
  EXPECT_EQ(*(*trunc)->Size(), 0u);
  EXPECT_EQ(*(*ro)->Size(), 0u);  // the same file, seen through another handle
}

TEST_P(EnvContractTest, DirectoriesOpenForReadingOnly) {
  ASSERT_OK(env_->CreateDir(P("d")));
  EXPECT_EQ(OpenCode(P("d"), OpenMode::kReadWrite), Code::kInvalidArgument);  // EISDIR
  EXPECT_EQ(OpenCode(P("d"), OpenMode::kCreate), Code::kInvalidArgument);
  auto dir = env_->Open(P("d"), OpenMode::kRead);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  char buf[4];
  EXPECT_EQ((*dir)->ReadAt(0, std::span<char>(buf, 4)).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE((*dir)->Sync().ok());  // fsync on a directory fd
}

TEST_P(EnvContractTest, RenameReplacesTheTargetFile) {
  ASSERT_OK(WriteFileAtomic(env_, P("a"), "new"));
  ASSERT_OK(WriteFileAtomic(env_, P("b"), "old"));
  auto open_b = env_->Open(P("b"), OpenMode::kRead);
  ASSERT_TRUE(open_b.ok());
  ASSERT_OK(env_->Rename(P("a"), P("b")));
  EXPECT_EQ(*ReadFile(env_, P("b")), "new");
  EXPECT_EQ(ReadFile(env_, P("a")).status().code(), Code::kNotFound);
  EXPECT_EQ(ReadAll(**open_b), "old");  // an open handle keeps the replaced file
  EXPECT_EQ(env_->Rename(P("a"), P("c")).code(), Code::kNotFound);
  ASSERT_OK(env_->Rename(P("b"), P("b")));  // same file: nothing happens
  EXPECT_EQ(*ReadFile(env_, P("b")), "new");
}

TEST_P(EnvContractTest, RenameMovesDirectoriesWithTheirContents) {
  ASSERT_OK(CreateDirs(env_, P("x/y")));
  ASSERT_OK(WriteFileAtomic(env_, P("x/y/f"), "data"));
  ASSERT_OK(env_->Rename(P("x"), P("z")));
  EXPECT_EQ(*ReadFile(env_, P("z/y/f")), "data");
  EXPECT_FALSE(Exists(env_, P("x")));
  // Onto an empty directory: replaced. Into itself, onto a file, over a non-empty directory:
  // refused, with the codes rename(2) gives.
  ASSERT_OK(env_->CreateDir(P("empty")));
  ASSERT_OK(env_->Rename(P("z/y"), P("empty")));
  EXPECT_EQ(*ReadFile(env_, P("empty/f")), "data");
  EXPECT_EQ(env_->Rename(P("z"), P("z/inner")).code(), Code::kInvalidArgument);  // EINVAL
  ASSERT_OK(WriteFileAtomic(env_, P("file"), "f"));
  EXPECT_EQ(env_->Rename(P("z"), P("file")).code(), Code::kInvalidArgument);   // ENOTDIR
  EXPECT_EQ(env_->Rename(P("file"), P("z")).code(), Code::kInvalidArgument);   // EISDIR
  EXPECT_EQ(env_->Rename(P("z"), P("empty")).code(), Code::kIOError);          // ENOTEMPTY
}

TEST_P(EnvContractTest, ListDirAndStat) {
  ASSERT_OK(env_->CreateDir(P("d"), 0700));
  ASSERT_OK(WriteFileAtomic(env_, P("d/b"), "12345", 0600));
  ASSERT_OK(WriteFileAtomic(env_, P("d/a"), "1"));
  ASSERT_OK(env_->CreateDir(P("d/c")));
  auto names = env_->ListDir(P("d"));
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c"}));
  auto info = env_->Stat(P("d/b"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 5u);
  EXPECT_FALSE(info->is_dir);
  EXPECT_EQ(info->mode, 0600u);
  EXPECT_TRUE(env_->Stat(P("d"))->is_dir);
  EXPECT_EQ(env_->Stat(P("d"))->mode, 0700u);
  EXPECT_EQ(env_->ListDir(P("missing")).status().code(), Code::kNotFound);
  EXPECT_EQ(env_->ListDir(P("d/a")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(env_->Stat(P("d/a/x")).status().code(), Code::kInvalidArgument);  // ENOTDIR
  EXPECT_EQ(env_->Stat(P("d/zz")).status().code(), Code::kNotFound);
  EXPECT_EQ(*ReadFile(env_, P("d/c/../a")), "1");
}

TEST_P(EnvContractTest, CreateAndRemoveErrorCodes) {
  EXPECT_EQ(env_->CreateDir(P("a/b")).code(), Code::kNotFound);
  ASSERT_OK(env_->CreateDir(P("a")));
  EXPECT_EQ(env_->CreateDir(P("a")).code(), Code::kAlreadyExists);
  ASSERT_OK(WriteFileAtomic(env_, P("a/f"), "x"));
  EXPECT_EQ(env_->CreateDir(P("a/f")).code(), Code::kAlreadyExists);
  EXPECT_EQ(env_->CreateDir(P("a/f/g")).code(), Code::kInvalidArgument);  // ENOTDIR
  EXPECT_EQ(env_->RemoveDir(P("a")).code(), Code::kIOError);              // ENOTEMPTY
  EXPECT_EQ(env_->RemoveDir(P("a/f")).code(), Code::kInvalidArgument);    // ENOTDIR
  EXPECT_EQ(env_->RemoveFile(P("a")).code(), Code::kInvalidArgument);     // EISDIR
  EXPECT_EQ(env_->RemoveFile(P("a/missing")).code(), Code::kNotFound);
  EXPECT_EQ(env_->RemoveDir(P("missing")).code(), Code::kNotFound);
  EXPECT_EQ(env_->SyncDir(P("missing")).code(), Code::kNotFound);
  EXPECT_EQ(env_->SyncDir(P("a/f")).code(), Code::kInvalidArgument);
  ASSERT_OK(env_->RemoveFile(P("a/f")));
  ASSERT_OK(env_->SyncDir(P("a")));
  ASSERT_OK(env_->RemoveDir(P("a")));
  EXPECT_FALSE(Exists(env_, P("a")));
}

TEST_P(EnvContractTest, LockIsExclusiveUntilReleased) {
  auto first = env_->LockFile(P("lock"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(env_->LockFile(P("lock")).status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(env_->LockFile(P("other")).ok());
  first->reset();
  auto again = env_->LockFile(P("lock"));
  EXPECT_TRUE(again.ok());
  EXPECT_EQ(env_->LockFile(P("nodir/lock")).status().code(), Code::kNotFound);
}

TEST_P(EnvContractTest, FileHelpers) {
  ASSERT_OK(CreateDirs(env_, P("p/q/r")));
  ASSERT_OK(CreateDirs(env_, P("p/q/r")));  // idempotent
  EXPECT_TRUE(env_->Stat(P("p/q/r"))->is_dir);
  ASSERT_OK(WriteFileAtomic(env_, P("p/q/r/f"), "one", 0600));
  ASSERT_OK(WriteFileAtomic(env_, P("p/q/r/f"), "two!", 0600));
  EXPECT_EQ(*ReadFile(env_, P("p/q/r/f")), "two!");
  EXPECT_EQ(env_->Stat(P("p/q/r/f"))->mode, 0600u);
  EXPECT_EQ(CreateDirs(env_, P("p/q/r/f")).code(), Code::kInvalidArgument);
  EXPECT_TRUE(Exists(env_, P("p/q/r/f")));
  EXPECT_FALSE(Exists(env_, P("p/q/r/f.tmp")));
  EXPECT_EQ(ReadFile(env_, P("nope")).status().code(), Code::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(AllEnvs, EnvContractTest,
                         ::testing::Values(Backend::kPosix, Backend::kMem, Backend::kFault),
                         BackendName);

// MemEnv's own promises: the fake clock, seeded randomness, thread safety.

TEST(MemEnvTest, FakeClockMovesOnlyWhenAdvanced) {
  MemEnv env(7);
  EXPECT_EQ(env.NowMicros(), MemEnv::kStartWallMicros);
  EXPECT_EQ(env.MonotonicMicros(), MemEnv::kStartMonotonicMicros);
  env.AdvanceMicros(1500);
  EXPECT_EQ(env.NowMicros(), MemEnv::kStartWallMicros + 1500);
  EXPECT_EQ(env.MonotonicMicros(), MemEnv::kStartMonotonicMicros + 1500);
}

TEST(MemEnvTest, RealTimeSourceDelegates) {
  MemEnv env(7, TimeSource::kReal);
  int64_t before = Env::Default()->NowMicros();
  EXPECT_GE(env.NowMicros(), before);
  EXPECT_NE(RandomString(&env, 16), RandomString(&env, 16));
}

TEST(MemEnvTest, RandomnessReplaysFromTheSeed) {
  MemEnv a(42), b(42), c(43);
  std::string from_a = RandomString(&a, 13);
  EXPECT_EQ(from_a, RandomString(&b, 13));
  EXPECT_NE(from_a, RandomString(&c, 13));
  EXPECT_NE(from_a, RandomString(&a, 13));
  EXPECT_EQ(RandomHex(&a, 5).size(), 10u);
}

TEST(MemEnvTest, RelativePathsResolveAgainstTheRoot) {
  MemEnv env(1);
  ASSERT_OK(WriteFileAtomic(&env, "f", "x"));
  EXPECT_EQ(*ReadFile(&env, "/f"), "x");
  EXPECT_EQ(*ReadFile(&env, "/../f"), "x");
  EXPECT_EQ(env.CreateDir("/").code(), Code::kAlreadyExists);
  EXPECT_EQ(env.RemoveDir("/").code(), Code::kIOError);  // EBUSY
  EXPECT_EQ(env.Stat("").status().code(), Code::kNotFound);
}

TEST(MemEnvTest, HugeOffsetsFailInsteadOfAllocating) {
  MemEnv env(1);
  auto file = env.Open("/f", OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->WriteAt(MemEnv::kMaxFileBytes, "x").code(), Code::kIOError);  // EFBIG
  EXPECT_EQ((*file)->Truncate(MemEnv::kMaxFileBytes + 1).code(), Code::kIOError);
  EXPECT_EQ(*(*file)->Size(), 0u);
}

TEST(MemEnvTest, ConcurrentWritersToDistinctRangesAllLand) {
  MemEnv env(1);
  auto file = env.Open("/f", OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  constexpr int kThreads = 4, kWrites = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        uint64_t offset = static_cast<uint64_t>(i * kThreads + t);
        EXPECT_TRUE((*file)->WriteAt(offset, std::string(1, static_cast<char>('a' + t))).ok());
        EXPECT_TRUE(env.Stat("/f").ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::string data = *ReadFile(&env, "/f");
  ASSERT_EQ(data.size(), static_cast<size_t>(kThreads * kWrites));
  for (size_t i = 0; i < data.size(); ++i) {
    EXPECT_EQ(data[i], 'a' + static_cast<int>(i % kThreads)) << i;
  }
}

}  // namespace
}  // namespace dase::env
