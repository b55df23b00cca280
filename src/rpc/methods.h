// Method: the stable number that names an RPC on the wire.
//
// These numbers are part of the wire format (docs/formats/rpc.md): never renumber or reuse one,
// only add. Each service owns a block of a hundred so it can grow without colliding with its
// neighbours. Thread-safety: constants only.
#pragma once

#include <cstdint>

namespace dase::rpc {

enum class Method : uint32_t {
  // 1-99: built into the RPC layer itself.
  kPing = 1,  // echoes its payload; every Server answers it

  // 100-199: a node talking to its monitor.
  kNodeHello = 100,
  kNodeHeartbeat = 101,
  kNodeGoodbye = 102,
  kClusterMap = 103,  // node → VMS: where every node is

  // 200-299: reports sent by a monitor.
  kMonitorReport = 200,

  // 300-399: commands sent to a monitor.
  kMonitorStartNode = 300,
  kMonitorStopNode = 301,
  kMonitorStatus = 302,

  // DNode block service
  kBlockWrite = 400,
  kBlockRead = 401,
  kBlockFlush = 402,
  kDriveInfo = 403,
  kBlockWriteMany = 404,  // several blocks, on any drives of the DNode, in one call

  // CNode element store (the `dase estore` command line)
  kEstorePut = 500,
  kEstoreGet = 501,
  kEstoreList = 502,
  kEstoreRemove = 503,
};

constexpr uint32_t MethodId(Method m) { return static_cast<uint32_t>(m); }

}  // namespace dase::rpc
