#include "vms/cluster_manager.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "meta/sqlite_store.h"
#include "vms/protocol_ops.h"

namespace dase::vms {
namespace {

using control::ProcessInfo;
using control::ProcessPhase;
using control::MonitorReport;

ProcessInfo Process(const std::string& name, const std::string& role, ProcessPhase phase) {
  ProcessInfo p;
  p.name = name;
  p.role = role;
  p.phase = phase;
  return p;
}

class FakeMonitor final : public MonitorLink {
 public:
  void StartNode(const std::string& name, bool reset) override {
    calls.push_back("start " + name + (reset ? " reset" : ""));
  }
  void StopNode(const std::string& name) override { calls.push_back("stop " + name); }
  std::vector<std::string> calls;
};

class ClusterManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.cnodes = 2;
    config_.dnodes = 4;
    Reopen();
  }
  void TearDown() override {
    manager_.reset();
    store_.reset();
  }
  void Reopen() {
    manager_.reset();
    store_.reset();
    auto store = meta::SqliteStore::Open(env::Env::Default(), dir_ + "/meta.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto m = ClusterManager::Open(env::Env::Default(), store_.get(), config_, &monitor_);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    manager_ = std::move(*m);
  }
  MonitorReport Report(ProcessPhase phase, int64_t starts = 1) {
    control::MonitorReport r;
    r.processes.push_back(Process("vms", "vms", ProcessPhase::kRunning));
    r.processes.back().pid = 10;
    r.processes.back().starts = starts;
    for (const NodeRecord* n : manager_->Nodes("")) {
      ProcessInfo p = Process(n->name, n->role, phase);
      if (phase == ProcessPhase::kRunning) p.pid = 100 + n->id + (n->role == "dnode" ? 50 : 0);
      r.processes.push_back(p);
    }
    return r;
  }
  // Brings every node to ACTIVE the way real processes do: hello, then a ready heartbeat.
  void ActivateAll() {
    manager_->OnMonitorReport(Report(ProcessPhase::kRunning));
    for (const NodeRecord* n : manager_->Nodes("")) {
      std::string name = n->name;
      int64_t pid = 100 + n->id + (n->role == "dnode" ? 50 : 0);
      ASSERT_TRUE(manager_->OnHello({name, n->role, pid, 7000, "inc-" + name}).ok());
      ASSERT_TRUE(manager_->OnHeartbeat({name, "inc-" + name, true, 0, 0, {}}).ok());
    }
  }
  NodeState StateOf(const std::string& name) { return manager_->FindNode(name)->state; }

  ::dase::testing::TempDir tmp_{"dase_vms_test"};
  const std::string dir_ = tmp_.path();
  control::ClusterConfig config_;
  FakeMonitor monitor_;
  std::unique_ptr<meta::SqliteStore> store_;
  std::unique_ptr<ClusterManager> manager_;
};

TEST_F(ClusterManagerTest, NewClusterActivatesThenGoesOnline) {
  EXPECT_EQ(manager_->cluster().state, ClusterState::kInit);
  manager_->Reconcile();
  EXPECT_EQ(monitor_.calls.size(), 6u);
  manager_->OnMonitorReport(Report(ProcessPhase::kStopped));
  EXPECT_EQ(manager_->cluster().state, ClusterState::kActivating);
  ActivateAll();
  EXPECT_EQ(manager_->cluster().state, ClusterState::kOnline);
  EXPECT_EQ(manager_->cluster().ssd_raid_state, "HEALTHY");
  for (const NodeRecord* n : manager_->Nodes("")) EXPECT_EQ(n->state, NodeState::kActive);
}

TEST_F(ClusterManagerTest, CrashMakesOnlyThatNodeFailingAndRestartRecovers) {
  ActivateAll();
  MonitorReport r = Report(ProcessPhase::kRunning);
  ProcessInfo& crashed = r.processes[1];  // cnode-1
  crashed.phase = ProcessPhase::kBackoff;
  crashed.pid = 0;
  crashed.exits = 1;
  crashed.last_exit = "killed by signal 9 (Killed)";
  crashed.next_start_ms = 500;
  manager_->OnMonitorReport(r);
  EXPECT_EQ(StateOf("cnode-1"), NodeState::kFailing);
  EXPECT_NE(manager_->FindNode("cnode-1")->reason.find("signal 9"), std::string::npos);
  for (const NodeRecord* n : manager_->Nodes("")) {
    if (n->name != "cnode-1") {
      EXPECT_EQ(n->state, NodeState::kActive) << n->name;
    }
  }
  EXPECT_EQ(manager_->cluster().state, ClusterState::kOnline);  // one cnode is enough
  // Old incarnation's heartbeat is refused; the new process says hello.
  EXPECT_EQ(manager_->OnHeartbeat({"cnode-1", "inc-cnode-1", true, 0, 0, {}}).code(),
            Code::kFailedPrecondition);
  ASSERT_TRUE(manager_->OnHello({"cnode-1", "cnode", 999, 7001, "second"}).ok());
  ASSERT_TRUE(manager_->OnHeartbeat({"cnode-1", "second", true, 0, 0, {}}).ok());
  EXPECT_EQ(StateOf("cnode-1"), NodeState::kActive);
  EXPECT_EQ(manager_->FindNode("cnode-1")->restarts, 1);
}

TEST_F(ClusterManagerTest, LosingTwoDnodesTakesTheClusterOfflineAndOneDegradesIt) {
  ActivateAll();
  MonitorReport r = Report(ProcessPhase::kRunning);
  r.processes[3].exits = 1;  // dnode-1
  r.processes[3].phase = ProcessPhase::kBackoff;
  manager_->OnMonitorReport(r);
  EXPECT_EQ(manager_->cluster().state, ClusterState::kOnline);
  EXPECT_EQ(manager_->cluster().ssd_raid_state, "DEGRADED");
  r.processes[4].exits = 1;  // dnode-2
  r.processes[4].phase = ProcessPhase::kBackoff;
  manager_->OnMonitorReport(r);
  EXPECT_EQ(manager_->cluster().state, ClusterState::kOffline);
}

TEST_F(ClusterManagerTest, CrashLoopEndsFailedAndActivationBringsItBack) {
  ActivateAll();
  MonitorReport r = Report(ProcessPhase::kRunning);
  r.processes[2].exits = 5;  // cnode-2
  r.processes[2].phase = ProcessPhase::kFailed;
  r.processes[2].pid = 0;
  r.processes[2].reason = "failed 5 times in a row";
  manager_->OnMonitorReport(r);
  EXPECT_EQ(StateOf("cnode-2"), NodeState::kFailed);
  EXPECT_EQ(manager_->FindNode("cnode-2")->reason, "failed 5 times in a row");
  auto task = manager_->SetEnabled("cnode-2", true);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, "RUNNING");
  EXPECT_EQ(monitor_.calls.back(), "start cnode-2 reset");
  EXPECT_EQ(StateOf("cnode-2"), NodeState::kActivating);
  ASSERT_TRUE(manager_->OnHello({"cnode-2", "cnode", 555, 7002, "again"}).ok());
  ASSERT_TRUE(manager_->OnHeartbeat({"cnode-2", "again", true, 0, 0, {}}).ok());
  EXPECT_EQ(manager_->FindTask(task->id)->state, "COMPLETED");
}

