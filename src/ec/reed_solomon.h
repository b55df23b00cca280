// ReedSolomon: a systematic k+m Reed–Solomon erasure code over GF(2^8), computed by ISA-L.
//
// A stripe is k data chunks followed by m parity chunks, all of the same length. Encode computes
// the parity from the data; Reconstruct rebuilds every missing chunk, data or parity, from any k
// present ones. The code is MDS: any m chunks may be lost.
//
// The generator matrix is the (k+m) x k matrix of ISA-L's gf_gen_cauchy1_matrix: the identity on
// top (chunks 0..k-1 are the data itself) and below it the Cauchy rows
//   G[k+p][j] = 1 / ((k+p) XOR j)   in GF(2^8) with polynomial x^8+x^4+x^3+x^2+1 (0x11D).
// Every square submatrix of a Cauchy matrix is invertible, so every pattern of at most m erasures
// decodes for every k, m in range. The Vandermonde-style gf_gen_rs_matrix does not have that
// property in general (ISA-L documents only some (k, m) as safe), so it is not used. The parity
// bytes are an on-disk format (docs/formats/stripes.md): changing the matrix changes the format.
//
// Thread-safety: after Create, every method is const and may be called concurrently. The decode
// plans cached by Reconstruct are guarded by an internal mutex; the coding itself runs unlocked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace dase::ec {

class ReedSolomon {
 public:
  static constexpr int kDataChunksMax = 32;
  static constexpr int kParityChunksMax = 8;
  static constexpr int kChunksMax = 40;  // k + m
  // Distinct erasure patterns whose decode tables are kept (least recently used goes first).
  static constexpr size_t kDecodePlansCached = 32;

  // Fails with InvalidArgument unless 1 <= k <= 32, 1 <= m <= 8 and k + m <= 40.
  static Result<std::unique_ptr<ReedSolomon>> Create(int k, int m);

  ReedSolomon(const ReedSolomon&) = delete;
  ReedSolomon& operator=(const ReedSolomon&) = delete;
  ~ReedSolomon();

  int k() const { return k_; }
  int m() const { return m_; }
  int width() const { return k_ + m_; }

  // Computes the m parity chunks of the k data chunks. Every buffer holds `len` bytes; parity
  // buffers must not overlap data buffers. Sizes of the spans, len == 0 and len > INT_MAX are
  // programmer errors (CHECK).
  void Encode(std::span<const uint8_t* const> data, std::span<uint8_t* const> parity,
              size_t len) const;

  // `chunks` holds all k + m buffers of `len` bytes, in stripe order (data, then parity);
  // present[i] says whether chunks[i] holds valid content. Overwrites every missing chunk with
  // its content; present chunks are only read. Returns Unavailable when fewer than k chunks are
  // present (the stripe cannot be decoded; the caller knows whether that is an outage or
  // corruption and may report it as such).
  Status Reconstruct(std::span<uint8_t* const> chunks, std::span<const bool> present,
                     size_t len) const;

 private:
  // The tables that rebuild the chunks missing in one erasure pattern from k present ones.
  struct DecodePlan {
    std::vector<int> sources;  // k present chunk indices, ascending
    std::vector<int> targets;  // the missing chunk indices, ascending
    std::vector<uint8_t> tables;  // ec_init_tables of the targets x k decode matrix
  };
  struct CachedPlan {
    uint64_t present_mask = 0;
    uint64_t last_use = 0;
    std::shared_ptr<const DecodePlan> plan;
  };

  ReedSolomon(int k, int m);
  Result<std::shared_ptr<const DecodePlan>> PlanFor(uint64_t present_mask) const;
  Result<std::shared_ptr<const DecodePlan>> BuildPlan(uint64_t present_mask) const;

  const int k_;
  const int m_;
  std::vector<uint8_t> matrix_;  // (k+m) x k generator matrix, row-major
  std::vector<uint8_t> encode_tables_;  // ec_init_tables of the m parity rows

  mutable std::mutex mu_;
  mutable std::vector<CachedPlan> plans_;  // guarded by mu_; at most kDecodePlansCached
  mutable uint64_t use_clock_ = 0;         // guarded by mu_
};

}  // namespace dase::ec
