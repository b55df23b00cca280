// EstoreService: a CNode's element-store RPC methods (kEstorePut/Get/List/Remove), which the
// `dase estore` command line calls. Whole-object operations: put replaces a file atomically
// (data durable first, then one metadata transaction), get reads it back. Objects of at least
// kStripeDirectBytes go straight to erasure-coded stripes (one copy plus parity instead of two
// buffer copies and a later migration), packed with other writes ready at the same time
// (StripeBatcher); smaller ones go to the write buffer, which the Migrator moves into stripes
// in the background.
//
// Wire format (common/coding.h): requests and replies are documented in
// docs/formats/estore.md. Objects are limited to kObjectBytesMax here; ranged I/O arrives with
// the protocols. Thread-safety: the CNode's loop thread only.
#pragma once

#include <string>

#include "common/asio.h"
#include "estore/commit_batcher.h"
#include "estore/data_plane.h"
#include "estore/migrator.h"
#include "estore/stripe_batcher.h"
#include "estore/namespace.h"
#include "rpc/server.h"

namespace dase::estore {

inline constexpr uint64_t kObjectBytesMax = 48ull << 20;
inline constexpr size_t kPathBytesMax = 4096;
inline constexpr uint32_t kListMax = 1000;
inline constexpr uint64_t kStripeDirectBytes = 512 << 10;

struct ListEntry {
  std::string name;
  FileType type = FileType::kFile;
  uint64_t size = 0;
};

class EstoreService {
 public:
  EstoreService(Namespace* ns, DataPlane* data, StripeStore* stripes, Migrator* migrator,
                CommitBatcher* batcher, StripeBatcher* stripe_batcher)
      : ns_(ns), data_(data), stripes_(stripes), migrator_(migrator), batcher_(batcher),
        stripe_batcher_(stripe_batcher) {}
  void Register(rpc::Server& server);

  awaitable<Result<uint64_t>> Put(std::string path, std::string data);
  awaitable<Result<std::string>> Get(std::string path);
  Result<std::vector<ListEntry>> List(const std::string& path);
  Status Remove(const std::string& path);

 private:
  // Writes `data` to stripes (maybe shared with other writes); adds its extents.
  awaitable<Result<std::vector<StripePiece>>> WriteStriped(const std::string& data,
                                                            std::vector<Extent>* extents);
  awaitable<Result<std::vector<ChunkLocation>>> WriteBuffered(const std::string& data,
                                                              std::vector<Extent>* extents);
  awaitable<Result<std::string>> ReadOnce(const std::string& path);

  Namespace* ns_;
  DataPlane* data_;
  StripeStore* stripes_;
  Migrator* migrator_;
  CommitBatcher* batcher_;
  StripeBatcher* stripe_batcher_;
};

// Client-side encodings of the requests and replies.
std::string EncodePutRequest(std::string_view path, std::string_view data);
std::string EncodePathRequest(std::string_view path);
Result<std::vector<ListEntry>> DecodeListReply(std::string_view payload);

}  // namespace dase::estore
