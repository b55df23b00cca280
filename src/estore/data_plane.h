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
// Data in the buffer is moved into erasure-coded stripes by the Migrator (migrator.h), which
// then releases its buffer space; large writes go to stripes directly (StripeStore). ReadChunk
// reads either kind of location. The bytes of recent buffer writes stay in memory (bounded)
// until the migrator takes them (TakeForMigration), so migrating a chunk soon after it was
// written does not read it back from a DNode.
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "control/messages.h"
#include "dnode/block_client.h"
#include "env/env.h"
#include "estore/location.h"
#include "estore/peers.h"
#include "estore/stripes.h"

namespace dase::estore {

// This CNode's partitions of the DNodes' write buffers. Each partition is a ring: blocks are
// placed one after the other at ever-growing ring positions (physical offset = partition start
// + position mod partition size, a block never straddling the end), and space is in use from
// the oldest block still held (Reserve, Track) to the newest. Migration releases blocks in
// roughly the order they were written, so the ring's tail follows it.
//
// Nothing of the ring is persisted: at start the CNode Tracks every block its buffer index
// still names (the committed ones not yet migrated); blocks written but never committed are
// simply space the ring reuses.
class BufferAllocator {
 public:
  BufferAllocator(std::string cnode, int cnode_index, int cnode_count, uint64_t scm_data_bytes);
  // A place for a block of `bytes` on `dnode`'s SCM drive 0 in this CNode's partition, held
  // until Release; NoSpace when the partition has no room.
  Result<BufferCopy> Reserve(const std::string& dnode, uint64_t bytes);
  void Release(const std::string& dnode, uint64_t ring_pos);
  // A block from before a restart that is still in use.
  void Track(const std::string& dnode, uint64_t ring_pos, uint64_t bytes);
  // Bytes held on the fullest DNode, and the partition size.
  uint64_t HeldBytesMax() const;
  uint64_t partition_bytes() const { return partition_bytes_; }

 private:
  struct Ring {
    uint64_t head = 0;                 // next ring position to hand out
    std::map<uint64_t, uint64_t> held;  // ring position → bytes
  };
  std::string cnode_;
  uint64_t partition_begin_;
  uint64_t partition_bytes_;
  std::map<std::string, Ring> rings_;
};

class DataPlane {
 public:
  DataPlane(env::Env* env, DnodePeers* peers, BufferAllocator* allocator, StripeStore* stripes,
            MapRefresher refresh, int copies = 2)
      : env_(env), peers_(peers), allocator_(allocator), stripes_(stripes),
        refresh_(std::move(refresh)), copies_(copies) {}

  // Stores `data` (1 .. kMaxBlockPayloadBytes bytes) durably in the write buffer of `copies`
  // DNodes. Its buffer space stays held until Release (after a failed commit) or migration.
  awaitable<Result<ChunkLocation>> WriteChunk(std::string data);
  void Release(const ChunkLocation& location);
  // `length` bytes from `offset` within the chunk.
  awaitable<Result<std::string>> ReadChunk(ChunkLocation location, uint64_t offset,
                                           uint64_t length);
  // The whole of buffered chunk `location`, for the migrator: the bytes this CNode wrote, if
  // it still holds them (then forgotten here), else read from the DNodes like ReadChunk.
  awaitable<Result<std::string>> TakeForMigration(const ChunkLocation& location);
  // Drops what this CNode holds of `location`'s bytes (a chunk nothing references any more).
  void Forget(const ChunkLocation& location);
  // Bytes of recent writes held in memory now, and the most it holds (16 MiB unless set).
  uint64_t recent_bytes() const { return recent_bytes_; }
  void set_recent_bytes_max(uint64_t bytes) { recent_bytes_max_ = bytes; }

 private:
  awaitable<Result<ChunkLocation>> WriteChunkOnce(const std::string& data);
  awaitable<Status> WriteCopy(std::string dnode, uint64_t offset, dnode::BlockId id,
                              const std::string& data);
  void KeepRecent(uint64_t owner, std::string data);
  env::Env* env_;
  DnodePeers* peers_;
  awaitable<Result<std::string>> ReadBuffered(const ChunkLocation& location, uint64_t offset,
                                              uint64_t length);
  BufferAllocator* allocator_;
  StripeStore* stripes_;
  MapRefresher refresh_;
  int copies_;
  int64_t last_refresh_us_ = 0;
  // Recent buffer writes by BlockId owner (random, so unique), oldest first in `recent_order_`;
  // at most recent_bytes_max_ bytes, the oldest dropped first.
  std::unordered_map<uint64_t, std::string> recent_;
  std::deque<uint64_t> recent_order_;
  uint64_t recent_bytes_ = 0;
  uint64_t recent_bytes_max_ = 16 << 20;
};

}  // namespace dase::estore
