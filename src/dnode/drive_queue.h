// DriveQueue: one drive's operations, with group commit, run by the drive's own I/O thread (so
// that file writes and fdatasync never block the event loop) or by the loop itself
// (DriveExecution).
//
// Coroutines on the loop submit operations; the executor takes every queued operation at once,
// executes them in order, answers reads and buffered writes at once, and then runs ONE
// fdatasync for all the synced writes and flushes of that batch. While it syncs, new
// operations queue up (on the loop: as requests in the sockets) and share the next sync, so
// under concurrency there are fewer syncs than writes (see DriveStats). Completions resume
// their coroutines on the loop.
//
// A failed fsync is never retried into success: the drive goes FAILED, every write waiting on
// that sync gets the error, and every later operation fails with IOError "drive ... failed
// after fsync error". Other I/O errors (EIO, ENOSPC → NoSpace) fail only their operation.
// At most `max_depth` operations wait per drive; beyond that, ResourceExhausted.
//
// Thread-safety: call Write/Read/Flush/Stop from the loop's thread only; Stats and drive() from
// any thread. The DriveQueue must be destroyed (or stopped) before its io_context: Stop waits
// for operations in progress, and their completions are posted to the io_context.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "dnode/drive.h"

namespace dase::dnode {

// Values are part of the wire format.
enum class Durability : uint8_t {
  kSync = 0,      // acknowledged once on stable storage (fdatasync)
  kBuffered = 1,  // acknowledged once written to the file; durable after a later Flush
};

enum class DriveState : uint8_t { kActive = 0, kFailed = 1 };

// Counters since the drive was opened by this process.
struct DriveStats {
  DriveState state = DriveState::kActive;
  std::string failure;  // why the drive failed, or empty
  uint64_t writes = 0;
  uint64_t reads = 0;
  uint64_t syncs = 0;  // fdatasync calls: group commit makes this smaller than writes
  uint64_t bytes_written = 0;
  uint64_t high_water_bytes = 0;  // the end of the highest block written
};

// Where a drive's operations run.
enum class DriveExecution : uint8_t {
  // On the drive's own thread: the loop never waits for the file. For drives whose syncs
  // take long (SSD drives: chunks of up to 1 MiB).
  kThread,
  // On the loop itself, in a task posted once per batch: no thread hand-off and wake-up per
  // operation in each direction, at the price of the loop waiting for each (group) sync. For
  // the write buffer, whose small writes and short syncs made those hand-offs most of a
  // DNode's CPU.
  kLoop,
};

class DriveQueue {
 public:
  DriveQueue(asio::io_context& io, std::unique_ptr<Drive> drive, uint32_t max_depth,
             DriveExecution execution = DriveExecution::kThread);
  ~DriveQueue();
  DriveQueue(const DriveQueue&) = delete;
  DriveQueue& operator=(const DriveQueue&) = delete;

  // `head` and `payload` must stay alive until the returned awaitable completes.
  awaitable<Status> Write(uint64_t offset, std::string_view head, std::string_view payload,
                          Durability durability);
  // The stored block (head and payload), verified; or only `slice` of its payload.
  awaitable<Result<std::string>> Read(uint64_t offset, BlockId id, uint32_t payload_len,
                                      PayloadSlice slice = {});
  // Completes once every write acknowledged before it is durable.
  awaitable<Status> Flush();

  // Finishes the queued operations and joins the thread; later calls fail with Unavailable.
  // Idempotent.
  void Stop();

  const Drive& drive() const { return *drive_; }
  DriveStats Stats() const;

 private:
  struct Op;

  Status Admit() const;
  awaitable<void> Submit(Op& op);
  void ThreadMain();
  void RunPostedBatch();
  bool TakeBatch(std::vector<Op*>& batch);
  void ProcessBatch(const std::vector<Op*>& batch);
  void Execute(Op& op);
  Status SyncIfDirty();
  Status FailedStatus() const;
  void Complete(Op* op);

  asio::io_context& io_;
  const std::unique_ptr<Drive> drive_;
  const uint32_t max_depth_;
  const DriveExecution execution_;

  // Loop thread only.
  uint32_t depth_ = 0;
  bool stopped_ = false;
  bool batch_posted_ = false;  // kLoop: a RunPostedBatch is queued on the loop
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // kLoop: reset by Stop

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op*> queue_;  // guarded by mu_; bounded by max_depth_
  bool stopping_ = false;  // guarded by mu_

  // The thread that executes operations only.
  bool dirty_ = false;  // written since the last sync

  // Written by the drive thread, read by anyone. failure_ is set once, before failed_.
  std::atomic<bool> failed_{false};
  std::string failure_;
  std::atomic<uint64_t> writes_{0}, reads_{0}, syncs_{0}, bytes_written_{0}, high_water_{0};

  std::thread thread_;  // kThread; last: started once everything above exists
};

}  // namespace dase::dnode
