#include "env/env.h"

#include <gtest/gtest.h>

#include "common/testing.h"

namespace dase::env {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  Env* env_ = Env::Default();
  ::dase::testing::TempDir tmp_{"dase_env_test"};
  const std::string dir_ = tmp_.path();
};

TEST_F(EnvTest, AtomicWriteThenReadBack) {
  std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(env_, path, "hello", 0600).ok());
  auto data = ReadFile(env_, path);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(*data, "hello");
  EXPECT_EQ(env_->Stat(path)->mode, 0600u);
  ASSERT_TRUE(WriteFileAtomic(env_, path, "bye", 0600).ok());
  EXPECT_EQ(*ReadFile(env_, path), "bye");
}

TEST_F(EnvTest, MissingFileIsNotFound) {
  auto data = ReadFile(env_, dir_ + "/missing");
  EXPECT_EQ(data.status().code(), Code::kNotFound);
}

TEST_F(EnvTest, CreateDirsRefusesAFileInTheWay) {
  std::string path = dir_ + "/file";
  ASSERT_TRUE(WriteFileAtomic(env_, path, "x").ok());
  EXPECT_EQ(CreateDirs(env_, path).code(), Code::kInvalidArgument);
}

TEST_F(EnvTest, SecondLockOnTheSameFileFails) {
  auto first = env_->LockFile(dir_ + "/lock");
  ASSERT_TRUE(first.ok());
  auto second = env_->LockFile(dir_ + "/lock");
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  first->reset();
  EXPECT_TRUE(env_->LockFile(dir_ + "/lock").ok());
}

TEST_F(EnvTest, RandomTokensDiffer) {
  std::string a = RandomString(env_, 32), b = RandomString(env_, 32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(RandomHex(env_, 8).size(), 16u);
}

}  // namespace
}  // namespace dase::env
