#include "estore/objects.h"

#include "common/log.h"
#include "dnode/format.h"

namespace dase::estore {

awaitable<Result<std::vector<StripePiece>>> ObjectStore::WriteStriped(
    const std::string& data, std::vector<Extent>* extents) {
  std::vector<StripePiece> written;
  uint64_t capacity = stripes_->CapacityNow();
  for (uint64_t offset = 0; offset < data.size(); offset += capacity) {
    uint64_t length = std::min<uint64_t>(capacity, data.size() - offset);
    // Borrowed, not copied: the stripe write copies it once, beside its parity.
    std::string_view piece = std::string_view(data).substr(offset, length);
    auto written_piece = co_await stripe_batcher_->Write(piece);
    if (!written_piece.ok()) {
      for (const StripePiece& p : written) stripe_batcher_->Settle(p, false);
      co_return written_piece.status();
    }
    ChunkLocation loc;
    loc.kind = LocationKind::kStripe;
    loc.length = static_cast<uint32_t>(length);
    loc.stripe = written_piece->stripe->record.number;
    loc.stripe_offset = written_piece->offset;
    extents->push_back(Extent{offset, length, EncodeLocation(loc), 0});
    written.push_back(std::move(written_piece).value());
  }
  co_return written;
}

awaitable<Result<std::vector<ChunkLocation>>> ObjectStore::WriteBuffered(
    const std::string& data, std::vector<Extent>* extents) {
  std::vector<ChunkLocation> written;
  for (uint64_t offset = 0; offset < data.size(); offset += dnode::kMaxBlockPayloadBytes) {
    uint64_t length = std::min<uint64_t>(dnode::kMaxBlockPayloadBytes, data.size() - offset);
    std::string chunk = data.substr(offset, length);
    auto loc = co_await data_->WriteChunk(std::move(chunk));
    if (!loc.ok()) {
      for (const ChunkLocation& l : written) data_->Release(l);
      co_return loc.status();
    }
    extents->push_back(Extent{offset, length, EncodeLocation(*loc), 0});
    written.push_back(std::move(loc).value());
  }
  co_return written;
}

awaitable<Result<WriteResult>> ObjectStore::Commit(uint64_t dir, const std::string& name,
                                                   const NewNode& node,
                                                   std::vector<Extent> extents, uint64_t size,
                                                   CommitHook hook) {
  // One metadata transaction, possibly shared with other requests' (group commit).
  // (No co_await inside a conditional expression or beside temporaries: see common/asio.h.)
  auto op = ns_->PreparePutFile(dir, name, node, std::move(extents), size, std::move(hook));
  if (!op.ok()) co_return op.status();
  std::function<Status(meta::Transaction&)> body = (*op)->body;
  Status committed = co_await batcher_->Run(std::move(body));
  co_return ns_->FinishPutFile(**op, committed);
}

awaitable<Result<WriteResult>> ObjectStore::Put(uint64_t dir, std::string name, std::string data,
                                                PutOptions options) {
  // Data first, durable; then one metadata transaction makes it visible. Not even the data
  // when no commit could follow.
  if (Status health = ns_->store()->WriteHealth(); !health.ok()) co_return health;
  std::vector<Extent> extents;
  std::vector<StripePiece> stripes;
  std::vector<ChunkLocation> buffered;
  bool striped = options.striped || data.size() >= kStripeDirectBytes;
  if (striped && !data.empty()) {
    Result<std::vector<StripePiece>> written = Unavailable("fewer than two DNodes are active");
    if (stripes_->CapacityNow() > 0) written = co_await WriteStriped(data, &extents);
    if (written.ok()) {
      stripes = std::move(written).value();
    } else if (options.striped) {
      co_return written.status();
    } else {
      LOG_WARN("striped write failed, writing to the buffer: {}", written.status().ToString());
      extents.clear();
    }
  }
  if (extents.empty() && !data.empty()) {
    CO_ASSIGN_OR_RETURN(buffered, co_await WriteBuffered(data, &extents));
  }
  CommitHook hook = [&](meta::Transaction& txn, const Inode& file) -> Status {
    for (size_t i = 0; i < stripes.size(); ++i) {
      StripeMember member{file.ino, extents[i].offset, extents[i].length};
      RETURN_IF_ERROR(StripeBatcher::Seal(txn, stripes[i], member));
    }
    for (size_t i = 0; i < buffered.size(); ++i) {
      migrator_->RecordBuffered(txn, file.ino, extents[i].offset, buffered[i]);
    }
    if (options.attrs) Namespace::PutObjectAttrs(txn, file.ino, *options.attrs);
    return Status::Ok();
  };
  auto written = co_await Commit(dir, name, options.node, extents, data.size(), std::move(hook));
  for (const StripePiece& p : stripes) stripe_batcher_->Settle(p, written.ok());
  if (!written.ok()) {
    for (const ChunkLocation& l : buffered) data_->Release(l);
    co_return written.status();
  }
  if (!buffered.empty()) migrator_->Wake(data.size());
  migrator_->NoteDisplaced(written->displaced);
  co_return written;
}

awaitable<Result<ReadResult>> ObjectStore::ReadOnce(uint64_t ino, uint64_t offset,
                                                    uint64_t length) {
  CO_ASSIGN_OR_RETURN(Namespace::ReadView view, ns_->ReadViewOf(ino, offset, length));
  ReadResult out;
  out.inode = view.inode;
  out.attrs = std::move(view.attrs);
  if (view.inode.type != FileType::kFile) co_return InvalidArgument("not a file");
  uint64_t start = std::min(offset, view.inode.size);
  uint64_t end = start + std::min(length, view.inode.size - start);
  out.data.assign(end - start, '\0');  // holes read as zeros
  for (const Extent& e : view.extents) {
    uint64_t from = std::max(start, e.offset);
    uint64_t to = std::min(end, e.offset + e.length);
    if (from >= to) continue;
    CO_ASSIGN_OR_RETURN(ChunkLocation loc, DecodeLocation(e.location));
    CO_ASSIGN_OR_RETURN(std::string bytes,
                        co_await data_->ReadChunk(std::move(loc),
                                                  e.location_offset + (from - e.offset), to - from));
    if (bytes.size() != to - from) co_return Corruption("short read from the data plane");
    out.data.replace(from - start, bytes.size(), bytes);
  }
  co_return out;
}

awaitable<Result<ReadResult>> ObjectStore::Read(uint64_t ino, uint64_t offset, uint64_t length) {
  // Extents read just before migration or a sweep moved their data may name space that was
  // reused since: the block's identity no longer matches (an error, never other data). Reading
  // the extents again finds the data's new place.
  constexpr int kAttempts = 3;
  Result<ReadResult> out = Unavailable("not read");
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    out = co_await ReadOnce(ino, offset, length);
    if (out.ok() || (out.status().code() != Code::kCorruption &&
                     out.status().code() != Code::kNotFound)) {
      break;
    }
  }
  co_return out;
}

