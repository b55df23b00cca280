#include "control/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>

namespace dase::control {

Status ClusterConfig::Validate() const {
  if (name.empty() || name.size() > 64) return InvalidArgument("cluster name must be 1-64 chars");
  if (cnodes < 1 || cnodes > 64) return InvalidArgument("cnodes must be between 1 and 64");
  if (dnodes < 1 || dnodes > 64) return InvalidArgument("dnodes must be between 1 and 64");
  if (heartbeat_interval_ms < 100) return InvalidArgument("heartbeat_interval_ms must be >= 100");
  if (heartbeat_timeout_ms < 2 * heartbeat_interval_ms) {
    return InvalidArgument("heartbeat_timeout_ms must be at least twice the interval");
  }
  if (stall_threshold_ms < 100) return InvalidArgument("stall_threshold_ms must be >= 100");
  if (restart.backoff_initial_ms < 10 || restart.backoff_max_ms < restart.backoff_initial_ms) {
    return InvalidArgument("restart backoff must satisfy 10 <= initial <= max");
  }
  if (restart.max_failures < 1) return InvalidArgument("restart.max_failures must be >= 1");
  if (scm_drives < 1 || scm_drives > 8 || ssd_drives < 1 || ssd_drives > 32) {
    return InvalidArgument("drives: 1-8 scm_drives and 1-32 ssd_drives per DNode");
  }
  if (scm_bytes < (16ll << 20) || ssd_bytes < (16ll << 20)) {
    return InvalidArgument("drives: scm_bytes and ssd_bytes must be at least 16 MiB");
  }
  if (flush_after_ms < 1 || sweep_every_ms < 1) {
    return InvalidArgument("estore: flush_after_ms and sweep_every_ms must be >= 1");
  }
  return Status::Ok();
}

std::string ClusterConfig::ToToml() const {
  toml::table restart_table{{"backoff_initial_ms", restart.backoff_initial_ms},
                            {"backoff_max_ms", restart.backoff_max_ms},
                            {"max_failures", restart.max_failures},
                            {"stable_after_ms", restart.stable_after_ms}};
  toml::table drives_table{{"scm_drives", scm_drives},
                           {"scm_bytes", scm_bytes},
                           {"scm_preformat", scm_preformat},
                           {"ssd_drives", ssd_drives},
                           {"ssd_bytes", ssd_bytes}};
  toml::table t{{"name", name},
                {"cnodes", cnodes},
                {"dnodes", dnodes},
                {"api_host", api_host},
                {"api_port", api_port},
                {"s3_port", s3_port},
                {"nfs_port", nfs_port},
                {"heartbeat_interval_ms", heartbeat_interval_ms},
                {"heartbeat_timeout_ms", heartbeat_timeout_ms},
                {"stall_threshold_ms", stall_threshold_ms},
                {"restart", restart_table},
                {"drives", drives_table},
                {"estore", toml::table{{"flush_after_ms", flush_after_ms},
                                       {"sweep_every_ms", sweep_every_ms}}}};
  std::ostringstream out;
  out << "# dase cluster configuration (written by `dase up`; edit while the cluster is down)\n";
  out << t << "\n";
  return out.str();
}

namespace {

template <typename T>
Status Read(const toml::table& t, std::string_view key, T* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();  // keep the default
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = n->value<std::string>();
    if (!v) return InvalidArgument(fmt::format("{} must be a string", key));
    *out = *v;
  } else if constexpr (std::is_same_v<T, bool>) {
    // as_boolean, not value<bool>: the latter also takes integers.
    const toml::value<bool>* v = n->as_boolean();
    if (v == nullptr) return InvalidArgument(fmt::format("{} must be true or false", key));
    *out = v->get();
  } else {
    auto v = n->value<int64_t>();
    if (!v) return InvalidArgument(fmt::format("{} must be an integer", key));
    if (*v < 0 || static_cast<uint64_t>(*v) > std::numeric_limits<T>::max()) {
      return InvalidArgument(fmt::format("{} is out of range", key));
    }
    *out = static_cast<T>(*v);
  }
  return Status::Ok();
}

}  // namespace

Result<ClusterConfig> ClusterConfig::FromToml(std::string_view text) {
  // toml++ reports parse errors by exception; they are caught here, at the library boundary.
  toml::table t;
  try {
    t = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(
        fmt::format("config: {} (line {})", e.description(), e.source().begin.line));
  }
  ClusterConfig c;
  RETURN_IF_ERROR(Read(t, "name", &c.name));
  RETURN_IF_ERROR(Read(t, "cnodes", &c.cnodes));
  RETURN_IF_ERROR(Read(t, "dnodes", &c.dnodes));
  RETURN_IF_ERROR(Read(t, "api_host", &c.api_host));
  RETURN_IF_ERROR(Read(t, "api_port", &c.api_port));
  RETURN_IF_ERROR(Read(t, "s3_port", &c.s3_port));
  RETURN_IF_ERROR(Read(t, "nfs_port", &c.nfs_port));
  RETURN_IF_ERROR(Read(t, "heartbeat_interval_ms", &c.heartbeat_interval_ms));
  RETURN_IF_ERROR(Read(t, "heartbeat_timeout_ms", &c.heartbeat_timeout_ms));
  RETURN_IF_ERROR(Read(t, "stall_threshold_ms", &c.stall_threshold_ms));
  if (const toml::table* r = t.get_as<toml::table>("restart")) {
    RETURN_IF_ERROR(Read(*r, "backoff_initial_ms", &c.restart.backoff_initial_ms));
    RETURN_IF_ERROR(Read(*r, "backoff_max_ms", &c.restart.backoff_max_ms));
    RETURN_IF_ERROR(Read(*r, "max_failures", &c.restart.max_failures));
    RETURN_IF_ERROR(Read(*r, "stable_after_ms", &c.restart.stable_after_ms));
  }
  if (const toml::table* d = t.get_as<toml::table>("drives")) {
    RETURN_IF_ERROR(Read(*d, "scm_drives", &c.scm_drives));
    RETURN_IF_ERROR(Read(*d, "scm_bytes", &c.scm_bytes));
    RETURN_IF_ERROR(Read(*d, "scm_preformat", &c.scm_preformat));
    RETURN_IF_ERROR(Read(*d, "ssd_drives", &c.ssd_drives));
    RETURN_IF_ERROR(Read(*d, "ssd_bytes", &c.ssd_bytes));
  }
  if (const toml::table* e = t.get_as<toml::table>("estore")) {
    RETURN_IF_ERROR(Read(*e, "flush_after_ms", &c.flush_after_ms));
    RETURN_IF_ERROR(Read(*e, "sweep_every_ms", &c.sweep_every_ms));
  }
  RETURN_IF_ERROR(c.Validate());
  return c;
}

Result<ClusterConfig> LoadConfig(env::Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, env::ReadFile(env, path));
  auto config = ClusterConfig::FromToml(text);
  if (!config.ok()) return config.status().WithContext(path);
  return config;
}

Status SaveConfig(env::Env* env, const std::string& path, const ClusterConfig& config) {
  RETURN_IF_ERROR(config.Validate());
  return env::WriteFileAtomic(env, path, config.ToToml(), 0644);
}

}  // namespace dase::control
