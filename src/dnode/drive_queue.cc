#include "dnode/drive_queue.h"

#include <algorithm>
#include <utility>

#include "common/check.h"
#include "common/log.h"

namespace dase::dnode {
namespace {

// Resumes the coroutine waiting on an operation. Hand-rolled type erasure: Boost 1.81's
// any_completion_handler, posted from the drive thread, recursed until the stack overflowed.
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void Wake() = 0;
};

template <typename Handler>
class HandlerWaker final : public Waker {
 public:
  explicit HandlerWaker(Handler handler) : handler_(std::move(handler)) {}
  void Wake() override { std::move(handler_)(); }

 private:
  Handler handler_;
};

}  // namespace

// One operation, living in the frame of the coroutine that awaits it (which stays suspended
// until the drive thread has finished with it and posted its completion).
struct DriveQueue::Op {
  enum class Kind { kWrite, kRead, kFlush };
  Kind kind = Kind::kFlush;
  uint64_t offset = 0;
  std::string_view head;
  std::string_view payload;
  Durability durability = Durability::kSync;
  BlockId id;
  uint32_t payload_len = 0;
  PayloadSlice slice;  // reads

  Status status;
  std::string block;  // what a read returns
  std::unique_ptr<Waker> done;

  bool NeedsSync() const {
    return kind == Kind::kFlush || (kind == Kind::kWrite && durability == Durability::kSync);
  }
};

DriveQueue::DriveQueue(asio::io_context& io, std::unique_ptr<Drive> drive, uint32_t max_depth,
                       DriveExecution execution)
    : io_(io), drive_(std::move(drive)), max_depth_(max_depth), execution_(execution) {
  CHECK(drive_ != nullptr && max_depth_ > 0);
  if (execution_ == DriveExecution::kThread) thread_ = std::thread([this] { ThreadMain(); });
}

DriveQueue::~DriveQueue() { Stop(); }

void DriveQueue::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (execution_ == DriveExecution::kLoop) {
    RunPostedBatch();  // what is queued still runs, as the thread would finish it
    alive_.reset();    // and a batch posted meanwhile finds nothing to do
    return;
  }
  cv_.notify_one();
  thread_.join();
}

Status DriveQueue::Admit() const {
  if (stopped_) return Unavailable("drive " + drive_->name() + " is closed");
  if (depth_ >= max_depth_) {
    return ResourceExhausted("drive " + drive_->name() + " has " + std::to_string(depth_) +
                             " requests queued, the limit");
  }
  return Status::Ok();
}

awaitable<Status> DriveQueue::Write(uint64_t offset, std::string_view head,
                                    std::string_view payload, Durability durability) {
  CO_RETURN_IF_ERROR(Admit());
  Op op;
  op.kind = Op::Kind::kWrite;
  op.offset = offset;
  op.head = head;
  op.payload = payload;
  op.durability = durability;
  co_await Submit(op);
  co_return op.status;
}

awaitable<Result<std::string>> DriveQueue::Read(uint64_t offset, BlockId id,
                                                uint32_t payload_len, PayloadSlice slice) {
  CO_RETURN_IF_ERROR(Admit());
  if (execution_ == DriveExecution::kThread && !failed_.load(std::memory_order_acquire)) {
    // What the page cache holds is read right here: the hand-off to the drive's thread and
    // back cost more than the read. It overtakes only writes not yet acknowledged, and no
    // block is read before its write was.
    Result<std::string> block =
        drive_->ReadBlock(offset, id, payload_len, Drive::ReadWait::kNever, slice);
    if (block.ok() || block.status().code() != Code::kUnavailable) {
      reads_.fetch_add(1, std::memory_order_relaxed);
      co_return block;
    }
  }
  Op op;
  op.kind = Op::Kind::kRead;
  op.offset = offset;
  op.id = id;
  op.payload_len = payload_len;
  op.slice = slice;
  co_await Submit(op);
  if (!op.status.ok()) co_return op.status;
  co_return std::move(op.block);
}

awaitable<Status> DriveQueue::Flush() {
  CO_RETURN_IF_ERROR(Admit());
  Op op;
  op.kind = Op::Kind::kFlush;
  co_await Submit(op);
  co_return op.status;
}

