// Layout: where everything lives inside a cluster's data directory.
//
// One cluster per data directory. Nothing dase writes goes outside it. Value type.
#pragma once

#include <string>

namespace dase::control {

struct Layout {
  std::string root;

  std::string Config() const { return root + "/dase.toml"; }
  std::string AdminPassword() const { return root + "/admin.password"; }
  std::string RunDir() const { return root + "/run"; }
  std::string MonitorLock() const { return RunDir() + "/monitor.lock"; }
  // Written by the monitor once its sockets are bound: pid and endpoints (JSON).
  std::string MonitorInfo() const { return RunDir() + "/monitor.json"; }
  std::string LogDir() const { return root + "/logs"; }
  std::string Log(const std::string& process) const { return LogDir() + "/" + process + ".log"; }
  std::string MetaDir() const { return root + "/meta"; }
  std::string MetaDb() const { return MetaDir() + "/meta.db"; }
  std::string TlsDir() const { return root + "/vms/tls"; }
  std::string TlsCert() const { return TlsDir() + "/cert.pem"; }
  std::string TlsKey() const { return TlsDir() + "/key.pem"; }
  std::string NodeDir(const std::string& node) const { return root + "/nodes/" + node; }
};

// The data directory used when --data-dir is not given: $DASE_DATA_DIR, else
// $HOME/.local/share/dase, else ./dase-data. Made absolute.
std::string DefaultDataDir();
std::string AbsolutePath(const std::string& path);

}  // namespace dase::control
