// StripeBatcher: large writes that are ready at the same time share one stripe.
//
// A stripe costs one block write and one fsync on each of its k + m drives however much data it
// holds, so writing every large object as a stripe of its own pays that per object. Pieces
// handed to Write while a stripe write is being prepared are packed end to end into ONE stripe
// (up to its capacity), written once; each writer gets its piece's place in it.
//
// Each writer seals the stripe for its own piece inside the transaction that commits its
// extents (Seal: record sealed, the writer's member added), then Settles. A stripe nobody
// sealed is freed once every writer has given up; one that a writer sealed lives on like any
// other, its unreferenced pieces reclaimed by the sweep. Seal fails if the stripe was swept
// away in between (only possible once another writer's data in it is gone), so no extent ever
// points at a freed stripe.
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "common/asio.h"
#include "common/result.h"
#include "estore/migrator.h"
#include "estore/stripes.h"
#include "meta/kv.h"

namespace dase::estore {

struct SharedStripe {
  StripeRecord record;
  int unsettled = 0;    // writers that have not Settled yet
  bool sealed = false;  // some writer's commit sealed it
};

// One writer's share of a stripe.
struct StripePiece {
  std::shared_ptr<SharedStripe> stripe;
  uint64_t offset = 0;  // in the stripe's data
  uint64_t length = 0;
};

class StripeBatcher {
 public:
  StripeBatcher(asio::io_context& io, StripeStore* stripes, Migrator* migrator)
      : io_(io), stripes_(stripes), migrator_(migrator) {}

  // Writes `data` (1 .. StripeStore::CapacityNow() bytes) durably into a stripe, maybe shared.
  // `data` is borrowed until this returns (the stripe write copies it once, with the others').
  awaitable<Result<StripePiece>> Write(std::string_view data);

  // Inside the transaction committing the extents on `piece`: seals the stripe and records
  // `member`. NotFound if the stripe no longer exists.
  static Status Seal(meta::Transaction& txn, const StripePiece& piece, const StripeMember& member);
  // After that transaction: `committed` says whether it did.
  void Settle(const StripePiece& piece, bool committed);

 private:
  struct Pending;
  awaitable<void> Flush();

  asio::io_context& io_;
  StripeStore* stripes_;
  Migrator* migrator_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool flush_posted_ = false;
};

}  // namespace dase::estore
