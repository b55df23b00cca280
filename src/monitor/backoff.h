// Restart backoff: how long the monitor waits before restarting a process that died.
//
// Capped exponential with jitter: initial * 2^(failures-1), at most max, then scaled by a
// factor in [0.8, 1.2) so processes that died together do not restart in lockstep. Pure.
#pragma once

#include <algorithm>
#include <cstdint>

#include "control/config.h"

namespace dase::monitor {

// `failures` counts consecutive quick failures (>= 1); `random` is any uniformly random value.
inline int64_t RestartDelayMs(const control::RestartPolicy& policy, int failures,
                              uint64_t random) {
  int64_t delay = policy.backoff_initial_ms;
  for (int i = 1; i < failures && delay < policy.backoff_max_ms; ++i) delay *= 2;
  delay = std::min(delay, policy.backoff_max_ms);
  // Jitter in [0.8, 1.2), in thousandths.
  int64_t permille = 800 + static_cast<int64_t>(random % 400);
  return delay * permille / 1000;
}

// The outcome of a process exit under the policy.
enum class ExitVerdict { kRestart, kGiveUp };

inline ExitVerdict JudgeExit(const control::RestartPolicy& policy, int failures) {
  return failures >= policy.max_failures ? ExitVerdict::kGiveUp : ExitVerdict::kRestart;
}

}  // namespace dase::monitor
