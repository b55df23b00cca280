// ec_bench: erasure-coding throughput of the default stripe (12+4, 1 MiB chunks) on this machine.
//
// Prints encode and reconstruct (1, 2 and 4 lost data chunks) throughput in GB/s (10^9 bytes/s)
// of user data: the stripe's k data chunks processed per second, i.e. the rate at which a full
// stripe is written or read degraded. One thread. Each figure is the median of several timed
// repetitions after a warm-up; memcpy of the same user data, measured in the same run, is the
// machine's reference. Never fails on a figure (bench/README.md).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "ec/geometry.h"
#include "ec/reed_solomon.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRepetitions = 9;
constexpr double kRepetitionSeconds = 0.1;

// Runs `op` in batches: one warm-up batch, then kRepetitions timed ones, each sized to take
// about kRepetitionSeconds. Returns the median GB/s for `bytes_per_op` user bytes per call.
double MedianGbPerSecond(const std::function<void()>& op, double bytes_per_op) {
  int batch = 1;
  for (;;) {  // warm-up and sizing
    const auto start = Clock::now();
    for (int i = 0; i < batch; ++i) op();
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    if (s >= kRepetitionSeconds / 4) {
      batch = std::max(1, static_cast<int>(batch * kRepetitionSeconds / s));
      break;
    }
    batch *= 2;
  }
  std::vector<double> rates;
  for (int r = 0; r < kRepetitions; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < batch; ++i) op();
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    rates.push_back(bytes_per_op * batch / s / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

const char* SimdLevel() {
  if (__builtin_cpu_supports("avx512bw")) return "AVX-512";
  if (__builtin_cpu_supports("avx2")) return "AVX2";
  if (__builtin_cpu_supports("avx")) return "AVX";
  return "SSE or base";
}

}  // namespace

int main() {
  using namespace dase::ec;
  auto geometry = ChooseGeometry(4, 4);
  if (!geometry.ok()) {
    std::fprintf(stderr, "ec_bench: %s\n", geometry.status().ToString().c_str());
    return 1;
  }
  const Geometry g = *geometry;
  auto code = ReedSolomon::Create(g.k, g.m);
  if (!code.ok()) {
    std::fprintf(stderr, "ec_bench: %s\n", code.status().ToString().c_str());
    return 1;
  }
  const ReedSolomon& rs = **code;
  const size_t len = g.chunk_bytes;
  const double user_bytes = static_cast<double>(g.data_bytes());

  std::vector<std::vector<uint8_t>> chunks(g.width(), std::vector<uint8_t>(len));
  std::mt19937_64 rng(1);
  for (int i = 0; i < g.k; ++i) {
    for (uint8_t& b : chunks[i]) b = static_cast<uint8_t>(rng());
  }
  std::vector<const uint8_t*> data;
  std::vector<uint8_t*> parity, all;
  for (int i = 0; i < g.width(); ++i) {
    all.push_back(chunks[i].data());
    if (i < g.k) data.push_back(chunks[i].data());
    else parity.push_back(chunks[i].data());
  }

  std::printf("ec_bench: %d+%d, %u KiB chunks, %.0f MiB user data per stripe; 1 thread; ISA-L "
              "with %s available; median of %d x ~%.1f s after warm-up\n",
              g.k, g.m, g.chunk_bytes / 1024, user_bytes / (1 << 20), SimdLevel(), kRepetitions,
              kRepetitionSeconds);
  std::printf("GB/s = 10^9 bytes of user data (the stripe's %d data chunks) per second\n", g.k);

  std::vector<uint8_t> copy_src(g.data_bytes(), 1), copy_dst(g.data_bytes());
  const double memcpy_gbs = MedianGbPerSecond(
      [&] { std::memcpy(copy_dst.data(), copy_src.data(), copy_src.size()); }, user_bytes);
  std::printf("  %-34s %7.2f GB/s\n", "memcpy (reference)", memcpy_gbs);

  const double encode_gbs =
      MedianGbPerSecond([&] { rs.Encode(data, parity, len); }, user_bytes);
  std::printf("  %-34s %7.2f GB/s  (%.2fx memcpy)\n", "encode", encode_gbs,
              encode_gbs / memcpy_gbs);

  for (int lost : {1, 2, 4}) {
    bool present[ReedSolomon::kChunksMax];
    std::fill(present, present + g.width(), true);
    for (int i = 0; i < lost; ++i) present[i * (g.k / lost)] = false;  // spread over the data
    bool ok = true;
    const double gbs = MedianGbPerSecond(
        [&] {
          ok = ok && rs.Reconstruct(all, std::span<const bool>(present, g.width()), len).ok();
        },
        user_bytes);
    char label[64];
    std::snprintf(label, sizeof(label), "reconstruct %d lost data chunk%s", lost,
                  lost == 1 ? "" : "s");
    std::printf("  %-34s %7.2f GB/s  (%.2fx memcpy)%s\n", label, gbs, gbs / memcpy_gbs,
                ok ? "" : "  RECONSTRUCT FAILED");
  }
  return 0;
}
