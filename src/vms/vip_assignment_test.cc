#include "vms/vip_assignment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "common/testing.h"

namespace dase::vms {
namespace {

std::vector<std::string> Vips(int n, const std::string& prefix = "127.0.10.") {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

std::vector<std::string> Cnodes(std::initializer_list<int> numbers) {
  std::vector<std::string> out;
  for (int i : numbers) out.push_back("cnode-" + std::to_string(i));
  return out;
}

std::map<std::string, std::set<std::string>> ByCnode(const VipAssignment& a) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [vip, cnode] : a) out[cnode].insert(vip);
  return out;
}

std::map<std::string, size_t> Counts(const VipAssignment& a) {
  std::map<std::string, size_t> out;
  for (const auto& [vip, cnode] : a) out[cnode]++;
  return out;
}

size_t Moved(const VipAssignment& before, const VipAssignment& after) {
  size_t moved = 0;
  for (const auto& [vip, cnode] : after) {
    auto it = before.find(vip);
    if (it != before.end() && it->second != cnode) moved++;
  }
  return moved;
}

TEST(VipAssignmentTest, SpreadsEvenly) {
  VipPoolSpec pool{1, Vips(8), {}, true};
  VipAssignment a = AssignVips({pool}, Cnodes({1, 2, 3, 4}), {});
  EXPECT_EQ(a.size(), 8u);
  for (const auto& [cnode, n] : Counts(a)) EXPECT_EQ(n, 2u) << cnode;
  // Unchanged inputs give the same assignment.
  EXPECT_EQ(AssignVips({pool}, Cnodes({1, 2, 3, 4}), a), a);
}

TEST(VipAssignmentTest, UnevenCountsDifferByAtMostOne) {
  VipPoolSpec pool{1, Vips(3), {}, true};
  VipAssignment a = AssignVips({pool}, Cnodes({1, 2, 3, 4}), {});
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(Counts(a).size(), 3u);  // three CNodes hold one each, the fourth none
  VipPoolSpec big{1, Vips(7), {}, true};
  auto counts = Counts(AssignVips({big}, Cnodes({1, 2, 3}), {}));
  EXPECT_EQ(counts["cnode-1"] + counts["cnode-2"] + counts["cnode-3"], 7u);
  for (const auto& [cnode, n] : counts) EXPECT_TRUE(n == 2 || n == 3) << cnode;
}

TEST(VipAssignmentTest, ALeavingCnodesVipsMoveAndNothingElse) {
  VipPoolSpec pool{1, Vips(8), {}, true};
  VipAssignment before = AssignVips({pool}, Cnodes({1, 2, 3, 4}), {});
  VipAssignment after = AssignVips({pool}, Cnodes({1, 2, 4}), before);
  EXPECT_EQ(after.size(), 8u);
  auto was = ByCnode(before);
  auto now = ByCnode(after);
  EXPECT_EQ(now.count("cnode-3"), 0u);
  for (const char* c : {"cnode-1", "cnode-2", "cnode-4"}) {
    EXPECT_TRUE(std::includes(now[c].begin(), now[c].end(), was[c].begin(), was[c].end())) << c;
  }
  EXPECT_EQ(Moved(before, after), 2u);  // exactly cnode-3's two
  auto counts = Counts(after);
  EXPECT_EQ(counts["cnode-1"] + counts["cnode-2"] + counts["cnode-4"], 8u);
  for (const auto& [c, n] : counts) EXPECT_TRUE(n == 2 || n == 3) << c;
}

TEST(VipAssignmentTest, AReturningCnodeTakesOnlyItsShare) {
  VipPoolSpec pool{1, Vips(8), {}, true};
  VipAssignment three = AssignVips({pool}, Cnodes({1, 2, 4}), {});
  VipAssignment four = AssignVips({pool}, Cnodes({1, 2, 3, 4}), three);
  for (const auto& [c, n] : Counts(four)) EXPECT_EQ(n, 2u) << c;
  EXPECT_EQ(Moved(three, four), 2u);  // cnode-3 gets 2; the others only give
  auto was = ByCnode(three);
  auto now = ByCnode(four);
  for (const char* c : {"cnode-1", "cnode-2", "cnode-4"}) {
    EXPECT_TRUE(std::includes(was[c].begin(), was[c].end(), now[c].begin(), now[c].end())) << c;
  }
}

TEST(VipAssignmentTest, NoActiveCnodeNoVips) {
  VipPoolSpec pool{1, Vips(8), {}, true};
  EXPECT_TRUE(AssignVips({pool}, {}, {}).empty());
  VipAssignment a = AssignVips({pool}, Cnodes({1}), {});
  EXPECT_EQ(Counts(a)["cnode-1"], 8u);
  EXPECT_TRUE(AssignVips({pool}, {}, a).empty());
}

TEST(VipAssignmentTest, DedicatedAndDisabledPools) {
  VipPoolSpec dedicated{1, Vips(4), Cnodes({2, 3}), true};
  VipPoolSpec disabled{2, Vips(4, "127.0.11."), {}, false};
  VipAssignment a = AssignVips({dedicated, disabled}, Cnodes({1, 2, 3, 4}), {});
  auto counts = Counts(a);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts["cnode-2"], 2u);
  EXPECT_EQ(counts["cnode-3"], 2u);
  // Dedicated CNodes gone: the pool is dark rather than on CNodes it does not belong to.
  EXPECT_TRUE(AssignVips({dedicated}, Cnodes({1, 4}), a).empty());
}

