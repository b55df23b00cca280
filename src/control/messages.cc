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
