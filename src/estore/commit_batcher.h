// CommitBatcher: group commit for a CNode's metadata transactions.
//
// The shared metadata store has one writer at a time and every commit waits for an fsync, so
// commits one by one cap a whole cluster's writes at the disk's fsync rate. Requests that are
// ready to commit while one commit is running are run together, as ONE transaction and one
// fsync, in the order they arrived; each still sees the writes of those before it, exactly as if
// it had committed alone just after them.
//
// Commits are made without waiting for their WAL sync (CommitUnsynced), and a sync thread
// makes them durable (Store::SyncCommitted) while the loop goes on: commits made during one
// sync wait for the next, so one fsync serves every batch committed meanwhile, and the loop
// never blocks on an fsync. A request completes only once its commit is durable.
//
// A body that fails is dropped from the batch and the batch runs again without it (its writes
// must not land), so a body may run several times, and must, like any RunTransaction body,
// start from scratch each time. A batch that conflicts with another process's commit (Aborted)
// runs again whole, up to a limit.
//
// Thread-safety: the CNode's loop thread only (the store is single-threaded); the sync thread
// touches nothing but Store::SyncCommitted and posts its result back to the loop.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "common/asio.h"
#include "common/status.h"
#include "meta/kv.h"

namespace dase::estore {

class CommitBatcher {
 public:
  // Runs of at most this many bodies; more wait for the next commit.
  static constexpr size_t kBatchMax = 64;

  CommitBatcher(asio::io_context& io, meta::Store* store) : io_(io), store_(store) {}
  ~CommitBatcher();

  // Runs `body` in a transaction, maybe shared with other requests', and completes once that
  // transaction committed (OK) or `body` or the commit failed (the error).
  awaitable<Status> Run(std::function<Status(meta::Transaction&)> body);

  uint64_t commits() const { return commits_; }
  uint64_t bodies_committed() const { return bodies_committed_; }

 private:
  struct Pending;
  using Batch = std::vector<std::shared_ptr<Pending>>;
  void Flush();
  // Hands what awaits a sync to the sync thread; completes it on the loop when durable.
  void StartSync();

  asio::io_context& io_;
  meta::Store* store_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool flush_posted_ = false;
  Batch awaiting_sync_;  // committed, not yet durable, no sync started for them
  bool syncing_ = false;
  asio::thread_pool sync_thread_{1};
  // Lets a sync that ends after this batcher is gone find out (checked on the loop thread).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t commits_ = 0;
  uint64_t bodies_committed_ = 0;
};

}  // namespace dase::estore