TEST(VipAssignmentTest, SeveralPoolsSpreadTheTotal) {
  VipPoolSpec a{1, Vips(1), {}, true};
  VipPoolSpec b{2, Vips(1, "127.0.11."), {}, true};
  VipPoolSpec c{3, Vips(1, "127.0.12."), {}, true};
  auto counts = Counts(AssignVips({a, b, c}, Cnodes({1, 2, 3}), {}));
  for (const auto& [cnode, n] : counts) EXPECT_EQ(n, 1u) << cnode;
  EXPECT_EQ(counts.size(), 3u);
}

TEST(VipAssignmentTest, ForgetsVipsThatLeftThePool) {
  VipAssignment stale = {{"127.0.99.1", "cnode-1"}, {"127.0.10.1", "cnode-9"}};
  VipAssignment a = AssignVips({VipPoolSpec{1, Vips(2), {}, true}}, Cnodes({1, 2}), stale);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(a.count("127.0.99.1"), 0u);
  EXPECT_EQ(Counts(a)["cnode-1"], 1u);
}

// Random sequences of CNodes coming and going: always balanced, and every CNode that stays
// eligible only gains or only loses VIPs (which is what "move no more than needed" means).
TEST(VipAssignmentTest, RandomChurnStaysBalancedAndMinimal) {
  std::mt19937_64 rng(testing::TestSeed());
  for (int round = 0; round < 200; ++round) {
    int n_vips = 1 + static_cast<int>(rng() % 20);
    int n_cnodes = 1 + static_cast<int>(rng() % 8);
    VipPoolSpec pool{1, Vips(n_vips), {}, true};
    VipAssignment current;
    for (int step = 0; step < 20; ++step) {
      std::vector<std::string> active;
      for (int c = 1; c <= n_cnodes; ++c) {
        if (rng() % 3 != 0) active.push_back("cnode-" + std::to_string(c));
      }
      VipAssignment next = AssignVips({pool}, active, current);
      if (active.empty()) {
        ASSERT_TRUE(next.empty());
      } else {
        ASSERT_EQ(next.size(), static_cast<size_t>(n_vips));
        size_t lo = n_vips / active.size();
        size_t hi = lo + (n_vips % active.size() != 0 ? 1 : 0);
        auto counts = Counts(next);
        for (const std::string& c : active) {
          ASSERT_TRUE(counts[c] == lo || counts[c] == hi) << c << " holds " << counts[c];
        }
        auto was = ByCnode(current);
        auto now = ByCnode(next);
        for (const std::string& c : active) {
          bool gains = std::includes(now[c].begin(), now[c].end(), was[c].begin(), was[c].end());
          bool loses = std::includes(was[c].begin(), was[c].end(), now[c].begin(), now[c].end());
          ASSERT_TRUE(gains || loses) << c << " both gave and took VIPs (round " << round << ")";
        }
      }
      current = next;
    }
  }
}

}  // namespace
}  // namespace dase::vms
