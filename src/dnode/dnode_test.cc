// The block service through its contract: a BlockClient talking to a BlockService over a real
// loopback rpc::Server, all on one io_context; damage is done to the drive files directly.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dnode/dnode_test_util.h"

namespace dase::dnode {
namespace {

using namespace std::chrono_literals;
using rpc::testutil::Latch;
using rpc::testutil::TestSeed;
using testutil::DnodeTest;
using testutil::kScm0;
using testutil::kSsd0;
using testutil::kSsd1;

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// For a Status (CO_ASSERT_OK takes a Result); evaluates `expr` once.
#define CO_OK(expr)                                       \
  do {                                                    \
    const Status s_ = (expr);                             \
    if (!s_.ok()) {                                       \
      ADD_FAILURE() << #expr << " gave " << s_.ToString(); \
      co_return;                                          \
    }                                                     \
  } while (0)

#define CO_EXPECT_CODE(expr, want)                                   \
  do {                                                               \
    const Status s_ = (expr);                                        \
    EXPECT_EQ(s_.code(), want) << #expr << " gave " << s_.ToString(); \
  } while (0)

TEST_F(DnodeTest, WriteReadRoundTrip) {
  const uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  StartDnode();
  Run([&]() -> awaitable<void> {
    struct Case {
      DriveRef drive;
      uint64_t offset;
      size_t bytes;
    };
    const std::vector<Case> cases = {{kSsd0, 0, 0},
                                     {kSsd0, 4096, 1},
                                     {kSsd0, 8192, 4096 - BlockHeadBytes(1)},
                                     {kSsd1, 12288, 100'000},
                                     {kScm0, 0, kMaxBlockPayloadBytes},
                                     {kSsd1, (16 << 20) - kDriveHeaderBytes - 4096, 4000}};
    std::vector<std::string> payloads;
    for (size_t i = 0; i < cases.size(); ++i) {
      payloads.push_back(RandomBytes(rng, cases[i].bytes));
      const BlockId id{1000 + i, static_cast<uint32_t>(i), 1};
      const Status s = co_await client_->Write(cases[i].drive, cases[i].offset, id, payloads[i],
                                               Durability::kSync);
      EXPECT_TRUE(s.ok()) << "case " << i << ": " << s.ToString();
    }
    for (size_t i = 0; i < cases.size(); ++i) {
      const BlockId id{1000 + i, static_cast<uint32_t>(i), 1};
      auto r = co_await client_->Read(cases[i].drive, cases[i].offset, id,
                                      static_cast<uint32_t>(cases[i].bytes));
      CO_ASSERT_OK(r);
      EXPECT_TRUE(*r == payloads[i]) << "case " << i;
    }
  });
}

TEST_F(DnodeTest, WriteManyStoresEveryBlockOrNamesTheFailure) {
  const uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  StartDnode();
  Run([&]() -> awaitable<void> {
    // Several blocks on two drives (two on one) in one call, borrowed from one shared buffer.
    auto buffer = std::make_shared<std::string>(RandomBytes(rng, 300'000));
    const std::string_view all(*buffer);
    std::vector<BlockClient::BlockWrite> blocks = {
        {kSsd0, 0, BlockId{7, 0, 1}, all.substr(0, 100'000)},
        {kSsd1, 4096, BlockId{7, 1, 1}, all.substr(100'000, 100'000)},
        {kSsd0, 1 << 20, BlockId{7, 2, 1}, all.substr(200'000, 1)},
        {kSsd1, 1 << 20, BlockId{7, 3, 1}, all.substr(200'001)}};
    std::vector<BlockClient::BlockWrite> copy = blocks;
    CO_OK(co_await client_->WriteMany(std::move(copy), buffer, Durability::kSync));
    for (const auto& b : blocks) {
      auto r = co_await client_->Read(b.drive, b.offset, b.id,
                                      static_cast<uint32_t>(b.payload.size()));
      CO_ASSERT_OK(r);
      EXPECT_TRUE(*r == b.payload) << b.id.chunk;
    }
    // A bad place anywhere refuses the whole call before anything is written.
    std::vector<BlockClient::BlockWrite> bad = {
        {kSsd0, 2 << 20, BlockId{8, 0, 1}, all.substr(0, 10)},
        {DriveRef{DriveKind::kSsd, 2}, 0, BlockId{8, 1, 1}, all.substr(0, 10)}};
    CO_EXPECT_CODE(co_await client_->WriteMany(std::move(bad), buffer, Durability::kSync),
                   Code::kInvalidArgument);
    auto none = co_await client_->Read(kSsd0, 2 << 20, BlockId{8, 0, 1}, 10);
    EXPECT_EQ(none.status().code(), Code::kNotFound) << none.status().ToString();
    // Bytes damaged on the way fail their block, named in the answer.
    const std::string header = MakeBlockHead("dnode-1/ssd-1", 0, BlockId{9, 0, 1}, "payload");
    WriteManyRequest request;
    request.blocks.push_back(BlockPut{kSsd1, 8 << 20, header, "payload"});
    std::string raw = EncodeWriteManyPrefix(request) + header + "pAyload";
    auto r = co_await rpc_->Call(rpc::Method::kBlockWriteMany, std::move(raw), 5s);
    EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
    EXPECT_NE(r.status().message().find("block 0 on ssd-1"), std::string::npos)
        << r.status().ToString();
    std::string truncated = EncodeWriteManyPrefix(request) + header + "pay";
    auto t = co_await rpc_->Call(rpc::Method::kBlockWriteMany, std::move(truncated), 5s);
    EXPECT_EQ(t.status().code(), Code::kInvalidArgument) << t.status().ToString();
  });
}

TEST_F(DnodeTest, ReadOfAnotherBlockIdIsCorruption) {
  StartDnode();
  Run([&]() -> awaitable<void> {
    const std::string payload = "version one";
    CO_OK(co_await client_->Write(kSsd0, 4096, BlockId{5, 1, 1}, payload,
                                         Durability::kSync));
    auto stale = co_await client_->Read(kSsd0, 4096, BlockId{5, 1, 2}, payload.size());
    EXPECT_EQ(stale.status().code(), Code::kCorruption) << stale.status().ToString();
    auto other_chunk = co_await client_->Read(kSsd0, 4096, BlockId{5, 2, 1}, payload.size());
    EXPECT_EQ(other_chunk.status().code(), Code::kCorruption);
    auto short_read = co_await client_->Read(kSsd0, 4096, BlockId{5, 1, 1}, 3);
    EXPECT_EQ(short_read.status().code(), Code::kCorruption);
  });
}

TEST_F(DnodeTest, FlippedPayloadByteIsCorruption) {
  StartDnode();
  const std::string payload(10'000, 'a');
  const BlockId id{9, 0, 1};
  Run([&]() -> awaitable<void> {
    CO_OK(co_await client_->Write(kSsd1, 40960, id, payload, Durability::kSync));
  });
  WriteRaw(kSsd1, 40960 + BlockHeadBytes(payload.size()) + 5000, "b");
  Run([&]() -> awaitable<void> {
    auto r = co_await client_->Read(kSsd1, 40960, id, payload.size());
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_NE(r.status().message().find("checksum mismatch in payload sector 1"), std::string::npos)
        << r.status().ToString();
  });
}

TEST_F(DnodeTest, TornWriteIsCorruption) {
  // The last block of ssd-0 ends 4492 bytes before the end of the file.
  constexpr uint64_t kTailOffset = (16 << 20) - kDriveHeaderBytes - 24576;
  StartDnode();
  const std::string payload(20'000, 'x');
  Run([&]() -> awaitable<void> {
    CO_OK(co_await client_->Write(kSsd0, 0, BlockId{1, 0, 1}, payload, Durability::kSync));
    CO_OK(co_await client_->Write(kSsd0, kTailOffset,
                                         BlockId{2, 0, 1}, payload, Durability::kSync));
  });
  // Only the first sectors of the payload made it: the rest is zero.
  WriteRaw(kSsd0, BlockHeadBytes(payload.size()) + 4096, std::string(payload.size() - 4096, '\0'));
  // The file lost its tail, and with it part of the last block.
  auto file = env::Env::Default()->Open(DrivePath(kSsd0), env::OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Truncate((16 << 20) - 8192).ok());
  Run([&]() -> awaitable<void> {
    auto zeroed = co_await client_->Read(kSsd0, 0, BlockId{1, 0, 1}, payload.size());
    EXPECT_EQ(zeroed.status().code(), Code::kCorruption) << zeroed.status().ToString();
    auto cut = co_await client_->Read(kSsd0, kTailOffset,
                                      BlockId{2, 0, 1}, payload.size());
    EXPECT_EQ(cut.status().code(), Code::kCorruption) << cut.status().ToString();
  });
}

TEST_F(DnodeTest, MisdirectedWriteIsCorruption) {
  StartDnode();
  const std::string payload(3000, 'm');
  const BlockId id{77, 4, 2};
  Run([&]() -> awaitable<void> {
    CO_OK(co_await client_->Write(kSsd0, 4096, id, payload, Durability::kSync));
  });
  // The right bytes at the wrong place: on the same drive, and on another drive.
  const std::string block = ReadRaw(kSsd0, 4096, BlockHeadBytes(payload.size()) + payload.size());
  WriteRaw(kSsd0, 65536, block);
  WriteRaw(kSsd1, 4096, block);
  Run([&]() -> awaitable<void> {
    auto moved = co_await client_->Read(kSsd0, 65536, id, payload.size());
    EXPECT_EQ(moved.status().code(), Code::kCorruption);
    EXPECT_NE(moved.status().message().find("misdirected"), std::string::npos)
        << moved.status().ToString();
    auto other_drive = co_await client_->Read(kSsd1, 4096, id, payload.size());
    EXPECT_EQ(other_drive.status().code(), Code::kCorruption);
    EXPECT_NE(other_drive.status().message().find("another drive"), std::string::npos)
        << other_drive.status().ToString();
    auto original = co_await client_->Read(kSsd0, 4096, id, payload.size());
    CO_ASSERT_OK(original);
  });
}

TEST_F(DnodeTest, NeverWrittenIsNotFound) {
  StartDnode();
  Run([&]() -> awaitable<void> {
    auto r = co_await client_->Read(kSsd1, 1 << 20, BlockId{1, 1, 1}, 1000);
    EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  });
}

TEST_F(DnodeTest, BadPlacementIsInvalidArgument) {
  StartDnode();
  Run([&]() -> awaitable<void> {
    const std::string small = "abc";
    const std::string oversized(kMaxBlockPayloadBytes + 1, 'o');
    const uint64_t data_bytes = (16 << 20) - kDriveHeaderBytes;
    CO_EXPECT_CODE(co_await client_->Write(kSsd0, 100, BlockId{}, small, Durability::kSync),
                   Code::kInvalidArgument);
    CO_EXPECT_CODE(co_await client_->Write(kSsd0, data_bytes, BlockId{}, small, Durability::kSync),
                   Code::kInvalidArgument);
    CO_EXPECT_CODE(co_await client_->Write(kSsd0, 0, BlockId{}, oversized, Durability::kSync),
                   Code::kInvalidArgument);
    CO_EXPECT_CODE(co_await client_->Write(DriveRef{DriveKind::kSsd, 2}, 0, BlockId{}, small,
                                           Durability::kSync),
                   Code::kInvalidArgument);
    auto far = co_await client_->Read(kSsd0, uint64_t{1} << 40, BlockId{}, 10);
    EXPECT_EQ(far.status().code(), Code::kInvalidArgument);
    auto huge = co_await client_->Read(kSsd0, 0, BlockId{}, kMaxBlockPayloadBytes + 1);
    EXPECT_EQ(huge.status().code(), Code::kInvalidArgument);
    // The server enforces the limit too, whatever a client sends.
    const std::string header = MakeBlockHead("dnode-1/ssd-0", 0, BlockId{}, "");
    std::string raw =
        EncodeWriteRequest(WriteRequest{kSsd0, 0, Durability::kSync, header, oversized});
    auto r = co_await rpc_->Call(rpc::Method::kBlockWrite, std::move(raw), 5s);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
    std::string garbage = "\x01";
    auto g = co_await rpc_->Call(rpc::Method::kBlockRead, std::move(garbage), 5s);
    EXPECT_EQ(g.status().code(), Code::kInvalidArgument) << g.status().ToString();
  });
}

TEST_F(DnodeTest, WriteDamagedOnTheWayIsRefused) {
  StartDnode();
  Run([&]() -> awaitable<void> {
    const BlockId id{3, 3, 3};
    const std::string header = MakeBlockHead("dnode-1/ssd-0", 0, id, "the payload");
    std::string raw =
        EncodeWriteRequest(WriteRequest{kSsd0, 0, Durability::kSync, header, "the pAyload"});
    auto r = co_await rpc_->Call(rpc::Method::kBlockWrite, std::move(raw), 5s);
    EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
    auto read = co_await client_->Read(kSsd0, 0, id, 11);
    EXPECT_EQ(read.status().code(), Code::kNotFound) << "nothing was stored";
  });
}

// The SCM drive's operations run on the DNode's loop, the SSD drives' on their own threads
// (DriveExecution): both group-commit and both fail for good after a failed fsync.
struct ExecutionCase {
  const char* name;
  DriveRef drive;
  size_t info_index;  // its place in DnodeInfo::drives
};
constexpr ExecutionCase kExecutionCases[] = {{"ssd-0 (drive thread)", kSsd0, 1},
                                             {"scm-0 (event loop)", kScm0, 0}};

TEST_F(DnodeTest, ConcurrentSyncWritesAreGroupCommitted) {
  const uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  env_.sync_delay_ms = 5;  // a disk whose flush takes a while, so writes pile up behind one
  StartDnode();
  constexpr int kWrites = 64;
  std::vector<std::string> payloads;
  for (int i = 0; i < kWrites; ++i) payloads.push_back(RandomBytes(rng, 1 + rng() % 8000));
  for (const ExecutionCase& c : kExecutionCases) {
    SCOPED_TRACE(c.name);
    Run([&]() -> awaitable<void> {
      Latch latch(io_, kWrites);
      int acknowledged = 0;
      for (int i = 0; i < kWrites; ++i) {
        asio::co_spawn(
            io_,
            [&, i]() -> awaitable<void> {
              const Status s = co_await client_->Write(c.drive, uint64_t(i) * 8192,
                                                       BlockId{uint64_t(i), 0, 1}, payloads[i],
                                                       Durability::kSync);
              EXPECT_TRUE(s.ok()) << s.ToString();
              if (s.ok()) ++acknowledged;
              latch.CountDown();
            },
            asio::detached);
      }
      co_await latch.Wait();
      EXPECT_EQ(acknowledged, kWrites);
      auto info = co_await client_->Info();
      CO_ASSERT_OK(info);
      const DriveStats& stats = info->drives[c.info_index].stats;
      EXPECT_EQ(stats.writes, uint64_t{kWrites});
      EXPECT_GE(stats.syncs, 1u);
      EXPECT_LT(stats.syncs, uint64_t{kWrites}) << "no group commit";
      std::cout << c.name << ": 64 concurrent sync writes took " << stats.syncs
                << " fdatasyncs\n";
      for (int i = 0; i < kWrites; ++i) {
        auto r = co_await client_->Read(c.drive, uint64_t(i) * 8192,
                                        BlockId{uint64_t(i), 0, 1}, payloads[i].size());
        CO_ASSERT_OK(r);
        EXPECT_TRUE(*r == payloads[i]) << i;
      }
    });
  }
}

// A read of what the page cache holds is answered on the loop, not queued behind the drive
// thread's work: here it overtakes a write whose fdatasync takes a second.
TEST_F(DnodeTest, CachedReadsDoNotWaitForTheDriveThread) {
  StartDnode();
  const std::string payload(3000, 'c');
  Run([&]() -> awaitable<void> {
    CO_OK(co_await client_->Write(kSsd0, 0, BlockId{1, 0, 1}, payload, Durability::kSync));
    env_.sync_delay_ms = 1000;
    bool write_done = false;
    Latch latch(io_, 1);
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          const Status s = co_await client_->Write(kSsd0, 8192, BlockId{2, 0, 1}, payload,
                                                   Durability::kSync);
          EXPECT_TRUE(s.ok()) << s.ToString();
          write_done = true;
          latch.CountDown();
        },
        asio::detached);
    asio::steady_timer pause(io_, std::chrono::milliseconds(200));  // the write is syncing
    co_await pause.async_wait(use_awaitable);
    auto read = co_await client_->Read(kSsd0, 0, BlockId{1, 0, 1}, payload.size());
    CO_ASSERT_OK(read);
    EXPECT_EQ(*read, payload);
    EXPECT_FALSE(write_done) << "the read waited behind the write's sync";
    co_await latch.Wait();
    env_.sync_delay_ms = 0;
  });
}

TEST_F(DnodeTest, DataSurvivesReopen) {
  StartDnode();
  const std::string payload = "still here after a restart";
  Run([&]() -> awaitable<void> {
    CO_OK(co_await client_->Write(kScm0, 8192, BlockId{42, 0, 7}, payload,
                                         Durability::kSync));
  });
  StopDnode();
  StartDnode();
  Run([&]() -> awaitable<void> {
    auto r = co_await client_->Read(kScm0, 8192, BlockId{42, 0, 7}, payload.size());
    CO_ASSERT_OK(r);
    EXPECT_EQ(*r, payload);
  });
}

TEST_F(DnodeTest, FlushSyncsBufferedWritesOnce) {
  StartDnode();
  Run([&]() -> awaitable<void> {
    const std::string payload(1000, 'f');
    for (uint64_t i = 0; i < 5; ++i) {
      CO_OK(co_await client_->Write(kSsd0, i * 4096, BlockId{i, 0, 1}, payload,
                                           Durability::kBuffered));
    }
    CO_OK(co_await client_->Write(kSsd1, 0, BlockId{9, 0, 1}, payload,
                                         Durability::kBuffered));
    auto before = co_await client_->Info();
    CO_ASSERT_OK(before);
    EXPECT_EQ(before->drives[1].stats.syncs, 0u) << "buffered writes do not sync";
    CO_OK(co_await client_->Flush(kSsd0));
    auto after = co_await client_->Info();
    CO_ASSERT_OK(after);
    EXPECT_EQ(after->drives[1].stats.syncs, 1u);
    EXPECT_EQ(after->drives[2].stats.syncs, 0u) << "flush of one drive synced another";
    CO_OK(co_await client_->FlushAll());
    CO_OK(co_await client_->FlushAll());  // nothing new written: no sync needed
    auto all = co_await client_->Info();
    CO_ASSERT_OK(all);
    EXPECT_EQ(all->drives[0].stats.syncs, 0u);
    EXPECT_EQ(all->drives[1].stats.syncs, 1u);
    EXPECT_EQ(all->drives[2].stats.syncs, 1u);
  });
}

TEST_F(DnodeTest, DriveInfoReportsDrivesAndTotals) {
  StartDnode();
  Run([&]() -> awaitable<void> {
    const std::string payload(5000, 'i');
    CO_OK(co_await client_->Write(kSsd1, 81920, BlockId{1, 0, 1}, payload,
                                         Durability::kSync));
    auto info = co_await client_->Info();
    CO_ASSERT_OK(info);
    EXPECT_EQ(info->dnode_name, "dnode-1");
    EXPECT_EQ(info->cluster_guid, "guid-aaaa");
    CO_ASSERT_TRUE(info->drives.size() == 3);
    EXPECT_EQ(info->drives[0].drive_id, "dnode-1/scm-0");
    EXPECT_EQ(info->drives[1].drive_id, "dnode-1/ssd-0");
    EXPECT_EQ(info->drives[2].drive_id, "dnode-1/ssd-1");
    EXPECT_EQ(info->drives[0].size_bytes, uint64_t{8} << 20);
    EXPECT_EQ(info->drives[2].stats.high_water_bytes, 81920 + BlockHeadBytes(5000) + 5000);
    EXPECT_EQ(info->drives[2].stats.state, DriveState::kActive);
    const DriveTotals t = info->Totals();
    EXPECT_EQ(t.drives, 3u);
    EXPECT_EQ(t.failed_drives, 0u);
    EXPECT_EQ(t.scm_data_bytes, (uint64_t{8} << 20) - kDriveHeaderBytes);
    EXPECT_EQ(t.ssd_data_bytes, 2 * ((uint64_t{16} << 20) - kDriveHeaderBytes));
    EXPECT_EQ(t.writes, 1u);
    EXPECT_EQ(t.bytes_written, 5000u);
    BlockClient wrong(*rpc_, "dnode-2");
    auto mismatch = co_await wrong.Info();
    EXPECT_EQ(mismatch.status().code(), Code::kFailedPrecondition);
  });
}

TEST_F(DnodeTest, FailedFsyncFailsTheDriveForGood) {
  for (const ExecutionCase& c : kExecutionCases) {
    SCOPED_TRACE(c.name);
    StartDnode();
    const std::string payload = "before";
    Run([&]() -> awaitable<void> {
      CO_OK(co_await client_->Write(c.drive, 0, BlockId{1, 0, 1}, payload, Durability::kSync));
      env_.fail_sync = true;
      const Status s = co_await client_->Write(c.drive, 4096, BlockId{2, 0, 1}, payload,
                                               Durability::kSync);
      EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
      env_.fail_sync = false;  // the disk "recovers": the drive must stay failed anyway
      const Status again = co_await client_->Write(c.drive, 8192, BlockId{3, 0, 1}, payload,
                                                   Durability::kSync);
      EXPECT_EQ(again.code(), Code::kIOError);
      EXPECT_NE(again.message().find("failed after fsync error"), std::string::npos)
          << again.ToString();
      auto read = co_await client_->Read(c.drive, 0, BlockId{1, 0, 1}, payload.size());
      EXPECT_EQ(read.status().code(), Code::kIOError);
      CO_EXPECT_CODE(co_await client_->Flush(c.drive), Code::kIOError);
      CO_EXPECT_CODE(co_await client_->FlushAll(), Code::kIOError);
      // Other drives carry on.
      CO_OK(co_await client_->Write(kSsd1, 0, BlockId{4, 0, 1}, payload, Durability::kSync));
      auto info = co_await client_->Info();
      CO_ASSERT_OK(info);
      EXPECT_EQ(info->drives[c.info_index].stats.state, DriveState::kFailed);
      EXPECT_NE(info->drives[c.info_index].stats.failure.find("fdatasync (injected)"),
                std::string::npos);
      EXPECT_EQ(info->Totals().failed_drives, 1u);
    });
    StopDnode();
  }
}

TEST_F(DnodeTest, NoSpaceIsReportedAndReadsKeepWorking) {
  StartDnode();
  const std::string payload(2000, 'n');
  Run([&]() -> awaitable<void> {
    CO_OK(co_await client_->Write(kSsd0, 0, BlockId{1, 0, 1}, payload, Durability::kSync));
    env_.no_space = true;
    CO_EXPECT_CODE(co_await client_->Write(kSsd0, 4096, BlockId{2, 0, 1}, payload,
                                           Durability::kSync),
                   Code::kNoSpace);
    auto read = co_await client_->Read(kSsd0, 0, BlockId{1, 0, 1}, payload.size());
    CO_ASSERT_OK(read);
    EXPECT_EQ(*read, payload);
    env_.no_space = false;  // space came back
    CO_OK(co_await client_->Write(kSsd0, 4096, BlockId{2, 0, 1}, payload,
                                         Durability::kSync));
  });
}

TEST_F(DnodeTest, QueueDepthIsBounded) {
  env_.sync_delay_ms = 200;
  auto options = testutil::SmallOptions(dir_.path());
  options.max_queue_depth = 2;
  StartDnode(options);
  Run([&]() -> awaitable<void> {
    constexpr int kWrites = 10;
    Latch latch(io_, kWrites);
    int ok = 0, exhausted = 0;
    const std::string payload = "q";
    for (int i = 0; i < kWrites; ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> awaitable<void> {
            const Status s = co_await client_->Write(kSsd0, uint64_t(i) * 4096,
                                                     BlockId{uint64_t(i), 0, 1}, payload,
                                                     Durability::kSync);
            if (s.ok()) ++ok;
            if (s.code() == Code::kResourceExhausted) ++exhausted;
            latch.CountDown();
          },
          asio::detached);
    }
    co_await latch.Wait();
    EXPECT_GE(ok, 1);
    EXPECT_GE(exhausted, 1);
    EXPECT_EQ(ok + exhausted, kWrites);
  });
}

TEST_F(DnodeTest, NodeDirectoryIsLockedAndExtraDrivesRefused) {
  StartDnode();
  auto second = BlockService::Open(io_, &env_, testutil::SmallOptions(dir_.path()));
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition) << second.status().ToString();
  StopDnode();
  auto fewer = testutil::SmallOptions(dir_.path());
  fewer.drives.ssd_count = 1;
  auto shrunk = BlockService::Open(io_, &env_, fewer);
  EXPECT_EQ(shrunk.status().code(), Code::kFailedPrecondition) << shrunk.status().ToString();
  auto foreign = testutil::SmallOptions(dir_.path());
  foreign.cluster_guid = "guid-bbbb";
  auto refused = BlockService::Open(io_, &env_, foreign);
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().ToString();
}

// A DNode (or a network) that returns damaged bytes cannot fool the client: it verifies too.
TEST_F(DnodeTest, ClientVerifiesReadsEndToEnd) {
  auto server = StartServer();
  const BlockId id{8, 1, 1};
  const std::string payload = "end to end";
  std::string stored = MakeBlockHead("dnode-1/ssd-0", 4096, id, payload) + payload;
  stored.back() ^= 0x20;
  server->Register(rpc::Method::kBlockRead,
                   [stored](std::string) -> awaitable<Result<std::string>> { co_return stored; });
  rpc::Client rpc(io_, "127.0.0.1", server->port());
  BlockClient client(rpc, "dnode-1");
  Run([&]() -> awaitable<void> {
    auto r = co_await client.Read(kSsd0, 4096, id, payload.size());
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_NE(r.status().message().find("verified at the client"), std::string::npos)
        << r.status().ToString();
  });
}

}  // namespace
}  // namespace dase::dnode
