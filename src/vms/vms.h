// The VMS process: management API, cluster state, node registry.
#pragma once

#include <cstdint>

#include "control/layout.h"

namespace dase::vms {

// Serves on the sockets the monitor passes (api_fd, rpc_fd) until SIGTERM. Returns the exit code.
int RunVms(const control::Layout& layout, int api_fd, int rpc_fd, uint16_t monitor_port);

}  // namespace dase::vms
