// Api: the VMS REST API (VAST VMS schema) over the cluster manager and accounts.
//
// Paths are accepted under /api/, /api/latest/ and /api/v1/ … /api/v7/, with or without a
// trailing slash. Every route but token/ and token/refresh/ requires Basic, Bearer (JWT) or
// Api-Token authentication: none → 401, a wrong password → 401, a bad or expired token → 403.
// Lists are bare arrays, or {count, next, previous, results} with page_size; Django-style
// filters and fields= projection apply to every list. Errors are DRF-style JSON.
//
// Views, view policies, tenants, local users, S3 keys and VIP pools live in the shared metadata
// store (vms/protocol_records.h), where CNodes read and write them too: every request reads
// them from the store afresh, nothing of them is kept here between requests.
//
// Thread-safety: the VMS loop thread only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/asio.h"
#include "control/config.h"
#include "env/env.h"
#include "estore/namespace.h"
#include "estore/usage.h"
#include "meta/kv.h"
#include "http/server.h"
#include "vms/accounts.h"
#include "vms/cluster_manager.h"
#include "vms/protocol_records.h"

namespace dase::vms {

inline constexpr char kSysVersion[] = "5.4.0";
inline constexpr char kBuild[] = "dase-0.1.0";

class Api {
 public:
  // `store` is the shared metadata store, where the element store records what it holds on
  // each drive (DNodes report sizes and state; the allocation is in the metadata).
  Api(ClusterManager* cluster, Accounts* accounts, control::ClusterConfig config,
      meta::Store* store, env::Env* env)
      : cluster_(cluster), accounts_(accounts), config_(std::move(config)), store_(store),
        env_(env) {}

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
  // Protocol objects (api_views.cc, api_users.cc, api_network.cc).
  http::Response Views(const http::Request& request, const std::vector<std::string>& path,
                       const std::string& base);
  http::Response ViewPolicies(const http::Request& request, const std::vector<std::string>& path,
                              const std::string& base);
  http::Response Tenants(const http::Request& request, const std::vector<std::string>& path,
                         const std::string& base);
  http::Response Users(const http::Request& request, const std::vector<std::string>& path,
                       const std::string& base);
  http::Response AccessKeys(const http::Request& request, int64_t user_id);
  http::Response S3Keys(const http::Request& request, const std::vector<std::string>& path,
                        const std::string& user, const std::string& base);
  http::Response VipPools(const http::Request& request, const std::vector<std::string>& path,
                          const std::string& base);
  http::Response Vips(const http::Request& request, const std::vector<std::string>& path,
                      const std::string& base);
  // The directory a view exposes: exists (or is made, with create_dir) and is a directory;
  // otherwise a FieldError on "path".
  Status EnsureViewDirectory(const std::string& path, bool create);
  boost::json::object VipPoolJson(const VipPoolRecord& pool, const std::string& base) const;
  Result<std::string> Authenticate(const http::Request& request);
  // The drives of a DNode as it reported them, with `used` from the element store's records.
  std::vector<control::DriveReport> DrivesOf(const std::string& dnode) const;
  // The element store's usage, measured at most once a second (nullopt if unreadable).
  const std::optional<estore::DataUsage>& Usage() const;

  ClusterManager* cluster_;
  Accounts* accounts_;
  control::ClusterConfig config_;
  meta::Store* store_;
  env::Env* env_;
  std::unique_ptr<estore::Namespace> namespace_;  // opened on first use (create_dir)
  mutable std::optional<estore::DataUsage> usage_;
  mutable int64_t usage_at_us_ = 0;
};

}  // namespace dase::vms