TEST_F(ClusterManagerTest, DeactivationStopsTheProcessAndPersists) {
  ActivateAll();
  auto task = manager_->SetEnabled("cnode-1", false);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(StateOf("cnode-1"), NodeState::kDeactivating);
  EXPECT_EQ(monitor_.calls.back(), "stop cnode-1");
  MonitorReport r = Report(ProcessPhase::kRunning);
  r.processes[1].phase = ProcessPhase::kStopped;
  r.processes[1].pid = 0;
  manager_->OnMonitorReport(r);
  EXPECT_EQ(StateOf("cnode-1"), NodeState::kInactive);
  EXPECT_EQ(manager_->FindTask(task->id)->state, "COMPLETED");
  EXPECT_EQ(StateOf("cnode-2"), NodeState::kActive);
  int64_t task_id = task->id;
  Reopen();
  EXPECT_FALSE(manager_->FindNode("cnode-1")->enabled);
  EXPECT_EQ(StateOf("cnode-1"), NodeState::kInactive);
  ASSERT_NE(manager_->FindTask(task_id), nullptr);
  EXPECT_EQ(manager_->FindTask(task_id)->state, "COMPLETED");
  monitor_.calls.clear();
  manager_->Reconcile();
  EXPECT_NE(std::find(monitor_.calls.begin(), monitor_.calls.end(), "stop cnode-1"),
            monitor_.calls.end());
}

