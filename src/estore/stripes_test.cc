// Stripes and migration through real DNode block services on loopback: buffered writes move into
// erasure-coded stripes, reads stay byte-exact through migration, a lost DNode and bit rot;
// overwritten and deleted data is swept and its space reused.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/testing.h"
#include "estore/estore_test_util.h"
#include "estore/usage.h"

namespace dase::estore {
namespace {

using rpc::testutil::TestSeed;

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class StripesTest : public testutil::EstoreTest {};

TEST_F(StripesTest, BufferedWritesMigrateIntoStripesAndReadBack) {
  StartCluster(4);
  uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  Run([&]() -> awaitable<void> {
    std::map<std::string, std::string> objects;
    for (int i = 0; i < 40; ++i) {
      std::string path = "dir/obj-" + std::to_string(i);
      objects[path] = RandomBytes(rng, 1 + rng() % (200 << 10));
      auto put = co_await service_->Put(path, objects[path]);
      CO_ASSERT_OK(put);
    }
    EXPECT_GT(allocator_->HeldBytesMax(), 0u);
    EXPECT_EQ(StripeOf("dir/obj-0").status().code(), Code::kFailedPrecondition);  // buffered
    size_t handled = 0;
    while (true) {
      auto n = co_await migrator_->MigrateOnce(/*force=*/true);
      CO_ASSERT_OK(n);
      if (*n == 0) break;
      handled += *n;
    }
    EXPECT_EQ(handled, objects.size());
    EXPECT_EQ(allocator_->HeldBytesMax(), 0u) << "migration releases the buffer";
    EXPECT_GE(migrator_->stats().stripes_written, 1u);
    auto rec = StripeOf("dir/obj-0");
    CO_ASSERT_OK(rec);
    EXPECT_EQ(rec->geometry.k, 12);
    EXPECT_EQ(rec->geometry.m, 4);
    EXPECT_EQ(rec->state, StripeState::kSealed);
    for (const auto& [path, data] : objects) {
      auto got = co_await service_->Get(path);
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data) << path << " seed " << seed;
    }
  });
}

// Migration takes the bytes this CNode wrote from memory while it holds them, and reads the
// buffer back only for what it no longer holds (past its bound, or from before a restart);
// either way the stripes read back byte-exact.
TEST_F(StripesTest, MigrationTakesRecentWritesFromMemory) {
  StartCluster(4);
  uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  auto scm_reads = [&] {
    uint64_t n = 0;
    for (const Dnode& d : dnodes_) {
      for (const dnode::DriveInfo& drive : d.service->Info().drives) {
        if (drive.ref.kind == dnode::DriveKind::kScm) n += drive.stats.reads;
      }
    }
    return n;
  };
  Run([&]() -> awaitable<void> {
    std::map<std::string, std::string> objects;
    auto put = [&](int count, uint64_t min_bytes, uint64_t max_bytes) -> awaitable<uint64_t> {
      uint64_t bytes = 0;
      for (int i = 0; i < count; ++i) {
        std::string path = fmt::format("obj-{}", objects.size());
        objects[path] = RandomBytes(rng, min_bytes + rng() % (max_bytes - min_bytes + 1));
        bytes += objects[path].size();
        auto put = co_await service_->Put(path, objects[path]);
        EXPECT_TRUE(put.ok()) << put.status().ToString();
      }
      co_return bytes;
    };
    auto migrate_all = [&]() -> awaitable<void> {
      while (true) {
        auto n = co_await migrator_->MigrateOnce(/*force=*/true);
        EXPECT_TRUE(n.ok()) << n.status().ToString();
        if (!n.ok() || *n == 0) break;
      }
    };
    const uint64_t written = co_await put(10, 1, 64 << 10);
    EXPECT_EQ(data_->recent_bytes(), written);
    const uint64_t reads_before = scm_reads();
    co_await migrate_all();
    EXPECT_EQ(scm_reads(), reads_before) << "migration read back what it held";
    EXPECT_EQ(data_->recent_bytes(), 0u);
    // Held no more: past a 64 KiB bound the oldest writes are dropped, and read back.
    data_->set_recent_bytes_max(64 << 10);
    co_await put(10, 20 << 10, 40 << 10);  // 200 KiB or more
    EXPECT_LE(data_->recent_bytes(), 64u << 10);
    co_await migrate_all();
    EXPECT_GT(scm_reads(), reads_before);
    EXPECT_EQ(data_->recent_bytes(), 0u);
    EXPECT_EQ(allocator_->HeldBytesMax(), 0u);
    for (const auto& [path, data] : objects) {
      auto got = co_await service_->Get(path);
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data) << path << " seed " << seed;
    }
  });
}

