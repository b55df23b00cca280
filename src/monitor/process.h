// Process: starting role processes of the dase binary and describing how they ended.
//
// The monitor starts every node as a fork+exec of its own executable, never through a shell
// and never another program. Not thread-safe: call from the monitor's loop thread only.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace dase::monitor {

struct SpawnSpec {
  std::string exe;                // absolute path of the dase binary
  std::vector<std::string> argv;  // argv[0] first
  std::string log_path;           // stdout and stderr are appended here
  // (parent fd, child fd) pairs: the child sees the parent's descriptor at the child number.
  std::vector<std::pair<int, int>> inherit_fds;
};

// Starts the process in its own process group (a terminal's Ctrl-C reaches only the monitor,
// which stops nodes in order) that dies with the monitor (PR_SET_PDEATHSIG).
Result<pid_t> Spawn(const SpawnSpec& spec);

// "exited with status 1", "killed by signal 9 (Killed)".
std::string DescribeExit(int wait_status);

// The absolute path of the running executable.
Result<std::string> SelfExe();

// The last non-empty line of a log file (at most 4 KiB are read), for failure reasons.
std::string LastLogLine(const std::string& path);

// Binds a TCP listening socket (close-on-exec) for a child process to adopt. Port 0 = any.
Result<std::pair<int, uint16_t>> BindListener(const std::string& host, uint16_t port);

}  // namespace dase::monitor
