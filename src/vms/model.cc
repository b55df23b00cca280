#include "vms/model.h"

#include <time.h>

#include <charconv>

#include <fmt/format.h>

namespace dase::vms {
namespace json = boost::json;

namespace {
constexpr NodeState kNodeStates[] = {NodeState::kActivating, NodeState::kActive,
                                     NodeState::kDeactivating, NodeState::kInactive,
                                     NodeState::kFailing, NodeState::kFailed};
constexpr ClusterState kClusterStates[] = {ClusterState::kInit, ClusterState::kActivating,
                                           ClusterState::kOnline, ClusterState::kOffline,
                                           ClusterState::kDeactivating};
}  // namespace

std::string_view NodeStateName(NodeState s) {
  switch (s) {
    case NodeState::kActivating: return "ACTIVATING";
    case NodeState::kActive: return "ACTIVE";
    case NodeState::kDeactivating: return "DEACTIVATING";
    case NodeState::kInactive: return "INACTIVE";
    case NodeState::kFailing: return "FAILING";
    case NodeState::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

Result<NodeState> NodeStateFromName(std::string_view name) {
  for (NodeState s : kNodeStates) {
    if (NodeStateName(s) == name) return s;
  }
  return InvalidArgument(fmt::format("unknown node state {}", name));
}

std::string_view ClusterStateName(ClusterState s) {
  switch (s) {
    case ClusterState::kInit: return "INIT";
    case ClusterState::kActivating: return "ACTIVATING";
    case ClusterState::kOnline: return "ONLINE";
    case ClusterState::kOffline: return "OFFLINE";
    case ClusterState::kDeactivating: return "DEACTIVATING";
  }
  return "UNKNOWN";
}

Result<ClusterState> ClusterStateFromName(std::string_view name) {
  for (ClusterState s : kClusterStates) {
    if (ClusterStateName(s) == name) return s;
  }
  return InvalidArgument(fmt::format("unknown cluster state {}", name));
}

void tag_invoke(json::value_from_tag, json::value& v, NodeState s) { v = NodeStateName(s); }
void tag_invoke(json::value_from_tag, json::value& v, ClusterState s) { v = ClusterStateName(s); }

json::result<NodeState> tag_invoke(json::try_value_to_tag<NodeState>, const json::value& v) {
  if (v.is_string()) {
    if (auto s = NodeStateFromName(v.get_string()); s.ok()) return *s;
  }
  return make_error_code(json::error::not_string);
}

json::result<ClusterState> tag_invoke(json::try_value_to_tag<ClusterState>, const json::value& v) {
  if (v.is_string()) {
    if (auto s = ClusterStateFromName(v.get_string()); s.ok()) return *s;
  }
  return make_error_code(json::error::not_string);
}

std::string FormatTime(int64_t micros) {
  if (micros <= 0) return "";
  time_t secs = static_cast<time_t>(micros / 1000000);
  tm t{};
  gmtime_r(&secs, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, micros % 1000000);
}

namespace {

bool ReadInt(std::string_view text, size_t pos, size_t len, int* out) {
  if (pos + len > text.size()) return false;
  auto r = std::from_chars(text.data() + pos, text.data() + pos + len, *out);
  return r.ec == std::errc() && r.ptr == text.data() + pos + len;
}

}  // namespace

Result<int64_t> ParseTime(std::string_view text) {
  Status bad = InvalidArgument(fmt::format("'{}' is not a UTC date or time (YYYY-MM-DD[THH:MM:SS])",
                                           text.substr(0, 64)));
  if (!text.empty() && text.back() == 'Z') text.remove_suffix(1);
  tm t{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadInt(text, 0, 4, &year) || text.size() < 10 || text[4] != '-' ||
      !ReadInt(text, 5, 2, &month) || text[7] != '-' || !ReadInt(text, 8, 2, &day)) {
    return bad;
  }
  int64_t fraction_us = 0;
  if (text.size() > 10) {
    if ((text[10] != 'T' && text[10] != ' ') || text.size() < 19 || !ReadInt(text, 11, 2, &hour) ||
        text[13] != ':' || !ReadInt(text, 14, 2, &minute) || text[16] != ':' ||
        !ReadInt(text, 17, 2, &second)) {
      return bad;
    }
    if (text.size() > 19) {
      if (text[19] != '.' || text.size() > 26 || text.size() == 20) return bad;
      std::string digits(text.substr(20));
      digits.resize(6, '0');
      int frac = 0;
      if (!ReadInt(digits, 0, 6, &frac)) return bad;
      fraction_us = frac;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad;
  }
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  t.tm_sec = second;
  time_t secs = timegm(&t);
  return static_cast<int64_t>(secs) * 1000000 + fraction_us;
}

json::object TaskToApi(const TaskRecord& r) {
  json::array messages;
  for (const std::string& m : r.messages) messages.emplace_back(m);
  int64_t end = r.end_us > 0 ? r.end_us : 0;
  return {{"id", r.id},
          {"name", r.name},
          {"state", r.state},
          {"messages", std::move(messages)},
          {"start_time", FormatTime(r.start_us)},
          {"end_time", end > 0 ? json::value(FormatTime(end)) : json::value(nullptr)},
          {"execution_time", end > 0 ? (end - r.start_us) / 1000000.0 : 0.0},
          {"timeout_in_seconds", r.timeout_s},
          {"info", json::object{{"node", r.node}, {"goal", NodeStateName(r.goal)}}}};
}

json::object ApiTokenToApi(const ApiTokenRecord& r) {
  auto time_or_null = [](int64_t us) { return us > 0 ? json::value(FormatTime(us)) : nullptr; };
  return {{"id", r.id},
          {"name", r.name},
          {"owner", r.owner},
          {"created", FormatTime(r.created_us)},
          {"expiry_date", time_or_null(r.expiry_us)},
          {"last_used", time_or_null(r.last_used_us)},
          {"revoked", r.revoked},
          {"revocation_time", time_or_null(r.revocation_us)}};
}

json::object EventToApi(const EventRecord& r) {
  return {{"id", r.id},
          {"timestamp", FormatTime(r.timestamp_us)},
          {"object_type", r.object_type},
          {"object_name", r.object_name},
          {"event_type", r.event_type},
          {"event_name", r.event_type},
          {"severity", r.severity},
          {"event_message", r.message},
          {"event_origin", "VMS"}};
}

}  // namespace dase::vms
