// Control-plane messages between node processes, the monitor and the VMS.
//
// They travel as JSON payloads of internal RPC frames (src/rpc, method ids in rpc/methods.h):
// the control plane sends a few small messages a second, so readability beats compactness here;
// the data plane uses the binary coder instead. Decoding checks types and refuses unknown
// shapes with InvalidArgument. Value types.
#pragma once

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace dase::control {

// Node → VMS, once per process start (and again if the VMS forgot the node after a restart).
struct NodeHello {
  std::string name;
  std::string role;  // "cnode" | "dnode"
  int64_t pid = 0;
  uint16_t rpc_port = 0;
  std::string incarnation;  // random per process start
};

// One drive of a DNode, as its heartbeat reports it.
struct DriveReport {
  std::string id;     // "dnode-2/ssd-3"
  std::string kind;   // "scm" (write buffer) | "ssd"
  int64_t size_bytes = 0;
  int64_t used_bytes = 0;
  std::string state;  // "ACTIVE" | "FAILED"
};

// Node → VMS, every heartbeat interval.
struct NodeHeartbeat {
  std::string name;
  std::string incarnation;
  bool ready = false;         // activation work done: the node can serve
  int64_t stalls = 0;         // event-loop stalls since start
  int64_t max_stall_ms = 0;   // the longest of them
  std::vector<DriveReport> drives;  // DNodes only
};

// VMS → node, the answer to a hello: what the node needs to activate (drives carry the
// cluster guid in their headers, so a drive from another cluster is refused).
struct NodeWelcome {
  std::string cluster_guid;
  std::string cluster_name;
};

// VMS → node: the answer to a heartbeat. The cluster map's version changes whenever a node
// changes state or address, so nodes fetch the map only when it changed.
struct HeartbeatReply {
  int64_t map_version = 0;
};

// One node in the cluster map.
struct MapNode {
  std::string name;
  std::string role;
  std::string state;  // VAST node state
  uint16_t rpc_port = 0;
  // CNodes: the virtual IPs the node is to serve the protocols on now (the VMS moves them
  // between ACTIVE CNodes). Optional in the encoding: a map without it decodes as no VIPs.
  std::vector<std::string> vips = {};
};

// VMS → node: every node, its state and its RPC port (kClusterMap).
struct ClusterMap {
  int64_t version = 0;
  std::string cluster_guid;
  std::vector<MapNode> nodes;
};

// Node → VMS on graceful exit.
struct NodeGoodbye {
  std::string name;
  std::string incarnation;
};

// What the monitor knows about one supervised process.
enum class ProcessPhase { kRunning, kBackoff, kStopping, kStopped, kFailed };
std::string_view PhaseName(ProcessPhase phase);

struct ProcessInfo {
  std::string name;
  std::string role;  // "vms" | "cnode" | "dnode"
  ProcessPhase phase = ProcessPhase::kStopped;
  int64_t pid = 0;
  int64_t starts = 0;        // processes started since the monitor began
  int64_t exits = 0;         // unexpected exits since the monitor began
  std::string last_exit;     // "killed by signal 9", "exited with status 1: <last log line>"
  int64_t next_start_ms = 0; // while in backoff: delay until the next start
  int failures = 0;          // consecutive quick failures
  std::string reason;        // why failed / stopped
};

// Monitor → VMS: a full snapshot, sent on every change and whenever the VMS (re)starts, so
// a lost or repeated report does no harm.
struct MonitorReport {
  bool shutting_down = false;
  std::vector<ProcessInfo> processes;
};

// VMS → monitor.
struct StartNodeRequest {
  std::string name;
  bool reset = false;  // forget earlier failures (an explicit activation)
};
struct StopNodeRequest {
  std::string name;
};

std::string Encode(const NodeHello& m);
std::string Encode(const NodeHeartbeat& m);
std::string Encode(const NodeGoodbye& m);
std::string Encode(const NodeWelcome& m);
std::string Encode(const HeartbeatReply& m);
std::string Encode(const ClusterMap& m);
std::string Encode(const MonitorReport& m);
std::string Encode(const StartNodeRequest& m);
std::string Encode(const StopNodeRequest& m);

Result<NodeHello> DecodeNodeHello(std::string_view payload);
Result<NodeHeartbeat> DecodeNodeHeartbeat(std::string_view payload);
Result<NodeGoodbye> DecodeNodeGoodbye(std::string_view payload);
Result<NodeWelcome> DecodeNodeWelcome(std::string_view payload);
Result<HeartbeatReply> DecodeHeartbeatReply(std::string_view payload);
Result<ClusterMap> DecodeClusterMap(std::string_view payload);
Result<MonitorReport> DecodeMonitorReport(std::string_view payload);
Result<StartNodeRequest> DecodeStartNode(std::string_view payload);
Result<StopNodeRequest> DecodeStopNode(std::string_view payload);

// MapNode has its own conversion so that `vips` may be absent (maps of older VMSs).
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const MapNode& node);
boost::json::result<MapNode> tag_invoke(boost::json::try_value_to_tag<MapNode>,
                                        const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, ProcessPhase phase);
boost::json::result<ProcessPhase> tag_invoke(boost::json::try_value_to_tag<ProcessPhase>,
                                             const boost::json::value& v);

BOOST_DESCRIBE_STRUCT(NodeHello, (), (name, role, pid, rpc_port, incarnation))
BOOST_DESCRIBE_STRUCT(DriveReport, (), (id, kind, size_bytes, used_bytes, state))
BOOST_DESCRIBE_STRUCT(NodeHeartbeat, (),
                      (name, incarnation, ready, stalls, max_stall_ms, drives))
BOOST_DESCRIBE_STRUCT(NodeGoodbye, (), (name, incarnation))
BOOST_DESCRIBE_STRUCT(NodeWelcome, (), (cluster_guid, cluster_name))
BOOST_DESCRIBE_STRUCT(HeartbeatReply, (), (map_version))
BOOST_DESCRIBE_STRUCT(ClusterMap, (), (version, cluster_guid, nodes))
BOOST_DESCRIBE_STRUCT(ProcessInfo, (),
                      (name, role, phase, pid, starts, exits, last_exit, next_start_ms, failures,
                       reason))
BOOST_DESCRIBE_STRUCT(MonitorReport, (), (shutting_down, processes))
BOOST_DESCRIBE_STRUCT(StartNodeRequest, (), (name, reset))
BOOST_DESCRIBE_STRUCT(StopNodeRequest, (), (name))

}  // namespace dase::control
