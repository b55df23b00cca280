// BlockService: a DNode's drives, served over the internal RPC (docs/formats/drives.md).
//
// The DNode is dumb on purpose: the caller (a CNode's allocator) chooses where each block goes;
// the service only checks that it fits, stores it, and on reads verifies magic, identity,
// place, length and checksum before answering. Methods: kBlockWrite, kBlockRead, kBlockFlush,
// kDriveInfo. Each drive has its own I/O thread with group commit (DriveQueue), so the event
// loop never blocks on a file.
//
// Open creates <node_dir>/drives, takes its lock (one process per node directory), and opens or
// creates every drive the options name. Drives are never reformatted: a drive that belongs to
// another cluster or node, has a damaged header or another size, or an extra drive file beyond
// the configured counts, makes Open fail with the reason.
//
// Thread-safety: none; use from the io_context's thread. Destroy the BlockService before its
// io_context: the destructor waits for drive I/O in progress; requests still running after it
// fail with Unavailable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/asio.h"
#include "common/result.h"
#include "dnode/messages.h"
#include "env/env.h"
#include "rpc/server.h"

namespace dase::dnode {

struct DriveOptions {
  uint32_t scm_count = 1;
  uint64_t scm_bytes = uint64_t{256} << 20;
  bool scm_preformat = false;  // DriveSpec::preformat for the SCM drives
  uint32_t ssd_count = 4;
  uint64_t ssd_bytes = uint64_t{4} << 30;
};

struct DnodeOptions {
  std::string node_dir;      // drives live in <node_dir>/drives
  std::string dnode_name;    // "dnode-2": part of every drive id
  std::string cluster_guid;  // drives of another cluster are refused
  DriveOptions drives;
  uint32_t max_queue_depth = 256;  // operations waiting per drive, beyond it ResourceExhausted
};

struct BlockServiceCore;  // state shared with running handlers

class BlockService {
 public:
  static Result<std::unique_ptr<BlockService>> Open(asio::io_context& io, env::Env* env,
                                                    DnodeOptions options);
  ~BlockService();
  BlockService(const BlockService&) = delete;
  BlockService& operator=(const BlockService&) = delete;

  // Registers the four block methods on `server`, which may outlive this service.
  void Register(rpc::Server& server);

  // What kDriveInfo answers: every drive's identity, size, state and counters.
  DnodeInfo Info() const;

 private:
  explicit BlockService(std::shared_ptr<BlockServiceCore> core) : core_(std::move(core)) {}

  std::shared_ptr<BlockServiceCore> core_;
};

}  // namespace dase::dnode
