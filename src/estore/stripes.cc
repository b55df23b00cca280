#include "estore/stripes.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "common/await_all.h"
#include "common/coding.h"
#include "common/log.h"
#include "dnode/messages.h"
#include "estore/keys.h"
#include "estore/location.h"
#include "estore/namespace_txn.h"

namespace dase::estore {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr uint64_t kBlockVersion = 1;  // stripe numbers are never reused
constexpr size_t kRecordsCached = 4096;

Result<uint64_t> GetCounter(meta::Transaction& txn, std::string_view key, uint64_t initial) {
  ASSIGN_OR_RETURN(auto raw, txn.Get(key));
  if (!raw) return initial;
  Reader r(*raw);
  return r.GetU64();
}
void PutCounter(meta::Transaction& txn, std::string_view key, uint64_t value) {
  Writer w;
  w.PutU64(value);
  txn.Put(key, std::move(w).Release());
}

// Takes a free slot on the drive, or the next never-used one.
Result<uint64_t> TakeSlot(meta::Transaction& txn, const std::string& dnode, uint32_t drive,
                          uint64_t data_bytes) {
  std::string prefix = FreePrefix(dnode, drive);
  ASSIGN_OR_RETURN(auto free, txn.Scan(prefix, meta::PrefixEnd(prefix), 1));
  if (!free.empty()) {
    txn.Delete(free[0].key);
    return ReadBigEndian64(std::string_view(free[0].key).substr(prefix.size()));
  }
  std::string hw = HighWaterKey(dnode, drive);
  ASSIGN_OR_RETURN(uint64_t next, GetCounter(txn, hw, 0));
  if (next + kSlotBytes > data_bytes) {
    return NoSpace(fmt::format("SSD drive {}/ssd-{} is full", dnode, drive));
  }
  PutCounter(txn, hw, next + kSlotBytes);
  return next;
}

// Drops every key under `prefix`.
Status DeleteRange(meta::Transaction& txn, const std::string& prefix) {
  return meta::ForEachInPrefix(txn, prefix, [&](meta::KeyValue& kv) {
    txn.Delete(kv.key);
    return Status::Ok();
  });
}

// True if an extent of `ino` within [offset, offset + length) lies in stripe `number`.
Result<bool> Referenced(meta::Transaction& txn, uint64_t number, const StripeMember& m) {
  ASSIGN_OR_RETURN(auto extents, internal::ScanExtents(txn, m.ino, m.file_offset,
                                                       m.file_offset + m.length));
  for (const Extent& e : extents) {
    if (e.offset < m.file_offset) continue;  // began before this member: not from it
    auto loc = DecodeLocation(e.location);
    if (loc.ok() && loc->kind == LocationKind::kStripe && loc->stripe == number) return true;
  }
  return false;
}

dnode::BlockId ChunkId(uint64_t number, int index) {
  return dnode::BlockId{number, static_cast<uint32_t>(index), kBlockVersion};
}

// The bytes [from, to) of chunk `chunk` that the stripe range [offset, offset + length)
// covers, for chunks of `chunk_bytes`.
struct ChunkRange {
  uint64_t from = 0;
  uint64_t to = 0;
};
ChunkRange RangeInChunk(uint64_t offset, uint64_t length, uint64_t chunk_bytes, uint64_t chunk) {
  const uint64_t begin = chunk * chunk_bytes;
  return {std::max(offset, begin) - begin, std::min(offset + length, begin + chunk_bytes) - begin};
}

}  // namespace

std::string EncodeStripeRecord(const StripeRecord& record) {
  Writer w;
  w.PutU8(kRecordVersion);
  w.PutU8(static_cast<uint8_t>(record.state));
  w.PutVarint64(static_cast<uint64_t>(record.geometry.k));
  w.PutVarint64(static_cast<uint64_t>(record.geometry.m));
  w.PutVarint64(record.geometry.chunk_bytes);
  w.PutString(record.writer);
  w.PutU64(static_cast<uint64_t>(record.created_us));
  w.PutVarint64(record.chunks.size());
  for (const StripeChunk& c : record.chunks) {
    w.PutString(c.dnode);
    w.PutVarint64(c.drive);
    w.PutVarint64(c.offset);
  }
  return std::move(w).Release();
}

