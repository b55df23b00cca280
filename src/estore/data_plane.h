// DataPlane: where a CNode puts file data and gets it back — the DNodes' drives.
//
// Write path (DESIGN.md §3a): a chunk of at most dnode::kMaxBlockPayloadBytes is written as a
// block to the write buffer (SCM drive 0) of `copies` different DNodes, each fsync'd, before
// WriteChunk returns the chunk's location; only then may the caller commit the metadata that
// references it. Each CNode owns a partition of every DNode's write buffer and reserves space
// in it by metadata transactions (BufferAllocator), so two CNodes never write the same place.
// Reads try the copies in turn: a copy that is missing, corrupt or on a DNode that is down is
// skipped, never served.
//
// Not built yet: migration of buffered data into erasure-coded stripes, and reuse of buffer
// space (a full partition refuses writes with NoSpace).
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "control/messages.h"
#include "dnode/block_client.h"
#include "env/env.h"
#include "meta/kv.h"
#include "rpc/client.h"

namespace dase::estore {

// One durable copy of a chunk.
struct BufferCopy {
  std::string dnode;
  uint32_t drive = 0;  // SCM drive index
  uint64_t offset = 0;
};

// Where a chunk lives: the string form is an extent's opaque `location`.
struct ChunkLocation {
  std::vector<BufferCopy> copies;
  dnode::BlockId id;
  uint32_t length = 0;
};
std::string EncodeLocation(const ChunkLocation& location);
Result<ChunkLocation> DecodeLocation(std::string_view bytes);

// Connections to the DNodes, kept in step with the VMS's cluster map.
class DnodePeers {
 public:
  explicit DnodePeers(asio::io_context& io) : io_(io) {}
  void Update(const control::ClusterMap& map);
  dnode::BlockClient* Client(const std::string& dnode);  // nullptr if not in the map
  std::vector<std::string> Active() const;                // ACTIVE DNodes, by name
  size_t size() const { return peers_.size(); }

 private:
  struct Peer {
    uint16_t port = 0;
    bool active = false;
    std::unique_ptr<rpc::Client> rpc;
    std::unique_ptr<dnode::BlockClient> blocks;
  };
  asio::io_context& io_;
  std::map<std::string, Peer> peers_;
};

// This CNode's partitions of the DNodes' write buffers; the next free offset of each lives in
// the metadata store under b/h/<cnode>/<dnode>, advanced in batches.
class BufferAllocator {
 public:
  BufferAllocator(meta::Store* store, std::string cnode, int cnode_index, int cnode_count,
                  uint64_t scm_data_bytes);
  // A 4 KiB-aligned offset with `bytes` free for this CNode on `dnode`'s SCM drive 0.
  Result<uint64_t> Reserve(const std::string& dnode, uint64_t bytes);

 private:
  struct Range {
    uint64_t next = 0;
    uint64_t limit = 0;
  };
  meta::Store* store_;
  std::string cnode_;
  uint64_t partition_begin_;
  uint64_t partition_bytes_;
  std::map<std::string, Range> ranges_;
};

// Fetches the cluster map again (the peers may be behind the VMS's view).
using MapRefresher = std::function<awaitable<Status>()>;

class DataPlane {
 public:
  DataPlane(env::Env* env, DnodePeers* peers, BufferAllocator* allocator, MapRefresher refresh,
            int copies = 2)
      : env_(env), peers_(peers), allocator_(allocator), refresh_(std::move(refresh)),
        copies_(copies) {}

  // Stores `data` (1 .. kMaxBlockPayloadBytes bytes) durably on `copies` DNodes.
  awaitable<Result<ChunkLocation>> WriteChunk(std::string data);
  // `length` bytes from `offset` within the chunk.
  awaitable<Result<std::string>> ReadChunk(ChunkLocation location, uint64_t offset,
                                           uint64_t length);

 private:
  awaitable<Status> WriteCopy(std::string dnode, uint64_t offset, dnode::BlockId id,
                              const std::string& data);
  env::Env* env_;
  DnodePeers* peers_;
  BufferAllocator* allocator_;
  MapRefresher refresh_;
  int copies_;
  int64_t last_refresh_us_ = 0;
};

}  // namespace dase::estore