TEST_F(StripesTest, LargeObjectsGoStraightToStripes) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  Run([&]() -> awaitable<void> {
    std::string data = RandomBytes(rng, (30 << 20) + 12345);  // three stripes, the last partial
    CO_ASSERT_OK(co_await service_->Put("big", data));
    EXPECT_EQ(allocator_->HeldBytesMax(), 0u) << "nothing went through the buffer";
    CO_ASSERT_OK(StripeOf("big"));
    auto got = co_await service_->Get("big");
    CO_ASSERT_OK(got);
    EXPECT_TRUE(*got == data);
  });
}

TEST_F(StripesTest, ReadsSurviveALostDnodeAndBitRot) {
  StartCluster(4);
  uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  Run([&]() -> awaitable<void> {
    std::map<std::string, std::string> objects;
    for (int i = 0; i < 12; ++i) {
      std::string path = fmt::format("o{}", i);
      objects[path] = RandomBytes(rng, 1 + rng() % (3 << 20));
      CO_ASSERT_OK(co_await service_->Put(path, objects[path]));
    }
    while (true) {
      auto n = co_await migrator_->MigrateOnce(true);
      CO_ASSERT_OK(n);
      if (*n == 0) break;
    }
    // The rot goes into the second 4 KiB sector of each chunk dnode-2 holds. Bytes around it in
    // its data chunks, read before the rot:
    constexpr uint64_t kRotAt = dnode::kSectorBytes + 100;
    std::map<std::pair<uint64_t, uint64_t>, std::string> around_rot;  // (stripe, offset) -> bytes
    for (const auto& [path, data] : objects) {
      auto rec = StripeOf(path);
      CO_ASSERT_OK(rec);
      CO_ASSERT_TRUE(rec->geometry.chunk_bytes > kRotAt + 3);
      for (int i = 0; i < rec->geometry.k; ++i) {
        if (rec->chunks[static_cast<size_t>(i)].dnode != "dnode-2") continue;
        const uint64_t at =
            uint64_t{rec->geometry.chunk_bytes} * static_cast<uint64_t>(i) + kRotAt - 4;
        auto bytes = co_await stripes_->Read(rec->number, at, 16);
        CO_ASSERT_OK(bytes);
        around_rot[{rec->number, at}] = *bytes;
      }
    }
    CO_ASSERT_TRUE(!around_rot.empty());
    // Bit rot in every chunk dnode-2 holds: each read that touches one rebuilds it.
    for (const auto& [path, data] : objects) {
      auto rec = StripeOf(path);
      CO_ASSERT_OK(rec);
      for (const StripeChunk& chunk : rec->chunks) {
        if (chunk.dnode != "dnode-2") continue;
        auto file = env_->Open(DrivePath(1, "ssd-" + std::to_string(chunk.drive)),
                               env::OpenMode::kReadWrite);
        CO_ASSERT_OK(file);
        const uint64_t at = dnode::kDriveHeaderBytes + chunk.offset +
                            dnode::BlockHeadBytes(rec->geometry.chunk_bytes) + kRotAt;
        CO_ASSERT_TRUE((*file)->WriteAt(at, std::string_view("\xff\x00\xff", 3)).ok());
      }
    }
    for (const auto& [path, data] : objects) {
      auto got = co_await service_->Get(path);
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data) << path << " after bit rot, seed " << seed;
    }
    // A read of the rotten bytes alone rebuilds just the sector holding them.
    for (const auto& [where, bytes] : around_rot) {
      auto got = co_await stripes_->Read(where.first, where.second, 16);
      CO_ASSERT_OK(got);
      EXPECT_EQ(*got, bytes) << "stripe " << where.first << " offset " << where.second;
    }
    // Ranged reads read only the sectors they touch: those that miss the rotten bytes read
    // directly, those that hit them rebuild; all byte-exact, also across chunk boundaries.
    for (const auto& [path, data] : objects) {
      auto inode = ns_->Resolve(path);
      CO_ASSERT_OK(inode);
      for (int r = 0; r < 8; ++r) {
        const uint64_t length = 1 + rng() % std::min<uint64_t>(data.size(), 3 * 4096);
        uint64_t offset = rng() % (data.size() - length + 1);
        if (r % 2 == 0 && data.size() > (1 << 20) + 8192) offset = (1 << 20) - length / 2;
        auto got = co_await objects_->Read(inode->ino, offset, length);
        CO_ASSERT_OK(got);
        EXPECT_TRUE(got->data == data.substr(offset, length))
            << path << " [" << offset << ", +" << length << ") after bit rot, seed " << seed;
      }
    }
    // dnode-2 gone for good: its (rotten) chunks are now missing, and 12+4 rebuilds them.
    StopDnode(1);
    for (const auto& [path, data] : objects) {
      auto got = co_await service_->Get(path);
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data) << path << " with dnode-2 down, seed " << seed;
    }
  });
}