Result<StripeRecord> DecodeStripeRecord(uint64_t number, std::string_view bytes) {
  Reader r(bytes);
  ASSIGN_OR_RETURN(uint8_t version, r.GetU8());
  if (version != kRecordVersion) return Corruption(fmt::format("stripe record version {}", version));
  StripeRecord rec;
  rec.number = number;
  ASSIGN_OR_RETURN(uint8_t state, r.GetU8());
  if (state != static_cast<uint8_t>(StripeState::kPending) &&
      state != static_cast<uint8_t>(StripeState::kSealed)) {
    return Corruption(fmt::format("stripe {} in unknown state {}", number, state));
  }
  rec.state = static_cast<StripeState>(state);
  ASSIGN_OR_RETURN(uint64_t k, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t m, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t chunk_bytes, r.GetVarint64());
  if (k < 1 || k > ec::ReedSolomon::kDataChunksMax || m < 1 ||
      m > ec::ReedSolomon::kParityChunksMax || chunk_bytes == 0 ||
      chunk_bytes > ec::kChunkBytesDefault) {
    return Corruption(fmt::format("stripe {} has geometry {}+{} x {}", number, k, m, chunk_bytes));
  }
  rec.geometry = ec::Geometry{static_cast<int>(k), static_cast<int>(m),
                              static_cast<uint32_t>(chunk_bytes)};
  ASSIGN_OR_RETURN(rec.writer, r.GetString(dnode::kMaxDnodeNameBytes));
  ASSIGN_OR_RETURN(uint64_t created, r.GetU64());
  rec.created_us = static_cast<int64_t>(created);
  ASSIGN_OR_RETURN(uint64_t count, r.GetVarint64());
  if (count != k + m) return Corruption(fmt::format("stripe {} lists {} chunks", number, count));
  for (uint64_t i = 0; i < count; ++i) {
    StripeChunk c;
    ASSIGN_OR_RETURN(c.dnode, r.GetString(dnode::kMaxDnodeNameBytes));
    ASSIGN_OR_RETURN(uint64_t drive, r.GetVarint64());
    ASSIGN_OR_RETURN(c.offset, r.GetVarint64());
    if (drive >= dnode::kMaxDrives) return Corruption("stripe chunk on a bad drive");
    c.drive = static_cast<uint32_t>(drive);
    rec.chunks.push_back(std::move(c));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return rec;
}

uint64_t StripeStore::CapacityNow() const {
  auto g = ec::ChooseGeometry(static_cast<int>(peers_->Active().size()), options_.ssd_drives);
  return g.ok() ? g->data_bytes() : 0;
}

Result<StripeRecord> StripeStore::Reserve(const ec::Geometry& g,
                                          const std::vector<std::string>& dnodes) {
  StripeRecord rec;
  // Unsynced: the reservation matters only once a durable commit seals data into the stripe,
  // and that commit's WAL sync carries this earlier one with it. A reservation lost to a power
  // cut lost nothing: its slots were never referenced and are taken again.
  auto reserve = [&](meta::Transaction& txn) -> Status {
    ASSIGN_OR_RETURN(uint64_t number, GetCounter(txn, kNextStripeKey, 1));
    rec = StripeRecord{};
    rec.number = number;
    rec.geometry = g;
    rec.writer = options_.cnode;
    rec.created_us = env_->NowMicros();
    int d = static_cast<int>(dnodes.size());
    for (const ec::Placement& p : ec::PlaceStripe(g, d, options_.ssd_drives, number)) {
      const std::string& dnode = dnodes[static_cast<size_t>(p.dnode)];
      uint32_t drive = static_cast<uint32_t>(p.drive);
      ASSIGN_OR_RETURN(uint64_t offset, TakeSlot(txn, dnode, drive, options_.ssd_data_bytes));
      rec.chunks.push_back(StripeChunk{dnode, drive, offset});
    }
    PutCounter(txn, kNextStripeKey, number + 1);
    txn.Put(StripeKey(number), EncodeStripeRecord(rec));
    return Status::Ok();
  };
  RETURN_IF_ERROR(store_->RunTransaction(reserve, 16, meta::CommitMode::kUnsynced));
  return rec;
}

Result<const ec::ReedSolomon*> StripeStore::Code(const ec::Geometry& g) {
  auto& code = codes_[{g.k, g.m}];
  if (code == nullptr) {
    ASSIGN_OR_RETURN(code, ec::ReedSolomon::Create(g.k, g.m));
  }
  return code.get();
}

awaitable<Result<StripeRecord>> StripeStore::Write(std::string data) {
  std::vector<std::string_view> pieces{data};
  co_return co_await WritePieces(std::move(pieces));
}

awaitable<Result<StripeRecord>> StripeStore::WritePieces(std::vector<std::string_view> pieces) {
  std::vector<std::string> dnodes = peers_->Active();
  CO_ASSIGN_OR_RETURN(ec::Geometry g, ec::ChooseGeometry(static_cast<int>(dnodes.size()),
                                                         options_.ssd_drives));
  uint64_t bytes = 0;
  for (std::string_view p : pieces) bytes += p.size();
  if (bytes == 0 || bytes > g.data_bytes()) {
    co_return InvalidArgument(fmt::format("{} bytes do not fit a {}+{} stripe", bytes, g.k, g.m));
  }
  // The smallest 4 KiB multiple that holds the data in k chunks.
  uint64_t k = static_cast<uint64_t>(g.k);
  uint64_t per_chunk = (bytes + k - 1) / k;
  per_chunk = (per_chunk + dnode::kBlockAlignBytes - 1) / dnode::kBlockAlignBytes * dnode::kBlockAlignBytes;
  g.chunk_bytes = static_cast<uint32_t>(std::min<uint64_t>(per_chunk, ec::kChunkBytesDefault));
  CO_ASSIGN_OR_RETURN(const ec::ReedSolomon* code, Code(g));
  CO_ASSIGN_OR_RETURN(StripeRecord rec, Reserve(g, dnodes));

  // Data, zero padding, then parity, in one buffer that the chunk writes borrow (shared: a
  // write that timed out may still be queued on its connection).
  size_t cb = g.chunk_bytes;
  auto buffer = std::make_shared<std::string>();
  buffer->reserve(cb * static_cast<size_t>(g.width()));
  for (std::string_view p : pieces) buffer->append(p);
  buffer->resize(cb * static_cast<size_t>(g.width()), '\0');
  std::vector<const uint8_t*> sources;
  std::vector<uint8_t*> parity;
  auto* base = reinterpret_cast<uint8_t*>(buffer->data());
  for (int i = 0; i < g.k; ++i) sources.push_back(base + static_cast<size_t>(i) * cb);
  for (int i = g.k; i < g.width(); ++i) parity.push_back(base + static_cast<size_t>(i) * cb);
  code->Encode(sources, parity, cb);

  // One call per DNode carries all of its chunks: a stripe costs as many round trips as it
  // has DNodes, not chunks.
  std::vector<std::string> targets;
  std::vector<std::vector<dnode::BlockClient::BlockWrite>> blocks;
  for (int i = 0; i < g.width(); ++i) {
    const StripeChunk& c = rec.chunks[static_cast<size_t>(i)];
    auto it = std::find(targets.begin(), targets.end(), c.dnode);
    size_t t = static_cast<size_t>(it - targets.begin());
    if (it == targets.end()) {
      targets.push_back(c.dnode);
      blocks.emplace_back();
    }
    std::string_view payload(buffer->data() + static_cast<size_t>(i) * cb, cb);
    blocks[t].push_back(dnode::BlockClient::BlockWrite{
        dnode::DriveRef{dnode::DriveKind::kSsd, c.drive}, c.offset, ChunkId(rec.number, i), payload});
  }
  std::vector<awaitable<Status>> writes;
  for (size_t t = 0; t < targets.size(); ++t) {
    writes.push_back([](DnodePeers* peers, std::string dnode,
                        std::vector<dnode::BlockClient::BlockWrite> chunks,
                        std::shared_ptr<const void> owner) -> awaitable<Status> {
      dnode::BlockClient* client = peers->Client(dnode);
      if (client == nullptr) co_return Unavailable(dnode + " is not reachable");
      co_return co_await client->WriteMany(std::move(chunks), std::move(owner),
                                           dnode::Durability::kSync);
    }(peers_, targets[t], std::move(blocks[t]), buffer));
  }
  std::vector<Status> written = co_await AwaitAll(std::move(writes));
  for (size_t t = 0; t < written.size(); ++t) {
    if (written[t].ok()) continue;
    Status freed = FreeUnused({rec});
    if (!freed.ok()) LOG_WARN("cannot free stripe {}: {}", rec.number, freed.ToString());
    co_return Status(written[t].code(), fmt::format("stripe {} chunks on {}: {}", rec.number,
                                                    targets[t], written[t].message()));
  }
  co_return rec;
}

void StripeStore::Seal(meta::Transaction& txn, StripeRecord record,
                       const std::vector<StripeMember>& members) {
  record.state = StripeState::kSealed;
  txn.Put(StripeKey(record.number), EncodeStripeRecord(record));
  AddMembers(txn, record.number, members);
}

void StripeStore::AddMembers(meta::Transaction& txn, uint64_t number,
                             const std::vector<StripeMember>& members) {
  // Two members may start at the same file offset (an older chunk partly overwritten by a
  // newer one, both still live): one key keeps the longer range, which covers both.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> merged;
  for (const StripeMember& m : members) {
    uint64_t& length = merged[{m.ino, m.file_offset}];
    length = std::max(length, m.length);
  }
  for (const auto& [key, length] : merged) {
    Writer w;
    w.PutVarint64(length);
    txn.Put(MemberKey(number, key.first, key.second), std::move(w).Release());
  }
}

Status StripeStore::Free(meta::Transaction& txn, const StripeRecord& record) {
  txn.Delete(StripeKey(record.number));
  RETURN_IF_ERROR(DeleteRange(txn, MemberPrefix(record.number)));
  for (const StripeChunk& c : record.chunks) {
    std::string key = FreePrefix(c.dnode, c.drive);
    AppendBigEndian64(&key, c.offset);
    txn.Put(key, "");
  }
  return Status::Ok();
}

Result<StripeRecord> StripeStore::Record(uint64_t number) {
  if (auto it = records_.find(number); it != records_.end()) return it->second;
  std::unique_ptr<meta::Transaction> txn;
  ASSIGN_OR_RETURN(txn, store_->Begin());
  ASSIGN_OR_RETURN(auto raw, txn->Get(StripeKey(number)));
  if (!raw) return NotFound(fmt::format("no stripe {}", number));
  ASSIGN_OR_RETURN(StripeRecord rec, DecodeStripeRecord(number, *raw));
  if (rec.state == StripeState::kSealed) {
    if (records_.size() >= kRecordsCached) records_.clear();
    records_.emplace(number, rec);
  }
  return rec;
}

awaitable<Result<std::string>> StripeStore::ReadChunk(const StripeRecord& record, int index,
                                                      uint32_t slice_offset, uint32_t slice_len) {
  const StripeChunk& c = record.chunks[static_cast<size_t>(index)];
  dnode::BlockClient* client = peers_->Client(c.dnode);
  if (client == nullptr) co_return Unavailable(c.dnode + " is not in the cluster map");
  dnode::DriveRef drive{dnode::DriveKind::kSsd, c.drive};
  if (slice_len > 0) {
    co_return co_await client->ReadSlice(drive, c.offset, ChunkId(record.number, index),
                                         record.geometry.chunk_bytes, slice_offset, slice_len);
  }
  co_return co_await client->Read(drive, c.offset, ChunkId(record.number, index),
                                  record.geometry.chunk_bytes);
}

awaitable<Result<std::string>> StripeStore::Read(uint64_t number, uint64_t offset,
                                                 uint64_t length) {
  CO_ASSIGN_OR_RETURN(StripeRecord rec, Record(number));
  const ec::Geometry& g = rec.geometry;
  if (length == 0 || offset > g.data_bytes() || length > g.data_bytes() - offset) {
    co_return InvalidArgument(fmt::format("read beyond stripe {}", number));
  }
  const uint64_t cb = g.chunk_bytes;
  const uint64_t first = offset / cb, last = (offset + length - 1) / cb;
  // Only the bytes asked for travel (and the DNodes read only the sectors holding them). Any
  // failure takes the general path, which reads whole chunks and can rebuild from parity.
  std::vector<awaitable<Result<std::string>>> reads;
  for (uint64_t i = first; i <= last; ++i) {
    const auto [from, to] = RangeInChunk(offset, length, cb, i);
    const bool whole = to - from == cb;  // read as a block, verified here too
    reads.push_back(ReadChunk(rec, static_cast<int>(i), whole ? 0 : static_cast<uint32_t>(from),
                              whole ? 0 : static_cast<uint32_t>(to - from)));
  }
  std::vector<Result<std::string>> pieces = co_await AwaitAll(std::move(reads));
  if (pieces.size() == 1 && pieces[0].ok()) co_return std::move(pieces[0]);
  std::string out;
  out.reserve(length);
  for (Result<std::string>& piece : pieces) {
    if (!piece.ok()) co_return co_await ReadChunks(rec, offset, length);
    out += *piece;
  }
  co_return out;
}

awaitable<Result<std::string>> StripeStore::ReadChunks(const StripeRecord& rec, uint64_t offset,
                                                       uint64_t length) {
  const uint64_t number = rec.number;
  const ec::Geometry& g = rec.geometry;
  const uint64_t cb = g.chunk_bytes;
  const int first = static_cast<int>(offset / cb);
  const int last = static_cast<int>((offset + length - 1) / cb);
  // Every byte position of a stripe decodes on its own, so a range inside one chunk needs only
  // the sectors holding it, from each chunk read: the window [lo, hi) of every chunk. A range
  // over several chunks takes them whole.
  uint64_t lo = 0, hi = cb;
  if (first == last) {
    lo = (offset - first * cb) / dnode::kSectorBytes * dnode::kSectorBytes;
    hi = std::min(cb, (offset + length - first * cb + dnode::kSectorBytes - 1) /
                          dnode::kSectorBytes * dnode::kSectorBytes);
  }
  const uint64_t window = hi - lo;
  std::vector<std::optional<std::string>> chunks(static_cast<size_t>(g.width()));
  auto fetch = [&](std::vector<int> indices) -> awaitable<Status> {
    std::vector<awaitable<Result<std::string>>> reads;
    for (int i : indices) {
      reads.push_back(window == cb ? ReadChunk(rec, i)
                                   : ReadChunk(rec, i, static_cast<uint32_t>(lo),
                                               static_cast<uint32_t>(window)));
    }
    std::vector<Result<std::string>> got = co_await AwaitAll(std::move(reads));
    Status last_error;
    for (size_t j = 0; j < got.size(); ++j) {
      int i = indices[j];
      if (got[j].ok()) {
        chunks[static_cast<size_t>(i)] = std::move(got[j]).value();
      } else {
        LOG_WARN("stripe {} chunk {} on {} unreadable: {}", number, i,
                 rec.chunks[static_cast<size_t>(i)].dnode, got[j].status().ToString());
        last_error = got[j].status();
      }
    }
    co_return last_error;
  };
  std::vector<int> wanted;
  for (int i = first; i <= last; ++i) wanted.push_back(i);
  Status direct = co_await fetch(wanted);
  if (!direct.ok()) {
    // Degraded: read every other chunk and rebuild the missing ones from any k of them.
    std::vector<int> others;
    for (int i = 0; i < g.width(); ++i) {
      if (i < first || i > last) others.push_back(i);
    }
    co_await fetch(others);
    auto count_present = [&] {
      int n = 0;
      for (const auto& c : chunks) n += c.has_value() ? 1 : 0;
      return n;
    };
    if (count_present() < g.k && refresh_) {
      // DNodes that restarted listen on new ports our map may not know yet: look again.
      Status refreshed = co_await refresh_();
      if (refreshed.ok()) {
        std::vector<int> missing;
        for (int i = 0; i < g.width(); ++i) {
          if (!chunks[static_cast<size_t>(i)]) missing.push_back(i);
        }
        co_await fetch(missing);
      }
    }
    std::vector<bool> present_flags;
    std::vector<uint8_t*> buffers;
    int present = 0;
    for (auto& c : chunks) {
      bool ok = c.has_value();
      present += ok ? 1 : 0;
      if (!ok) c.emplace(window, '\0');
      present_flags.push_back(ok);
      buffers.push_back(reinterpret_cast<uint8_t*>(c->data()));
    }
    if (present < g.k) {
      co_return Status(direct.code(),
                       fmt::format("stripe {}: only {} of {} chunks readable, {} needed ({})",
                                   number, present, g.width(), g.k, direct.message()));
    }
    CO_ASSIGN_OR_RETURN(const ec::ReedSolomon* code, Code(g));
    std::unique_ptr<bool[]> flags(new bool[present_flags.size()]);
    for (size_t i = 0; i < present_flags.size(); ++i) flags[i] = present_flags[i];
    CO_RETURN_IF_ERROR(code->Reconstruct(
        buffers, std::span<const bool>(flags.get(), present_flags.size()), window));
  }
  std::string out;
  out.reserve(length);
  for (int i = first; i <= last; ++i) {
    const auto [from, to] = RangeInChunk(offset, length, cb, static_cast<uint64_t>(i));
    out.append(*chunks[static_cast<size_t>(i)], from - lo, to - from);
  }
  co_return out;
}

Status StripeStore::FreeUnused(const std::vector<StripeRecord>& records) {
  return store_->RunTransaction([&](meta::Transaction& txn) -> Status {
    for (const StripeRecord& rec : records) RETURN_IF_ERROR(Free(txn, rec));
    return Status::Ok();
  });
}

Status StripeStore::FreePending() {
  // Find them in one read-only snapshot, then free them in a transaction that reads only them,
  // so that startup does not conflict with every stripe other CNodes commit meanwhile.
  std::vector<uint64_t> pending;
  {
    ASSIGN_OR_RETURN(auto txn, store_->Begin());
    RETURN_IF_ERROR(meta::ForEachInPrefix(*txn, kStripePrefix, [&](meta::KeyValue& kv) -> Status {
      uint64_t number = ReadBigEndian64(std::string_view(kv.key).substr(sizeof(kStripePrefix) - 1));
      ASSIGN_OR_RETURN(StripeRecord rec, DecodeStripeRecord(number, kv.value));
      if (rec.state == StripeState::kPending && rec.writer == options_.cnode) pending.push_back(number);
      return Status::Ok();
    }));
  }
  if (pending.empty()) return Status::Ok();
  RETURN_IF_ERROR(store_->RunTransaction([&](meta::Transaction& txn) -> Status {
    for (uint64_t number : pending) {
      ASSIGN_OR_RETURN(auto raw, txn.Get(StripeKey(number)));
      if (!raw) continue;
      ASSIGN_OR_RETURN(StripeRecord rec, DecodeStripeRecord(number, *raw));
      if (rec.state == StripeState::kPending) RETURN_IF_ERROR(Free(txn, rec));
    }
    return Status::Ok();
  }));
  LOG_INFO("freed {} stripes left pending by an earlier run", pending.size());
  return Status::Ok();
}

Result<SweepResult> StripeStore::Sweep(uint64_t from, size_t max_stripes) {
  SweepResult result;
  std::vector<uint64_t> numbers;
  {
    ASSIGN_OR_RETURN(auto txn, store_->Begin());
    ASSIGN_OR_RETURN(auto rows, txn->Scan(StripeKey(from), meta::PrefixEnd(kStripePrefix), max_stripes));
    for (const auto& kv : rows) numbers.push_back(ReadBigEndian64(std::string_view(kv.key).substr(sizeof(kStripePrefix) - 1)));
    result.next = rows.size() == max_stripes && !numbers.empty() ? numbers.back() + 1 : 0;
  }
  for (uint64_t number : numbers) RETURN_IF_ERROR(SweepStripe(number, &result));
  return result;
}

Status StripeStore::SweepStripe(uint64_t number, SweepResult* result) {
  uint64_t dropped = 0;
  bool freed = false;
  RETURN_IF_ERROR(store_->RunTransaction([&](meta::Transaction& txn) -> Status {
    dropped = 0;
    freed = false;
    ASSIGN_OR_RETURN(auto raw, txn.Get(StripeKey(number)));
    if (!raw) return Status::Ok();
    ASSIGN_OR_RETURN(StripeRecord rec, DecodeStripeRecord(number, *raw));
    if (rec.state != StripeState::kSealed) return Status::Ok();
    std::string prefix = MemberPrefix(number);
    size_t live = 0;
    RETURN_IF_ERROR(meta::ForEachInPrefix(txn, prefix, [&](meta::KeyValue& kv) -> Status {
      std::string_view key(kv.key);
      Reader r(kv.value);
      ASSIGN_OR_RETURN(uint64_t length, r.GetVarint64());
      StripeMember m{ReadBigEndian64(key.substr(prefix.size())),
                     ReadBigEndian64(key.substr(prefix.size() + 8)), length};
      ASSIGN_OR_RETURN(bool referenced, Referenced(txn, number, m));
      if (referenced) {
        ++live;
      } else {
        txn.Delete(kv.key);
        ++dropped;
      }
      return Status::Ok();
    }));
    if (live == 0) {
      RETURN_IF_ERROR(Free(txn, rec));
      freed = true;
    }
    return Status::Ok();
  }));
  result->stripes_seen++;
  result->members_dropped += dropped;
  if (freed) {
    result->stripes_freed++;
    records_.erase(number);
  }
  return Status::Ok();
}

}  // namespace dase::estore
