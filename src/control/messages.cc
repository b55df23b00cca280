#include "control/messages.h"

#include "common/json_codec.h"

namespace dase::control {
namespace json = boost::json;

namespace {
constexpr ProcessPhase kPhases[] = {ProcessPhase::kRunning, ProcessPhase::kBackoff,
                                    ProcessPhase::kStopping, ProcessPhase::kStopped,
                                    ProcessPhase::kFailed};
}  // namespace

std::string_view PhaseName(ProcessPhase phase) {
  switch (phase) {
    case ProcessPhase::kRunning: return "running";
    case ProcessPhase::kBackoff: return "backoff";
    case ProcessPhase::kStopping: return "stopping";
    case ProcessPhase::kStopped: return "stopped";
    case ProcessPhase::kFailed: return "failed";
  }
  return "unknown";
}

void tag_invoke(json::value_from_tag, json::value& v, ProcessPhase phase) { v = PhaseName(phase); }

json::result<ProcessPhase> tag_invoke(json::try_value_to_tag<ProcessPhase>, const json::value& v) {
  if (v.is_string()) {
    for (ProcessPhase p : kPhases) {
      if (PhaseName(p) == v.get_string()) return p;
    }
  }
  return make_error_code(json::error::not_string);
}

void tag_invoke(json::value_from_tag, json::value& v, const MapNode& node) {
  json::array vips;
  for (const std::string& vip : node.vips) vips.emplace_back(vip);
  v = json::object{{"name", node.name},
                   {"role", node.role},
                   {"state", node.state},
                   {"rpc_port", node.rpc_port},
                   {"vips", std::move(vips)}};
}

json::result<MapNode> tag_invoke(json::try_value_to_tag<MapNode>, const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr) return make_error_code(json::error::not_object);
  MapNode node;
  auto name = json::try_value_to<std::string>(o->contains("name") ? o->at("name") : nullptr);
  auto role = json::try_value_to<std::string>(o->contains("role") ? o->at("role") : nullptr);
  auto state = json::try_value_to<std::string>(o->contains("state") ? o->at("state") : nullptr);
  auto port = json::try_value_to<uint16_t>(o->contains("rpc_port") ? o->at("rpc_port") : nullptr);
  if (!name) return name.error();
  if (!role) return role.error();
  if (!state) return state.error();
  if (!port) return port.error();
  node.name = std::move(*name);
  node.role = std::move(*role);
  node.state = std::move(*state);
  node.rpc_port = *port;
  if (const json::value* vips = o->if_contains("vips")) {
    auto list = json::try_value_to<std::vector<std::string>>(*vips);
    if (!list) return list.error();
    node.vips = std::move(*list);
  }
  return node;
}

std::string Encode(const NodeHello& m) { return EncodeJson(m); }
std::string Encode(const NodeHeartbeat& m) { return EncodeJson(m); }
std::string Encode(const NodeGoodbye& m) { return EncodeJson(m); }
std::string Encode(const NodeWelcome& m) { return EncodeJson(m); }
std::string Encode(const HeartbeatReply& m) { return EncodeJson(m); }
std::string Encode(const ClusterMap& m) { return EncodeJson(m); }
std::string Encode(const MonitorReport& m) { return EncodeJson(m); }
std::string Encode(const StartNodeRequest& m) { return EncodeJson(m); }
std::string Encode(const StopNodeRequest& m) { return EncodeJson(m); }

Result<NodeHello> DecodeNodeHello(std::string_view payload) {
  return DecodeJson<NodeHello>(payload, "hello");
}
Result<NodeHeartbeat> DecodeNodeHeartbeat(std::string_view payload) {
  return DecodeJson<NodeHeartbeat>(payload, "heartbeat");
}
Result<NodeGoodbye> DecodeNodeGoodbye(std::string_view payload) {
  return DecodeJson<NodeGoodbye>(payload, "goodbye");
}
Result<NodeWelcome> DecodeNodeWelcome(std::string_view payload) {
  return DecodeJson<NodeWelcome>(payload, "welcome");
}
Result<HeartbeatReply> DecodeHeartbeatReply(std::string_view payload) {
  return DecodeJson<HeartbeatReply>(payload, "heartbeat reply");
}
Result<ClusterMap> DecodeClusterMap(std::string_view payload) {
  return DecodeJson<ClusterMap>(payload, "cluster map");
}
Result<MonitorReport> DecodeMonitorReport(std::string_view payload) {
  return DecodeJson<MonitorReport>(payload, "monitor report");
}
Result<StartNodeRequest> DecodeStartNode(std::string_view payload) {
  return DecodeJson<StartNodeRequest>(payload, "start-node request");
}
Result<StopNodeRequest> DecodeStopNode(std::string_view payload) {
  return DecodeJson<StopNodeRequest>(payload, "stop-node request");
}

}  // namespace dase::control
