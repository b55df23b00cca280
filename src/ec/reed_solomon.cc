#include "ec/reed_solomon.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string>

#include "common/check.h"

namespace dase::ec {
namespace {

// ec_init_tables expands every coefficient into 32 bytes of lookup tables.
constexpr size_t kTableBytesPerCoefficient = 32;

void CheckLength(size_t len) {
  CHECK(len > 0) << "empty chunks";
  CHECK(len <= static_cast<size_t>(INT_MAX)) << "chunk of " << len << " bytes";
}

}  // namespace

Result<std::unique_ptr<ReedSolomon>> ReedSolomon::Create(int k, int m) {
  if (k < 1 || k > kDataChunksMax || m < 1 || m > kParityChunksMax || k + m > kChunksMax) {
    return InvalidArgument("reed-solomon " + std::to_string(k) + "+" + std::to_string(m) +
                           ": need 1 <= k <= " + std::to_string(kDataChunksMax) +
                           ", 1 <= m <= " + std::to_string(kParityChunksMax) +
                           ", k + m <= " + std::to_string(kChunksMax));
  }
  return std::unique_ptr<ReedSolomon>(new ReedSolomon(k, m));
}

ReedSolomon::ReedSolomon(int k, int m)
    : k_(k),
      m_(m),
      matrix_(static_cast<size_t>(k + m) * k),
      encode_tables_(kTableBytesPerCoefficient * k * m) {
  gf_gen_cauchy1_matrix(matrix_.data(), k + m, k);
  ec_init_tables(k, m, matrix_.data() + static_cast<size_t>(k) * k, encode_tables_.data());
}

ReedSolomon::~ReedSolomon() = default;

void ReedSolomon::Encode(std::span<const uint8_t* const> data, std::span<uint8_t* const> parity,
                         size_t len) const {
  CHECK(data.size() == static_cast<size_t>(k_)) << data.size() << " data chunks for k=" << k_;
  CHECK(parity.size() == static_cast<size_t>(m_)) << parity.size() << " parity for m=" << m_;
  CheckLength(len);
  std::array<uint8_t*, kDataChunksMax> in;
  std::array<uint8_t*, kParityChunksMax> out;
  for (int i = 0; i < k_; ++i) {
    CHECK(data[i] != nullptr);
    // ISA-L's signature is not const-correct; it only reads the sources.
    in[i] = const_cast<uint8_t*>(data[i]);
  }
  for (int i = 0; i < m_; ++i) {
    CHECK(parity[i] != nullptr);
    out[i] = parity[i];
  }
  ec_encode_data(static_cast<int>(len), k_, m_, const_cast<uint8_t*>(encode_tables_.data()),
                 in.data(), out.data());
}

Status ReedSolomon::Reconstruct(std::span<uint8_t* const> chunks, std::span<const bool> present,
                                size_t len) const {
  const size_t n = static_cast<size_t>(width());
  CHECK(chunks.size() == n) << chunks.size() << " chunks for a " << k_ << "+" << m_ << " stripe";
  CHECK(present.size() == n) << present.size() << " presence flags for " << n << " chunks";
  CheckLength(len);
  uint64_t present_mask = 0;
  int present_count = 0;
  for (size_t i = 0; i < n; ++i) {
    CHECK(chunks[i] != nullptr) << "chunk " << i;
    if (present[i]) {
      present_mask |= uint64_t{1} << i;
      ++present_count;
    }
  }
  if (present_count == width()) return Status::Ok();
  if (present_count < k_) {
    return Unavailable(std::to_string(width() - present_count) + " of " + std::to_string(n) +
                       " chunks missing; a " + std::to_string(k_) + "+" + std::to_string(m_) +
                       " stripe can rebuild at most " + std::to_string(m_));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const DecodePlan> plan, PlanFor(present_mask));

  std::array<uint8_t*, kDataChunksMax> in;
  std::array<uint8_t*, kChunksMax> out;
  for (int i = 0; i < k_; ++i) in[i] = chunks[plan->sources[i]];
  const int targets = static_cast<int>(plan->targets.size());
  for (int i = 0; i < targets; ++i) out[i] = chunks[plan->targets[i]];
  ec_encode_data(static_cast<int>(len), k_, targets, const_cast<uint8_t*>(plan->tables.data()),
                 in.data(), out.data());
  return Status::Ok();
}

Result<std::shared_ptr<const ReedSolomon::DecodePlan>> ReedSolomon::PlanFor(
    uint64_t present_mask) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (CachedPlan& cached : plans_) {
      if (cached.present_mask == present_mask) {
        cached.last_use = ++use_clock_;
        return cached.plan;
      }
    }
  }
  // Built unlocked: a few microseconds of matrix work that other patterns need not wait for.
  ASSIGN_OR_RETURN(std::shared_ptr<const DecodePlan> plan, BuildPlan(present_mask));
  std::lock_guard<std::mutex> lock(mu_);
  for (const CachedPlan& cached : plans_) {
    if (cached.present_mask == present_mask) return cached.plan;  // another thread won
  }
  if (plans_.size() < kDecodePlansCached) {
    plans_.push_back({present_mask, ++use_clock_, plan});
  } else {
    auto oldest = std::min_element(plans_.begin(), plans_.end(), [](const auto& a, const auto& b) {
      return a.last_use < b.last_use;
    });
    *oldest = {present_mask, ++use_clock_, plan};
  }
  return plan;
}