awaitable<void> DriveQueue::Submit(Op& op) {
  ++depth_;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [this, &op](auto handler) {
        op.done = std::make_unique<HandlerWaker<decltype(handler)>>(std::move(handler));
        {
          std::lock_guard lock(mu_);
          queue_.push_back(&op);
        }
        if (execution_ == DriveExecution::kThread) {
          cv_.notify_one();
        } else if (!batch_posted_) {
          // Runs after the handlers already queued on the loop, which may add to the batch.
          batch_posted_ = true;
          asio::post(io_, [this, alive = std::weak_ptr<void>(alive_)] {
            if (!alive.expired()) RunPostedBatch();
          });
        }
      },
      use_awaitable);
  --depth_;
}

void DriveQueue::Complete(Op* op) {
  // The posted function owns the handler (and through it the awaiting coroutine), so an
  // io_context destroyed before running it frees the coroutine instead of leaking it.
  asio::post(io_, [done = std::move(op->done)] { done->Wake(); });
}

void DriveQueue::ThreadMain() {
  std::vector<Op*> batch;
  while (TakeBatch(batch)) {
    ProcessBatch(batch);
    batch.clear();
  }
}

void DriveQueue::RunPostedBatch() {
  batch_posted_ = false;
  std::vector<Op*> batch;
  {
    std::lock_guard lock(mu_);
    batch.assign(queue_.begin(), queue_.end());
    queue_.clear();
  }
  if (!batch.empty()) ProcessBatch(batch);
}

bool DriveQueue::TakeBatch(std::vector<Op*>& batch) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
  if (queue_.empty()) return false;  // stopping, and everything queued is done
  batch.assign(queue_.begin(), queue_.end());
  queue_.clear();
  return true;
}

void DriveQueue::ProcessBatch(const std::vector<Op*>& batch) {
  std::vector<Op*> waiting_for_sync;
  for (Op* op : batch) {
    Execute(*op);
    if (op->status.ok() && op->NeedsSync()) {
      waiting_for_sync.push_back(op);
    } else {
      Complete(op);
    }
  }
  if (waiting_for_sync.empty()) return;
  // Group commit: one sync acknowledges every write and flush of the batch.
  const Status synced = SyncIfDirty();
  for (Op* op : waiting_for_sync) {
    op->status = synced;
    Complete(op);
  }
}

void DriveQueue::Execute(Op& op) {
  if (failed_.load(std::memory_order_acquire)) {
    op.status = FailedStatus();
    return;
  }
  switch (op.kind) {
    case Op::Kind::kWrite: {
      op.status = drive_->WriteBlock(op.offset, op.head, op.payload);
      if (!op.status.ok()) return;
      dirty_ = true;
      writes_.fetch_add(1, std::memory_order_relaxed);
      bytes_written_.fetch_add(op.payload.size(), std::memory_order_relaxed);
      const uint64_t end = op.offset + op.head.size() + op.payload.size();
      if (end > high_water_.load(std::memory_order_relaxed)) {
        high_water_.store(end, std::memory_order_relaxed);  // only this thread writes it
      }
      return;
    }
    case Op::Kind::kRead: {
      reads_.fetch_add(1, std::memory_order_relaxed);
      Result<std::string> block =
          drive_->ReadBlock(op.offset, op.id, op.payload_len, Drive::ReadWait::kMay, op.slice);
      if (block.ok()) {
        op.block = std::move(block).value();
      } else {
        op.status = block.status();
      }
      return;
    }
    case Op::Kind::kFlush:
      return;
  }
}

Status DriveQueue::SyncIfDirty() {
  if (failed_.load(std::memory_order_acquire)) return FailedStatus();
  if (!dirty_) return Status::Ok();
  dirty_ = false;
  syncs_.fetch_add(1, std::memory_order_relaxed);
  const Status s = drive_->Sync();
  if (s.ok()) return s;
  // The kernel may have dropped the dirty pages: what the file holds is unknown from here on.
  failure_ = "drive " + drive_->drive_id() + " failed after fsync error: " + s.ToString();
  failed_.store(true, std::memory_order_release);
  LOG_ERROR("{}", failure_);
  return IOError(failure_);
}

Status DriveQueue::FailedStatus() const { return IOError(failure_); }

DriveStats DriveQueue::Stats() const {
  DriveStats s;
  if (failed_.load(std::memory_order_acquire)) {
    s.state = DriveState::kFailed;
    s.failure = failure_;
  }
  s.writes = writes_.load(std::memory_order_relaxed);
  s.reads = reads_.load(std::memory_order_relaxed);
  s.syncs = syncs_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  s.high_water_bytes = high_water_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace dase::dnode
