// ClusterManager's inputs: node messages, monitor snapshots, ticks and management requests.
#include <fmt/format.h>

#include "common/log.h"
#include "vms/cluster_manager.h"
#include "vms/records.h"

namespace dase::vms {

using control::ProcessInfo;
using control::ProcessPhase;

Status ClusterManager::OnHello(const control::NodeHello& m) {
  NodeRecord* node = MutableNode(m.name);
  if (node == nullptr || node->role != m.role) {
    return NotFound(fmt::format("no {} named {} in this cluster", m.role, m.name));
  }
  if (!node->enabled) return FailedPrecondition(m.name + " is deactivated");
  node->incarnation = m.incarnation;
  node->pid = m.pid;
  node->rpc_port = m.rpc_port;
  map_version_++;  // a new address, even when the state text does not change
  node->stalls = 0;
  node->max_stall_ms = 0;
  last_heartbeat_us_[m.name] = env_->MonotonicMicros();
  std::string reason = fmt::format("node registered (pid {}), activating", m.pid);
  if (node->state == NodeState::kActivating && node->reason == reason) return Status::Ok();
  node->reason.clear();  // force the transition to persist the new incarnation
  Transition(*node, NodeState::kActivating, std::move(reason));
  return Status::Ok();
}

Status ClusterManager::OnHeartbeat(const control::NodeHeartbeat& m) {
  NodeRecord* node = MutableNode(m.name);
  if (node == nullptr) return NotFound("no node named " + m.name);
  if (node->incarnation.empty() || node->incarnation != m.incarnation) {
    return FailedPrecondition("unknown incarnation of " + m.name + ": say hello first");
  }
  last_heartbeat_us_[m.name] = env_->MonotonicMicros();
  drives_[m.name] = m.drives;
  if (m.stalls > node->stalls) {
    node->stalls = m.stalls;
    node->max_stall_ms = m.max_stall_ms;
    AddEvent(node->role, node->name, "STALL", "MINOR",
             fmt::format("event loop stalled ({} stalls so far, longest {} ms)", m.stalls,
                         m.max_stall_ms));
    Persist({{NodeKey(node->name), EncodeText(*node)}});
  }
  if (m.ready && node->enabled &&
      (node->state == NodeState::kActivating || node->state == NodeState::kFailing)) {
    Transition(*node, NodeState::kActive,
               node->state == NodeState::kFailing ? "heartbeats resumed" : "node ready");
  }
  return Status::Ok();
}

Status ClusterManager::OnGoodbye(const control::NodeGoodbye& m) {
  NodeRecord* node = MutableNode(m.name);
  if (node == nullptr) return NotFound("no node named " + m.name);
  if (node->incarnation != m.incarnation) return Status::Ok();  // an old incarnation: ignore
  node->incarnation.clear();
  if (node->state == NodeState::kDeactivating || !node->enabled) {
    Transition(*node, NodeState::kInactive, "deactivated");
  } else if (monitor_shutting_down_) {
    Transition(*node, NodeState::kInactive, "cluster shutdown");
  } else {
    Transition(*node, NodeState::kFailing, "node process is stopping");
  }
  return Status::Ok();
}

void ClusterManager::ApplyProcess(NodeRecord& node, const ProcessInfo& p) {
  auto prev_it = processes_.find(node.name);
  std::optional<ProcessInfo> prev;
  if (prev_it != processes_.end()) prev = prev_it->second;
  processes_[node.name] = p;
  bool new_exit = prev && p.exits > prev->exits;
  if (p.phase != ProcessPhase::kRunning && node.rpc_port != 0) {
    node.rpc_port = 0;  // no process: the cluster map must not advertise a dead address
    map_version_++;
  }
  if (new_exit && node.enabled && !monitor_shutting_down_) {
    node.restarts += p.exits - prev->exits;
    node.incarnation.clear();
    node.pid = 0;
    if (p.phase == ProcessPhase::kFailed) {
      Transition(node, NodeState::kFailed, p.reason);
    } else {
      Transition(node, NodeState::kFailing,
                 fmt::format("process {}; restarting in {} ms", p.last_exit, p.next_start_ms));
    }
    return;
  }
  switch (p.phase) {
    case ProcessPhase::kFailed:
      if (node.enabled) Transition(node, NodeState::kFailed, p.reason);
      break;
    case ProcessPhase::kRunning:
      // A process the node has not yet said hello from (hello sets node.pid).
      if (node.enabled && p.pid != node.pid && node.state != NodeState::kActivating) {
        node.incarnation.clear();
        Transition(node, NodeState::kActivating, fmt::format("process started (pid {})", p.pid));
      }
      break;
    case ProcessPhase::kStopped:
      node.incarnation.clear();
      node.pid = 0;
      if (!node.enabled || node.state == NodeState::kDeactivating) {
        Transition(node, NodeState::kInactive, "deactivated");
      } else if (monitor_shutting_down_) {
        Transition(node, NodeState::kInactive, "cluster shutdown");
      } else if (node.state != NodeState::kActivating) {
        Transition(node, NodeState::kActivating, "waiting for the monitor to start the process");
      }
      break;
    case ProcessPhase::kBackoff:
    case ProcessPhase::kStopping:
      break;
  }
}

void ClusterManager::OnMonitorReport(const control::MonitorReport& report) {
  bool first = processes_.empty();
  monitor_shutting_down_ = report.shutting_down;
  for (const ProcessInfo& p : report.processes) {
    if (p.role == "vms") {
      // The first VMS a monitor starts is a cluster start, not a VMS restart.
      if (first && p.starts == 1) activated_once_ = false;
      processes_[p.name] = p;
      continue;
    }
    if (NodeRecord* node = MutableNode(p.name)) ApplyProcess(*node, p);
  }
  EvaluateCluster();
}

void ClusterManager::Tick() {
  int64_t now = env_->MonotonicMicros();
  for (NodeRecord& n : nodes_) {
    bool watched = !n.incarnation.empty() &&
                   (n.state == NodeState::kActive || n.state == NodeState::kActivating);
    int64_t silent_ms = (now - last_heartbeat_us_[n.name]) / 1000;
    if (watched && silent_ms > config_.heartbeat_timeout_ms) {
      Transition(n, NodeState::kFailing, fmt::format("no heartbeat for {} ms", silent_ms));
    }
  }
  int64_t wall = env_->NowMicros();
  for (auto& [id, task] : tasks_) {
    if (task.state == "RUNNING" && wall - task.start_us > task.timeout_s * 1000000) {
      FinishTask(task, "FAILED", fmt::format("timed out after {} s", task.timeout_s));
    }
  }
}

Result<TaskRecord> ClusterManager::SetEnabled(const std::string& name, bool enabled) {
  NodeRecord* node = MutableNode(name);
  if (node == nullptr) return NotFound("no node named " + name);
  if (monitor_shutting_down_) return FailedPrecondition("the cluster is shutting down");
  for (auto& [id, t] : tasks_) {
    if (t.state == "RUNNING" && t.node == name) {
      FinishTask(t, "FAILED", fmt::format("superseded by task {}", next_task_id_));
    }
  }
  TaskRecord task;
  task.id = next_task_id_++;
  task.name = fmt::format("{} {}", enabled ? "activate" : "deactivate", name);
  task.state = "RUNNING";
  task.start_us = env_->NowMicros();
  task.node = name;
  task.goal = enabled ? NodeState::kActive : NodeState::kInactive;
  task.messages.push_back(fmt::format("{} requested", task.name));
  tasks_[task.id] = task;
  while (tasks_.size() > kTasksKept && tasks_.begin()->second.state != "RUNNING") {
    Persist({{TaskKey(tasks_.begin()->first), std::nullopt}});
    tasks_.erase(tasks_.begin());
  }
  node->enabled = enabled;
  Persist({{TaskKey(task.id), EncodeText(task)}, {NodeKey(name), EncodeText(*node)}});
  if (node->state == task.goal) {
    SettleTasks(*node);
  } else if (enabled) {
    Transition(*node, NodeState::kActivating, "activation requested");
    monitor_->StartNode(name, true);
  } else {
    Transition(*node, NodeState::kDeactivating, "deactivation requested");
    monitor_->StopNode(name);
  }
  return tasks_.at(task.id);
}

}  // namespace dase::vms
