// `dase status`, `dase cluster show`, and the node verbs: all are REST API clients.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <iostream>
#include <thread>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "control/config.h"
#include "env/env.h"

namespace dase::cli {
namespace json = boost::json;

namespace {

std::string Str(const json::value& o, const char* key) {
  if (!o.is_object()) return "";
  const json::value* v = o.get_object().if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

int Fail(const dase::Status& s) {
  std::cerr << "dase: " << s.message() << "\n";
  return s.code() == Code::kUnavailable ? 3 : 1;
}

json::object NodeSummary(const json::value& n, const char* role) {
  json::value pid = n.get_object().contains("pid") ? n.at("pid") : json::value(nullptr);
  return {{"name", Str(n, "name")}, {"role", role},     {"state", Str(n, "state")},
          {"reason", Str(n, "state_reason")}, {"pid", pid}, {"enabled", n.at("enabled")}};
}

// Who holds which VIP: one line per CNode that holds any, in node order, then the VIPs that no
// CNode holds.
void PrintVips(const json::array& vips, const json::array& nodes) {
  if (vips.empty()) return;
  std::map<std::string, std::vector<std::string>> held;
  for (const json::value& v : vips) held[Str(v, "cnode")].push_back(Str(v, "ip"));
  std::cout << fmt::format("\n{:<10} {}\n", "HOLDER", "VIPS");
  for (const json::value& n : nodes) {
    auto it = held.find(Str(n, "name"));
    if (it == held.end() || it->first.empty()) continue;
    std::cout << fmt::format("{:<10} {}\n", it->first, fmt::join(it->second, " "));
  }
  if (auto it = held.find(""); it != held.end()) {
    std::cout << fmt::format("{:<10} {}\n", "(none)", fmt::join(it->second, " "));
  }
}

}  // namespace

int ShowStatus(const control::Layout& layout, bool as_json) {
  auto client = ApiClient::Open(layout);
  auto config = control::LoadConfig(env::Env::Default(), layout.Config());
  if (!client.ok()) {
    if (as_json) {
      json::object out{{"cluster", {{"name", config.ok() ? config->name : ""},
                                    {"state", "OFFLINE"},
                                    {"reason", std::string(client.status().message())}}},
                       {"nodes", json::array()},
                       {"vips", json::array()},
                       {"endpoints", json::object()}};
      std::cout << json::serialize(out) << "\n";
      return 3;
    }
    return Fail(client.status());
  }
  auto cluster = client->Get("clusters/");
  if (!cluster.ok()) return Fail(cluster.status());
  json::array nodes;
  for (const char* role : {"cnode", "dnode"}) {
    auto list = client->Get(std::string(role) + "s/");
    if (!list.ok()) return Fail(list.status());
    for (const json::value& n : list->as_array()) nodes.push_back(NodeSummary(n, role));
  }
  auto vip_list = client->Get("vips/");
  if (!vip_list.ok()) return Fail(vip_list.status());
  json::array vips;
  for (const json::value& v : vip_list->as_array()) {
    vips.push_back(json::object{{"ip", Str(v, "ip")}, {"cnode", Str(v, "cnode")},
                                {"vippool", Str(v, "vippool")}});
  }
  const json::value& c = cluster->as_array().at(0);
  json::object endpoints{{"vms", client->Endpoint()},
                         {"s3_port", config.ok() ? config->s3_port : 0},
                         {"nfs_port", config.ok() ? config->nfs_port : 0}};
  auto num = [&](const char* key) -> int64_t {
    const json::value* v = c.as_object().if_contains(key);
    return v != nullptr && v->is_int64() ? v->as_int64() : 0;
  };
  json::object capacity{{"physical_space", num("physical_space")},
                        {"physical_space_in_use", num("physical_space_in_use")},
                        {"free_physical_space", num("free_physical_space")},
                        {"scm_space", num("scm_space")},
                        {"scm_space_in_use", num("scm_space_in_use")},
                        {"stripes", num("stripes")},
                        {"pending_stripes", num("pending_stripes")},
                        {"write_buffer_chunks", num("write_buffer_chunks")}};
  if (as_json) {
    json::object out{{"cluster", {{"name", Str(c, "name")},
                                  {"state", Str(c, "state")},
                                  {"reason", Str(c, "state_reason")},
                                  {"ssd_raid_state", Str(c, "ssd_raid_state")},
                                  {"nvram_raid_state", Str(c, "nvram_raid_state")}}},
                     {"nodes", nodes},
                     {"vips", vips},
                     {"endpoints", endpoints},
                     {"capacity", capacity}};
    std::cout << json::serialize(out) << "\n";
    return 0;
  }
  std::cout << fmt::format("cluster {}: {} ({})\n", Str(c, "name"), Str(c, "state"),
                           Str(c, "state_reason"));
  std::cout << fmt::format("  ssd raid {}, nvram raid {}\n", Str(c, "ssd_raid_state"),
                           Str(c, "nvram_raid_state"));
  constexpr double kMiB = 1024.0 * 1024.0;
  std::cout << fmt::format("  ssd {:.0f} of {:.0f} MiB used, write buffer {:.0f} of {:.0f} MiB\n",
                           num("physical_space_in_use") / kMiB, num("physical_space") / kMiB,
                           num("scm_space_in_use") / kMiB, num("scm_space") / kMiB);
  std::cout << fmt::format("  {} stripes, {} chunks in the write buffer waiting for migration\n",
                           num("stripes"), num("write_buffer_chunks"));
  std::cout << fmt::format("  API {} (user admin, password in {})\n", client->Endpoint(),
                           layout.AdminPassword());
  std::cout << fmt::format("\n{:<10} {:<6} {:<13} {:>8}  {}\n", "NAME", "ROLE", "STATE", "PID",
                           "REASON");
  for (const json::value& n : nodes) {
    std::string pid = Str(n, "pid");
    std::cout << fmt::format("{:<10} {:<6} {:<13} {:>8}  {}\n", Str(n, "name"), Str(n, "role"),
                             Str(n, "state"), pid.empty() ? "-" : pid, Str(n, "reason"));
  }
  PrintVips(vips, nodes);
  return 0;
}

int ClusterShow(const control::Layout& layout, bool as_json) {
  auto client = ApiClient::Open(layout);
  if (!client.ok()) return Fail(client.status());
  auto cluster = client->Get("clusters/");
  if (!cluster.ok()) return Fail(cluster.status());
  const json::value& c = cluster->as_array().at(0);
  if (as_json) {
    std::cout << json::serialize(c) << "\n";
    return 0;
  }
  for (const auto& field : c.as_object()) {
    std::cout << fmt::format("{:<22} {}\n", std::string(field.key()),
                             field.value().is_string() ? std::string(field.value().get_string())
                                                       : json::serialize(field.value()));
  }
  return 0;
}

namespace {

Result<json::value> FindNode(ApiClient& client, const std::string& role, const std::string& name) {
  ASSIGN_OR_RETURN(json::value list, client.Get(role + "s/?name=" + name));
  if (!list.is_array() || list.as_array().empty()) return NotFound("no " + role + " named " + name);
  return list.as_array().at(0);
}

// Polls the task until it ends; returns its final state.
Result<json::value> WaitTask(ApiClient& client, int64_t id, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    ASSIGN_OR_RETURN(json::value task, client.Get(fmt::format("vtasks/{}/", id)));
    std::string state = Str(task, "state");
    if (state != "RUNNING") return task;
    if (std::chrono::steady_clock::now() > deadline) return Timeout("task still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

int NodeCommand(const control::Layout& layout, const std::string& role, const std::string& verb,
                const std::string& name, bool as_json, bool wait) {
  auto client = ApiClient::Open(layout);
  if (!client.ok()) return Fail(client.status());
  if (verb == "list") {
    auto list = client->Get(role + "s/");
    if (!list.ok()) return Fail(list.status());
    if (as_json) {
      std::cout << json::serialize(*list) << "\n";
      return 0;
    }
    std::cout << fmt::format("{:<4} {:<10} {:<13} {:<8} {}\n", "ID", "NAME", "STATE", "ENABLED",
                             "REASON");
    for (const json::value& n : list->as_array()) {
      std::cout << fmt::format("{:<4} {:<10} {:<13} {:<8} {}\n", Str(n, "id"), Str(n, "name"),
                               Str(n, "state"), Str(n, "enabled"), Str(n, "state_reason"));
    }
    return 0;
  }
  if (name.empty()) return Fail(InvalidArgument(verb + " needs --name"));
  auto node = FindNode(*client, role, name);
  if (!node.ok()) return Fail(node.status());
  if (verb == "show") {
    if (as_json) {
      std::cout << json::serialize(*node) << "\n";
      return 0;
    }
    for (const auto& field : node->as_object()) {
      std::cout << fmt::format("{:<14} {}\n", std::string(field.key()),
                               field.value().is_string() ? std::string(field.value().get_string())
                                                         : json::serialize(field.value()));
    }
    return 0;
  }
  bool enable = verb == "activate";
  auto reply = client->Patch(fmt::format("{}s/{}/", role, Str(*node, "id")),
                             json::object{{"enabled", enable}});
  if (!reply.ok()) return Fail(reply.status());
  const json::value& task = reply->at("async_task");
  int64_t task_id = task.at("id").as_int64();
  if (!wait) {
    std::cout << fmt::format("{}: task {} started\n", name, task_id);
    return 0;
  }
  auto done = WaitTask(*client, task_id, 120);
  if (!done.ok()) return Fail(done.status());
  std::string state = Str(*done, "state");
  std::cout << fmt::format("{}: task {} {}", name, task_id, state);
  const json::array& messages = done->at("messages").as_array();
  if (!messages.empty()) std::cout << ": " << messages.back().as_string().c_str();
  std::cout << "\n";
  return state == "COMPLETED" ? 0 : 1;
}

}  // namespace dase::cli
