#include "estore/stripe_batcher.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "common/coding.h"
#include "common/log.h"
#include "rpc/spawn.h"

namespace dase::estore {

struct StripeBatcher::Pending {
  Pending(asio::io_context& io, std::string_view d)
      : data(d), done(io, asio::steady_timer::time_point::max()) {}
  void Complete(Result<StripePiece> r) {
    result.emplace(std::move(r));
    done.cancel();
  }
  std::string_view data;  // the writer's, which waits until `result` is set
  std::optional<Result<StripePiece>> result;
  asio::steady_timer done;
};

awaitable<Result<StripePiece>> StripeBatcher::Write(std::string_view data) {
  auto pending = std::make_shared<Pending>(io_, data);
  queue_.push_back(pending);
  if (!flush_posted_) {
    flush_posted_ = true;
    rpc::Spawn(io_, Flush(), "stripe batch");
  }
  while (!pending->result) {
    boost::system::error_code ignored;
    co_await pending->done.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
  co_return std::move(*pending->result);
}

awaitable<void> StripeBatcher::Flush() {
  // Let the requests that are ready now queue up behind the first.
  co_await asio::post(io_, use_awaitable);
  flush_posted_ = false;
  uint64_t capacity = stripes_->CapacityNow();
  std::vector<std::shared_ptr<Pending>> batch;
  std::vector<std::string_view> pieces;  // packed end to end by the stripe write
  uint64_t packed = 0;
  while (!queue_.empty() && (batch.empty() || packed + queue_.front()->data.size() <= capacity)) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
    pieces.push_back(batch.back()->data);
    packed += batch.back()->data.size();
  }
  if (!queue_.empty()) {
    flush_posted_ = true;
    rpc::Spawn(io_, Flush(), "stripe batch");
  }
  auto written = co_await migrator_->WriteStripe(std::move(pieces));
  if (!written.ok()) {
    for (auto& p : batch) p->Complete(written.status());
    co_return;
  }
  auto shared = std::make_shared<SharedStripe>();
  shared->record = std::move(written).value();
  shared->unsettled = static_cast<int>(batch.size());
  uint64_t offset = 0;
  for (auto& p : batch) {
    uint64_t length = p->data.size();
    p->Complete(StripePiece{shared, offset, length});
    offset += length;
  }
}

Status StripeBatcher::Seal(meta::Transaction& txn, const StripePiece& piece,
                           const StripeMember& member) {
  const StripeRecord& rec = piece.stripe->record;
  ASSIGN_OR_RETURN(auto raw, txn.Get(StripeKey(rec.number)));
  if (!raw) return NotFound(fmt::format("stripe {} was reclaimed before this write committed", rec.number));
  ASSIGN_OR_RETURN(StripeRecord stored, DecodeStripeRecord(rec.number, *raw));
  // Another writer's member may start at the same place of the same file: keep the longer.
  StripeMember merged = member;
  ASSIGN_OR_RETURN(auto existing, txn.Get(MemberKey(rec.number, member.ino, member.file_offset)));
  if (existing) {
    Reader r(*existing);
    ASSIGN_OR_RETURN(uint64_t length, r.GetVarint64());
    merged.length = std::max(merged.length, length);
  }
  if (stored.state == StripeState::kPending) {
    StripeStore::Seal(txn, stored, {merged});
  } else {
    StripeStore::AddMembers(txn, rec.number, {merged});
  }
  return Status::Ok();
}

void StripeBatcher::Settle(const StripePiece& piece, bool committed) {
  SharedStripe& s = *piece.stripe;
  if (committed) s.sealed = true;
  if (--s.unsettled > 0 || s.sealed) return;
  // Nobody's commit took it: free it now rather than at the next start.
  Status freed = stripes_->FreeUnused({s.record});
  if (!freed.ok()) LOG_WARN("cannot free unused stripe {}: {}", s.record.number, freed.ToString());
}

}  // namespace dase::estore
