// Helpers shared by the unit tests (GoogleTest). Not for production code.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

#include "common/status.h"

// Asserts that a Status-returning expression is OK, printing the status otherwise.
#define ASSERT_OK(expr)                                     \
  do {                                                      \
    ::dase::Status dase_s_ = (expr);                        \
    ASSERT_TRUE(dase_s_.ok()) << #expr << ": " << dase_s_.ToString(); \
  } while (0)

namespace dase::testing {

// The seed of a randomized test: DASE_TEST_SEED if set (to replay a failure), else a fresh
// one. Printed, and recorded in the test's XML properties.
inline uint64_t TestSeed() {
  const char* env = std::getenv("DASE_TEST_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::cout << "seed=" << seed << " (replay with DASE_TEST_SEED=" << seed << ")" << std::endl;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

// A fresh directory under $TMPDIR (or /tmp), named `<prefix>.XXXXXX`, removed with everything
// in it on destruction.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "dase_test") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/" + std::string(prefix) + ".XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern << " failed";
      return;
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace dase::testing