TEST_F(StripesTest, TooFewChunksIsAnErrorNotWrongBytes) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  Run([&]() -> awaitable<void> {
    std::string data = RandomBytes(rng, 5 << 20);
    CO_ASSERT_OK(co_await service_->Put("x", data));
    StopDnode(0);
    StopDnode(1);  // 8 of 16 chunks gone: more than the 4 parity chunks cover
    auto got = co_await service_->Get("x");
    EXPECT_FALSE(got.ok());
  });
}

TEST_F(StripesTest, OverwrittenAndDeletedDataIsSweptAndSpaceReused) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  Run([&]() -> awaitable<void> {
    // 24 MiB SSD drives hold 23 stripes' worth of chunk slots; write far more than that over
    // time, deleting and overwriting, so only reclaimed space lets it through.
    std::string keep = RandomBytes(rng, 1 << 20);
    CO_ASSERT_OK(co_await service_->Put("keep", keep));
    for (int round = 0; round < 40; ++round) {
      std::string data = RandomBytes(rng, 6 << 20);
      CO_ASSERT_OK(co_await service_->Put("rewritten", data));
      CO_ASSERT_OK(co_await service_->Put("deleted", data.substr(0, 1 << 20)));
      CO_ASSERT_OK(service_->Remove("deleted"));
      auto swept = migrator_->SweepAll();
      CO_ASSERT_OK(swept);
      auto got = co_await service_->Get("rewritten");
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data);
    }
    EXPECT_GE(migrator_->stats().stripes_freed, 70u);
    auto got = co_await service_->Get("keep");
    CO_ASSERT_OK(got);
    EXPECT_TRUE(*got == keep);
  });
}

TEST_F(StripesTest, BufferRingWrapsAsMigrationFreesIt) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  Run([&]() -> awaitable<void> {
    // The buffer partition is 8 MiB per DNode; write 40 MiB of 100 KiB objects, migrating as
    // we go, so the ring wraps several times.
    std::map<std::string, std::string> objects;
    for (int i = 0; i < 400; ++i) {
      std::string path = "f/" + std::to_string(i % 150);
      objects[path] = RandomBytes(rng, 100 << 10);
      auto put = co_await service_->Put(path, objects[path]);
      CO_ASSERT_OK(put);
      if (i % 20 == 19) {
        CO_ASSERT_OK(co_await migrator_->MigrateOnce(true));
        CO_ASSERT_OK(migrator_->SweepAll());
      }
    }
    for (const auto& [path, data] : objects) {
      auto got = co_await service_->Get(path);
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data) << path;
    }
  });
}

TEST_F(StripesTest, RestartFreesPendingStripesAndKeepsBufferedData) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  Run([&]() -> awaitable<void> {
    std::string small = RandomBytes(rng, 10000);
    CO_ASSERT_OK(co_await service_->Put("small", small));
    // A stripe written but never sealed: what a crash between the two steps leaves.
    auto orphan = co_await stripes_->Write(RandomBytes(rng, 1 << 20));
    CO_ASSERT_OK(orphan);
    auto before = MeasureUsage(store_.get());
    CO_ASSERT_OK(before);
    EXPECT_EQ(before->pending_stripes, 1u);
    OpenCnode();  // a new CNode process on the same store and DNodes
    auto after = MeasureUsage(store_.get());
    CO_ASSERT_OK(after);
    EXPECT_EQ(after->pending_stripes, 0u);
    EXPECT_GT(allocator_->HeldBytesMax(), 0u) << "the buffered chunk is held again";
    auto n = co_await migrator_->MigrateOnce(true);
    CO_ASSERT_OK(n);
    EXPECT_EQ(*n, 1u);
    auto got = co_await service_->Get("small");
    CO_ASSERT_OK(got);
    EXPECT_TRUE(*got == small);
    CO_ASSERT_OK(StripeOf("small"));
  });
}

}  // namespace
}  // namespace dase::estore

