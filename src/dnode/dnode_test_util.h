// Helpers for the dnode tests: a temp directory, an Env decorator that injects the faults a real
// disk shows (slow fdatasync, failed fdatasync, ENOSPC), and a fixture that runs a BlockService
// behind a real loopback rpc::Server with a BlockClient, all on one io_context. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/testing.h"
#include "dnode/block_client.h"
#include "dnode/block_service.h"
#include "env/env.h"
#include "rpc/test_util.h"

namespace dase::dnode::testutil {

using ::dase::testing::TempDir;

// Delegates to the POSIX Env; files it opens fail or slow down as the switches say, with the
// same Status a real fdatasync or write would give.
class InjectingEnv final : public env::Env {
 public:
  std::atomic<int> sync_delay_ms{0};
  std::atomic<bool> fail_sync{false};
  std::atomic<bool> no_space{false};

  Result<std::unique_ptr<env::File>> Open(const std::string& path, env::OpenMode open_mode,
                                          uint32_t mode) override {
    ASSIGN_OR_RETURN(std::unique_ptr<env::File> file, base_->Open(path, open_mode, mode));
    return std::unique_ptr<env::File>(new InjectingFile(this, std::move(file)));
  }
  Status CreateDir(const std::string& p, uint32_t m) override { return base_->CreateDir(p, m); }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status RemoveDir(const std::string& p) override { return base_->RemoveDir(p); }
  Status Rename(const std::string& f, const std::string& t) override {
    return base_->Rename(f, t);
  }
  Status SyncDir(const std::string& p) override { return base_->SyncDir(p); }
  Result<env::FileInfo> Stat(const std::string& p) override { return base_->Stat(p); }
  Result<std::vector<std::string>> ListDir(const std::string& p) override {
    return base_->ListDir(p);
  }
  Result<std::unique_ptr<env::FileLock>> LockFile(const std::string& p) override {
    return base_->LockFile(p);
  }
  int64_t NowMicros() override { return base_->NowMicros(); }
  int64_t MonotonicMicros() override { return base_->MonotonicMicros(); }
  void RandomBytes(std::span<char> out) override { base_->RandomBytes(out); }

 private:
  class InjectingFile final : public env::File {
   public:
    InjectingFile(InjectingEnv* env, std::unique_ptr<env::File> file)
        : env_(env), file_(std::move(file)) {}
    Result<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
      return file_->ReadAt(offset, out);
    }
    Result<size_t> ReadAtWithoutWaiting(uint64_t offset, std::span<char> out) override {
      return file_->ReadAtWithoutWaiting(offset, out);
    }
    Status WriteAt(uint64_t offset, std::string_view data) override {
      if (env_->no_space) return ErrnoStatus("write (injected)", ENOSPC);
      return file_->WriteAt(offset, data);
    }
    Status Sync() override {
      if (const int ms = env_->sync_delay_ms; ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      }
      if (env_->fail_sync) return ErrnoStatus("fdatasync (injected)", EIO);
      return file_->Sync();
    }
    Status Truncate(uint64_t size) override { return file_->Truncate(size); }
    Result<uint64_t> Size() override { return file_->Size(); }

   private:
    InjectingEnv* env_;
    std::unique_ptr<env::File> file_;
  };

  env::Env* base_ = env::Env::Default();
};

// Small drives, so tests create them quickly: scm-0 of 8 MiB, ssd-0 and ssd-1 of 16 MiB.
inline DnodeOptions SmallOptions(const std::string& node_dir) {
  DnodeOptions o;
  o.node_dir = node_dir;
  o.dnode_name = "dnode-1";
  o.cluster_guid = "guid-aaaa";
  o.drives = DriveOptions{.scm_count = 1, .scm_bytes = 8 << 20, .ssd_count = 2,
                          .ssd_bytes = 16 << 20};
  return o;
}

inline constexpr DriveRef kScm0{DriveKind::kScm, 0};
inline constexpr DriveRef kSsd0{DriveKind::kSsd, 0};
inline constexpr DriveRef kSsd1{DriveKind::kSsd, 1};

// A BlockService (on InjectingEnv unless service_env_ says otherwise) behind a loopback
// server, and a BlockClient to it.
class DnodeTest : public rpc::testutil::RpcTest {
 protected:
  void StartDnode(DnodeOptions options) {
    auto service = BlockService::Open(io_, service_env_, std::move(options));
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    server_ = StartServer();
    service_->Register(*server_);
    rpc_ = std::make_unique<rpc::Client>(io_, "127.0.0.1", server_->port());
    client_ = std::make_unique<BlockClient>(*rpc_, "dnode-1");
  }
  void StartDnode() { StartDnode(SmallOptions(dir_.path())); }
  void StopDnode() {
    client_.reset();
    rpc_.reset();
    server_.reset();
    service_.reset();
  }

  // The drive file of `ref`, for damaging it behind the service's back.
  std::string DrivePath(DriveRef ref) const { return dir_.path() + "/drives/" + DriveName(ref); }
  // Bytes at `offset` of the data area of `ref`, read or overwritten through the file itself.
  std::string ReadRaw(DriveRef ref, uint64_t offset, size_t n) {
    auto file = env::Env::Default()->Open(DrivePath(ref), env::OpenMode::kRead);
    EXPECT_TRUE(file.ok());
    std::string out(n, '\0');
    EXPECT_TRUE((*file)->ReadAt(kDriveHeaderBytes + offset, std::span(out.data(), n)).ok());
    return out;
  }
  void WriteRaw(DriveRef ref, uint64_t offset, std::string_view bytes) {
    auto file = env::Env::Default()->Open(DrivePath(ref), env::OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->WriteAt(kDriveHeaderBytes + offset, bytes).ok());
  }

  TempDir dir_;
  InjectingEnv env_;
  env::Env* service_env_ = &env_;  // what StartDnode opens the service on
  std::unique_ptr<BlockService> service_;
  std::unique_ptr<rpc::Server> server_;
  std::unique_ptr<rpc::Client> rpc_;
  std::unique_ptr<BlockClient> client_;
};

}  // namespace dase::dnode::testutil
