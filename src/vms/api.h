// Api: the VMS REST API (VAST VMS schema) over the cluster manager and accounts.
//
// Paths are accepted under /api/, /api/latest/ and /api/v1/ … /api/v7/, with or without a
// trailing slash. Every route but token/ and token/refresh/ requires Basic, Bearer (JWT) or
// Api-Token authentication: none → 401, a wrong password → 401, a bad or expired token → 403.
// Lists are bare arrays, or {count, next, previous, results} with page_size; Django-style
// filters and fields= projection apply to every list. Errors are DRF-style JSON.
//
// Thread-safety: the VMS loop thread only.
#pragma once

#include <string>

#include "common/asio.h"
#include "control/config.h"
#include "http/server.h"
#include "vms/accounts.h"
#include "vms/cluster_manager.h"

namespace dase::vms {

inline constexpr char kSysVersion[] = "5.4.0";
inline constexpr char kBuild[] = "dase-0.1.0";

class Api {
 public:
  Api(ClusterManager* cluster, Accounts* accounts, control::ClusterConfig config)
      : cluster_(cluster), accounts_(accounts), config_(std::move(config)) {}

  awaitable<http::Response> Handle(http::Request& request, const http::PeerInfo& peer);

  // The API forms of the cluster and of a node (also used by tests).
  boost::json::object ClusterJson(const std::string& base) const;
  // With physical (SSD) and write-buffer (SCM) space summed over ACTIVE DNodes' drives.
  boost::json::object ClusterJsonWithCapacity(const std::string& base) const;
  boost::json::object NodeJson(const NodeRecord& n, const std::string& base) const;

 private:
  http::Response Route(http::Request& request, const std::vector<std::string>& path,
                       const std::string& user, const std::string& base);
  http::Response Token(const http::Request& request, const std::vector<std::string>& path);
  http::Response Nodes(const http::Request& request, const std::vector<std::string>& path,
                       const std::string& base);
  http::Response ApiTokens(const http::Request& request, const std::vector<std::string>& path,
                           const std::string& user);
  Result<std::string> Authenticate(const http::Request& request);

  ClusterManager* cluster_;
  Accounts* accounts_;
  control::ClusterConfig config_;
};

}  // namespace dase::vms
