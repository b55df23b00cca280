// Logging: one line per event to stderr, which the monitor sends to the node's log file.
//
// Lines look like "2026-11-24T09:30:00.123Z I cnode-1 message". Repeated lines (the same
// message from the same call site) are rate-limited: at most kLogBurst per kLogWindowSeconds,
// then one summary of how many were suppressed. Thread-safe.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace dase::log {

enum class Level { kDebug, kInfo, kWarning, kError };

inline constexpr int kLogBurst = 5;
inline constexpr int kLogWindowSeconds = 10;

// Names the process in every line ("monitor", "vms", "cnode-2").
void SetProcessName(std::string_view name);
void SetMinLevel(Level level);

// `site` identifies the call site for rate limiting; the macros pass __FILE__ and __LINE__.
void Write(Level level, const char* file, int line, std::string_view message);

}  // namespace dase::log

#define DASE_LOG(level, ...) \
  ::dase::log::Write(level, __FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
#define LOG_DEBUG(...) DASE_LOG(::dase::log::Level::kDebug, __VA_ARGS__)
#define LOG_INFO(...) DASE_LOG(::dase::log::Level::kInfo, __VA_ARGS__)
#define LOG_WARN(...) DASE_LOG(::dase::log::Level::kWarning, __VA_ARGS__)
#define LOG_ERROR(...) DASE_LOG(::dase::log::Level::kError, __VA_ARGS__)
