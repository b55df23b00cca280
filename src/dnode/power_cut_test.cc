// The block service on FaultEnv: power cuts, failed fsyncs and ENOSPC, judged by the pass mark
// "no acknowledged write lost, no wrong byte served". Over a real loopback RPC, as dnode_test.
#include <gtest/gtest.h>

#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "dnode/dnode_test_util.h"
#include "env/fault_env.h"

namespace dase::dnode {
namespace {

using rpc::testutil::TestSeed;
using testutil::kScm0;
using testutil::kSsd0;
using testutil::kSsd1;

struct Written {
  DriveRef drive;
  uint64_t offset = 0;
  BlockId id;
  std::string payload;
  bool durable = false;  // acknowledged as durable: sync write, or buffered then flushed
};

class PowerCutTest : public testutil::DnodeTest {
 protected:
  PowerCutTest() : fault_env_(seed_) {
    service_env_ = &fault_env_;
    // The drive format does not need powersafe overwrite: test it on the harsher disk.
    fault_env_.SetPowersafeOverwrite(false);
  }
  // The service's files must not outlive fault_env_, which goes before the base's members.
  ~PowerCutTest() override { StopDnode(); }

  DnodeOptions Options() const { return testutil::SmallOptions("/node-1"); }

  // Writes `n` blocks of random sizes, `durability` each, one after another on each drive.
  awaitable<void> WriteBlocks(std::mt19937& rng, int n, Durability durability) {
    const DriveRef drives[] = {kScm0, kSsd0, kSsd1};
    for (int i = 0; i < n; ++i) {
      Written w;
      w.drive = drives[i % 3];
      uint64_t& next = next_offset_[i % 3];
      w.offset = next;
      w.id = BlockId{written_.size(), static_cast<uint32_t>(i % 3), 1};
      w.payload.resize(1 + rng() % 20'000);
      for (char& c : w.payload) c = static_cast<char>(rng());
      w.durable = durability == Durability::kSync;
      next += BlockFootprint(static_cast<uint32_t>(w.payload.size()));
      const Status s = co_await client_->Write(w.drive, w.offset, w.id, w.payload, durability);
      EXPECT_TRUE(s.ok()) << s.ToString();
      written_.push_back(std::move(w));
    }
  }

  // Every durable block reads back exactly; any other block reads back exactly or not at all.
  awaitable<void> CheckBlocks() {
    int lost_unsynced = 0;
    for (const Written& w : written_) {
      auto r = co_await client_->Read(w.drive, w.offset, w.id,
                                      static_cast<uint32_t>(w.payload.size()));
      if (r.ok()) {
        EXPECT_TRUE(*r == w.payload) << "wrong bytes served for " << BlockIdString(w.id);
        continue;
      }
      EXPECT_FALSE(w.durable) << "acknowledged block " << BlockIdString(w.id)
                              << " lost: " << r.status().ToString();
      const Code code = r.status().code();
      EXPECT_TRUE(code == Code::kNotFound || code == Code::kCorruption) << r.status().ToString();
      ++lost_unsynced;
    }
    std::cout << written_.size() << " blocks, " << lost_unsynced << " unsynced ones lost\n";
  }

  const uint32_t seed_ = TestSeed();
  env::FaultEnv fault_env_;
  std::vector<Written> written_;
  uint64_t next_offset_[3] = {0, 0, 0};
};

TEST_F(PowerCutTest, AcknowledgedBlocksSurviveAPowerCut) {
  std::mt19937 rng(seed_);
  StartDnode(Options());
  Run([&]() -> awaitable<void> {
    co_await WriteBlocks(rng, 12, Durability::kSync);
    co_await WriteBlocks(rng, 6, Durability::kBuffered);
    const Status flushed = co_await client_->FlushAll();
    EXPECT_TRUE(flushed.ok()) << flushed.ToString();
    for (Written& w : written_) w.durable = true;
    co_await WriteBlocks(rng, 12, Durability::kBuffered);  // never flushed
  });
  const env::PowerCutReport report = fault_env_.PowerCut(seed_, env::PowerCutMode::kRandom);
  std::cout << "power cut: kept " << report.count(env::Fate::kKept) << ", dropped "
            << report.count(env::Fate::kDropped) << ", torn " << report.count(env::Fate::kTorn)
            << ", garbled " << report.count(env::Fate::kGarbled) << "\n";
  StopDnode();
  StartDnode(Options());
  Run([&]() -> awaitable<void> { co_await CheckBlocks(); });
}

TEST_F(PowerCutTest, NewDrivesSurviveAPowerCutRightAfterCreation) {
  StartDnode(Options());
  Run([&]() -> awaitable<void> {
    std::mt19937 rng(seed_);
    co_await WriteBlocks(rng, 3, Durability::kSync);
  });
  fault_env_.PowerCut(seed_, env::PowerCutMode::kDropAll);
  StopDnode();
  StartDnode(Options());  // not recreated: the blocks are still there
  Run([&]() -> awaitable<void> { co_await CheckBlocks(); });
}

TEST_F(PowerCutTest, FailedFsyncIsNeverAcknowledged) {
  StartDnode(Options());
  Run([&]() -> awaitable<void> {
    std::mt19937 rng(seed_);
    co_await WriteBlocks(rng, 3, Durability::kSync);
    fault_env_.FailAfter(env::FaultOp::kSync, 1, Code::kIOError);
    const std::string payload(5000, 'z');
    const Status s = co_await client_->Write(kSsd0, 1 << 20, BlockId{99, 0, 1}, payload,
                                             Durability::kSync);
    EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
    written_.push_back(Written{kSsd0, 1 << 20, BlockId{99, 0, 1}, payload, false});
    const Status flushed = co_await client_->Flush(kSsd0);  // no retry into success
    EXPECT_EQ(flushed.code(), Code::kIOError);
  });
  fault_env_.PowerCut(seed_, env::PowerCutMode::kKeepAll);
  StopDnode();
  StartDnode(Options());  // a restart gives the drive a fresh start; its blocks are checked
  Run([&]() -> awaitable<void> {
    auto r = co_await client_->Read(kSsd0, 1 << 20, BlockId{99, 0, 1}, 5000);
    EXPECT_FALSE(r.ok()) << "the write whose fsync failed was served after a power cut";
    co_await CheckBlocks();
  });
}

TEST_F(PowerCutTest, NoSpaceFailsTheWriteOnly) {
  StartDnode(Options());
  Run([&]() -> awaitable<void> {
    std::mt19937 rng(seed_);
    co_await WriteBlocks(rng, 3, Durability::kSync);
    fault_env_.FailAfter(env::FaultOp::kWrite, 1, Code::kNoSpace);
    const std::string payload(5000, 'n');
    const Status s = co_await client_->Write(kSsd1, 1 << 20, BlockId{98, 0, 1}, payload,
                                             Durability::kSync);
    EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
    co_await CheckBlocks();  // reads keep working
    const Status retry = co_await client_->Write(kSsd1, 1 << 20, BlockId{98, 0, 1}, payload,
                                                 Durability::kSync);
    EXPECT_TRUE(retry.ok()) << retry.ToString();
  });
}

}  // namespace
}  // namespace dase::dnode
