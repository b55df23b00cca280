#include "vms/vip_assignment.h"

#include <algorithm>
#include <tuple>

namespace dase::vms {

namespace {

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

VipAssignment AssignVips(const std::vector<VipPoolSpec>& pools,
                         const std::vector<std::string>& active_cnodes,
                         const VipAssignment& previous) {
  VipAssignment out;
  std::map<std::string, size_t> rank;   // position in active_cnodes
  std::map<std::string, size_t> total;  // VIPs held of the pools done so far
  for (size_t i = 0; i < active_cnodes.size(); ++i) rank.emplace(active_cnodes[i], i);

  for (const VipPoolSpec& pool : pools) {
    if (!pool.enabled || pool.vips.empty()) continue;
    std::vector<std::string> eligible;
    for (const std::string& c : active_cnodes) {
      if (pool.cnodes.empty() || Contains(pool.cnodes, c)) eligible.push_back(c);
    }
    if (eligible.empty()) continue;

    std::map<std::string, std::vector<std::string>> kept;  // each eligible holder's VIPs
    std::vector<size_t> loose;                             // positions in pool.vips
    for (size_t i = 0; i < pool.vips.size(); ++i) {
      auto it = previous.find(pool.vips[i]);
      if (it != previous.end() && Contains(eligible, it->second)) {
        kept[it->second].push_back(pool.vips[i]);
      } else {
        loose.push_back(i);
      }
    }

    // The n % k larger shares go to the CNodes that keep the most: nobody then has to give up
    // a VIP only for another to take one.
    const size_t n = pool.vips.size();
    const size_t k = eligible.size();
    std::vector<std::string> order = eligible;
    std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
      return std::make_tuple(-static_cast<int64_t>(kept[a].size()), total[a], rank[a]) <
             std::make_tuple(-static_cast<int64_t>(kept[b].size()), total[b], rank[b]);
    });
    std::map<std::string, size_t> quota;
    for (size_t i = 0; i < order.size(); ++i) quota[order[i]] = n / k + (i < n % k ? 1 : 0);

    std::map<std::string, size_t> count;
    std::map<std::string, size_t> position;
    for (size_t i = 0; i < pool.vips.size(); ++i) position.emplace(pool.vips[i], i);
    for (const std::string& c : eligible) {
      const std::vector<std::string>& mine = kept[c];
      for (size_t j = 0; j < mine.size(); ++j) {
        if (j < quota[c]) {
          out[mine[j]] = c;
          count[c]++;
        } else {
          loose.push_back(position[mine[j]]);
        }
      }
    }
    std::sort(loose.begin(), loose.end());
    for (size_t i : loose) {
      const std::string* best = nullptr;
      for (const std::string& c : eligible) {
        if (count[c] >= quota[c]) continue;
        if (best == nullptr || std::make_tuple(count[c], total[c], rank[c]) <
                                   std::make_tuple(count[*best], total[*best], rank[*best])) {
          best = &c;
        }
      }
      if (best == nullptr) break;  // cannot happen: the quotas add up to n
      out[pool.vips[i]] = *best;
      count[*best]++;
    }
    for (const std::string& c : eligible) total[c] += count[c];
  }
  return out;
}

}  // namespace dase::vms
