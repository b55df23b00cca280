// ApiClient: the CLI's connection to a running cluster's VMS REST API.
//
// It finds the API endpoint in DIR/run/monitor.json, authenticates as admin with the password
// in DIR/admin.password (Basic), and verifies the server against the cluster's own certificate
// (DIR/vms/tls/cert.pem), so no verification is switched off. Blocking calls; one thread.
// An error answer becomes a Status whose message holds the API's own words: its "detail", or
// its DRF field errors as "field: message; ...".
#pragma once

#include <boost/json.hpp>
#include <string>

#include "common/result.h"
#include "control/layout.h"

namespace dase::cli {

// True if a monitor holds the data directory's lock (a cluster is running there).
bool ClusterRunning(const control::Layout& layout);

struct MonitorInfo {
  int64_t pid = 0;
  std::string api_host;
  uint16_t api_port = 0;
};
Result<MonitorInfo> ReadMonitorInfo(const control::Layout& layout);

class ApiClient {
 public:
  // Unavailable with a hint when no cluster runs in the directory.
  static Result<ApiClient> Open(const control::Layout& layout);

  Result<boost::json::value> Get(const std::string& path);
  Result<boost::json::value> Patch(const std::string& path, const boost::json::value& body);
  Result<boost::json::value> Post(const std::string& path, const boost::json::value& body);
  // DELETE, with a JSON body if `body` is not null. A 204 answer is a null value.
  Result<boost::json::value> Delete(const std::string& path,
                                    const boost::json::value& body = nullptr);

  std::string Endpoint() const;

 private:
  Result<boost::json::value> Call(const std::string& method, const std::string& path,
                                  const std::string& body);
  control::Layout layout_;
  MonitorInfo info_;
  std::string authorization_;
};

}  // namespace dase::cli
