#include "common/log.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>

namespace dase::log {
namespace {

struct SiteState {
  long window_start_s = 0;
  int count = 0;
  int suppressed = 0;
};

struct Logger {
  std::mutex mu;
  std::string name = "dase";
  Level min_level = Level::kInfo;
  std::unordered_map<std::string, SiteState> sites;
};

Logger& Instance() {
  static Logger* logger = new Logger();  // never destroyed: usable during exit
  return *logger;
}

char LevelChar(Level level) {
  switch (level) {
    case Level::kDebug: return 'D';
    case Level::kInfo: return 'I';
    case Level::kWarning: return 'W';
    case Level::kError: return 'E';
  }
  return '?';
}

// Log timestamps are for humans reading files, so they read the wall clock directly rather
// than through Env: a fake clock in a test must not make log lines lie about real time.
std::string Timestamp(long* seconds) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  *seconds = ts.tv_sec;
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
}

void Emit(const std::string& line) {
  // One write(2) per line keeps lines whole when several threads log at once.
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

}  // namespace

void SetProcessName(std::string_view name) {
  Logger& l = Instance();
  std::lock_guard lock(l.mu);
  l.name = std::string(name);
}

void SetMinLevel(Level level) {
  Logger& l = Instance();
  std::lock_guard lock(l.mu);
  l.min_level = level;
}

void Write(Level level, const char* file, int line, std::string_view message) {
  Logger& l = Instance();
  std::lock_guard lock(l.mu);
  if (level < l.min_level) return;
  long now_s = 0;
  std::string ts = Timestamp(&now_s);
  // Identical lines from one call site are what floods a log (a crash loop, a retry loop);
  // different messages from one site (each node's state change) all get through.
  if (l.sites.size() > 4096) l.sites.clear();  // bounded: a burst of distinct lines resets it
  SiteState& site = l.sites[fmt::format("{}:{}:{}", file, line, message)];
  if (now_s - site.window_start_s >= kLogWindowSeconds) {
    if (site.suppressed > 0) {
      Emit(fmt::format("{} {} {} (suppressed {} similar lines from {}:{})\n", ts,
                       LevelChar(level), l.name, site.suppressed, file, line));
    }
    site = SiteState{now_s, 0, 0};
  }
  if (++site.count > kLogBurst) {
    ++site.suppressed;
    return;
  }
  Emit(fmt::format("{} {} {} {}\n", ts, LevelChar(level), l.name, message));
}

}  // namespace dase::log
