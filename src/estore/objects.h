// ObjectStore: whole-file operations of a CNode over the namespace and the data plane, for the
// protocols (S3, the `estore` RPC service): put a file's whole content atomically, read a
// consistent range, concatenate files without copying their data (S3 multipart complete).
//
// Put writes the data durably first (to erasure-coded stripes when large or asked for, else to
// the mirrored write buffer), then commits the file in ONE metadata transaction, shared with
// other puts of this CNode (CommitBatcher): a failed or interrupted put leaves nothing visible,
// and readers see the old content or the new. Read takes the inode, attributes and extents from
// one metadata snapshot; if data moved under it (migration, reclaim), it reads them again, so
// the bytes returned are always one version's.
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/asio.h"
#include "estore/commit_batcher.h"
#include "estore/data_plane.h"
#include "estore/migrator.h"
#include "estore/namespace.h"
#include "estore/stripe_batcher.h"

namespace dase::estore {

// Puts of at least this many bytes go straight to stripes.
inline constexpr uint64_t kStripeDirectBytes = 512 << 10;

struct PutOptions {
  NewNode node{FileType::kFile, 0644, 0, 0};
  // Data to stripes whatever its size. Files whose extents Concat will splice into another
  // must be written so (a buffered chunk belongs to the one file range that wrote it).
  bool striped = false;
  std::optional<std::string> attrs;  // object attributes committed with the content
};

struct ReadResult {
  Inode inode;
  std::optional<std::string> attrs;
  std::string data;  // the range asked for, clipped to the file's size
};

class ObjectStore {
 public:
  ObjectStore(Namespace* ns, DataPlane* data, StripeStore* stripes, Migrator* migrator,
              CommitBatcher* batcher, StripeBatcher* stripe_batcher)
      : ns_(ns), data_(data), stripes_(stripes), migrator_(migrator), batcher_(batcher),
        stripe_batcher_(stripe_batcher) {}

  Namespace* ns() { return ns_; }

  // Creates or replaces file `name` in `dir` with `data`.
  awaitable<Result<WriteResult>> Put(uint64_t dir, std::string name, std::string data,
                                     PutOptions options);
  // Bytes [offset, offset + length) of file `ino` with its inode and attributes.
  awaitable<Result<ReadResult>> Read(uint64_t ino, uint64_t offset, uint64_t length);
  // Inode and attributes only (a directory too).
  Result<Namespace::ReadView> Stat(uint64_t ino) { return ns_->ReadViewOf(ino, 0, 0); }
  // Bytes [offset, offset + length) of the file `view` describes, clipped to its size, from
  // the view's extents (which must cover the range: Namespace::ReadViewIn of it). For readers
  // that take the view from a snapshot of their own. Corruption or NotFound if an extent names
  // data that moved since the view was read (migration, reclaim; never other data): read a new
  // view then. A range inside one extent comes back as the data plane's buffer, not copied.
  awaitable<Result<std::string>> ReadFromView(const Namespace::ReadView& view, uint64_t offset,
                                              uint64_t length);

  // Unlinks file `name` of `dir`; its space is reclaimed in the background.
  Status Unlink(uint64_t dir, std::string_view name);
  // Removes `name` of `dir` with everything under it, in one transaction.
  Status RemoveTree(uint64_t dir, std::string_view name);

  // Sets the content of file `name` in `dir` (created if missing) to the contents of `parts`
  // end to end, without copying data, and runs `also` in the same transaction (the caller
  // removes the parts there: the spliced data then belongs to the new file alone). Each part
  // must be unchanged since `parts` was read (its `change`), or nothing happens (Aborted).
  awaitable<Result<WriteResult>> Concat(uint64_t dir, std::string name,
                                        std::vector<Inode> parts, PutOptions options,
                                        std::function<Status(meta::Transaction&)> also);

 private:
  // Writes `data` to stripes (maybe shared with other writes); adds its extents.
  awaitable<Result<std::vector<StripePiece>>> WriteStriped(const std::string& data,
                                                            std::vector<Extent>* extents);
  awaitable<Result<std::vector<ChunkLocation>>> WriteBuffered(const std::string& data,
                                                              std::vector<Extent>* extents);
  // Commits a PutFile through the group committer.
  awaitable<Result<WriteResult>> Commit(uint64_t dir, const std::string& name,
                                        const NewNode& node, std::vector<Extent> extents,
                                        uint64_t size, CommitHook hook);
  awaitable<Result<ReadResult>> ReadOnce(uint64_t ino, uint64_t offset, uint64_t length);

  Namespace* ns_;
  DataPlane* data_;
  StripeStore* stripes_;
  Migrator* migrator_;
  CommitBatcher* batcher_;
  StripeBatcher* stripe_batcher_;
};

}  // namespace dase::estore
