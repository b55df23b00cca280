// VIP assignment: which ACTIVE CNode holds which virtual IP. A pure function of the pools, the
// CNodes that may hold VIPs now, and the previous assignment, so it is tested without a
// cluster.
//
// Rules, per pool (pools in the order given):
//   - only ACTIVE CNodes hold VIPs (of a pool with `cnodes`, only those of them); with none, the
//     pool's VIPs are unassigned;
//   - the VIPs are spread evenly: every eligible CNode holds floor(n/k) or ceil(n/k) of them;
//   - stability: a VIP stays where it is unless its holder is no longer eligible or holds more
//     than its share. The CNodes that already hold the most keep the larger shares, so each
//     CNode only gains or only loses VIPs and no more VIPs move than balance requires;
//   - ties go to the CNode that holds fewer VIPs of the earlier pools, then to the earlier one
//     in `active_cnodes`, so several pools spread over the CNodes too.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace dase::vms {

struct VipPoolSpec {
  int64_t id = 0;
  std::vector<std::string> vips;    // in pool order
  std::vector<std::string> cnodes;  // the CNodes dedicated to the pool; empty: every CNode
  bool enabled = true;
};

// VIP → the name of the CNode that holds it. A VIP that no CNode holds is absent.
using VipAssignment = std::map<std::string, std::string>;

// `active_cnodes`: the names of the CNodes that may hold VIPs (ACTIVE), in id order.
VipAssignment AssignVips(const std::vector<VipPoolSpec>& pools,
                         const std::vector<std::string>& active_cnodes,
                         const VipAssignment& previous);

}  // namespace dase::vms
