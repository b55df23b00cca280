#include "estore/data_plane.h"

#include <fmt/format.h>

#include <optional>

#include "common/coding.h"
#include "common/log.h"
#include "dnode/format.h"

namespace dase::estore {
namespace {
constexpr uint8_t kLocationVersion = 1;
constexpr uint8_t kLocationBuffer = 1;  // kinds of location; stripes come later
constexpr uint64_t kReserveBatchBytes = 8ull << 20;
constexpr size_t kCopiesMax = 8;
constexpr uint32_t kScmDrive = 0;
}  // namespace

std::string EncodeLocation(const ChunkLocation& location) {
  Writer w;
  w.PutU8(kLocationVersion);
  w.PutU8(kLocationBuffer);
  w.PutVarint64(location.length);
  w.PutU64(location.id.owner);
  w.PutVarint64(location.id.chunk);
  w.PutVarint64(location.id.version);
  w.PutVarint64(location.copies.size());
  for (const BufferCopy& c : location.copies) {
    w.PutString(c.dnode);
    w.PutVarint64(c.drive);
    w.PutVarint64(c.offset);
  }
  return std::move(w).Release();
}

Result<ChunkLocation> DecodeLocation(std::string_view bytes) {
  Reader r(bytes);
  ASSIGN_OR_RETURN(uint8_t version, r.GetU8());
  ASSIGN_OR_RETURN(uint8_t kind, r.GetU8());
  if (version != kLocationVersion || kind != kLocationBuffer) {
    return Corruption(fmt::format("unknown location version {} kind {}", version, kind));
  }
  ChunkLocation loc;
  ASSIGN_OR_RETURN(uint64_t length, r.GetVarint64());
  ASSIGN_OR_RETURN(loc.id.owner, r.GetU64());
  ASSIGN_OR_RETURN(uint64_t chunk, r.GetVarint64());
  ASSIGN_OR_RETURN(loc.id.version, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t copies, r.GetVarint64());
  if (length == 0 || length > dnode::kMaxBlockPayloadBytes || copies == 0 ||
      copies > kCopiesMax || chunk > UINT32_MAX) {
    return Corruption("location out of range");
  }
  loc.length = static_cast<uint32_t>(length);
  loc.id.chunk = static_cast<uint32_t>(chunk);
  for (uint64_t i = 0; i < copies; ++i) {
    BufferCopy c;
    ASSIGN_OR_RETURN(c.dnode, r.GetString(dnode::kMaxDnodeNameBytes));
    ASSIGN_OR_RETURN(uint64_t drive, r.GetVarint64());
    ASSIGN_OR_RETURN(c.offset, r.GetVarint64());
    c.drive = static_cast<uint32_t>(drive);
    loc.copies.push_back(std::move(c));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return loc;
}

void DnodePeers::Update(const control::ClusterMap& map) {
  for (const control::MapNode& n : map.nodes) {
    if (n.role != "dnode") continue;
    Peer& p = peers_[n.name];
    p.active = n.state == "ACTIVE" && n.rpc_port != 0;
    if (n.rpc_port != 0 && n.rpc_port != p.port) {
      p.port = n.rpc_port;
      if (p.rpc == nullptr) {
        p.rpc = std::make_unique<rpc::Client>(io_, "127.0.0.1", n.rpc_port, rpc::ClientOptions{});
        p.blocks = std::make_unique<dnode::BlockClient>(*p.rpc, n.name);
      } else {
        p.rpc->SetEndpoint("127.0.0.1", n.rpc_port);
      }
    }
  }
}

dnode::BlockClient* DnodePeers::Client(const std::string& dnode) {
  auto it = peers_.find(dnode);
  return it == peers_.end() ? nullptr : it->second.blocks.get();
}

std::vector<std::string> DnodePeers::Active() const {
  std::vector<std::string> names;
  for (const auto& [name, p] : peers_) {
    if (p.active && p.blocks != nullptr) names.push_back(name);
  }
  return names;
}

BufferAllocator::BufferAllocator(meta::Store* store, std::string cnode, int cnode_index,
                                 int cnode_count, uint64_t scm_data_bytes)
    : store_(store), cnode_(std::move(cnode)) {
  CHECK(cnode_count >= 1 && cnode_index >= 0 && cnode_index < cnode_count);
  uint64_t align = dnode::kBlockAlignBytes;
  partition_bytes_ = scm_data_bytes / static_cast<uint64_t>(cnode_count) / align * align;
  partition_begin_ = partition_bytes_ * static_cast<uint64_t>(cnode_index);
}

Result<uint64_t> BufferAllocator::Reserve(const std::string& dnode, uint64_t bytes) {
  Range& range = ranges_[dnode];
  if (range.limit - range.next < bytes) {
    std::string key = fmt::format("b/h/{}/{}", cnode_, dnode);
    uint64_t head = 0;
    RETURN_IF_ERROR(store_->RunTransaction([&](meta::Transaction& txn) -> Status {
      ASSIGN_OR_RETURN(auto raw, txn.Get(key));
      head = 0;
      if (raw) {
        Reader r(*raw);
        ASSIGN_OR_RETURN(head, r.GetU64());
      }
      uint64_t grant = std::max(kReserveBatchBytes, bytes);
      if (head + grant > partition_bytes_) {
        if (head + bytes > partition_bytes_) {
          return NoSpace(fmt::format("write buffer of {} full for {} ({} MiB partition; "
                                     "migration to stripes is not built yet)",
                                     dnode, cnode_, partition_bytes_ >> 20));
        }
        grant = partition_bytes_ - head;
      }
      Writer w;
      w.PutU64(head + grant);
      txn.Put(key, std::move(w).Release());
      range = Range{partition_begin_ + head, partition_begin_ + head + grant};
      return Status::Ok();
    }));
  }
  uint64_t offset = range.next;
  range.next += bytes;
  return offset;
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
  auto reserve = [&](const std::string& dnode) -> std::optional<uint64_t> {
    auto offset = allocator_->Reserve(dnode, footprint);
    if (!offset.ok()) {
      last = offset.status();
      return std::nullopt;
    }
    return *offset;
  };
  auto record = [&](const std::string& dnode, uint64_t offset, const Status& s) {
    if (s.ok()) {
      loc.copies.push_back(BufferCopy{dnode, kScmDrive, offset});
    } else {
      LOG_WARN("write to {} failed, trying another DNode: {}", dnode, s.ToString());
      last = s;
    }
  };
  if (copies_ == 2 && active.size() >= 2) {
    const std::string& a = active[start % active.size()];
    const std::string& b = active[(start + 1) % active.size()];
    next = 2;
    auto offset_a = reserve(a);
    auto offset_b = reserve(b);
    if (offset_a && offset_b) {
      using namespace asio::experimental::awaitable_operators;
      // Named locals, not temporaries, inside co_await: GCC 12 mishandles the latter.
      awaitable<Status> write_a = WriteCopy(a, *offset_a, loc.id, data);
      awaitable<Status> write_b = WriteCopy(b, *offset_b, loc.id, data);
      auto both = std::move(write_a) && std::move(write_b);
      auto [sa, sb] = co_await std::move(both);
      record(a, *offset_a, sa);
      record(b, *offset_b, sb);
    } else {
      next = 0;  // reserve failed for one: fall back to trying DNodes one by one
    }
  }
  for (; next < active.size() && loc.copies.size() < static_cast<size_t>(copies_); ++next) {
    const std::string& dnode = active[(start + next) % active.size()];
    bool have = false;
    for (const BufferCopy& c : loc.copies) have |= c.dnode == dnode;
    if (have) continue;
    auto offset = reserve(dnode);
    if (!offset) continue;
    Status s = co_await WriteCopy(dnode, *offset, loc.id, data);
    record(dnode, *offset, s);
  }
  if (loc.copies.size() < static_cast<size_t>(copies_)) {
    co_return last.ok() ? Unavailable("not enough DNodes took the write") : last;
  }
  co_return loc;
}

awaitable<Result<std::string>> DataPlane::ReadChunk(ChunkLocation location, uint64_t offset,
                                                    uint64_t length) {
  if (offset > location.length || length > location.length - offset) {
    co_return InvalidArgument("read beyond the chunk");
  }
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
