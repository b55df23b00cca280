#include "estore/data_plane.h"

#include <fmt/format.h>

#include <optional>

#include "common/coding.h"
#include "common/log.h"
#include "dnode/format.h"

namespace dase::estore {
namespace {
constexpr uint32_t kScmDrive = 0;
}  // namespace

BufferAllocator::BufferAllocator(std::string cnode, int cnode_index, int cnode_count,
                                 uint64_t scm_data_bytes)
    : cnode_(std::move(cnode)) {
  CHECK(cnode_count >= 1 && cnode_index >= 0 && cnode_index < cnode_count);
  uint64_t align = dnode::kBlockAlignBytes;
  partition_bytes_ = scm_data_bytes / static_cast<uint64_t>(cnode_count) / align * align;
  partition_begin_ = partition_bytes_ * static_cast<uint64_t>(cnode_index);
}

Result<BufferCopy> BufferAllocator::Reserve(const std::string& dnode, uint64_t bytes) {
  Ring& ring = rings_[dnode];
  uint64_t pos = ring.head;
  if (pos % partition_bytes_ + bytes > partition_bytes_) {
    pos = (pos / partition_bytes_ + 1) * partition_bytes_;  // never straddle the end
  }
  uint64_t tail = ring.held.empty() ? pos : ring.held.begin()->first;
  if (bytes > partition_bytes_ || pos + bytes - tail > partition_bytes_) {
    return NoSpace(fmt::format("write buffer of {} full for {} ({} MiB partition, {} MiB waiting "
                               "for migration to stripes)",
                               dnode, cnode_, partition_bytes_ >> 20, (ring.head - tail) >> 20));
  }
  ring.head = pos + bytes;
  ring.held.emplace(pos, bytes);
  return BufferCopy{dnode, kScmDrive, partition_begin_ + pos % partition_bytes_, pos};
}

void BufferAllocator::Release(const std::string& dnode, uint64_t ring_pos) {
  auto it = rings_.find(dnode);
  if (it != rings_.end()) it->second.held.erase(ring_pos);
}

void BufferAllocator::Track(const std::string& dnode, uint64_t ring_pos, uint64_t bytes) {
  Ring& ring = rings_[dnode];
  ring.held.emplace(ring_pos, bytes);
  ring.head = std::max(ring.head, ring_pos + bytes);
}

uint64_t BufferAllocator::HeldBytesMax() const {
  uint64_t most = 0;
  for (const auto& [name, ring] : rings_) {
    if (!ring.held.empty()) most = std::max(most, ring.head - ring.held.begin()->first);
  }
  return most;
}

void DataPlane::Release(const ChunkLocation& location) {
  if (location.kind != LocationKind::kBuffer) return;
  Forget(location);
  for (const BufferCopy& c : location.copies) allocator_->Release(c.dnode, c.ring_pos);
}

void DataPlane::KeepRecent(uint64_t owner, std::string data) {
  if (data.size() > recent_bytes_max_) return;
  recent_bytes_ += data.size();
  recent_.insert_or_assign(owner, std::move(data));
  recent_order_.push_back(owner);
  // Oldest first: past the bound, and ids already taken (they leave only the map).
  while (!recent_order_.empty()) {
    auto it = recent_.find(recent_order_.front());
    if (it != recent_.end() && recent_bytes_ <= recent_bytes_max_) break;
    if (it != recent_.end()) {
      recent_bytes_ -= it->second.size();
      recent_.erase(it);
    }
    recent_order_.pop_front();
  }
  if (recent_order_.size() > 4 * recent_.size() + 64) {  // taken ids behind a held one
    std::erase_if(recent_order_, [&](uint64_t id) { return !recent_.contains(id); });
  }
}

void DataPlane::Forget(const ChunkLocation& location) {
  if (location.kind != LocationKind::kBuffer) return;
  auto it = recent_.find(location.id.owner);
  if (it == recent_.end()) return;
  recent_bytes_ -= it->second.size();
  recent_.erase(it);
}

awaitable<Result<std::string>> DataPlane::TakeForMigration(const ChunkLocation& location) {
  if (location.kind == LocationKind::kBuffer) {
    auto it = recent_.find(location.id.owner);
    if (it != recent_.end() && it->second.size() == location.length) {
      std::string data = std::move(it->second);
      recent_bytes_ -= data.size();
      recent_.erase(it);
      co_return data;
    }
  }
  co_return co_await ReadChunk(location, 0, location.length);
}

awaitable<Status> DataPlane::WriteCopy(std::string dnode, uint64_t offset, dnode::BlockId id,
                                       const std::string& data) {
  dnode::BlockClient* client = peers_->Client(dnode);
  if (client == nullptr) co_return Unavailable(dnode + " is not reachable");
  dnode::DriveRef drive{dnode::DriveKind::kScm, kScmDrive};
  co_return co_await client->Write(drive, offset, id, data, dnode::Durability::kSync);
}

awaitable<Result<ChunkLocation>> DataPlane::WriteChunk(std::string data) {
  if (data.empty() || data.size() > dnode::kMaxBlockPayloadBytes) {
    co_return InvalidArgument("chunk size out of range");
  }
  auto written = co_await WriteChunkOnce(data);
  if (!written.ok() && written.status().code() == Code::kUnavailable) {
    // DNodes that restarted listen on new ports our map may not know yet: look again, once.
    Status refreshed = co_await refresh_();
    if (!refreshed.ok()) co_return written;
    last_refresh_us_ = env_->MonotonicMicros();
    written = co_await WriteChunkOnce(data);
  }
  if (written.ok()) KeepRecent(written->id.owner, std::move(data));
  co_return written;
}

awaitable<Result<ChunkLocation>> DataPlane::WriteChunkOnce(const std::string& data) {
  std::vector<std::string> active = peers_->Active();
  int64_t now = env_->MonotonicMicros();
  bool some_down = active.size() < peers_->size();
  if (active.size() < static_cast<size_t>(copies_) ||
      (some_down && now - last_refresh_us_ > 1000000)) {
    // DNodes that came up since our last look are in the VMS's map, not yet in ours (at most
    // one look a second while some DNode is down, so writes spread over every live DNode).
    last_refresh_us_ = now;
    Status refreshed = co_await refresh_();
    if (!refreshed.ok()) LOG_WARN("cannot refresh the cluster map: {}", refreshed.ToString());
    active = peers_->Active();
  }
  if (active.size() < static_cast<size_t>(copies_)) {
    co_return Unavailable(fmt::format("{} DNodes active, {} copies needed", active.size(), copies_));
  }
  ChunkLocation loc;
  loc.length = static_cast<uint32_t>(data.size());
  env_->RandomBytes(std::span<char>(reinterpret_cast<char*>(&loc.id.owner), sizeof(loc.id.owner)));
  loc.id.version = 1;
  uint64_t footprint = dnode::BlockFootprint(loc.length);
  // Spread chunks over the DNodes. The first two copies are written at once; if one fails,
  // the next DNodes in the ring are tried one by one.
  size_t start = loc.id.owner % active.size();
  size_t next = 0;
  Status last;
  auto reserve = [&](const std::string& dnode) -> std::optional<BufferCopy> {
    auto copy = allocator_->Reserve(dnode, footprint);
    if (!copy.ok()) {
      last = copy.status();
      return std::nullopt;
    }
    return *copy;
  };
  auto record = [&](const BufferCopy& copy, const Status& s) {
    if (s.ok()) {
      loc.copies.push_back(copy);
    } else {
      LOG_WARN("write to {} failed, trying another DNode: {}", copy.dnode, s.ToString());
      allocator_->Release(copy.dnode, copy.ring_pos);
      last = s;
    }
  };
  if (copies_ == 2 && active.size() >= 2) {
    const std::string& a = active[start % active.size()];
    const std::string& b = active[(start + 1) % active.size()];
    next = 2;
    auto copy_a = reserve(a);
    auto copy_b = reserve(b);
    if (copy_a && copy_b) {
      using namespace asio::experimental::awaitable_operators;
      // Named locals, not temporaries, inside co_await: GCC 12 mishandles the latter.
      awaitable<Status> write_a = WriteCopy(a, copy_a->offset, loc.id, data);
      awaitable<Status> write_b = WriteCopy(b, copy_b->offset, loc.id, data);
      auto both = std::move(write_a) && std::move(write_b);
      auto [sa, sb] = co_await std::move(both);
      record(*copy_a, sa);
      record(*copy_b, sb);
    } else {
      // Reserve failed for one: fall back to trying DNodes one by one.
      if (copy_a) allocator_->Release(a, copy_a->ring_pos);
      if (copy_b) allocator_->Release(b, copy_b->ring_pos);
      next = 0;
    }
  }
  for (; next < active.size() && loc.copies.size() < static_cast<size_t>(copies_); ++next) {
    const std::string& dnode = active[(start + next) % active.size()];
    bool have = false;
    for (const BufferCopy& c : loc.copies) have |= c.dnode == dnode;
    if (have) continue;
    auto copy = reserve(dnode);
    if (!copy) continue;
    Status s = co_await WriteCopy(dnode, copy->offset, loc.id, data);
    record(*copy, s);
  }
  if (loc.copies.size() < static_cast<size_t>(copies_)) {
    Release(loc);
    co_return last.ok() ? Unavailable("not enough DNodes took the write") : last;
  }
  co_return loc;
}

awaitable<Result<std::string>> DataPlane::ReadChunk(ChunkLocation location, uint64_t offset,
                                                    uint64_t length) {
  if (offset > location.length || length > location.length - offset) {
    co_return InvalidArgument("read beyond the chunk");
  }
  if (location.kind == LocationKind::kStripe) {
    co_return co_await stripes_->Read(location.stripe, location.stripe_offset + offset, length);
  }
  co_return co_await ReadBuffered(location, offset, length);
}

awaitable<Result<std::string>> DataPlane::ReadBuffered(const ChunkLocation& location,
                                                       uint64_t offset, uint64_t length) {
  Status last = Unavailable("no copy");
  // A second round after refreshing the cluster map: a DNode that restarted has a new address.
  for (int round = 0; round < 2; ++round) {
    for (const BufferCopy& copy : location.copies) {
      dnode::BlockClient* client = peers_->Client(copy.dnode);
      if (client == nullptr) continue;
      dnode::DriveRef drive{dnode::DriveKind::kScm, copy.drive};
      auto data = co_await client->Read(drive, copy.offset, location.id, location.length);
      if (data.ok()) co_return data->substr(offset, length);
      LOG_WARN("copy on {} unreadable, trying the next: {}", copy.dnode, data.status().ToString());
      last = data.status();
    }
    if (round == 0 && last.code() == Code::kUnavailable) {
      Status refreshed = co_await refresh_();
      if (!refreshed.ok()) break;
    }
  }
  co_return last;
}

}  // namespace dase::estore
