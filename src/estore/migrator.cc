#include "estore/migrator.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/await_all.h"
#include "common/coding.h"
#include "common/log.h"
#include "estore/keys.h"
#include "estore/namespace_txn.h"

namespace dase::estore {
namespace {

constexpr uint8_t kEntryVersion = 1;
constexpr size_t kEntriesPerPass = 4096;
constexpr size_t kReadsAtOnce = 16;
constexpr int64_t kRetryAfterUs = 1'000'000;
constexpr size_t kSweepPage = 256;


}  // namespace

Migrator::Migrator(asio::io_context& io, env::Env* env, meta::Store* store, DataPlane* data,
                   StripeStore* stripes, BufferAllocator* allocator, MigratorOptions options)
    : io_(io), env_(env), store_(store), data_(data), stripes_(stripes), allocator_(allocator),
      options_(std::move(options)), wake_(io) {}

void Migrator::RecordBuffered(meta::Transaction& txn, uint64_t ino, uint64_t file_offset,
                              const ChunkLocation& location) {
  std::string key = BufferIndexPrefix(options_.cnode);
  AppendBigEndian64(&key, next_seq_++);
  Writer w;
  w.PutU8(kEntryVersion);
  w.PutVarint64(ino);
  w.PutVarint64(file_offset);
  w.PutU64(static_cast<uint64_t>(env_->NowMicros()));
  w.PutString(EncodeLocation(location));
  w.PutVarint64(location.copies.size());
  for (const BufferCopy& c : location.copies) w.PutVarint64(c.ring_pos);
  txn.Put(key, std::move(w).Release());
}

Result<BufferEntry> DecodeBufferEntry(std::string key, std::string_view value) {
  BufferEntry e;
  Reader r(value);
  ASSIGN_OR_RETURN(uint8_t version, r.GetU8());
  if (version != kEntryVersion) return Corruption(fmt::format("buffer index entry version {}", version));
  ASSIGN_OR_RETURN(e.ino, r.GetVarint64());
  ASSIGN_OR_RETURN(e.file_offset, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t written, r.GetU64());
  e.written_us = static_cast<int64_t>(written);
  ASSIGN_OR_RETURN(e.location_bytes, r.GetString(kLocationBytesMax));
  ASSIGN_OR_RETURN(e.location, DecodeLocation(e.location_bytes));
  ASSIGN_OR_RETURN(uint64_t copies, r.GetVarint64());
  if (e.location.kind != LocationKind::kBuffer || copies != e.location.copies.size()) {
    return Corruption("buffer index entry does not match its location");
  }
  for (BufferCopy& c : e.location.copies) {
    ASSIGN_OR_RETURN(c.ring_pos, r.GetVarint64());
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  e.key = std::move(key);
  return e;
}

Result<std::vector<BufferEntry>> Migrator::LoadOldest(size_t max) {
  std::string prefix = BufferIndexPrefix(options_.cnode);
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  ASSIGN_OR_RETURN(auto rows, txn->Scan(prefix, meta::PrefixEnd(prefix), max));
  std::vector<BufferEntry> entries;
  for (auto& kv : rows) {
    ASSIGN_OR_RETURN(BufferEntry e, DecodeBufferEntry(std::move(kv.key), kv.value));
    entries.push_back(std::move(e));
  }
  return entries;
}

Status Migrator::Start() {
  {
    // Before the buffer index existed, CNodes kept a bump pointer per DNode here and their
    // buffered chunks have no index entries: the ring would overwrite them.
    ASSIGN_OR_RETURN(auto txn, store_->Begin());
    ASSIGN_OR_RETURN(auto old, txn->Scan("b/h/", meta::PrefixEnd("b/h/"), 1));
    if (!old.empty()) {
      return FailedPrecondition(
          "this data directory was written by an earlier dase whose write buffer had no index; "
          "it cannot be served safely: start the cluster in a new data directory");
    }
  }
  RETURN_IF_ERROR(stripes_->FreePending());
  // Hold the buffer space of every chunk still in the index, and number new entries after it.
  size_t tracked = 0;
  std::string prefix = BufferIndexPrefix(options_.cnode);
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  RETURN_IF_ERROR(meta::ForEachInPrefix(*txn, prefix, [&](meta::KeyValue& kv) -> Status {
    uint64_t seq = ReadBigEndian64(std::string_view(kv.key).substr(prefix.size()));
    next_seq_ = std::max(next_seq_, seq + 1);
    ASSIGN_OR_RETURN(BufferEntry e, DecodeBufferEntry(std::move(kv.key), kv.value));
    uint64_t footprint = dnode::BlockFootprint(e.location.length);
    for (const BufferCopy& c : e.location.copies) allocator_->Track(c.dnode, c.ring_pos, footprint);
    ++tracked;
    return Status::Ok();
  }));
  if (tracked > 0) LOG_INFO("{} buffered chunks wait for migration", tracked);
  return Status::Ok();
}

void Migrator::Wake(uint64_t bytes) {
  recorded_bytes_ += bytes;
  // Asleep with nothing buffered, or a stripe's worth arrived: look now. Otherwise the timer
  // set for the oldest data's deadline stands.
  if (idle_ || recorded_bytes_ >= stripes_->CapacityNow()) wake_.cancel();
}

void Migrator::NoteDisplaced(const std::vector<Extent>& displaced) {
  size_t before = dirty_stripes_.size();
  for (const Extent& e : displaced) {
    auto loc = DecodeLocation(e.location);
    if (loc.ok() && loc->kind == LocationKind::kStripe) dirty_stripes_.insert(loc->stripe);
  }
  if (before == 0 && !dirty_stripes_.empty() && idle_) wake_.cancel();
}

void Migrator::Stop() {
  stopping_ = true;
  wake_.cancel();
}

awaitable<Result<size_t>> Migrator::MigrateOnce(bool force) {
  recorded_bytes_ = 0;
  uint64_t capacity = stripes_->CapacityNow();
  if (capacity == 0) co_return 0;  // fewer than two DNodes: the buffer keeps the data
  CO_ASSIGN_OR_RETURN(std::vector<BufferEntry> entries, LoadOldest(kEntriesPerPass));
  if (entries.empty()) co_return 0;
  // The oldest entries that fit one stripe.
  uint64_t bytes = 0;
  size_t take = 0;
  for (; take < entries.size(); ++take) {
    if (bytes + entries[take].location.length > capacity) break;
    bytes += entries[take].location.length;
  }
  bool full = take < entries.size();
  int64_t age = env_->NowMicros() - entries[0].written_us;
  if (!force && !full && age < options_.flush_after_us) co_return 0;
  entries.resize(take);

  // Which chunks some extent still references: only those are copied. A chunk nothing
  // references now never will be again (extents only ever lose a location).
  auto references = [](meta::Transaction& txn, const BufferEntry& e) -> Result<std::vector<Extent>> {
    ASSIGN_OR_RETURN(auto extents, internal::ScanExtents(txn, e.ino, e.file_offset,
                                                         e.file_offset + e.location.length));
    std::vector<Extent> out;
    for (Extent& x : extents) {
      if (x.offset >= e.file_offset && x.location == e.location_bytes) out.push_back(std::move(x));
    }
    return out;
  };
  std::vector<bool> live(entries.size(), false);
  {
    CO_ASSIGN_OR_RETURN(auto txn, store_->Begin());
    for (size_t i = 0; i < entries.size(); ++i) {
      CO_ASSIGN_OR_RETURN(auto refs, references(*txn, entries[i]));
      live[i] = !refs.empty();
    }
  }
  // Read the live chunks (from memory when this CNode still holds what it wrote, else from the
  // buffer) and pack them end to end.
  std::string packed;
  std::vector<bool> packed_flags(entries.size(), false);
  for (size_t begin = 0; begin < entries.size(); begin += kReadsAtOnce) {
    size_t end = std::min(entries.size(), begin + kReadsAtOnce);
    std::vector<awaitable<Result<std::string>>> reads;
    std::vector<size_t> which;
    for (size_t i = begin; i < end; ++i) {
      if (!live[i]) {
        data_->Forget(entries[i].location);
        continue;
      }
      reads.push_back(data_->TakeForMigration(entries[i].location));
      which.push_back(i);
    }
    std::vector<Result<std::string>> got = co_await AwaitAll(std::move(reads));
    for (size_t j = 0; j < got.size(); ++j) {
      BufferEntry& e = entries[which[j]];
      if (!got[j].ok()) {
        // Left in the buffer for a later pass (its copies may come back).
        LOG_WARN("cannot read buffered chunk of inode {} for migration: {}", e.ino,
                 got[j].status().ToString());
        continue;
      }
      e.stripe_offset = packed.size();
      packed += *got[j];
      packed_flags[which[j]] = true;
    }
  }
  std::optional<StripeRecord> stripe;
  if (!packed.empty()) {
    std::vector<std::string_view> pieces{packed};
    auto written = co_await WriteStripe(std::move(pieces));
    if (!written.ok()) co_return written.status();
    stripe = std::move(written).value();
  }
  size_t migrated = 0;
  size_t dropped = 0;
  Status committed = store_->RunTransaction([&](meta::Transaction& txn) -> Status {
    migrated = dropped = 0;
    std::vector<StripeMember> members;
    for (size_t i = 0; i < entries.size(); ++i) {
      const BufferEntry& e = entries[i];
      if (live[i] && !packed_flags[i]) continue;  // unreadable now: stays in the index
      if (packed_flags[i]) {
        ASSIGN_OR_RETURN(auto refs, references(txn, e));
        ChunkLocation moved;
        moved.kind = LocationKind::kStripe;
        moved.length = e.location.length;
        moved.stripe = stripe->number;
        moved.stripe_offset = e.stripe_offset;
        std::string moved_bytes = EncodeLocation(moved);
        for (Extent& x : refs) {
          x.location = moved_bytes;
          txn.Put(ExtentKey(e.ino, x.offset), EncodeExtent(x));
        }
        if (!refs.empty()) {
          members.push_back(StripeMember{e.ino, e.file_offset, e.location.length});
          ++migrated;
        } else {
          ++dropped;
        }
      } else {
        ++dropped;
      }
      txn.Delete(e.key);
    }
    if (stripe) {
      if (members.empty()) return StripeStore::Free(txn, *stripe);
      StripeStore::Seal(txn, *stripe, members);
    }
    return Status::Ok();
  });
  if (!committed.ok()) {
    if (stripe) {
      Status freed = stripes_->FreeUnused({*stripe});
      if (!freed.ok()) LOG_WARN("cannot free stripe {}: {}", stripe->number, freed.ToString());
    }
    co_return committed;
  }
  size_t handled = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (live[i] && !packed_flags[i]) continue;
    data_->Release(entries[i].location);
    ++handled;
  }
  if (stripe && migrated > 0) {
    stats_.stripes_written++;
    LOG_DEBUG("migrated {} chunks into stripe {}, dropped {}", migrated, stripe->number, dropped);
  }
  stats_.chunks_migrated += migrated;
  stats_.chunks_dropped += dropped;
  co_return handled;
}

Result<SweepResult> Migrator::SweepAll() {
  SweepResult total;
  uint64_t from = 0;
  do {
    ASSIGN_OR_RETURN(SweepResult page, stripes_->Sweep(from, kSweepPage));
    total.stripes_seen += page.stripes_seen;
    total.members_dropped += page.members_dropped;
    total.stripes_freed += page.stripes_freed;
    from = page.next;
  } while (from != 0);
  stats_.stripes_freed += total.stripes_freed;
  full_sweep_needed_ = false;
  dirty_stripes_.clear();
  return total;
}

Result<SweepResult> Migrator::SweepNoted() {
  SweepResult total;
  std::set<uint64_t> dirty;
  dirty.swap(dirty_stripes_);
  for (uint64_t number : dirty) {
    Status s = stripes_->SweepStripe(number, &total);
    if (!s.ok()) {
      dirty_stripes_.insert(dirty.begin(), dirty.end());  // again later
      return s;
    }
  }
  stats_.stripes_freed += total.stripes_freed;
  return total;
}

awaitable<Result<StripeRecord>> Migrator::WriteStripe(std::vector<std::string_view> pieces) {
  std::vector<std::string_view> first_try = pieces;  // a named local: see common/asio.h
  auto first = co_await stripes_->WritePieces(std::move(first_try));
  if (first.ok() || first.status().code() != Code::kNoSpace || !ReclaimNow()) co_return first;
  co_return co_await stripes_->WritePieces(std::move(pieces));
}

bool Migrator::ReclaimNow() {
  if (!full_sweep_needed_ && dirty_stripes_.empty()) return false;
  auto swept = full_sweep_needed_ ? SweepAll() : SweepNoted();
  if (!swept.ok()) {
    LOG_WARN("stripe sweep failed: {}", swept.status().ToString());
    return false;
  }
  return swept->stripes_freed > 0;
}

awaitable<void> Migrator::Run() {
  while (!stopping_) {
    int64_t now = env_->NowMicros();
    bool sweep_due = full_sweep_needed_ || !dirty_stripes_.empty();
    if (sweep_due && now - last_sweep_us_ >= options_.sweep_every_us) {
      last_sweep_us_ = now;
      auto swept = full_sweep_needed_ ? SweepAll() : SweepNoted();
      if (!swept.ok()) {
        LOG_WARN("stripe sweep failed: {}", swept.status().ToString());
      } else if (swept->stripes_freed > 0 || swept->members_dropped > 0) {
        LOG_INFO("sweep: {} stripes, {} members dropped, {} stripes freed", swept->stripes_seen,
                 swept->members_dropped, swept->stripes_freed);
      }
    }
    int64_t wait_us = -1;  // until woken
    if (now >= next_try_us_) {
      auto handled = co_await MigrateOnce(false);
      if (!handled.ok()) {
        LOG_WARN("migration pass failed, retrying: {}", handled.status().ToString());
        next_try_us_ = env_->NowMicros() + kRetryAfterUs;
      } else if (*handled > 0) {
        continue;
      }
    }
    // Nothing to do now: sleep until the oldest buffered data is due, a retry or sweep is due,
    // or a writer wakes us.
    auto oldest = LoadOldest(1);
    now = env_->NowMicros();
    if (oldest.ok() && !oldest->empty()) {
      wait_us = std::max<int64_t>((*oldest)[0].written_us + options_.flush_after_us - now, 0);
      wait_us = std::max(wait_us, next_try_us_ - now);
      if (stripes_->CapacityNow() == 0) wait_us = std::max<int64_t>(wait_us, kRetryAfterUs);
      wait_us = std::max<int64_t>(wait_us, 10'000);
    }
    if (full_sweep_needed_ || !dirty_stripes_.empty()) {
      int64_t sweep_in = std::max<int64_t>(last_sweep_us_ + options_.sweep_every_us - now, 10'000);
      wait_us = wait_us < 0 ? sweep_in : std::min(wait_us, sweep_in);
    }
    if (wait_us < 0) {
      wake_.expires_at(asio::steady_timer::time_point::max());
    } else {
      wake_.expires_after(std::chrono::microseconds(wait_us));
    }
    idle_ = wait_us < 0;
    boost::system::error_code ignored;
    co_await wake_.async_wait(asio::redirect_error(use_awaitable, ignored));
    idle_ = false;
  }
}

}  // namespace dase::estore