namespace dase::estore {
namespace {

TEST_F(StripesTest, BackgroundMigrationMovesBufferedDataOnItsOwn) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  Run([&]() -> awaitable<void> {
    asio::co_spawn(io_, migrator_->Run(), asio::detached);
    std::string data = RandomBytes(rng, 5000);
    CO_ASSERT_OK(co_await service_->Put("bg", data));
    EXPECT_FALSE(StripeOf("bg").ok()) << "buffered at first";
    // The default flush_after is 1 s: a partial stripe is written once its data waited that long.
    for (int i = 0; i < 50 && !StripeOf("bg").ok(); ++i) {
      co_await rpc::testutil::Sleep(std::chrono::milliseconds(100));
    }
    CO_ASSERT_OK(StripeOf("bg"));
    EXPECT_EQ(allocator_->HeldBytesMax(), 0u);
    auto got = co_await service_->Get("bg");
    CO_ASSERT_OK(got);
    EXPECT_TRUE(*got == data);
    migrator_->Stop();
  });
}

}  // namespace
}  // namespace dase::estore

namespace dase::estore {
namespace {

// Concurrent puts through the service share metadata commits; a put that fails (a directory
// where the file should go) is dropped from its batch without taking the others down or
// leaving anything behind.
TEST_F(StripesTest, GroupCommitIsolatesAFailingPutAndKeepsTheRest) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  std::map<std::string, std::string> objects;
  for (int i = 0; i < 24; ++i) objects["g/f" + std::to_string(i)] = RandomBytes(rng, 3000 + i);
  Run([&]() -> awaitable<void> {
    std::string dir_data = RandomBytes(rng, 10);
    CO_ASSERT_OK(co_await service_->Put("g/sub/x", dir_data));  // makes g/sub a directory
    int done = 0;
    int failed = 0;
    rpc::testutil::Latch latch(io_, static_cast<int>(objects.size()) + 1);
    auto put = [&](std::string path, std::string data) -> awaitable<void> {
      auto r = co_await service_->Put(std::move(path), std::move(data));
      (r.ok() ? done : failed)++;
      latch.CountDown();
    };
    for (const auto& [path, data] : objects) asio::co_spawn(io_, put(path, data), asio::detached);
    std::string clash = RandomBytes(rng, 10);
    asio::co_spawn(io_, put("g/sub", clash), asio::detached);  // a directory: fails
    co_await latch.Wait();
    EXPECT_EQ(done, static_cast<int>(objects.size()));
    EXPECT_EQ(failed, 1);
    EXPECT_LT(batcher_->commits(), batcher_->bodies_committed()) << "nothing was batched";
    for (const auto& [path, data] : objects) {
      auto got = co_await service_->Get(path);
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data) << path;
    }
    auto sub = ns_->Resolve("g/sub");
    CO_ASSERT_OK(sub);
    EXPECT_EQ(sub->type, FileType::kDirectory);
  });
}

}  // namespace
}  // namespace dase::estore

namespace dase::estore {
namespace {

// Large puts issued together share one stripe; it lives while any of them references it.
TEST_F(StripesTest, ConcurrentLargePutsShareAStripe) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  std::map<std::string, std::string> objects;
  for (int i = 0; i < 4; ++i) objects["big/" + std::to_string(i)] = RandomBytes(rng, (1 << 20) + i);
  Run([&]() -> awaitable<void> {
    rpc::testutil::Latch latch(io_, static_cast<int>(objects.size()));
    int failed = 0;
    auto put = [&](std::string path, std::string data) -> awaitable<void> {
      auto r = co_await service_->Put(std::move(path), std::move(data));
      failed += r.ok() ? 0 : 1;
      latch.CountDown();
    };
    for (const auto& [path, data] : objects) asio::co_spawn(io_, put(path, data), asio::detached);
    co_await latch.Wait();
    EXPECT_EQ(failed, 0);
    std::set<uint64_t> numbers;
    for (const auto& [path, data] : objects) {
      auto rec = StripeOf(path);
      CO_ASSERT_OK(rec);
      numbers.insert(rec->number);
      auto got = co_await service_->Get(path);
      CO_ASSERT_OK(got);
      EXPECT_TRUE(*got == data) << path;
    }
    EXPECT_LT(numbers.size(), objects.size()) << "every put wrote a stripe of its own";
    // Remove all but one: the sweep keeps what the last one needs.
    auto last = std::prev(objects.end());
    for (auto it = objects.begin(); it != last; ++it) CO_ASSERT_OK(service_->Remove(it->first));
    CO_ASSERT_OK(migrator_->SweepAll());
    auto got = co_await service_->Get(last->first);
    CO_ASSERT_OK(got);
    EXPECT_TRUE(*got == last->second);
    CO_ASSERT_OK(service_->Remove(last->first));
    CO_ASSERT_OK(migrator_->SweepAll());
    auto count = MeasureUsage(store_.get());
    CO_ASSERT_OK(count);
    EXPECT_EQ(count->stripes, 0u) << "a stripe outlived every object in it";
  });
}

}  // namespace
}  // namespace dase::estore