Status ObjectStore::Unlink(uint64_t dir, std::string_view name) {
  std::vector<Extent> displaced;
  RETURN_IF_ERROR(ns_->Unlink(dir, name, &displaced));
  migrator_->NoteDisplaced(displaced);
  return Status::Ok();
}

Status ObjectStore::RemoveTree(uint64_t dir, std::string_view name) {
  std::vector<Extent> displaced;
  RETURN_IF_ERROR(ns_->store()->RunTransaction([&](meta::Transaction& txn) {
    displaced.clear();
    return ns_->RemoveTree(txn, dir, name, &displaced);
  }));
  migrator_->NoteDisplaced(displaced);
  return Status::Ok();
}

awaitable<Result<WriteResult>> ObjectStore::Concat(uint64_t dir, std::string name,
                                                   std::vector<Inode> parts, PutOptions options,
                                                   std::function<Status(meta::Transaction&)> also) {
  std::vector<Extent> extents;
  std::vector<uint64_t> stripe_of;  // per extent
  uint64_t size = 0;
  for (const Inode& part : parts) {
    CO_ASSIGN_OR_RETURN(Namespace::ReadView view, ns_->ReadViewOf(part.ino, 0, part.size));
    if (view.inode.change != part.change || view.inode.type != FileType::kFile) {
      co_return Aborted("a part changed while being concatenated");
    }
    for (const Extent& e : view.extents) {
      CO_ASSIGN_OR_RETURN(ChunkLocation loc, DecodeLocation(e.location));
      if (loc.kind != LocationKind::kStripe) {
        co_return FailedPrecondition("a part's data is in the write buffer, not in stripes");
      }
      extents.push_back(Extent{size + e.offset, e.length, e.location, e.location_offset});
      stripe_of.push_back(loc.stripe);
    }
    size += part.size;
  }
  CommitHook hook = [&](meta::Transaction& txn, const Inode& file) -> Status {
    for (const Inode& part : parts) {
      ASSIGN_OR_RETURN(auto raw, txn.Get(InodeKey(part.ino)));
      if (!raw) return Aborted("a part went away while being concatenated");
      ASSIGN_OR_RETURN(Inode now, DecodeInode(*raw));
      if (now.change != part.change) return Aborted("a part changed while being concatenated");
    }
    // The spliced ranges become members of their stripes as ranges of the new file; the
    // parts' own members stop being referenced when `also` removes the parts.
    for (size_t i = 0; i < extents.size(); ++i) {
      StripeStore::AddMembers(txn, stripe_of[i],
                              {StripeMember{file.ino, extents[i].offset, extents[i].length}});
    }
    if (options.attrs) Namespace::PutObjectAttrs(txn, file.ino, *options.attrs);
    return also ? also(txn) : Status::Ok();
  };
  auto written = co_await Commit(dir, name, options.node, extents, size, std::move(hook));
  if (written.ok()) {
    // The parts' extents are not displaced (the new file holds them); what the new file
    // replaced is, and the parts' stripes get their stale members dropped.
    std::vector<Extent> sweep = written->displaced;
    for (const Extent& e : extents) sweep.push_back(e);
    migrator_->NoteDisplaced(sweep);
  }
  co_return written;
}

}  // namespace dase::estore
