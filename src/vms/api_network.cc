// REST resources vippools/ and vips/. Pools are records in the store; which CNode holds which
// VIP is the cluster manager's (vip_assignment.h), refreshed after every change of a pool.
#include <fmt/format.h>

#include <algorithm>

#include "vms/api.h"
#include "vms/api_util.h"
#include "vms/protocol_ops.h"
#include "vms/rest.h"

namespace dase::vms {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::Response;
using meta::Transaction;

namespace {

struct PoolFields {
  std::optional<std::string> name, role;
  std::optional<std::vector<IpRange>> ip_ranges;
  std::optional<int64_t> subnet_cidr;
  std::optional<std::vector<int64_t>> cnode_ids;
  std::optional<bool> enabled;

  static PoolFields Parse(BodyFields& f, Need need) {
    PoolFields p;
    p.name = f.String("name");
    p.ip_ranges = f.Ranges("ip_ranges", need);
    p.subnet_cidr = f.Int("subnet_cidr", need);
    p.role = f.String("role");
    p.cnode_ids = f.Ints("cnode_ids");
    p.enabled = f.Bool("enabled");
    return p;
  }
};
BOOST_DESCRIBE_STRUCT(PoolFields, (), (name, role, ip_ranges, subnet_cidr, cnode_ids, enabled))

}  // namespace

json::object Api::VipPoolJson(const VipPoolRecord& pool, const std::string& base) const {
  const ClusterRecord& c = cluster_->cluster();
  json::array ranges;
  std::vector<std::string> summary;
  for (const IpRange& r : pool.ip_ranges) {
    ranges.push_back(json::array{json::value(r.start), json::value(r.end)});
    summary.push_back(r.start == r.end ? r.start : r.start + "-" + r.end);
  }
  json::array cnodes;
  for (int64_t id : pool.cnode_ids) {
    const NodeRecord* n = cluster_->FindNodeById("cnode", id);
    cnodes.emplace_back(n != nullptr ? n->name : "");
  }
  json::array vips;
  std::vector<int64_t> holders;
  for (const VipInfo& v : cluster_->Vips()) {
    if (v.pool_id != pool.id) continue;
    vips.push_back(json::object{{"ip", v.ip}, {"cnode", v.cnode}});
    const NodeRecord* n = v.cnode.empty() ? nullptr : cluster_->FindNode(v.cnode);
    if (n != nullptr && std::find(holders.begin(), holders.end(), n->id) == holders.end()) {
      holders.push_back(n->id);
    }
  }
  std::sort(holders.begin(), holders.end());
  return {{"id", pool.id},
          {"guid", pool.guid},
          {"name", pool.name},
          {"title", pool.name},
          {"ip_ranges", std::move(ranges)},
          {"ranges_summary", fmt::format("{}", fmt::join(summary, ", "))},
          {"subnet_cidr", pool.subnet_cidr},
          {"role", pool.role},
          {"cnode_ids", IntArray(pool.cnode_ids)},
          {"cnodes", std::move(cnodes)},
          {"active_cnode_ids", IntArray(holders)},
          {"enabled", pool.enabled},
          {"state", holders.empty() ? "INACTIVE" : "ACTIVE"},
          {"port_membership", "ALL"},
          {"vip_allocation", "AUTOMATIC"},
          {"vips", std::move(vips)},
          {"tenant_id", nullptr},
          {"created", FormatTime(pool.created_us)},
          {"cluster", c.name},
          {"cluster_id", c.id},
          {"url", fmt::format("{}/api/vippools/{}/", base, pool.id)}};
}

Response Api::VipPools(const http::Request& request, const std::vector<std::string>& path,
                       const std::string& base) {
  // Writes answer with the pool written, once the VIPs follow it.
  auto written = [&](unsigned status) {
    return [&, status](const VipPoolRecord& pool) {
      cluster_->RefreshVips();
      return rest::JsonResponse(status, VipPoolJson(pool, base));
    };
  };
  auto check_cnodes = [&](BodyFields& f, const PoolFields& fields) {
    for (int64_t cnode : fields.cnode_ids.value_or(std::vector<int64_t>{})) {
      if (cluster_->FindNodeById("cnode", cnode) == nullptr) {
        f.Add("cnode_ids", fmt::format("Invalid pk \"{}\" - object does not exist.", cnode));
      }
    }
  };
  return RouteResource(
      request, path,
      {.list =
           [&] {
             return ListObjects(store_, request, base, [&](Transaction& txn) -> Result<json::array> {
               ASSIGN_OR_RETURN(auto pools, LoadVipPools(txn));
               json::array all;
               for (const VipPoolRecord& p : pools) all.push_back(VipPoolJson(p, base));
               return all;
             });
           },
       .create =
           [&] {
             return CreateObject<PoolFields>(store_, env_, request, CreateVipPool, written(201),
                                             check_cnodes);
           },
       .show =
           [&](int64_t id) {
             return ShowObject(store_, request, 200, [&](Transaction& txn) -> Result<json::object> {
               ASSIGN_OR_RETURN(auto pool, LoadVipPool(txn, id));
               if (!pool) return NotFound("Not found.");
               return VipPoolJson(*pool, base);
             });
           },
       .remove =
           [&](int64_t id) {
             return DeleteObject(store_, id, DeleteVipPool, [&] { cluster_->RefreshVips(); });
           },
       .patch =
           [&](int64_t id) {
             return PatchObject<PoolFields>(store_, request, id, LoadVipPool, UpdateVipPool,
                                            written(200), check_cnodes);
           }});
}

// vips/: every VIP of every pool and the CNode that holds it now (VAST's VIP objects). Ids are
// positions in pool and address order, so they change when pools change.
Response Api::Vips(const http::Request& request, const std::vector<std::string>& path,
                   const std::string& base) {
  if (request.method() != bhttp::verb::get) return MethodNotAllowed(request);
  const ClusterRecord& c = cluster_->cluster();
  json::array all;
  int64_t next_id = 1;
  for (const VipInfo& v : cluster_->Vips()) {
    const NodeRecord* n = v.cnode.empty() ? nullptr : cluster_->FindNode(v.cnode);
    int64_t id = next_id++;
    all.push_back(json::object{{"id", id},
                               {"ip", v.ip},
                               {"name", v.ip},
                               {"title", v.ip},
                               {"cnode", v.cnode},
                               {"cnode_id", n != nullptr ? json::value(n->id) : nullptr},
                               {"vippool", v.pool_name},
                               {"vippool_id", v.pool_id},
                               {"cluster", c.name},
                               {"url", fmt::format("{}/api/vips/{}/", base, id)}});
  }
  if (path.size() == 1) return ListResponse(request, std::move(all), base);
  auto id = ParseId(path[1]);
  if (path.size() != 2 || !id || *id > static_cast<int64_t>(all.size())) return NotFoundResponse();
  return ObjectResponse(request, all[static_cast<size_t>(*id - 1)].as_object());
}

}  // namespace dase::vms