namespace dase::estore {
namespace {

// Drives whose fsync fails (EIO) and drives out of space: puts are refused with the drive's
// error, nothing of them becomes visible, and what was written before still reads.
class DriveFaultTest : public StripesTest {
 protected:
  DriveFaultTest() { env_ = &faulty_; }
  void SetUp() override {
    meta::SqliteOptions options;
    options.locking = meta::VfsLocking::kInProcess;  // the store's files are not plain POSIX
    StartCluster(4, {}, options);
  }
  ~DriveFaultTest() override { StopAll(); }
  dnode::testutil::InjectingEnv faulty_;
};

TEST_F(DriveFaultTest, FailedFsyncAndNoSpaceRefuseWritesAndKeepReads) {
  std::mt19937 rng(TestSeed());
  std::string small = RandomBytes(rng, 5000);
  std::string large = RandomBytes(rng, 2 << 20);
  Run([&]() -> awaitable<void> {
    CO_ASSERT_OK(co_await service_->Put("ok/small", small));
    CO_ASSERT_OK(co_await service_->Put("ok/large", large));
    struct Fault {
      const char* name;
      std::atomic<bool>* flag;
    };
    for (Fault fault : {Fault{"ENOSPC", &faulty_.no_space}, Fault{"EIO on fsync", &faulty_.fail_sync}}) {
      *fault.flag = true;
      for (const std::string* data : {&small, &large}) {
        std::string path = "bad/" + std::to_string(data->size());
        std::string copy = *data;
        auto put = co_await service_->Put(path, std::move(copy));
        EXPECT_FALSE(put.ok()) << fault.name << ": a put of " << data->size() << " bytes succeeded";
        if (!put.ok()) {
          Code code = put.status().code();
          EXPECT_TRUE(code == Code::kNoSpace || code == Code::kIOError || code == Code::kUnavailable)
              << fault.name << ": " << put.status().ToString();
        }
        EXPECT_EQ(ns_->Resolve(path).status().code(), Code::kNotFound) << fault.name << ": " << path;
      }
      *fault.flag = false;
      auto got_small = co_await service_->Get("ok/small");
      auto got_large = co_await service_->Get("ok/large");
      CO_ASSERT_OK(got_small);
      CO_ASSERT_OK(got_large);
      EXPECT_TRUE(*got_small == small && *got_large == large) << fault.name;
    }
    // A drive whose fsync failed stays failed until its DNode restarts, and a metadata store
    // whose WAL sync failed until it is opened again; then writes work again.
    EXPECT_EQ(store_->WriteHealth().code(), Code::kIOError);
    StopAll();
    OpenAll();
    std::string again = RandomBytes(rng, 7000);
    CO_ASSERT_OK(co_await service_->Put("ok/again", again));
    auto got = co_await service_->Get("ok/again");
    CO_ASSERT_OK(got);
    EXPECT_TRUE(*got == again);
  });
}

}  // namespace
}  // namespace dase::estore

namespace dase::estore {
namespace {

// DNodes that restarted listen on new ports: reads of stripes refresh the cluster map rather
// than give up on the chunks they hold.
TEST_F(StripesTest, StripeReadsFindRestartedDnodes) {
  StartCluster(4);
  std::mt19937 rng(TestSeed());
  std::string data = RandomBytes(rng, 3 << 20);
  Run([&]() -> awaitable<void> {
    CO_ASSERT_OK(co_await service_->Put("moved", data));
    CO_ASSERT_OK(StripeOf("moved"));
    RestartDnode(0);
    RestartDnode(1);  // 8 of 16 chunks now behind ports the CNode does not know
    auto got = co_await service_->Get("moved");
    CO_ASSERT_OK(got);
    EXPECT_TRUE(*got == data);
  });
}

}  // namespace
}  // namespace dase::estore

