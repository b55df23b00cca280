#include "estore/commit_batcher.h"

#include <optional>
#include <vector>

namespace dase::estore {
namespace {
constexpr int kAttemptsMax = 16;  // as meta::Store::RunTransaction
}  // namespace

struct CommitBatcher::Pending {
  explicit Pending(asio::io_context& io, std::function<Status(meta::Transaction&)> b)
      : body(std::move(b)), done(io, asio::steady_timer::time_point::max()) {}
  void Complete(Status s) {
    result = std::move(s);
    done.cancel();
  }
  std::function<Status(meta::Transaction&)> body;
  std::optional<Status> result;
  asio::steady_timer done;
};

awaitable<Status> CommitBatcher::Run(std::function<Status(meta::Transaction&)> body) {
  auto pending = std::make_shared<Pending>(io_, std::move(body));
  queue_.push_back(pending);
  if (!flush_posted_) {
    // After the handlers ready now have run: whoever else is about to commit joins in.
    flush_posted_ = true;
    asio::post(io_, [this] { Flush(); });
  }
  while (!pending->result) {
    boost::system::error_code ignored;
    co_await pending->done.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
  co_return *pending->result;
}

CommitBatcher::~CommitBatcher() {
  // A sync in flight finishes first; its completion then finds the batcher gone.
  sync_thread_.join();
}

void CommitBatcher::StartSync() {
  syncing_ = true;
  auto batch = std::make_shared<Batch>(std::move(awaiting_sync_));
  awaiting_sync_.clear();
  std::weak_ptr<bool> alive = alive_;
  asio::post(sync_thread_, [this, batch, alive] {
    Status synced = store_->SyncCommitted();
    asio::post(io_, [this, batch, alive, synced] {
      for (auto& p : *batch) p->Complete(synced);
      if (alive.expired()) return;
      if (synced.ok()) bodies_committed_ += batch->size();
      syncing_ = false;
      if (!awaiting_sync_.empty()) StartSync();
    });
  });
}

void CommitBatcher::Flush() {
  flush_posted_ = false;
  Batch batch;
  while (!queue_.empty() && batch.size() < kBatchMax) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (!queue_.empty()) {
    flush_posted_ = true;
    asio::post(io_, [this] { Flush(); });
  }
  Status last;
  for (int attempt = 0; attempt < kAttemptsMax && !batch.empty();) {
    auto txn = store_->Begin();
    if (!txn.ok()) {
      last = txn.status();
      break;
    }
    bool dropped = false;
    bool conflict = false;
    for (size_t i = 0; i < batch.size() && !dropped && !conflict; ++i) {
      Status s = batch[i]->body(**txn);
      if (s.ok()) continue;
      if (s.code() == Code::kAborted) {
        last = std::move(s);
        conflict = true;
      } else {
        // This body's writes must not land: run the others again without it.
        batch[i]->Complete(std::move(s));
        batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(i));
        dropped = true;
      }
    }
    if (dropped) continue;
    last = conflict ? last : (*txn)->CommitUnsynced();
    if (last.code() == Code::kAborted) {
      ++attempt;
      continue;
    }
    if (last.ok()) {
      ++commits_;
      awaiting_sync_.insert(awaiting_sync_.end(), batch.begin(), batch.end());
      if (!syncing_) StartSync();
    } else {
      for (auto& p : batch) p->Complete(last);
    }
    batch.clear();
  }
  if (last.ok() && !batch.empty()) last = Aborted("gave up after repeated conflicts");
  for (auto& p : batch) p->Complete(last.WithContext("batched metadata commit"));
}

}  // namespace dase::estore
