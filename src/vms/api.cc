#include "vms/api.h"

#include <fmt/format.h>

#include <boost/url.hpp>

#include "common/log.h"
#include "vms/api_util.h"
#include "vms/auth.h"
#include "vms/rest.h"

namespace dase::vms {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Response;

namespace {

struct Capacity {
  int64_t ssd_bytes = 0, ssd_used = 0, scm_bytes = 0, scm_used = 0;
  void Add(const control::DriveReport& d) {
    (d.kind == "scm" ? scm_bytes : ssd_bytes) += d.size_bytes;
    (d.kind == "scm" ? scm_used : ssd_used) += d.used_bytes;
  }
  void Into(json::object& o) const {
    o["physical_space"] = ssd_bytes;
    o["physical_space_in_use"] = ssd_used;
    o["free_physical_space"] = ssd_bytes - ssd_used;
    o["physical_space_in_use_percent"] = ssd_bytes > 0 ? 100.0 * ssd_used / ssd_bytes : 0.0;
    o["scm_space"] = scm_bytes;  // the write buffer (VAST: NVRAM)
    o["scm_space_in_use"] = scm_used;
  }
};

json::array DrivesJson(const std::vector<control::DriveReport>& drives) {
  json::array out;
  for (const control::DriveReport& d : drives) {
    out.push_back(json::object{{"id", d.id}, {"kind", d.kind}, {"size", d.size_bytes},
                               {"used", d.used_bytes}, {"free", d.size_bytes - d.used_bytes},
                               {"state", d.state}});
  }
  return out;
}

}  // namespace

json::object Api::ClusterJson(const std::string& base) const {
  const ClusterRecord& c = cluster_->cluster();
  return {{"id", c.id},
          {"guid", c.guid},
          {"name", c.name},
          {"title", c.name},
          {"url", fmt::format("{}/api/clusters/{}/", base, c.id)},
          {"state", ClusterStateName(c.state)},
          {"state_reason", c.reason},
          {"state_time", FormatTime(c.state_since_us)},
          {"enabled", true},
          {"loopback", true},
          {"sw_version", kSysVersion},
          {"build", kBuild},
          {"psnt", c.psnt},
          {"leader_state", "UP"},
          {"ssd_raid_state", c.ssd_raid_state},
          {"nvram_raid_state", c.nvram_raid_state},
          {"memory_raid_state", "HEALTHY"},
          {"raid_drives_can_fail", cluster_->DnodeFailuresTolerated()},
          {"deployment_time", FormatTime(c.created_us)},
          {"online_start_time", TimeOrNull(c.online_since_us)},
          {"mgmt_vip", config_.api_host},
          {"logical_space", 0},
          {"logical_space_in_use", 0},
          {"free_logical_space", 0},
          {"drr", 1.0}};
}

const std::optional<estore::DataUsage>& Api::Usage() const {
  int64_t now = env_->MonotonicMicros();
  if (usage_at_us_ == 0 || now - usage_at_us_ >= 1'000'000) {
    usage_at_us_ = now;
    auto measured = estore::MeasureUsage(store_);
    if (measured.ok()) {
      usage_ = std::move(measured).value();
    } else {
      LOG_WARN("cannot measure the element store's usage: {}", measured.status().ToString());
      usage_.reset();
    }
  }
  return usage_;
}

std::vector<control::DriveReport> Api::DrivesOf(const std::string& dnode) const {
  std::vector<control::DriveReport> drives = cluster_->Drives(dnode);
  const auto& usage = Usage();
  if (!usage) return drives;  // the DNodes' own high-water marks, better than nothing
  for (control::DriveReport& d : drives) {
    const auto& used = d.kind == "scm" ? usage->buffer_used_bytes : usage->ssd_used_bytes;
    auto it = used.find(d.kind == "scm" ? dnode : d.id);
    d.used_bytes = it == used.end() ? 0 : static_cast<int64_t>(it->second);
  }
  return drives;
}

json::object Api::ClusterJsonWithCapacity(const std::string& base) const {
  json::object o = ClusterJson(base);
  Capacity total;
  for (const NodeRecord* n : cluster_->Nodes("dnode")) {
    if (n->state != NodeState::kActive) continue;  // a down DNode's space is not usable
    for (const control::DriveReport& d : DrivesOf(n->name)) total.Add(d);
  }
  total.Into(o);
  if (const auto& usage = Usage()) {
    o["stripes"] = usage->stripes;
    o["pending_stripes"] = usage->pending_stripes;
    o["write_buffer_chunks"] = usage->buffered_chunks;
  }
  return o;
}

json::object Api::NodeJson(const NodeRecord& n, const std::string& base) const {
  const control::ProcessInfo* p = cluster_->Process(n.name);
  json::object o{{"id", n.id},
                 {"guid", n.guid},
                 {"name", n.name},
                 {"title", n.name},
                 {"display_name", n.name},
                 {"url", fmt::format("{}/api/{}s/{}/", base, n.role, n.id)},
                 {"state", NodeStateName(n.state)},
                 {"display_state", NodeStateName(n.state)},
                 {"state_reason", n.reason},
                 {"state_time", FormatTime(n.state_since_us)},
                 {"enabled", n.enabled},
                 {"ip", "127.0.0.1"},
                 {"ip1", "127.0.0.1"},
                 {"ip2", ""},
                 {"mgmt_ip", "127.0.0.1"},
                 {"hostname", "localhost"},
                 {"host_label", fmt::format("127.0.0.1-{}", n.rpc_port)},
                 {"data_tcp_port", n.rpc_port},
                 {"cluster", cluster_->cluster().name},
                 {"cluster_id", cluster_->cluster().id},
                 {"build", kBuild},
                 {"os_version", "Linux"},
                 {"pid", p != nullptr && p->pid > 0 ? json::value(p->pid) : nullptr},
                 {"process_state", p != nullptr ? json::value(control::PhaseName(p->phase))
                                                : json::value("unknown")},
                 {"restarts", n.restarts},
                 {"stalls", n.stalls},
                 {"max_stall_ms", n.max_stall_ms}};
  if (n.role == "cnode") {
    o["is_mgmt"] = false;
    o["vms_preferred"] = false;
    o["vips"] = StringArray(cluster_->VipsOf(n.name));  // held now (not in VAST's schema)
  } else {
    o["is_primary"] = true;
    o["dbox"] = "dbox-1";
    o["dbox_id"] = 1;
    std::vector<control::DriveReport> drives = DrivesOf(n.name);
    Capacity capacity;
    for (const control::DriveReport& d : drives) capacity.Add(d);
    capacity.Into(o);
    o["drives"] = DrivesJson(drives);
  }
  return o;
}

Result<std::string> Api::Authenticate(const http::Request& request) {
  auto it = request.find(bhttp::field::authorization);
  if (it == request.end()) return Unauthenticated("Authentication credentials were not provided.");
  std::string_view value = it->value();
  if (value.size() > 8192) return Unauthenticated("Invalid authorization header.");
  if (value.starts_with("Basic ")) {
    ASSIGN_OR_RETURN(auto creds, ParseBasicAuth(value));
    return accounts_->CheckPassword(creds.first, creds.second);
  }
  if (value.starts_with("Bearer ")) return accounts_->CheckAccessToken(value.substr(7));
  if (value.starts_with("Api-Token ")) return accounts_->CheckApiToken(value.substr(10));
  return Unauthenticated("Unsupported authorization scheme.");
}

awaitable<Response> Api::Handle(http::Request& request, const http::PeerInfo&) {
  auto path = rest::ParseApiPath(PathOf(request));
  if (!path || path->empty()) co_return NotFoundResponse();
  std::string host = std::string(request[bhttp::field::host]);
  std::string base = "https://" + (host.empty() ? config_.api_host : host);
  if ((*path)[0] == "token") co_return Token(request, *path);
  auto user = Authenticate(request);
  if (!user.ok()) co_return ErrorResponse(user.status());
  co_return Route(request, *path, *user, base);
}

Response Api::Token(const http::Request& request, const std::vector<std::string>& path) {
  if (request.method() != bhttp::verb::post) return MethodNotAllowed(request);
  auto body = BodyObject(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  auto str = [&](const char* key) -> std::optional<std::string> {
    const json::value* v = body->if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string(v->get_string());
  };
  if (path.size() == 1) {
    auto username = str("username");
    auto password = str("password");
    std::vector<std::pair<std::string, std::string>> errors;
    if (!username) errors.emplace_back("username", "This field is required.");
    if (!password) errors.emplace_back("password", "This field is required.");
    if (!errors.empty()) return rest::FieldErrors(400, errors);
    auto pair = accounts_->IssueTokens(*username, *password);
    if (!pair.ok()) return ErrorResponse(pair.status());
    return rest::JsonResponse(200, json::object{{"access", pair->access}, {"refresh", pair->refresh}});
  }
  if (path.size() == 2 && path[1] == "refresh") {
    auto refresh = str("refresh");
    if (!refresh) return rest::FieldErrors(400, {{"refresh", "This field is required."}});
    auto access = accounts_->Refresh(*refresh);
    if (!access.ok()) return ErrorResponse(access.status());
    return rest::JsonResponse(200, json::object{{"access", *access}});
  }
  return NotFoundResponse();
}

Response Api::Route(http::Request& request, const std::vector<std::string>& path,
                    const std::string& user, const std::string& base) {
  const std::string& resource = path[0];
  bool get = request.method() == bhttp::verb::get;
  if (resource == "cnodes" || resource == "dnodes") return Nodes(request, path, base);
  if (resource == "apitokens") return ApiTokens(request, path, user);
  if (resource == "views") return Views(request, path, base);
  if (resource == "viewpolicies") return ViewPolicies(request, path, base);
  if (resource == "tenants") return Tenants(request, path, base);
  if (resource == "users") return Users(request, path, base);
  if (resource == "s3keys") return S3Keys(request, path, user, base);
  if (resource == "vippools") return VipPools(request, path, base);
  if (resource == "vips") return Vips(request, path, base);
  if (resource == "clusters") {
    if (!get) return MethodNotAllowed(request);
    json::object c = ClusterJsonWithCapacity(base);
    if (path.size() == 1) return ListResponse(request, json::array{c}, base);
    if (path.size() == 2 && ParseId(path[1]) == c.at("id").as_int64()) {
      return ObjectResponse(request, c);
    }
    return NotFoundResponse();
  }
  if (resource == "versions") {
    if (!get) return MethodNotAllowed(request);
    json::object v{{"id", 1},          {"name", kBuild},  {"sys_version", kSysVersion},
                   {"build", kBuild},  {"status", "success"},
                   {"created", FormatTime(cluster_->cluster().created_us)}};
    if (path.size() == 1) return ListResponse(request, json::array{v}, base);
    if (path.size() == 2 && ParseId(path[1]) == 1) return ObjectResponse(request, v);
    return NotFoundResponse();
  }
  if (resource == "vtasks") {
    if (!get) return MethodNotAllowed(request);
    if (path.size() == 1) {
      json::array all;
      for (const TaskRecord* t : cluster_->Tasks()) all.push_back(TaskToApi(*t));
      return ListResponse(request, std::move(all), base);
    }
    auto id = ParseId(path[1]);
    const TaskRecord* t = id ? cluster_->FindTask(*id) : nullptr;
    if (t == nullptr || path.size() != 2) return NotFoundResponse();
    return ObjectResponse(request, TaskToApi(*t));
  }
  if (resource == "events") {
    if (!get) return MethodNotAllowed(request);
    json::array all;
    for (const EventRecord* e : cluster_->Events()) {
      if (path.size() == 1 || ParseId(path[1]) == e->id) all.push_back(EventToApi(*e));
    }
    if (path.size() == 1) return ListResponse(request, std::move(all), base);
    if (path.size() != 2 || all.empty()) return NotFoundResponse();
    return ObjectResponse(request, all[0].as_object());
  }
  return NotFoundResponse();
}

Response Api::Nodes(const http::Request& request, const std::vector<std::string>& path,
                    const std::string& base) {
  std::string role = path[0] == "cnodes" ? "cnode" : "dnode";
  if (path.size() == 1) {
    if (request.method() != bhttp::verb::get) return MethodNotAllowed(request);
    json::array all;
    for (const NodeRecord* n : cluster_->Nodes(role)) all.push_back(NodeJson(*n, base));
    return ListResponse(request, std::move(all), base);
  }
  auto id = ParseId(path[1]);
  const NodeRecord* node = id ? cluster_->FindNodeById(role, *id) : nullptr;
  if (node == nullptr || path.size() != 2) return NotFoundResponse();
  if (request.method() == bhttp::verb::get) return ObjectResponse(request, NodeJson(*node, base));
  if (request.method() != bhttp::verb::patch) return MethodNotAllowed(request);
  auto body = BodyObject(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  std::vector<std::pair<std::string, std::string>> errors;
  for (const auto& field : *body) {
    if (field.key() != "enabled") errors.emplace_back(field.key(), "This field cannot be changed.");
  }
  const json::value* enabled = body->if_contains("enabled");
  if (enabled == nullptr) {
    errors.emplace_back("enabled", "This field is required.");
  } else if (!enabled->is_bool()) {
    errors.emplace_back("enabled", "Must be a valid boolean.");
  }
  if (!errors.empty()) return rest::FieldErrors(400, errors);
  auto task = cluster_->SetEnabled(node->name, enabled->get_bool());
  if (!task.ok()) return ErrorResponse(task.status());
  return rest::JsonResponse(200, json::object{{"async_task", TaskToApi(*task)}});
}

Response Api::ApiTokens(const http::Request& request, const std::vector<std::string>& path,
                        const std::string& user) {
  bool get = request.method() == bhttp::verb::get;
  if (path.size() == 1) {
    if (get) {
      json::array all;
      for (const ApiTokenRecord& t : accounts_->ApiTokens()) all.push_back(ApiTokenToApi(t));
      return ListResponse(request, std::move(all), "");
    }
    if (request.method() != bhttp::verb::post) return MethodNotAllowed(request);
    auto body = BodyObject(request);
    if (!body.ok()) return rest::DetailError(400, body.status().message());
    std::string owner = user, name;
    int64_t expiry_us = 0;
    std::vector<std::pair<std::string, std::string>> errors;
    for (const auto& field : *body) {
      const json::value& v = field.value();
      if (field.key() == "owner" && v.is_string()) {
        owner = std::string(v.get_string());
      } else if (field.key() == "name" && v.is_string() && v.get_string().size() <= 128) {
        name = std::string(v.get_string());
      } else if (field.key() == "expiry_date" && v.is_string()) {
        auto t = ParseTime(v.get_string());
        if (!t.ok()) errors.emplace_back("expiry_date", std::string(t.status().message()));
        else expiry_us = *t;
      } else if (field.key() != "expiry_date" || !v.is_null()) {
        errors.emplace_back(std::string(field.key()), "Invalid value.");
      }
    }
    if (!errors.empty()) return rest::FieldErrors(400, errors);
    auto created = accounts_->CreateApiToken(owner, name, expiry_us);
    if (!created.ok()) return rest::FieldErrors(400, {{"non_field_errors", std::string(created.status().message())}});
    json::object o = ApiTokenToApi(created->first);
    o["token"] = created->second;
    return rest::JsonResponse(201, o);
  }
  const ApiTokenRecord* t = accounts_->FindApiToken(path[1]);
  if (t == nullptr) return NotFoundResponse();
  if (path.size() == 2) {
    if (!get) return MethodNotAllowed(request);
    return ObjectResponse(request, ApiTokenToApi(*t));
  }
  if (path.size() == 3 && path[2] == "revoke") {
    if (request.method() != bhttp::verb::patch) return MethodNotAllowed(request);
    Status s = accounts_->RevokeApiToken(path[1]);
    if (!s.ok()) return ErrorResponse(s);
    return rest::JsonResponse(200, ApiTokenToApi(*accounts_->FindApiToken(path[1])));
  }
  return NotFoundResponse();
}

}  // namespace dase::vms
