// Monitor: the supervisor of one loopback cluster.
//
// It holds the data directory's lock, binds the VMS sockets (so the API and the internal RPC
// keep their ports across VMS restarts: connections wait in the backlog instead of failing),
// starts the VMS, and starts or stops node processes when the VMS asks (activation and
// deactivation are the VMS's decisions; keeping processes alive is the monitor's). A process
// that dies is restarted with capped exponential backoff and jitter; one that keeps dying ends
// FAILED and stays down until activated again. Every change is reported to the VMS as a full
// snapshot. Graceful stop: CNodes, then DNodes, then the VMS; a second signal forces.
//
// Thread-safety: runs on one single-threaded io_context; not thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/asio.h"
#include "common/result.h"
#include "control/config.h"
#include "control/layout.h"
#include "env/env.h"

namespace dase::monitor {

class Monitor {
 public:
  virtual ~Monitor() = default;
  static Result<std::unique_ptr<Monitor>> Create(asio::io_context& io, env::Env* env,
                                                 control::Layout layout,
                                                 control::ClusterConfig config);
  // Runs until the cluster has stopped (after SIGINT/SIGTERM); returns the exit code.
  virtual awaitable<int> Run() = 0;
};

// The whole `up` foreground process: lock, config, monitor, loop. Returns the exit code.
int RunMonitor(const control::Layout& layout, const control::ClusterConfig& config);

}  // namespace dase::monitor
