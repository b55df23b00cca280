#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "env/env.h"
#include "monitor/backoff.h"
#include "monitor/process.h"

namespace dase::monitor {
namespace {

TEST(BackoffTest, GrowsExponentiallyUpToTheCapWithBoundedJitter) {
  control::RestartPolicy p;
  p.backoff_initial_ms = 100;
  p.backoff_max_ms = 1000;
  // random % 400 == 200 → factor exactly 1.0
  EXPECT_EQ(RestartDelayMs(p, 1, 200), 100);
  EXPECT_EQ(RestartDelayMs(p, 2, 200), 200);
  EXPECT_EQ(RestartDelayMs(p, 3, 200), 400);
  EXPECT_EQ(RestartDelayMs(p, 5, 200), 1000);
  EXPECT_EQ(RestartDelayMs(p, 60, 200), 1000);  // no overflow on long crash loops
  for (uint64_t r = 0; r < 1000; r += 7) {
    int64_t d = RestartDelayMs(p, 1, r);
    EXPECT_GE(d, 80);
    EXPECT_LT(d, 120);
  }
}

TEST(BackoffTest, GivesUpAfterMaxFailures) {
  control::RestartPolicy p;
  p.max_failures = 3;
  EXPECT_EQ(JudgeExit(p, 1), ExitVerdict::kRestart);
  EXPECT_EQ(JudgeExit(p, 2), ExitVerdict::kRestart);
  EXPECT_EQ(JudgeExit(p, 3), ExitVerdict::kGiveUp);
}

TEST(ProcessTest, DescribesExits) {
  EXPECT_EQ(DescribeExit(1 << 8), "exited with status 1");
  EXPECT_EQ(DescribeExit(SIGKILL).rfind("killed by signal 9", 0), 0u);
}

TEST(ProcessTest, LastLogLineSkipsTrailingNewlines) {
  char tmpl[] = "/tmp/dase_monitor_test.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_TRUE(env::WriteFileAtomic(env::Env::Default(), tmpl, "first\nsecond line\n\n").ok());
  EXPECT_EQ(LastLogLine(tmpl), "second line");
  ::unlink(tmpl);
  EXPECT_EQ(LastLogLine("/nonexistent/log"), "");
}

TEST(ProcessTest, BindListenerPicksAFreePortAndRefusesATakenOne) {
  auto first = BindListener("127.0.0.1", 0);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GT(first->second, 0);
  auto second = BindListener("127.0.0.1", first->second);
  EXPECT_FALSE(second.ok());
  EXPECT_FALSE(BindListener("not-an-ip", 0).ok());
  ::close(first->first);
}

}  // namespace
}  // namespace dase::monitor
