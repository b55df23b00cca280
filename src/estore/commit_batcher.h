// CommitBatcher: group commit for a CNode's metadata transactions.
//
// The shared metadata store has one writer at a time and every commit waits for an fsync, so
// commits one by one cap a whole cluster's writes at the disk's fsync rate. Requests that are
// ready to commit while one commit is running are run together, as ONE transaction and one
// fsync, in the order they arrived; each still sees the writes of those before it, exactly as if
// it had committed alone just after them.
//
// A body that fails is dropped from the batch and the batch runs again without it (its writes
// must not land), so a body may run several times, and must, like any RunTransaction body,
// start from scratch each time. A batch that conflicts with another process's commit (Aborted)
// runs again whole, up to a limit.
//
// Thread-safety: the CNode's loop thread only (the store is single-threaded).
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include "common/asio.h"
#include "common/status.h"
#include "meta/kv.h"

namespace dase::estore {

class CommitBatcher {
 public:
  // Runs of at most this many bodies; more wait for the next commit.
  static constexpr size_t kBatchMax = 64;

  CommitBatcher(asio::io_context& io, meta::Store* store) : io_(io), store_(store) {}

  // Runs `body` in a transaction, maybe shared with other requests', and completes once that
  // transaction committed (OK) or `body` or the commit failed (the error).
  awaitable<Status> Run(std::function<Status(meta::Transaction&)> body);

  uint64_t commits() const { return commits_; }
  uint64_t bodies_committed() const { return bodies_committed_; }

 private:
  struct Pending;
  void Flush();

  asio::io_context& io_;
  meta::Store* store_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool flush_posted_ = false;
  uint64_t commits_ = 0;
  uint64_t bodies_committed_ = 0;
};

}  // namespace dase::estore
