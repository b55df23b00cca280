#include "vms/cluster_manager.h"

#include "ec/geometry.h"

#include <unistd.h>

#include <fmt/format.h>

#include "common/log.h"
#include "vms/protocol_records.h"
#include "vms/records.h"

namespace dase::vms {

using control::ProcessInfo;
using control::ProcessPhase;

namespace {

NodeRecord NewNode(env::Env* env, const std::string& role, int number) {
  NodeRecord n;
  n.id = number;
  n.name = fmt::format("{}-{}", role, number);
  n.role = role;
  n.guid = env::RandomHex(env, 16);
  n.state = NodeState::kInactive;
  n.reason = "new node";
  n.state_since_us = env->NowMicros();
  return n;
}

}  // namespace

Result<std::unique_ptr<ClusterManager>> ClusterManager::Open(env::Env* env, meta::Store* store,
                                                             const control::ClusterConfig& config,
                                                             MonitorLink* monitor) {
  std::unique_ptr<ClusterManager> m(new ClusterManager(env, store, config, monitor));
  RETURN_IF_ERROR(m->Load());
  ASSIGN_OR_RETURN(auto vips, LoadKey(store, kVipAssignmentKey));
  if (vips) {
    ASSIGN_OR_RETURN(m->vips_, DecodeText<VipAssignment>(*vips));
  }
  m->RefreshVips();
  return m;
}

Status ClusterManager::Load() {
  ASSIGN_OR_RETURN(auto cluster, LoadKey(store_, kClusterKey));
  if (!cluster) return Initialize();
  ASSIGN_OR_RETURN(cluster_, DecodeText<ClusterRecord>(*cluster));
  ASSIGN_OR_RETURN(auto nodes, LoadPrefix(store_, "vms/node/"));
  std::map<std::string, NodeRecord> stored;
  for (const auto& kv : nodes) {
    ASSIGN_OR_RETURN(NodeRecord n, DecodeText<NodeRecord>(kv.value));
    stored[n.name] = n;
  }
  ASSIGN_OR_RETURN(auto tasks, LoadPrefix(store_, "vms/task/"));
  for (const auto& kv : tasks) {
    ASSIGN_OR_RETURN(TaskRecord t, DecodeText<TaskRecord>(kv.value));
    next_task_id_ = std::max(next_task_id_, t.id + 1);
    tasks_[t.id] = std::move(t);
  }
  ASSIGN_OR_RETURN(auto events, LoadPrefix(store_, "vms/event/"));
  for (const auto& kv : events) {
    ASSIGN_OR_RETURN(EventRecord e, DecodeText<EventRecord>(kv.value));
    next_event_id_ = std::max(next_event_id_, e.id + 1);
    events_[e.id] = std::move(e);
  }
  // Nodes follow the configuration; stored records carry their identity and state over.
  int64_t now = env_->MonotonicMicros();
  for (const std::string role : {"cnode", "dnode"}) {
    int count = role == "cnode" ? config_.cnodes : config_.dnodes;
    for (int i = 1; i <= count; ++i) {
      std::string name = fmt::format("{}-{}", role, i);
      auto it = stored.find(name);
      NodeRecord n = it != stored.end() ? it->second : NewNode(env_, role, i);
      last_heartbeat_us_[name] = now;  // a grace period after a VMS restart
      nodes_.push_back(std::move(n));
    }
  }
  activated_once_ = cluster_.state == ClusterState::kOnline ||
                    cluster_.state == ClusterState::kOffline;
  return Status::Ok();
}

Status ClusterManager::Initialize() {
  int64_t now = env_->NowMicros();
  cluster_.id = 1;
  cluster_.name = config_.name;
  cluster_.guid = env::RandomHex(env_, 16);
  cluster_.psnt = "DASE" + env::RandomHex(env_, 4);
  cluster_.state = ClusterState::kInit;
  cluster_.reason = "new cluster";
  cluster_.state_since_us = now;
  cluster_.created_us = now;
  std::vector<std::pair<std::string, std::optional<std::string>>> kvs;
  kvs.emplace_back(kClusterKey, EncodeText(cluster_));
  for (const std::string role : {"cnode", "dnode"}) {
    int count = role == "cnode" ? config_.cnodes : config_.dnodes;
    for (int i = 1; i <= count; ++i) {
      NodeRecord n = NewNode(env_, role, i);
      kvs.emplace_back(NodeKey(n.name), EncodeText(n));
      last_heartbeat_us_[n.name] = env_->MonotonicMicros();
      nodes_.push_back(std::move(n));
    }
  }
  RETURN_IF_ERROR(SaveKeys(store_, kvs));
  AddEvent("cluster", cluster_.name, "STATE_CHANGE", "INFO", "cluster created");
  return Status::Ok();
}

void ClusterManager::Persist(std::vector<std::pair<std::string, std::optional<std::string>>> kvs) {
  Status s = SaveKeys(store_, kvs);
  if (!s.ok()) {
    // The state a client was or will be told is not durable: stop, and let the monitor restart
    // the VMS from what the store holds, rather than carry on with a divergent memory.
    LOG_ERROR("metadata write failed, exiting: {}", s.ToString());
    ::_exit(1);
  }
}

void ClusterManager::Reconcile() {
  for (NodeRecord& n : nodes_) {
    if (n.enabled) {
      monitor_->StartNode(n.name, false);
    } else {
      monitor_->StopNode(n.name);
    }
  }
}

NodeRecord* ClusterManager::MutableNode(const std::string& name) {
  for (NodeRecord& n : nodes_) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const NodeRecord* ClusterManager::FindNode(const std::string& name) const {
  return const_cast<ClusterManager*>(this)->MutableNode(name);
}

const NodeRecord* ClusterManager::FindNodeById(const std::string& role, int64_t id) const {
  for (const NodeRecord& n : nodes_) {
    if (n.role == role && n.id == id) return &n;
  }
  return nullptr;
}

std::vector<const NodeRecord*> ClusterManager::Nodes(const std::string& role) const {
  std::vector<const NodeRecord*> out;
  for (const NodeRecord& n : nodes_) {
    if (role.empty() || n.role == role) out.push_back(&n);
  }
  return out;
}

const TaskRecord* ClusterManager::FindTask(int64_t id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

std::vector<const TaskRecord*> ClusterManager::Tasks() const {
  std::vector<const TaskRecord*> out;
  for (const auto& [id, t] : tasks_) out.push_back(&t);
  return out;
}

std::vector<const EventRecord*> ClusterManager::Events() const {
  std::vector<const EventRecord*> out;
  for (const auto& [id, e] : events_) out.push_back(&e);
  return out;
}

const ProcessInfo* ClusterManager::Process(const std::string& name) const {
  auto it = processes_.find(name);
  return it == processes_.end() ? nullptr : &it->second;
}

control::ClusterMap ClusterManager::Map() const {
  control::ClusterMap map;
  map.version = map_version_;
  map.cluster_guid = cluster_.guid;
  for (const NodeRecord& n : nodes_) {
    map.nodes.push_back({n.name, n.role, std::string(NodeStateName(n.state)), n.rpc_port,
                         n.role == "cnode" ? VipsOf(n.name) : std::vector<std::string>()});
  }
  return map;
}

const std::vector<control::DriveReport>& ClusterManager::Drives(const std::string& node) const {
  static const std::vector<control::DriveReport> kNone;
  auto it = drives_.find(node);
  return it == drives_.end() ? kNone : it->second;
}

int ClusterManager::DnodeFailuresTolerated() const {
  // Data is in the write buffer (two copies on two DNodes: survives one lost DNode) or in
  // stripes, whose geometry for this cluster decides how many DNodes they survive.
  auto geometry = ec::ChooseGeometry(config_.dnodes, config_.ssd_drives);
  if (!geometry.ok()) return 0;
  return std::min(1, ec::DnodeFailuresTolerated(*geometry, config_.dnodes));
}

void ClusterManager::AddEvent(std::string object_type, std::string object_name,
                              std::string event_type, std::string severity, std::string message) {
  EventRecord e{next_event_id_++, env_->NowMicros(), std::move(object_type),
                std::move(object_name), std::move(event_type), std::move(severity),
                std::move(message)};
  std::vector<std::pair<std::string, std::optional<std::string>>> kvs;
  kvs.emplace_back(EventKey(e.id), EncodeText(e));
  events_[e.id] = std::move(e);
  while (events_.size() > kEventsKept) {
    kvs.emplace_back(EventKey(events_.begin()->first), std::nullopt);
    events_.erase(events_.begin());
  }
  Persist(std::move(kvs));
}

void ClusterManager::Transition(NodeRecord& node, NodeState state, std::string reason) {
  if (node.state == state && node.reason == reason) return;
  NodeState from = node.state;
  map_version_++;
  node.state = state;
  node.reason = std::move(reason);
  node.state_since_us = env_->NowMicros();
  Persist({{NodeKey(node.name), EncodeText(node)}});
  if (node.role == "cnode" && (from == NodeState::kActive) != (state == NodeState::kActive)) {
    RefreshVips();  // at once: the VIPs of a CNode that left ACTIVE must not stay dark
  }
  std::string severity = state == NodeState::kFailed    ? "MAJOR"
                         : state == NodeState::kFailing ? "MINOR"
                                                        : "INFO";
  LOG_INFO("{}: {} -> {} ({})", node.name, NodeStateName(from), NodeStateName(state), node.reason);
  AddEvent(node.role, node.name, "STATE_CHANGE", severity,
           fmt::format("{} -> {}: {}", NodeStateName(from), NodeStateName(state), node.reason));
  SettleTasks(node);
  EvaluateCluster();
}

void ClusterManager::SetClusterState(ClusterState state, std::string reason) {
  if (cluster_.state == state && cluster_.reason == reason) return;
  bool changed = cluster_.state != state;
  ClusterState from = cluster_.state;
  cluster_.state = state;
  cluster_.reason = std::move(reason);
  if (changed) {
    cluster_.state_since_us = env_->NowMicros();
    if (state == ClusterState::kOnline) cluster_.online_since_us = cluster_.state_since_us;
  }
  Persist({{kClusterKey, EncodeText(cluster_)}});
  if (changed) {
    LOG_INFO("cluster: {} -> {} ({})", ClusterStateName(from), ClusterStateName(state),
             cluster_.reason);
    AddEvent("cluster", cluster_.name, "STATE_CHANGE",
             state == ClusterState::kOffline ? "CRITICAL" : "INFO",
             fmt::format("{} -> {}: {}", ClusterStateName(from), ClusterStateName(state),
                         cluster_.reason));
  }
}

void ClusterManager::EvaluateCluster() {
  int total_c = 0, active_c = 0, total_d = 0, active_d = 0;
  for (const NodeRecord& n : nodes_) {
    bool active = n.state == NodeState::kActive;
    (n.role == "cnode" ? total_c : total_d)++;
    if (active) (n.role == "cnode" ? active_c : active_d)++;
  }
  int down_d = total_d - active_d;
  int tolerated = DnodeFailuresTolerated();
  std::string raid = down_d == 0 ? "HEALTHY" : "DEGRADED";
  if (cluster_.ssd_raid_state != raid) {
    cluster_.ssd_raid_state = raid;
    cluster_.nvram_raid_state = raid;
    Persist({{kClusterKey, EncodeText(cluster_)}});
  }
  if (monitor_shutting_down_) {
    SetClusterState(ClusterState::kDeactivating, "cluster shutdown");
    return;
  }
  if (active_c >= 1 && down_d <= tolerated) {
    activated_once_ = true;
    std::string reason =
        active_c == total_c && down_d == 0
            ? "all nodes active"
            : fmt::format("serving with {} of {} cnodes and {} of {} dnodes active", active_c,
                          total_c, active_d, total_d);
    SetClusterState(ClusterState::kOnline, std::move(reason));
    return;
  }
  std::string reason = active_c == 0 ? fmt::format("no active cnode (0 of {})", total_c)
                                     : fmt::format("{} of {} dnodes not active, {} tolerated",
                                                   down_d, total_d, tolerated);
  SetClusterState(activated_once_ ? ClusterState::kOffline : ClusterState::kActivating,
                  std::move(reason));
}

void ClusterManager::FinishTask(TaskRecord& task, std::string state, std::string message) {
  task.state = std::move(state);
  task.messages.push_back(std::move(message));
  task.end_us = env_->NowMicros();
  Persist({{TaskKey(task.id), EncodeText(task)}});
}

void ClusterManager::SettleTasks(const NodeRecord& node) {
  for (auto& [id, task] : tasks_) {
    if (task.state != "RUNNING" || task.node != node.name) continue;
    if (node.state == task.goal) {
      FinishTask(task, "COMPLETED",
                 fmt::format("{} is {}", node.name, NodeStateName(node.state)));
    } else if (node.state == NodeState::kFailed) {
      FinishTask(task, "FAILED", fmt::format("{} FAILED: {}", node.name, node.reason));
    }
  }
}

void ClusterManager::RefreshVips() {
  auto pools = LoadVipPools(store_);
  if (!pools.ok()) {
    // The VIPs stay where they are; the next change of a CNode or a pool tries again.
    LOG_WARN("cannot read the VIP pools: {}", pools.status().ToString());
    return;
  }
  std::vector<VipPoolSpec> specs;
  std::vector<VipInfo> table;
  for (const VipPoolRecord& pool : *pools) {
    VipPoolSpec spec{pool.id, PoolAddresses(pool), {}, pool.enabled};
    for (int64_t id : pool.cnode_ids) {
      if (const NodeRecord* n = FindNodeById("cnode", id)) spec.cnodes.push_back(n->name);
    }
    // A pool dedicated to CNodes that do not exist has no one to serve it (an empty list would
    // mean every CNode).
    if (!pool.cnode_ids.empty() && spec.cnodes.empty()) spec.enabled = false;
    for (const std::string& ip : spec.vips) table.push_back({ip, pool.id, pool.name, ""});
    specs.push_back(std::move(spec));
  }
  std::vector<std::string> active;
  for (const NodeRecord& n : nodes_) {
    if (n.role == "cnode" && n.state == NodeState::kActive) active.push_back(n.name);
  }
  VipAssignment next = AssignVips(specs, active, vips_);
  for (VipInfo& v : table) {
    auto it = next.find(v.ip);
    if (it != next.end()) v.cnode = it->second;
  }
  vip_table_ = std::move(table);
  if (next == vips_) return;
  int moved = 0;
  for (const auto& [ip, cnode] : next) {
    auto it = vips_.find(ip);
    if (it == vips_.end() || it->second != cnode) moved++;
  }
  LOG_INFO("VIPs: {} of {} assigned to {} active cnodes, {} (re)assigned", next.size(),
           vip_table_.size(), active.size(), moved);
  vips_ = std::move(next);
  map_version_++;
  Persist({{kVipAssignmentKey, EncodeText(vips_)}});
}

std::vector<std::string> ClusterManager::VipsOf(const std::string& cnode) const {
  std::vector<std::string> out;
  for (const VipInfo& v : vip_table_) {
    if (v.cnode == cnode) out.push_back(v.ip);
  }
  return out;
}

}  // namespace dase::vms
