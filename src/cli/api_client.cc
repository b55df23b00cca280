#include "cli/api_client.h"

#include <fmt/format.h>

#include <chrono>

#include "env/env.h"
#include "http/client.h"
#include "vms/auth.h"

namespace dase::cli {
namespace json = boost::json;

bool ClusterRunning(const control::Layout& layout) {
  env::Env* env = env::Env::Default();
  if (!env::Exists(env, layout.MonitorLock())) return false;
  auto lock = env->LockFile(layout.MonitorLock());
  return !lock.ok() && lock.status().code() == Code::kFailedPrecondition;
}

Result<MonitorInfo> ReadMonitorInfo(const control::Layout& layout) {
  ASSIGN_OR_RETURN(std::string text, env::ReadFile(env::Env::Default(), layout.MonitorInfo()));
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Corruption(layout.MonitorInfo() + " is not valid JSON");
  const json::object& o = v.get_object();
  auto get_int = [&](const char* key) -> int64_t {
    const json::value* f = o.if_contains(key);
    return f != nullptr && f->is_int64() ? f->get_int64() : 0;
  };
  MonitorInfo info;
  info.pid = get_int("pid");
  info.api_port = static_cast<uint16_t>(get_int("api_port"));
  if (const json::value* h = o.if_contains("api_host"); h != nullptr && h->is_string()) {
    info.api_host = std::string(h->get_string());
  }
  if (info.pid <= 0 || info.api_port == 0 || info.api_host.empty()) {
    return Corruption(layout.MonitorInfo() + " is incomplete");
  }
  return info;
}

namespace {

// DRF's {"field": ["message", ...]} as "field: message; ...".
std::string FieldErrorsText(const json::object& errors) {
  std::string out;
  for (const auto& field : errors) {
    std::string messages;
    if (field.value().is_array()) {
      for (const json::value& m : field.value().get_array()) {
        if (!messages.empty()) messages += " ";
        messages += m.is_string() ? std::string(m.get_string()) : json::serialize(m);
      }
    } else {
      messages = json::serialize(field.value());
    }
    if (!out.empty()) out += "; ";
    out += field.key() == "non_field_errors" ? messages
                                              : std::string(field.key()) + ": " + messages;
  }
  return out.empty() ? "(no details)" : out;
}

}  // namespace

Result<ApiClient> ApiClient::Open(const control::Layout& layout) {
  if (!ClusterRunning(layout)) {
    return Unavailable(fmt::format("no cluster is running in {} (start one with `dase up`)",
                                   layout.root));
  }
  ApiClient client;
  client.layout_ = layout;
  ASSIGN_OR_RETURN(client.info_, ReadMonitorInfo(layout));
  auto password = env::ReadFile(env::Env::Default(), layout.AdminPassword());
  if (!password.ok()) {
    return Unavailable("the admin password is not there yet: " + password.status().ToString());
  }
  std::string secret = *password;
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  client.authorization_ = "Basic " + vms::Base64Encode("admin:" + secret);
  return client;
}

std::string ApiClient::Endpoint() const {
  return fmt::format("https://{}:{}", info_.api_host, info_.api_port);
}

Result<json::value> ApiClient::Call(const std::string& method, const std::string& path,
                                    const std::string& body) {
  http::FetchRequest req;
  req.method = method;
  req.host = info_.api_host;
  req.port = info_.api_port;
  req.target = "/api/" + path;
  req.scheme = http::Scheme::kHttps;
  req.ca_cert_path = layout_.TlsCert();
  req.timeout = std::chrono::seconds(10);
  req.headers = {{"Authorization", authorization_}, {"Accept", "application/json"}};
  if (!body.empty()) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body;
  }
  auto resp = http::Fetch(req);
  if (!resp.ok()) {
    return Unavailable(fmt::format("VMS API at {} is not answering: {}", Endpoint(),
                                   resp.status().ToString()));
  }
  boost::system::error_code ec;
  json::value v = resp->body.empty() ? json::value() : json::parse(resp->body, ec);
  if (resp->status >= 400) {
    std::string detail = resp->body.substr(0, 500);
    if (!ec && v.is_object()) {
      if (const json::value* d = v.get_object().if_contains("detail"); d && d->is_string()) {
        detail = std::string(d->get_string());
      } else {
        detail = FieldErrorsText(v.get_object());
      }
    }
    Code code = resp->status == 404 ? Code::kNotFound
                : resp->status == 401 || resp->status == 403 ? Code::kPermissionDenied
                : resp->status < 500 ? Code::kInvalidArgument
                                     : Code::kUnavailable;
    return Status(code, fmt::format("{} {}: HTTP {}: {}", method, path, resp->status, detail));
  }
  if (ec) return Corruption(fmt::format("{} {}: response is not JSON", method, path));
  return v;
}

Result<json::value> ApiClient::Get(const std::string& path) { return Call("GET", path, ""); }

Result<json::value> ApiClient::Post(const std::string& path, const json::value& body) {
  return Call("POST", path, json::serialize(body));
}

Result<json::value> ApiClient::Delete(const std::string& path, const json::value& body) {
  return Call("DELETE", path, body.is_null() ? "" : json::serialize(body));
}

Result<json::value> ApiClient::Patch(const std::string& path, const json::value& body) {
  return Call("PATCH", path, json::serialize(body));
}

}  // namespace dase::cli
