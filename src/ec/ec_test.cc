// Tests of the erasure code (ReedSolomon) and of the stripe geometry and placement rule.
// Randomized tests print their seed; replay one with DASE_TEST_SEED=<seed>.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "ec/geometry.h"
#include "ec/reed_solomon.h"
#include "common/testing.h"

namespace dase::ec {
namespace {

using Chunks = std::vector<std::vector<uint8_t>>;
using Presence = std::array<bool, ReedSolomon::kChunksMax>;


std::unique_ptr<ReedSolomon> MakeCode(int k, int m) {
  auto rs = ReedSolomon::Create(k, m);
  CHECK(rs.ok()) << rs.status().ToString();
  return std::move(rs).value();
}

void Fill(std::vector<uint8_t>& buf, std::mt19937_64& rng) {
  size_t i = 0;
  for (; i + 8 <= buf.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(buf.data() + i, &v, 8);
  }
  for (; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(rng());
}

// A random stripe of `len`-byte chunks: k random data chunks, then their m parity chunks.
Chunks EncodedStripe(const ReedSolomon& rs, size_t len, std::mt19937_64& rng) {
  Chunks chunks(rs.width(), std::vector<uint8_t>(len));
  std::vector<const uint8_t*> data;
  std::vector<uint8_t*> parity;
  for (int i = 0; i < rs.k(); ++i) {
    Fill(chunks[i], rng);
    data.push_back(chunks[i].data());
  }
  for (int i = rs.k(); i < rs.width(); ++i) parity.push_back(chunks[i].data());
  rs.Encode(data, parity, len);
  return chunks;
}

// Overwrites the chunks in `erased_mask` of a copy of `original` with junk, reconstructs, and
// expects every chunk back. `offset` shifts every buffer to test unaligned chunks.
void ExpectRoundTrip(const ReedSolomon& rs, const Chunks& original, uint64_t erased_mask,
                     std::mt19937_64& rng, size_t offset = 0) {
  const size_t len = original[0].size();
  Chunks work(original.size(), std::vector<uint8_t>(len + offset));
  std::vector<uint8_t*> ptrs;
  Presence present{};
  for (size_t i = 0; i < original.size(); ++i) {
    present[i] = !((erased_mask >> i) & 1);
    if (present[i]) {
      std::copy(original[i].begin(), original[i].end(), work[i].begin() + offset);
    } else {
      Fill(work[i], rng);
    }
    ptrs.push_back(work[i].data() + offset);
  }
  Status s = rs.Reconstruct(ptrs, std::span<const bool>(present.data(), original.size()), len);
  ASSERT_TRUE(s.ok()) << s.ToString() << " erased=0x" << std::hex << erased_mask;
  for (size_t i = 0; i < original.size(); ++i) {
    ASSERT_TRUE(std::equal(original[i].begin(), original[i].end(), work[i].begin() + offset))
        << rs.k() << "+" << rs.m() << " chunk " << i << " erased=0x" << std::hex << erased_mask
        << " len=" << std::dec << len;
  }
}

uint64_t RandomErasures(int width, int count, std::mt19937_64& rng) {
  std::vector<int> idx(width);
  for (int i = 0; i < width; ++i) idx[i] = i;
  std::shuffle(idx.begin(), idx.end(), rng);
  uint64_t mask = 0;
  for (int i = 0; i < count; ++i) mask |= uint64_t{1} << idx[i];
  return mask;
}

// GF(2^8) with polynomial 0x11D, written independently of ISA-L to pin the documented format.
uint8_t GfMul(uint8_t a, uint8_t b) {
  uint8_t p = 0;
  for (; b; b >>= 1) {
    if (b & 1) p ^= a;
    a = static_cast<uint8_t>((a << 1) ^ ((a & 0x80) ? 0x1D : 0));
  }
  return p;
}
uint8_t GfInv(uint8_t a) {
  for (int x = 1; x < 256; ++x) {
    if (GfMul(a, static_cast<uint8_t>(x)) == 1) return static_cast<uint8_t>(x);
  }
  return 0;
}

TEST(ReedSolomonTest, CreateEnforcesLimits) {
  EXPECT_TRUE(ReedSolomon::Create(1, 1).ok());
  EXPECT_TRUE(ReedSolomon::Create(32, 8).ok());
  EXPECT_TRUE(ReedSolomon::Create(12, 4).ok());
  for (auto [k, m] : std::vector<std::pair<int, int>>{{0, 1}, {1, 0}, {33, 1}, {4, 9}, {-1, 2}}) {
    auto rs = ReedSolomon::Create(k, m);
    ASSERT_FALSE(rs.ok()) << k << "+" << m;
    EXPECT_EQ(rs.status().code(), Code::kInvalidArgument);
  }
}

// Parity byte p of a stripe is sum_j data_j * 1/((k+p) XOR j): docs/formats/stripes.md.
TEST(ReedSolomonTest, ParityMatchesDocumentedCauchyMatrix) {
  std::mt19937_64 rng(testing::TestSeed());
  for (auto [k, m] : std::vector<std::pair<int, int>>{{4, 2}, {12, 4}, {32, 4}, {32, 8}}) {
    auto rs = MakeCode(k, m);
    const Chunks c = EncodedStripe(*rs, 97, rng);
    for (int p = 0; p < m; ++p) {
      for (size_t b = 0; b < 97; ++b) {
        uint8_t want = 0;
        for (int j = 0; j < k; ++j) want ^= GfMul(c[j][b], GfInv(static_cast<uint8_t>((k + p) ^ j)));
        ASSERT_EQ(c[k + p][b], want) << k << "+" << m << " parity " << p << " byte " << b;
      }
    }
  }
}

TEST(ReedSolomonTest, EveryPatternOfAtMostMErasuresDecodes) {
  std::mt19937_64 rng(testing::TestSeed());
  for (auto [k, m] : std::vector<std::pair<int, int>>{{1, 1}, {2, 1}, {4, 2}, {6, 3}, {12, 4}}) {
    auto rs = MakeCode(k, m);
    const int n = k + m;
    int patterns = 0;
    for (uint64_t mask = 0; mask < (uint64_t{1} << n); ++mask) {
      if (std::popcount(mask) > m) continue;
      const Chunks original = EncodedStripe(*rs, 1 + rng() % 300, rng);
      ExpectRoundTrip(*rs, original, mask, rng);
      ++patterns;
      if (HasFatalFailure()) return;
    }
    std::cout << k << "+" << m << ": " << patterns << " patterns\n";
  }
}

TEST(ReedSolomonTest, RandomPatternsOfTwelvePlusFour) {
  std::mt19937_64 rng(testing::TestSeed());
  auto rs = MakeCode(12, 4);
  for (int iter = 0; iter < 300; ++iter) {
    const size_t len = 1 + rng() % (iter % 10 == 0 ? (1u << 20) : 65536);
    const Chunks original = EncodedStripe(*rs, len, rng);
    const int lost = static_cast<int>(rng() % 5);
    ExpectRoundTrip(*rs, original, RandomErasures(16, lost, rng), rng, rng() % 64);
    if (HasFatalFailure()) return;
  }
}

TEST(ReedSolomonTest, EveryCodeSizeSurvivesMErasures) {
  std::mt19937_64 rng(testing::TestSeed());
  for (int k = 1; k <= ReedSolomon::kDataChunksMax; ++k) {
    for (int m = 1; m <= ReedSolomon::kParityChunksMax && k + m <= ReedSolomon::kChunksMax; ++m) {
      auto rs = MakeCode(k, m);
      const Chunks original = EncodedStripe(*rs, 1 + rng() % 200, rng);
      for (int trial = 0; trial < 4; ++trial) {
        ExpectRoundTrip(*rs, original, RandomErasures(k + m, m, rng), rng);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(ReedSolomonTest, DataOnlyAndParityOnlyErasures) {
  std::mt19937_64 rng(testing::TestSeed());
  auto rs = MakeCode(12, 4);
  const Chunks original = EncodedStripe(*rs, 4096, rng);
  ExpectRoundTrip(*rs, original, 0xF000, rng);  // all parity
  ExpectRoundTrip(*rs, original, 0x000F, rng);  // first four data chunks
  ExpectRoundTrip(*rs, original, 0x0F00, rng);  // last four data chunks
  ExpectRoundTrip(*rs, original, 0x0801, rng);  // first and last data chunk
  ExpectRoundTrip(*rs, original, 0x8000, rng);  // one parity chunk
  ExpectRoundTrip(*rs, original, 0x0000, rng);  // nothing missing
}

TEST(ReedSolomonTest, MoreThanMErasuresIsUnavailableAndTouchesNothing) {
  std::mt19937_64 rng(testing::TestSeed());
  auto rs = MakeCode(6, 3);
  const Chunks original = EncodedStripe(*rs, 512, rng);
  for (int lost = 4; lost <= 9; ++lost) {
    Chunks work = original;
    std::vector<uint8_t*> ptrs;
    for (auto& c : work) ptrs.push_back(c.data());
    const uint64_t mask = RandomErasures(9, lost, rng);
    Presence present{};
    for (int i = 0; i < 9; ++i) present[i] = !((mask >> i) & 1);
    Status s = rs->Reconstruct(ptrs, std::span<const bool>(present.data(), 9), 512);
    EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
    EXPECT_EQ(work, original) << "a failed reconstruct wrote to a buffer";
  }
}

TEST(ReedSolomonTest, ConcurrentReconstructsShareTheCode) {
  const uint64_t seed = testing::TestSeed();
  auto rs = MakeCode(12, 4);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // More distinct patterns than the plan cache holds, so entries are evicted under load.
      std::mt19937_64 rng(seed + t);
      for (int iter = 0; iter < 200; ++iter) {
        const Chunks original = EncodedStripe(*rs, 1 + rng() % 2048, rng);
        Chunks work = original;
        const uint64_t mask = RandomErasures(16, 1 + rng() % 4, rng);
        std::vector<uint8_t*> ptrs;
        Presence present{};
        for (int i = 0; i < 16; ++i) {
          present[i] = !((mask >> i) & 1);
          if (!present[i]) std::fill(work[i].begin(), work[i].end(), 0xAB);
          ptrs.push_back(work[i].data());
        }
        Status s = rs->Reconstruct(ptrs, std::span<const bool>(present.data(), 16),
                                   original[0].size());
        if (!s.ok() || work != original) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

// ---- Geometry and placement ----

TEST(GeometryTest, DefaultClusterIsTwelvePlusFour) {
  auto g = ChooseGeometry(4, 4);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g, (Geometry{12, 4, 1u << 20}));
  EXPECT_EQ(DnodeFailuresTolerated(*g, 4), 1);
  EXPECT_EQ(DriveFailuresTolerated(*g, 4, 4), 4);
  EXPECT_EQ(DriveFailuresTolerated(*g, 4, 2), 2);  // two chunks share each drive
}

TEST(GeometryTest, RejectsClustersWithoutAFailureDomainToSpare) {
  EXPECT_EQ(ChooseGeometry(1, 4).status().code(), Code::kFailedPrecondition);
  for (auto [d, r] : std::vector<std::pair<int, int>>{{0, 4}, {-3, 4}, {kDnodesMax + 1, 4},
                                                     {4, 0}, {4, kDrivesPerDnodeMax + 1}}) {
    EXPECT_EQ(ChooseGeometry(d, r).status().code(), Code::kInvalidArgument) << d << "x" << r;
  }
}

// The table in docs/formats/stripes.md.
TEST(GeometryTest, MatchesTheDocumentedTable) {
  struct Row {
    int dnodes, k, m, dnode_failures;
  };
  const Row rows[] = {{2, 4, 4, 1},   {3, 8, 4, 1},   {4, 12, 4, 1},  {5, 16, 4, 1},
                      {6, 20, 4, 1},  {7, 24, 4, 1},  {8, 28, 4, 1},  {9, 32, 4, 1},
                      {10, 32, 4, 1}, {17, 32, 4, 1}, {18, 32, 4, 2}, {34, 32, 4, 2},
                      {35, 32, 4, 3}, {36, 32, 4, 4}, {kDnodesMax, 32, 4, 4}};
  for (const Row& row : rows) {
    auto g = ChooseGeometry(row.dnodes, 4);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_EQ(g->k, row.k) << row.dnodes;
    EXPECT_EQ(g->m, row.m) << row.dnodes;
    EXPECT_EQ(DnodeFailuresTolerated(*g, row.dnodes), row.dnode_failures) << row.dnodes;
  }
}

TEST(GeometryTest, ValidateGeometryEnforcesTheRule) {
  EXPECT_TRUE(ValidateGeometry({14, 2, 1u << 20}, 8, 4).ok());
  EXPECT_EQ(DnodeFailuresTolerated({14, 2, 1u << 20}, 8), 1);
  EXPECT_FALSE(ValidateGeometry({6, 2, 1u << 20}, 2, 4).ok());  // 4 chunks per DNode, m=2
  EXPECT_FALSE(ValidateGeometry({12, 4, 0}, 4, 4).ok());
  EXPECT_FALSE(ValidateGeometry({12, 4, 1u << 20}, 1, 4).ok());
  EXPECT_FALSE(ValidateGeometry({33, 4, 1u << 20}, 16, 4).ok());
}

// Chunks of one stripe per failure domain, from PlaceStripe itself.
int WorstCaseTolerated(std::map<std::pair<int, int>, int> per_domain, int m) {
  std::vector<int> counts;
  for (auto& [domain, c] : per_domain) counts.push_back(c);
  std::sort(counts.rbegin(), counts.rend());
  int lost = 0, f = 0;
  for (int c : counts) {
    if ((lost += c) > m) break;
    ++f;
  }
  return f;
}

void CheckPlacements(int dnodes, int drives) {
  SCOPED_TRACE(::testing::Message() << dnodes << " DNodes x " << drives << " drives");
  auto g = ChooseGeometry(dnodes, drives);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_TRUE(ReedSolomon::Create(g->k, g->m).ok());
  EXPECT_GE(DnodeFailuresTolerated(*g, dnodes), 1);
  const uint64_t period = static_cast<uint64_t>(dnodes) * drives;
  std::map<std::pair<int, int>, int> data_total, parity_total;
  for (uint64_t s = 0; s < 2 * period; ++s) {
    const std::vector<Placement> p = PlaceStripe(*g, dnodes, drives, s);
    ASSERT_EQ(p.size(), static_cast<size_t>(g->width()));
    std::map<std::pair<int, int>, int> per_dnode, per_drive;
    for (int i = 0; i < g->width(); ++i) {
      ASSERT_TRUE(p[i].dnode >= 0 && p[i].dnode < dnodes && p[i].drive >= 0 && p[i].drive < drives);
      ++per_dnode[{p[i].dnode, 0}];
      ++per_drive[{p[i].dnode, p[i].drive}];
      ++(i < g->k ? data_total : parity_total)[{p[i].dnode, p[i].drive}];
    }
    // The rule, and even spread over DNodes and over each DNode's drives.
    const int per_dnode_even = g->width() / dnodes;
    for (auto& [key, c] : per_dnode) {
      ASSERT_LE(c, g->m);
      ASSERT_TRUE(c == per_dnode_even || c == per_dnode_even + 1) << c;
      int lo = c, hi = 0;
      for (int r = 0; r < drives; ++r) {
        auto it = per_drive.find({key.first, r});
        const int n = it == per_drive.end() ? 0 : it->second;
        lo = std::min(lo, n);
        hi = std::max(hi, n);
      }
      ASSERT_LE(hi - lo, 1);
    }
    ASSERT_EQ(WorstCaseTolerated(per_dnode, g->m), DnodeFailuresTolerated(*g, dnodes));
    ASSERT_EQ(WorstCaseTolerated(per_drive, g->m), DriveFailuresTolerated(*g, dnodes, drives));
  }
  // Over whole periods every drive holds the same data and the same parity.
  const std::pair<int, int> first{0, 0};
  for (int d = 0; d < dnodes; ++d) {
    for (int r = 0; r < drives; ++r) {
      const std::pair<int, int> drive{d, r};
      ASSERT_EQ(data_total[drive], data_total[first]) << d << "/" << r;
      ASSERT_EQ(parity_total[drive], parity_total[first]) << d << "/" << r;
    }
  }
}

TEST(PlacementTest, RuleAndBalanceForEveryClusterSize) {
  for (int dnodes = 2; dnodes <= 16; ++dnodes) {
    for (int drives = 1; drives <= 8; ++drives) {
      CheckPlacements(dnodes, drives);
      if (HasFatalFailure()) return;
    }
  }
  for (int dnodes : {17, 18, 35, 36, 37, 100}) {
    CheckPlacements(dnodes, 3);
    if (HasFatalFailure()) return;
  }
}

TEST(PlacementTest, RotatesParityAndHandlesHugeStripeNumbers) {
  const Geometry g = *ChooseGeometry(4, 4);
  const std::vector<Placement> s0 = PlaceStripe(g, 4, 4, 0);
  const std::vector<Placement> s1 = PlaceStripe(g, 4, 4, 1);
  EXPECT_NE(s0[12], s1[12]);  // first parity chunk moves
  EXPECT_EQ(s0[0], (Placement{0, 0}));
  for (const Placement& p : PlaceStripe(g, 4, 4, UINT64_MAX)) {
    EXPECT_TRUE(p.dnode >= 0 && p.dnode < 4 && p.drive >= 0 && p.drive < 4);
  }
}

}  // namespace
}  // namespace dase::ec