TEST_F(ClusterManagerTest, RestartedVmsRecognisesRunningNodes) {
  ActivateAll();
  Reopen();  // the VMS restarts; node processes keep running
  manager_->OnMonitorReport(Report(ProcessPhase::kRunning, /*starts=*/2));
  EXPECT_EQ(manager_->cluster().state, ClusterState::kOnline);
  EXPECT_TRUE(manager_->OnHeartbeat({"dnode-3", "inc-dnode-3", true, 0, 0, {}}).ok());
  EXPECT_EQ(StateOf("dnode-3"), NodeState::kActive);
}

TEST_F(ClusterManagerTest, StallsBecomeEventsNotFailures) {
  ActivateAll();
  ASSERT_TRUE(manager_->OnHeartbeat({"dnode-2", "inc-dnode-2", true, 1, 2600, {}}).ok());
  EXPECT_EQ(StateOf("dnode-2"), NodeState::kActive);
  EXPECT_EQ(manager_->FindNode("dnode-2")->max_stall_ms, 2600);
  bool found = false;
  for (const EventRecord* e : manager_->Events()) found |= e->event_type == "STALL";
  EXPECT_TRUE(found);
}

TEST_F(ClusterManagerTest, HeartbeatsCarryDriveCapacity) {
  ActivateAll();
  EXPECT_TRUE(manager_->Drives("dnode-1").empty());
  control::NodeHeartbeat hb{"dnode-1", "inc-dnode-1", true, 0, 0, {}};
  hb.drives.push_back({"dnode-1/scm-0", "scm", 1000, 10, "ACTIVE"});
  hb.drives.push_back({"dnode-1/ssd-0", "ssd", 5000, 700, "ACTIVE"});
  ASSERT_TRUE(manager_->OnHeartbeat(hb).ok());
  ASSERT_EQ(manager_->Drives("dnode-1").size(), 2u);
  EXPECT_EQ(manager_->Drives("dnode-1")[1].used_bytes, 700);
  hb.drives.pop_back();
  ASSERT_TRUE(manager_->OnHeartbeat(hb).ok());  // the latest report replaces the previous one
  EXPECT_EQ(manager_->Drives("dnode-1").size(), 1u);
}

TEST_F(ClusterManagerTest, UnknownNodesAndRolesAreRefused) {
  EXPECT_EQ(manager_->OnHello({"cnode-9", "cnode", 1, 1, "x"}).code(), Code::kNotFound);
  EXPECT_EQ(manager_->OnHello({"cnode-1", "dnode", 1, 1, "x"}).code(), Code::kNotFound);
  EXPECT_EQ(manager_->SetEnabled("nope", true).status().code(), Code::kNotFound);
}

std::map<std::string, std::vector<std::string>> MapVips(const control::ClusterMap& map) {
  std::map<std::string, std::vector<std::string>> out;
  for (const control::MapNode& n : map.nodes) {
    if (!n.vips.empty()) out[n.name] = n.vips;
  }
  return out;
}

