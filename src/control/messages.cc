#include "control/messages.h"

#include <fmt/format.h>

namespace dase::control {
namespace json = boost::json;

namespace {

// Field readers: a missing or mistyped field is an error, so a peer's bug is caught at the edge.
Result<std::string> Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return InvalidArgument(fmt::format("{}: string expected", key));
  return std::string(v->get_string());
}

Result<int64_t> Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return InvalidArgument(fmt::format("{}: integer expected", key));
  return v->get_int64();
}

Result<bool> Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_bool()) return InvalidArgument(fmt::format("{}: boolean expected", key));
  return v->get_bool();
}

Result<ProcessPhase> PhaseFromName(std::string_view name) {
  for (ProcessPhase p : {ProcessPhase::kRunning, ProcessPhase::kBackoff, ProcessPhase::kStopping,
                         ProcessPhase::kStopped, ProcessPhase::kFailed}) {
    if (PhaseName(p) == name) return p;
  }
  return InvalidArgument(fmt::format("unknown process phase {}", name));
}

json::object ToJson(const ProcessInfo& p) {
  return {{"name", p.name},
          {"role", p.role},
          {"phase", PhaseName(p.phase)},
          {"pid", p.pid},
          {"starts", p.starts},
          {"exits", p.exits},
          {"last_exit", p.last_exit},
          {"next_start_ms", p.next_start_ms},
          {"failures", p.failures},
          {"reason", p.reason}};
}

Result<ProcessInfo> ProcessFromJson(const json::value& v) {
  if (!v.is_object()) return InvalidArgument("process: object expected");
  const json::object& o = v.get_object();
  ProcessInfo p;
  ASSIGN_OR_RETURN(p.name, Str(o, "name"));
  ASSIGN_OR_RETURN(p.role, Str(o, "role"));
  ASSIGN_OR_RETURN(std::string phase, Str(o, "phase"));
  ASSIGN_OR_RETURN(p.phase, PhaseFromName(phase));
  ASSIGN_OR_RETURN(p.pid, Int(o, "pid"));
  ASSIGN_OR_RETURN(p.starts, Int(o, "starts"));
  ASSIGN_OR_RETURN(p.exits, Int(o, "exits"));
  ASSIGN_OR_RETURN(p.last_exit, Str(o, "last_exit"));
  ASSIGN_OR_RETURN(p.next_start_ms, Int(o, "next_start_ms"));
  ASSIGN_OR_RETURN(int64_t failures, Int(o, "failures"));
  p.failures = static_cast<int>(failures);
  ASSIGN_OR_RETURN(p.reason, Str(o, "reason"));
  return p;
}

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

Result<json::object> ParseObject(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec) return InvalidArgument("malformed JSON payload: " + ec.message());
  if (!v.is_object()) return InvalidArgument("JSON object expected");
  return std::move(v.get_object());
}

std::string Encode(const NodeHello& m) {
  return json::serialize(json::object{{"name", m.name},
                                      {"role", m.role},
                                      {"pid", m.pid},
                                      {"rpc_port", m.rpc_port},
                                      {"incarnation", m.incarnation}});
}

std::string Encode(const NodeHeartbeat& m) {
  return json::serialize(json::object{{"name", m.name},
                                      {"incarnation", m.incarnation},
                                      {"ready", m.ready},
                                      {"stalls", m.stalls},
                                      {"max_stall_ms", m.max_stall_ms}});
}

std::string Encode(const NodeGoodbye& m) {
  return json::serialize(json::object{{"name", m.name}, {"incarnation", m.incarnation}});
}

std::string Encode(const MonitorReport& m) {
  json::array processes;
  for (const ProcessInfo& p : m.processes) processes.push_back(ToJson(p));
  return json::serialize(
      json::object{{"shutting_down", m.shutting_down}, {"processes", std::move(processes)}});
}

std::string Encode(const StartNodeRequest& m) {
  return json::serialize(json::object{{"name", m.name}, {"reset", m.reset}});
}

std::string Encode(const StopNodeRequest& m) {
  return json::serialize(json::object{{"name", m.name}});
}

Result<NodeHello> DecodeNodeHello(std::string_view payload) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  NodeHello m;
  ASSIGN_OR_RETURN(m.name, Str(o, "name"));
  ASSIGN_OR_RETURN(m.role, Str(o, "role"));
  ASSIGN_OR_RETURN(m.pid, Int(o, "pid"));
  ASSIGN_OR_RETURN(int64_t port, Int(o, "rpc_port"));
  if (port < 0 || port > 65535) return InvalidArgument("rpc_port out of range");
  m.rpc_port = static_cast<uint16_t>(port);
  ASSIGN_OR_RETURN(m.incarnation, Str(o, "incarnation"));
  return m;
}

Result<NodeHeartbeat> DecodeNodeHeartbeat(std::string_view payload) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  NodeHeartbeat m;
  ASSIGN_OR_RETURN(m.name, Str(o, "name"));
  ASSIGN_OR_RETURN(m.incarnation, Str(o, "incarnation"));
  ASSIGN_OR_RETURN(m.ready, Bool(o, "ready"));
  ASSIGN_OR_RETURN(m.stalls, Int(o, "stalls"));
  ASSIGN_OR_RETURN(m.max_stall_ms, Int(o, "max_stall_ms"));
  return m;
}

Result<NodeGoodbye> DecodeNodeGoodbye(std::string_view payload) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  NodeGoodbye m;
  ASSIGN_OR_RETURN(m.name, Str(o, "name"));
  ASSIGN_OR_RETURN(m.incarnation, Str(o, "incarnation"));
  return m;
}

Result<MonitorReport> DecodeMonitorReport(std::string_view payload) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  MonitorReport m;
  ASSIGN_OR_RETURN(m.shutting_down, Bool(o, "shutting_down"));
  const json::value* list = o.if_contains("processes");
  if (list == nullptr || !list->is_array()) return InvalidArgument("processes: array expected");
  for (const json::value& v : list->get_array()) {
    ASSIGN_OR_RETURN(ProcessInfo p, ProcessFromJson(v));
    m.processes.push_back(std::move(p));
  }
  return m;
}

Result<StartNodeRequest> DecodeStartNode(std::string_view payload) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  StartNodeRequest m;
  ASSIGN_OR_RETURN(m.name, Str(o, "name"));
  ASSIGN_OR_RETURN(m.reset, Bool(o, "reset"));
  return m;
}

Result<StopNodeRequest> DecodeStopNode(std::string_view payload) {
  ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  StopNodeRequest m;
  ASSIGN_OR_RETURN(m.name, Str(o, "name"));
  return m;
}

}  // namespace dase::control
