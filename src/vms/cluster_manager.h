// ClusterManager: the node and cluster state machines, activation tasks and events.
//
// Inputs are node messages (hello, heartbeat, goodbye), monitor snapshots, management calls
// (enable/disable a node) and a periodic tick; outputs are states with reasons, vtasks, events
// and commands to the monitor (start/stop a node's process). Every transition is persisted
// with its reason and time, so a restarted VMS carries on where it was: a node whose process
// kept running keeps its state and its heartbeats are recognised by incarnation.
//
// Activation and deactivation touch only their node. A missed heartbeat or a stalled event
// loop makes a node FAILING and raises an event; nothing here ever stops a healthy peer.
//
// Thread-safety: the VMS loop thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/config.h"
#include "control/messages.h"
#include "env/env.h"
#include "meta/kv.h"
#include "vms/model.h"
#include "vms/vip_assignment.h"

namespace dase::vms {

// The monitor, as the VMS sees it. Calls return at once; delivery is retried by the link.
class MonitorLink {
 public:
  virtual ~MonitorLink() = default;
  virtual void StartNode(const std::string& name, bool reset) = 0;
  virtual void StopNode(const std::string& name) = 0;
};

// One VIP of a pool and the CNode that holds it now (empty: none).
struct VipInfo {
  std::string ip;
  int64_t pool_id = 0;
  std::string pool_name;
  std::string cnode;
};

inline constexpr size_t kEventsKept = 1000;
inline constexpr size_t kTasksKept = 1000;

class ClusterManager {
 public:
  static Result<std::unique_ptr<ClusterManager>> Open(env::Env* env, meta::Store* store,
                                                      const control::ClusterConfig& config,
                                                      MonitorLink* monitor);

  // Asks the monitor to run every enabled node (after a VMS start: idempotent).
  void Reconcile();

  Status OnHello(const control::NodeHello& m);
  // FailedPrecondition when the incarnation is unknown: the node must say hello again.
  Status OnHeartbeat(const control::NodeHeartbeat& m);
  Status OnGoodbye(const control::NodeGoodbye& m);
  void OnMonitorReport(const control::MonitorReport& report);
  // Heartbeat and task timeouts; called about once a heartbeat interval.
  void Tick();

  // PATCH {enabled}: starts an asynchronous task and returns it.
  Result<TaskRecord> SetEnabled(const std::string& node, bool enabled);

  const ClusterRecord& cluster() const { return cluster_; }
  std::vector<const NodeRecord*> Nodes(const std::string& role) const;
  const NodeRecord* FindNode(const std::string& name) const;
  const NodeRecord* FindNodeById(const std::string& role, int64_t id) const;
  const TaskRecord* FindTask(int64_t id) const;
  std::vector<const TaskRecord*> Tasks() const;
  std::vector<const EventRecord*> Events() const;
  // Process facts from the last monitor snapshot (pid, phase) for `dase status`.
  const control::ProcessInfo* Process(const std::string& name) const;
  int DnodeFailuresTolerated() const;
  // Every node with its state and RPC port; the version changes with any of them.
  control::ClusterMap Map() const;
  int64_t map_version() const { return map_version_; }
  // The drives a DNode reported in its last heartbeat (empty before the first one).
  const std::vector<control::DriveReport>& Drives(const std::string& node) const;

  // VIPs (vip_assignment.h): the pools are read from the store and their VIPs spread over the
  // ACTIVE CNodes; the map version changes whenever a VIP moves. Runs by itself when a CNode
  // enters or leaves ACTIVE; the API calls it after changing a pool.
  void RefreshVips();
  // Every VIP of every pool, in pool and address order, with its holder.
  const std::vector<VipInfo>& Vips() const { return vip_table_; }
  std::vector<std::string> VipsOf(const std::string& cnode) const;

 private:
  ClusterManager(env::Env* env, meta::Store* store, control::ClusterConfig config,
                 MonitorLink* monitor)
      : env_(env), store_(store), config_(std::move(config)), monitor_(monitor) {}
  Status Load();
  Status Initialize();
  NodeRecord* MutableNode(const std::string& name);
  void Transition(NodeRecord& node, NodeState state, std::string reason);
  void EvaluateCluster();
  void SetClusterState(ClusterState state, std::string reason);
  void SettleTasks(const NodeRecord& node);
  void FinishTask(TaskRecord& task, std::string state, std::string message);
  void AddEvent(std::string object_type, std::string object_name, std::string event_type,
                std::string severity, std::string message);
  void ApplyProcess(NodeRecord& node, const control::ProcessInfo& p);
  void Persist(std::vector<std::pair<std::string, std::optional<std::string>>> kvs);

  env::Env* env_;
  meta::Store* store_;
  control::ClusterConfig config_;
  MonitorLink* monitor_;
  ClusterRecord cluster_;
  std::vector<NodeRecord> nodes_;  // cnodes then dnodes, by number
  std::map<int64_t, TaskRecord> tasks_;
  std::map<int64_t, EventRecord> events_;
  std::map<std::string, control::ProcessInfo> processes_;
  std::map<std::string, int64_t> last_heartbeat_us_;  // monotonic
  std::map<std::string, std::vector<control::DriveReport>> drives_;
  VipAssignment vips_;              // VIP → CNode, persisted under kVipAssignmentKey
  std::vector<VipInfo> vip_table_;  // every VIP of the pools, as of the last RefreshVips
  int64_t map_version_ = 1;
  int64_t next_task_id_ = 1;
  int64_t next_event_id_ = 1;
  bool monitor_shutting_down_ = false;
  // Until every enabled node has been ACTIVE once since this VMS started a cluster from
  // stopped, "cannot serve" means ACTIVATING rather than OFFLINE.
  bool activated_once_ = false;
};

}  // namespace dase::vms
