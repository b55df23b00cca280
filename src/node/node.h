// Node: the process of one CNode or DNode.
//
// For now a node registers with the VMS (hello), does its activation work, and then sends a
// heartbeat every interval. The heartbeat timer doubles as the event-loop watchdog: when it
// fires late by more than the stall threshold, the stall is logged and reported to the VMS as
// an event and a metric, never a reason to kill anything. SIGTERM stops the node gracefully.
// The data plane (drives, element store, protocols) attaches here in later components.
#pragma once

#include <cstdint>
#include <string>

#include "control/layout.h"

namespace dase::node {

// Runs the node until SIGTERM/SIGINT; returns the process exit code.
int RunNode(const std::string& role, const control::Layout& layout, const std::string& name,
            uint16_t vms_port);

}  // namespace dase::node
