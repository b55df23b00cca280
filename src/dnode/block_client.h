// BlockClient: a CNode's view of one DNode's block service (docs/formats/drives.md).
//
// Checksums are end to end: Write computes the block's head and its checksums here, and the
// DNode refuses a block whose bytes changed on the way; Read verifies the stored head and
// payload it gets back (identity, place, length, checksum) independently of the DNode, so a
// block damaged anywhere between the platter and this process is reported, never returned.
//
// Errors are the DNode's (NotFound for a never-written place, Corruption for a damaged or
// misplaced block, InvalidArgument for a bad place or size, NoSpace, IOError for a failed
// drive, ResourceExhausted for a full drive queue) or the RPC's (Timeout, Unavailable).
//
// Thread-safety: as rpc::Client: use from the thread running its io_context. Borrows the
// rpc::Client, which must outlive it and every call in flight.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "dnode/messages.h"
#include "rpc/client.h"

namespace dase::dnode {

struct BlockClientOptions {
  std::chrono::milliseconds timeout{30'000};
};

class BlockClient {
 public:
  // `dnode_name` is the DNode the client talks to ("dnode-2"): blocks read back must carry
  // its drive ids.
  BlockClient(rpc::Client& rpc, std::string dnode_name, BlockClientOptions options = {});

  // Stores `payload` as block `id` at `offset` of the drive's data area (4 KiB aligned; the
  // block takes BlockFootprint(payload.size()) bytes there).
  awaitable<Status> Write(DriveRef drive, uint64_t offset, BlockId id, std::string_view payload,
                          Durability durability);
  // One block of WriteMany.
  struct BlockWrite {
    DriveRef drive;
    uint64_t offset = 0;
    BlockId id;
    std::string_view payload;  // borrowed from WriteMany's `owner`
  };
  // Stores several blocks (on any drives of this DNode) in one call; OK once all are stored
  // (durable with kSync), else the first failure. The payloads are sent without being copied:
  // `owner` keeps them alive, also after this returns (a timed-out call's bytes may still be
  // queued on the connection).
  awaitable<Status> WriteMany(std::vector<BlockWrite> blocks, std::shared_ptr<const void> owner,
                              Durability durability);
  // The payload of block `id`, which must be `payload_len` bytes, at `offset`.
  awaitable<Result<std::string>> Read(DriveRef drive, uint64_t offset, BlockId id,
                                      uint32_t payload_len);
  // `slice_len` bytes of that payload from `slice_offset`. The DNode verifies the block's head
  // and the sectors holding the slice; the slice travels under the RPC frame's checksum (no
  // end-to-end block check here).
  awaitable<Result<std::string>> ReadSlice(DriveRef drive, uint64_t offset, BlockId id,
                                           uint32_t payload_len, uint32_t slice_offset,
                                           uint32_t slice_len);
  // Completes once every write acknowledged before it is durable on `drive` (or all drives).
  awaitable<Status> Flush(DriveRef drive);
  awaitable<Status> FlushAll();
  // Every drive's identity, size, state and counters; FailedPrecondition if the peer is not
  // the DNode this client was made for.
  awaitable<Result<DnodeInfo>> Info();

  const std::string& dnode_name() const { return dnode_name_; }

 private:
  awaitable<Status> CallFlush(FlushRequest request);

  rpc::Client& rpc_;
  const std::string dnode_name_;
  const BlockClientOptions options_;
};

}  // namespace dase::dnode
