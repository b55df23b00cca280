// The VMS's objects: cluster, nodes, tasks, users, API tokens, events; their JSON in the store
// and in the REST API (field names follow VAST's VMS OpenAPI schema).
//
// Value types. The VMS owns them on its single loop thread.
#pragma once

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/json_codec.h"
#include "common/result.h"

namespace dase::vms {

// VAST's node states.
enum class NodeState { kActivating, kActive, kDeactivating, kInactive, kFailing, kFailed };
std::string_view NodeStateName(NodeState s);
Result<NodeState> NodeStateFromName(std::string_view name);

// VAST's cluster states (the subset dase moves through). Clients test state == "ONLINE".
enum class ClusterState { kInit, kActivating, kOnline, kOffline, kDeactivating };
std::string_view ClusterStateName(ClusterState s);
Result<ClusterState> ClusterStateFromName(std::string_view name);

struct NodeRecord {
  int64_t id = 0;
  std::string name;  // "cnode-1", "dnode-3"
  std::string role;  // "cnode" | "dnode"
  std::string guid;
  bool enabled = true;
  NodeState state = NodeState::kInactive;
  std::string reason;
  int64_t state_since_us = 0;
  // The running incarnation, kept so a restarted VMS recognises a node's heartbeats.
  std::string incarnation;
  int64_t pid = 0;
  uint16_t rpc_port = 0;
  int64_t stalls = 0;
  int64_t max_stall_ms = 0;
  int64_t restarts = 0;  // unexpected process exits seen
};

struct ClusterRecord {
  int64_t id = 1;
  std::string name;
  std::string guid;
  std::string psnt;
  ClusterState state = ClusterState::kInit;
  std::string reason;
  int64_t state_since_us = 0;
  int64_t created_us = 0;
  int64_t online_since_us = 0;
  std::string ssd_raid_state = "HEALTHY";
  std::string nvram_raid_state = "HEALTHY";
};

struct TaskRecord {
  int64_t id = 0;
  std::string name;   // "activate cnode-2"
  std::string state;  // RUNNING | COMPLETED | FAILED
  std::vector<std::string> messages;
  int64_t start_us = 0;
  int64_t end_us = 0;
  int64_t timeout_s = 120;
  std::string node;                  // the node it acts on
  NodeState goal = NodeState::kActive;  // the state that completes it
};

struct UserRecord {
  int64_t id = 0;
  std::string name;
  std::string password_hash;  // Argon2id PHC string
  int64_t created_us = 0;
};

struct ApiTokenRecord {
  std::string id;  // short public id; the secret token itself is never stored
  std::string name;
  std::string owner;
  std::string token_sha256;
  int64_t created_us = 0;
  int64_t expiry_us = 0;
  int64_t last_used_us = 0;
  bool revoked = false;
  int64_t revocation_us = 0;
};

struct EventRecord {
  int64_t id = 0;
  int64_t timestamp_us = 0;
  std::string object_type;  // cluster | cnode | dnode | vms
  std::string object_name;
  std::string event_type;   // STATE_CHANGE | STALL | PROCESS
  std::string severity;     // INFO | MINOR | MAJOR | CRITICAL
  std::string message;
};

// "2026-11-24T09:30:00.123456Z"; empty for 0.
std::string FormatTime(int64_t micros);
// Parses "2026-11-24", "2026-11-24T09:30:00", optional fraction and "Z"; UTC only.
Result<int64_t> ParseTime(std::string_view text);

// Store encodings: every record converts to and from JSON through common/json_codec.h
// (described structs below; enums by their VAST names); a bad record is Corruption.
template <typename T>
Result<T> DecodeText(std::string_view text) {
  auto r = DecodeJson<T>(text, "stored record");
  if (!r.ok()) return Corruption(std::string(r.status().message()));
  return r;
}
template <typename T>
std::string EncodeText(const T& record) {
  return EncodeJson(record);
}

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, NodeState s);
boost::json::result<NodeState> tag_invoke(boost::json::try_value_to_tag<NodeState>,
                                          const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, ClusterState s);
boost::json::result<ClusterState> tag_invoke(boost::json::try_value_to_tag<ClusterState>,
                                             const boost::json::value& v);

BOOST_DESCRIBE_STRUCT(NodeRecord, (),
                      (id, name, role, guid, enabled, state, reason, state_since_us, incarnation,
                       pid, rpc_port, stalls, max_stall_ms, restarts))
BOOST_DESCRIBE_STRUCT(ClusterRecord, (),
                      (id, name, guid, psnt, state, reason, state_since_us, created_us,
                       online_since_us, ssd_raid_state, nvram_raid_state))
BOOST_DESCRIBE_STRUCT(TaskRecord, (),
                      (id, name, state, messages, start_us, end_us, timeout_s, node, goal))
BOOST_DESCRIBE_STRUCT(UserRecord, (), (id, name, password_hash, created_us))
BOOST_DESCRIBE_STRUCT(ApiTokenRecord, (),
                      (id, name, owner, token_sha256, created_us, expiry_us, last_used_us,
                       revoked, revocation_us))
BOOST_DESCRIBE_STRUCT(EventRecord, (),
                      (id, timestamp_us, object_type, object_name, event_type, severity,
                       message))

// API representations (VMS schema field names; never secrets).
boost::json::object TaskToApi(const TaskRecord& r);
boost::json::object ApiTokenToApi(const ApiTokenRecord& r);
boost::json::object EventToApi(const EventRecord& r);

}  // namespace dase::vms