// Decoding: take the first k present chunks as sources. Their rows of the generator matrix form
// a k x k matrix S with S * data = sources, so data = S^-1 * sources. A missing data chunk j is
// row j of S^-1 applied to the sources; a missing parity chunk t is G[t] * S^-1.
Result<std::shared_ptr<const ReedSolomon::DecodePlan>> ReedSolomon::BuildPlan(
    uint64_t present_mask) const {
  auto plan = std::make_shared<DecodePlan>();
  for (int i = 0; i < width(); ++i) {
    const bool is_present = (present_mask >> i) & 1;
    if (is_present && static_cast<int>(plan->sources.size()) < k_) {
      plan->sources.push_back(i);
    } else if (!is_present) {
      plan->targets.push_back(i);
    }
  }
  CHECK(static_cast<int>(plan->sources.size()) == k_);

  const size_t kk = static_cast<size_t>(k_);
  std::vector<uint8_t> s(kk * kk);
  std::vector<uint8_t> s_inv(kk * kk);
  for (size_t r = 0; r < kk; ++r) {
    std::copy_n(matrix_.begin() + plan->sources[r] * kk, kk, s.begin() + r * kk);
  }
  if (gf_invert_matrix(s.data(), s_inv.data(), k_) != 0) {
    // Impossible for a Cauchy generator: every k rows of it are independent.
    return Internal("reed-solomon decode matrix is singular");
  }

  std::vector<uint8_t> decode(plan->targets.size() * kk);
  for (size_t t = 0; t < plan->targets.size(); ++t) {
    const size_t target = static_cast<size_t>(plan->targets[t]);
    uint8_t* row = decode.data() + t * kk;
    if (target < kk) {
      std::copy_n(s_inv.begin() + target * kk, kk, row);
      continue;
    }
    const uint8_t* g = matrix_.data() + target * kk;
    for (size_t j = 0; j < kk; ++j) {
      uint8_t v = 0;
      for (size_t l = 0; l < kk; ++l) v ^= gf_mul(g[l], s_inv[l * kk + j]);
      row[j] = v;
    }
  }
  plan->tables.resize(kTableBytesPerCoefficient * decode.size());
  ec_init_tables(k_, static_cast<int>(plan->targets.size()), decode.data(), plan->tables.data());
  return std::shared_ptr<const DecodePlan>(std::move(plan));
}

}  // namespace dase::ec
