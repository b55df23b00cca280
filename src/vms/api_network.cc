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
  void ApplyTo(VipPoolRecord& r) const {
    if (name) r.name = *name;
    if (role) r.role = *role;
    if (ip_ranges) r.ip_ranges = *ip_ranges;
    if (subnet_cidr) r.subnet_cidr = *subnet_cidr;
    if (cnode_ids) r.cnode_ids = *cnode_ids;
    if (enabled) r.enabled = *enabled;
  }
};

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
  auto method = request.method();
  if (path.size() == 1 && method == bhttp::verb::get) {
    auto pools = LoadVipPools(store_);
    if (!pools.ok()) return ErrorResponse(pools.status());
    json::array all;
    for (const VipPoolRecord& p : *pools) all.push_back(VipPoolJson(p, base));
    return ListResponse(request, std::move(all), base);
  }
  auto id = path.size() == 2 ? ParseId(path[1]) : std::nullopt;
  if (path.size() > 2 || (path.size() == 2 && !id)) return NotFoundResponse();
  if (id && method == bhttp::verb::get) {
    auto txn = store_->Begin();
    if (!txn.ok()) return ErrorResponse(txn.status());
    auto pool = LoadVipPool(**txn, *id);
    if (!pool.ok()) return ErrorResponse(pool.status());
    if (!*pool) return NotFoundResponse();
    return ObjectResponse(request, VipPoolJson(**pool, base));
  }
  if (id && method == bhttp::verb::delete_) {
    Status s = store_->RunTransaction([&](Transaction& txn) { return DeleteVipPool(txn, *id); });
    if (!s.ok()) return WriteErrorResponse(s);
    cluster_->RefreshVips();
    return rest::NoContent();
  }
  bool create = !id && method == bhttp::verb::post;
  if (!create && !(id && method == bhttp::verb::patch)) return MethodNotAllowed(request);
  auto body = BodyObject(request);
  if (!body.ok()) return rest::DetailError(400, body.status().message());
  BodyFields f(*body);
  PoolFields fields = PoolFields::Parse(f, create ? Need::kRequired : Need::kOptional);
  for (int64_t cnode : fields.cnode_ids.value_or(std::vector<int64_t>{})) {
    if (cluster_->FindNodeById("cnode", cnode) == nullptr) {
      f.Add("cnode_ids", fmt::format("Invalid pk \"{}\" - object does not exist.", cnode));
    }
  }
  if (!f.ok()) return f.Errors();
  auto pool = Transact<VipPoolRecord>(store_, [&](Transaction& txn) -> Result<VipPoolRecord> {
    if (create) {
      VipPoolRecord p;
      fields.ApplyTo(p);
      return CreateVipPool(txn, env_, p);
    }
    ASSIGN_OR_RETURN(auto p, LoadVipPool(txn, *id));
    if (!p) return NotFound("Not found.");
    fields.ApplyTo(*p);
    return UpdateVipPool(txn, *p);
  });
  if (!pool.ok()) return WriteErrorResponse(pool.status());
  cluster_->RefreshVips();
  return rest::JsonResponse(create ? 201 : 200, VipPoolJson(*pool, base));
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