namespace dase::estore {
namespace {

// Concat splices parts written to stripes into one file without copying: the parts go, the
// file reads back whole, sweeps keep its stripes, and deleting it frees them.
TEST_F(StripesTest, ConcatSplicesPartsAndSweepsKeepThem) {
  StartCluster(4);
  uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  Run([&]() -> awaitable<void> {
    auto uploads = ns_->MakeDirs("upload", 0700, kSystemRootIno);
    CO_ASSERT_OK(uploads);
    EXPECT_EQ(ns_->Resolve("upload").status().code(), Code::kNotFound) << "not in the namespace";
    std::string whole;
    std::vector<Inode> parts;
    for (int i = 0; i < 3; ++i) {
      std::string data = RandomBytes(rng, i == 2 ? 3000 : (1 << 20) + 777 * i);
      whole += data;
      PutOptions options;
      options.striped = true;
      std::string name = fmt::format("part{}", i);  // named locals: see common/asio.h
      auto put = co_await objects_->Put(uploads->ino, name, data, options);
      CO_ASSERT_OK(put);
      parts.push_back(put->inode);
    }
    auto dir = ns_->MakeDirs("bucket");
    CO_ASSERT_OK(dir);
    PutOptions options;
    options.attrs = "attrs";
    std::string object = "object";
    std::function<Status(meta::Transaction&)> remove_upload = [&](meta::Transaction& txn) {
      std::vector<Extent> spliced;
      return ns_->RemoveTree(txn, kSystemRootIno, "upload", &spliced);
    };
    auto concat = co_await objects_->Concat(dir->ino, object, parts, options, remove_upload);
    CO_ASSERT_OK(concat);
    EXPECT_EQ(concat->inode.size, whole.size());
    EXPECT_EQ(ns_->Lookup(kSystemRootIno, "upload").status().code(), Code::kNotFound);
    CO_ASSERT_OK(migrator_->SweepAll());
    auto read = co_await objects_->Read(concat->inode.ino, 0, whole.size());
    CO_ASSERT_OK(read);
    EXPECT_TRUE(read->data == whole) << "seed " << seed;
    EXPECT_EQ(read->attrs.value_or(""), "attrs");
    auto middle = co_await objects_->Read(concat->inode.ino, (1 << 20) - 10, 2000);
    CO_ASSERT_OK(middle);
    EXPECT_TRUE(middle->data == whole.substr((1 << 20) - 10, 2000));
    auto before = MeasureUsage(store_.get());
    CO_ASSERT_OK(before);
    EXPECT_GT(before->stripes, 0u);
    // A part changed after it was read: nothing happens.
    auto again = ns_->MakeDirs("upload2", 0700, kSystemRootIno);
    CO_ASSERT_OK(again);
    PutOptions striped;
    striped.striped = true;
    std::string part = "p";
    std::string first(5000, 'x');
    std::string second(6000, 'y');
    auto p = co_await objects_->Put(again->ino, part, first, striped);
    CO_ASSERT_OK(p);
    auto overwritten = co_await objects_->Put(again->ino, part, second, striped);
    CO_ASSERT_OK(overwritten);
    std::vector<Inode> stale_parts{p->inode};
    PutOptions none;
    std::function<Status(meta::Transaction&)> nothing;
    auto stale = co_await objects_->Concat(dir->ino, object, stale_parts, none, nothing);
    EXPECT_EQ(stale.status().code(), Code::kAborted);
    auto unchanged = co_await objects_->Read(concat->inode.ino, 0, whole.size());
    CO_ASSERT_OK(unchanged);
    EXPECT_TRUE(unchanged->data == whole);
    // Deleting the object frees its stripes.
    CO_ASSERT_OK(objects_->Unlink(dir->ino, "object"));
    CO_ASSERT_OK(objects_->RemoveTree(kSystemRootIno, "upload2"));
    CO_ASSERT_OK(migrator_->SweepAll());
    auto after = MeasureUsage(store_.get());
    CO_ASSERT_OK(after);
    EXPECT_EQ(after->stripes, 0u);
  });
}

}  // namespace
}  // namespace dase::estore