TEST_F(ClusterManagerTest, VipsFollowActiveCnodesThroughTheMap) {
  ASSERT_TRUE(SeedDefaults(store_.get(), env::Env::Default()).ok());  // pool 127.0.10.1-8
  Reopen();
  EXPECT_TRUE(MapVips(manager_->Map()).empty());  // nothing ACTIVE yet
  ActivateAll();
  auto vips = MapVips(manager_->Map());
  ASSERT_EQ(vips.size(), 2u);
  EXPECT_EQ(vips["cnode-1"].size(), 4u);
  EXPECT_EQ(vips["cnode-2"].size(), 4u);
  EXPECT_EQ(manager_->Vips().size(), 8u);

  // cnode-1 crashes: its VIPs move to cnode-2 at once, and nodes see a new map version.
  int64_t version = manager_->map_version();
  MonitorReport r = Report(ProcessPhase::kRunning);
  r.processes[1].phase = ProcessPhase::kBackoff;  // cnode-1
  r.processes[1].exits = 1;
  manager_->OnMonitorReport(r);
  EXPECT_GT(manager_->map_version(), version);
  vips = MapVips(manager_->Map());
  ASSERT_EQ(vips.size(), 1u);
  EXPECT_EQ(vips["cnode-2"].size(), 8u);

  // Back: it takes four, cnode-2 keeps four of its own.
  ASSERT_TRUE(manager_->OnHello({"cnode-1", "cnode", 999, 7001, "second"}).ok());
  ASSERT_TRUE(manager_->OnHeartbeat({"cnode-1", "second", true, 0, 0, {}}).ok());
  vips = MapVips(manager_->Map());
  EXPECT_EQ(vips["cnode-1"].size(), 4u);
  EXPECT_EQ(vips["cnode-2"].size(), 4u);

  // A restarted VMS keeps the assignment of the nodes that stayed ACTIVE.
  Reopen();
  EXPECT_EQ(MapVips(manager_->Map()), vips);
}

TEST_F(ClusterManagerTest, PoolChangesReachTheMapOnRefresh) {
  ASSERT_TRUE(SeedDefaults(store_.get(), env::Env::Default()).ok());
  Reopen();
  ActivateAll();
  int64_t version = manager_->map_version();
  manager_->RefreshVips();
  EXPECT_EQ(manager_->map_version(), version);  // nothing changed
  Status deleted = store_->RunTransaction([](meta::Transaction& t) { return DeleteVipPool(t, 1); });
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  manager_->RefreshVips();
  EXPECT_GT(manager_->map_version(), version);
  EXPECT_TRUE(MapVips(manager_->Map()).empty());
  EXPECT_TRUE(manager_->Vips().empty());
}

TEST(ClusterMapCodecTest, VipsAreOptional) {
  auto old = control::DecodeClusterMap(
      R"({"version": 3, "cluster_guid": "g", "nodes": [{"name": "cnode-1", "role": "cnode",)"
      R"( "state": "ACTIVE", "rpc_port": 7000}]})");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_TRUE(old->nodes.at(0).vips.empty());
  control::ClusterMap map;
  map.version = 4;
  map.nodes.push_back({"cnode-1", "cnode", "ACTIVE", 7000, {"127.0.10.1", "127.0.10.2"}});
  auto back = control::DecodeClusterMap(control::Encode(map));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->nodes.at(0).vips, map.nodes[0].vips);
  EXPECT_EQ(back->nodes.at(0).rpc_port, 7000);
  EXPECT_FALSE(control::DecodeClusterMap(R"({"version": 1, "cluster_guid": "g", "nodes": )"
                                         R"([{"name": "x", "role": "cnode", "state": "A",)"
                                         R"( "rpc_port": 7000, "vips": [1]}]})").ok());
}

}  // namespace
}  // namespace dase::vms
