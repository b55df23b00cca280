#include "estore/service.h"

#include <fmt/format.h>

#include "common/coding.h"
#include "common/log.h"
#include "dnode/format.h"
#include "rpc/methods.h"

namespace dase::estore {
namespace {

// "a/b/c" → ("a/b", "c"), refusing empty and invalid components.
Result<std::pair<std::string, std::string>> SplitParent(std::string_view path) {
  if (path.empty() || path.size() > kPathBytesMax) return InvalidArgument("path length out of range");
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return InvalidArgument("the root is not a file");
  size_t slash = path.rfind('/');
  std::string parent(slash == std::string_view::npos ? "" : path.substr(0, slash));
  std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
  RETURN_IF_ERROR(ValidateName(name));
  return std::make_pair(parent, name);
}

Result<std::string> DecodePath(std::string_view payload) {
  Reader r(payload);
  ASSIGN_OR_RETURN(std::string path, r.GetString(kPathBytesMax));
  RETURN_IF_ERROR(r.ExpectEnd());
  return path;
}

}  // namespace

std::string EncodePutRequest(std::string_view path, std::string_view data) {
  Writer w;
  w.PutString(path);
  w.PutString(data);
  return std::move(w).Release();
}

std::string EncodePathRequest(std::string_view path) {
  Writer w;
  w.PutString(path);
  return std::move(w).Release();
}

Result<std::vector<ListEntry>> DecodeListReply(std::string_view payload) {
  Reader r(payload);
  ASSIGN_OR_RETURN(uint64_t count, r.GetVarint64());
  if (count > kListMax) return Corruption("list reply too long");
  std::vector<ListEntry> entries;
  for (uint64_t i = 0; i < count; ++i) {
    ListEntry e;
    ASSIGN_OR_RETURN(e.name, r.GetString(kNameBytesMax));
    ASSIGN_OR_RETURN(uint8_t type, r.GetU8());
    e.type = type == static_cast<uint8_t>(FileType::kDirectory) ? FileType::kDirectory
                                                                 : FileType::kFile;
    ASSIGN_OR_RETURN(e.size, r.GetVarint64());
    entries.push_back(std::move(e));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return entries;
}

awaitable<Result<std::vector<StripePiece>>> EstoreService::WriteStriped(
    const std::string& data, std::vector<Extent>* extents) {
  std::vector<StripePiece> written;
  uint64_t capacity = stripes_->CapacityNow();
  for (uint64_t offset = 0; offset < data.size(); offset += capacity) {
    uint64_t length = std::min<uint64_t>(capacity, data.size() - offset);
    std::string piece = data.substr(offset, length);  // a named local: see common/asio.h
    auto written_piece = co_await stripe_batcher_->Write(std::move(piece));
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

awaitable<Result<std::vector<ChunkLocation>>> EstoreService::WriteBuffered(
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

awaitable<Result<uint64_t>> EstoreService::Put(std::string path, std::string data) {
  if (data.size() > kObjectBytesMax) co_return InvalidArgument("object larger than 48 MiB");
  CO_ASSIGN_OR_RETURN(auto parts, SplitParent(path));
  CO_ASSIGN_OR_RETURN(Inode dir, ns_->MakeDirs(parts.first));
  // Data first, durable; then one metadata transaction makes it visible.
  std::vector<Extent> extents;
  std::vector<StripePiece> stripes;
  std::vector<ChunkLocation> buffered;
  if (data.size() >= kStripeDirectBytes && stripes_->CapacityNow() > 0) {
    auto striped = co_await WriteStriped(data, &extents);
    if (striped.ok()) {
      stripes = std::move(striped).value();
    } else {
      LOG_WARN("striped write failed, writing to the buffer: {}", striped.status().ToString());
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
    return Status::Ok();
  };
  NewNode file{FileType::kFile, 0644, 0, 0};
  // One metadata transaction, possibly shared with other requests' (group commit).
  // (No co_await inside a conditional expression or beside temporaries: see common/asio.h.)
  auto op = ns_->PreparePutFile(dir.ino, parts.second, file, extents, data.size(), hook);
  Result<WriteResult> written = Internal("not committed");
  if (!op.ok()) {
    written = op.status();
  } else {
    std::function<Status(meta::Transaction&)> body = (*op)->body;
    Status committed = co_await batcher_->Run(std::move(body));
    written = ns_->FinishPutFile(**op, committed);
  }
  for (const StripePiece& p : stripes) stripe_batcher_->Settle(p, written.ok());
  if (!written.ok()) {
    for (const ChunkLocation& l : buffered) data_->Release(l);
    co_return written.status();
  }
  if (!buffered.empty()) migrator_->Wake(data.size());
  migrator_->NoteDisplaced(written->displaced);
  co_return written->inode.size;
}

awaitable<Result<std::string>> EstoreService::ReadOnce(const std::string& path) {
  CO_ASSIGN_OR_RETURN(Inode inode, ns_->Resolve(path));
  if (inode.type != FileType::kFile) co_return InvalidArgument(path + " is a directory");
  if (inode.size > kObjectBytesMax) co_return InvalidArgument("object larger than 48 MiB");
  CO_ASSIGN_OR_RETURN(std::vector<Extent> extents, ns_->Extents(inode.ino, 0, inode.size));
  std::string out(inode.size, '\0');  // holes read as zeros
  for (const Extent& e : extents) {
    CO_ASSIGN_OR_RETURN(ChunkLocation loc, DecodeLocation(e.location));
    uint64_t length = std::min(e.length, inode.size - std::min(e.offset, inode.size));
    CO_ASSIGN_OR_RETURN(std::string bytes,
                        co_await data_->ReadChunk(std::move(loc), e.location_offset, length));
    out.replace(e.offset, bytes.size(), bytes);
  }
  co_return out;
}

awaitable<Result<std::string>> EstoreService::Get(std::string path) {
  // Extents read just before migration or a sweep moved their data may name space that was
  // reused since: the block's identity no longer matches (an error, never other data). Reading
  // the extents again finds the data's new place.
  constexpr int kAttempts = 3;
  Result<std::string> out = Unavailable("not read");
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    out = co_await ReadOnce(path);
    if (out.ok() || (out.status().code() != Code::kCorruption &&
                     out.status().code() != Code::kNotFound)) {
      break;
    }
  }
  co_return out;
}

Result<std::vector<ListEntry>> EstoreService::List(const std::string& path) {
  ASSIGN_OR_RETURN(Inode dir, ns_->Resolve(path));
  if (dir.type != FileType::kDirectory) return InvalidArgument(path + " is not a directory");
  ASSIGN_OR_RETURN(ReadDirPage page, ns_->ReadDir(dir.ino, "", kListMax));
  std::vector<ListEntry> out;
  for (const DirEntry& e : page.entries) {
    ASSIGN_OR_RETURN(Inode child, ns_->GetAttr(e.ino));
    out.push_back(ListEntry{e.name, e.type, child.size});
  }
  return out;
}

Status EstoreService::Remove(const std::string& path) {
  ASSIGN_OR_RETURN(auto parts, SplitParent(path));
  ASSIGN_OR_RETURN(Inode dir, ns_->Resolve(parts.first));
  ASSIGN_OR_RETURN(Inode target, ns_->Lookup(dir.ino, parts.second));
  if (target.type == FileType::kDirectory) return ns_->Rmdir(dir.ino, parts.second);
  std::vector<Extent> displaced;
  RETURN_IF_ERROR(ns_->Unlink(dir.ino, parts.second, &displaced));
  migrator_->NoteDisplaced(displaced);
  return Status::Ok();
}

void EstoreService::Register(rpc::Server& server) {
  server.Register(rpc::Method::kEstorePut, [this](std::string payload) -> awaitable<Result<std::string>> {
    Reader r(payload);
    CO_ASSIGN_OR_RETURN(std::string path, r.GetString(kPathBytesMax));
    CO_ASSIGN_OR_RETURN(std::string data, r.GetString(kObjectBytesMax));
    CO_RETURN_IF_ERROR(r.ExpectEnd());
    CO_ASSIGN_OR_RETURN(uint64_t size, co_await Put(std::move(path), std::move(data)));
    Writer w;
    w.PutVarint64(size);
    co_return std::move(w).Release();
  });
  server.Register(rpc::Method::kEstoreGet, [this](std::string payload) -> awaitable<Result<std::string>> {
    CO_ASSIGN_OR_RETURN(std::string path, DecodePath(payload));
    co_return co_await Get(std::move(path));
  });
  server.Register(rpc::Method::kEstoreList, [this](std::string payload) -> awaitable<Result<std::string>> {
    CO_ASSIGN_OR_RETURN(std::string path, DecodePath(payload));
    CO_ASSIGN_OR_RETURN(std::vector<ListEntry> entries, List(path));
    Writer w;
    w.PutVarint64(entries.size());
    for (const ListEntry& e : entries) {
      w.PutString(e.name);
      w.PutU8(static_cast<uint8_t>(e.type));
      w.PutVarint64(e.size);
    }
    co_return std::move(w).Release();
  });
  server.Register(rpc::Method::kEstoreRemove, [this](std::string payload) -> awaitable<Result<std::string>> {
    CO_ASSIGN_OR_RETURN(std::string path, DecodePath(payload));
    CO_RETURN_IF_ERROR(Remove(path));
    co_return std::string();
  });
}

}  // namespace dase::estore
