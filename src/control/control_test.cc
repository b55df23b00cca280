#include <gtest/gtest.h>

#include "control/config.h"
#include "control/messages.h"

namespace dase::control {
namespace {

TEST(ConfigTest, TomlRoundTripKeepsEveryField) {
  ClusterConfig c;
  c.name = "lab";
  c.cnodes = 2;
  c.dnodes = 3;
  c.api_port = 0;
  c.restart.backoff_initial_ms = 50;
  c.restart.max_failures = 3;
  c.scm_preformat = false;
  auto back = ClusterConfig::FromToml(c.ToToml());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "lab");
  EXPECT_EQ(back->cnodes, 2);
  EXPECT_EQ(back->dnodes, 3);
  EXPECT_EQ(back->api_port, 0);
  EXPECT_EQ(back->restart.backoff_initial_ms, 50);
  EXPECT_EQ(back->restart.max_failures, 3);
  EXPECT_FALSE(back->scm_preformat);
  EXPECT_TRUE(ClusterConfig::FromToml("")->scm_preformat);
}

TEST(ConfigTest, BadValuesAreRefusedWithTheirName) {
  auto r = ClusterConfig::FromToml("cnodes = 0\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("cnodes"), std::string::npos);
  EXPECT_FALSE(ClusterConfig::FromToml("api_port = 70000\n").ok());
  EXPECT_FALSE(ClusterConfig::FromToml("name = 5\n").ok());
  auto flag = ClusterConfig::FromToml("[drives]\nscm_preformat = 1\n");
  ASSERT_FALSE(flag.ok());
  EXPECT_NE(flag.status().ToString().find("scm_preformat must be true or false"),
            std::string::npos);
  EXPECT_FALSE(ClusterConfig::FromToml("this is [ not toml").ok());
}

TEST(MessagesTest, MonitorReportRoundTrip) {
  MonitorReport r;
  r.shutting_down = true;
  ProcessInfo p;
  p.name = "cnode-1";
  p.role = "cnode";
  p.phase = ProcessPhase::kBackoff;
  p.pid = 42;
  p.exits = 3;
  p.last_exit = "killed by signal 9";
  p.next_start_ms = 2000;
  p.failures = 2;
  r.processes.push_back(p);
  auto back = DecodeMonitorReport(Encode(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->shutting_down);
  ASSERT_EQ(back->processes.size(), 1u);
  EXPECT_EQ(back->processes[0].phase, ProcessPhase::kBackoff);
  EXPECT_EQ(back->processes[0].last_exit, "killed by signal 9");
  EXPECT_EQ(back->processes[0].failures, 2);
}

TEST(MessagesTest, MalformedPayloadsAreRefused) {
  EXPECT_FALSE(DecodeNodeHello("").ok());
  EXPECT_FALSE(DecodeNodeHello("[1,2]").ok());
  EXPECT_FALSE(DecodeNodeHello(R"({"name":"x"})").ok());
  EXPECT_FALSE(DecodeNodeHello(
                   R"({"name":"x","role":"cnode","pid":1,"rpc_port":99999,"incarnation":"a"})")
                   .ok());
  EXPECT_FALSE(DecodeMonitorReport(R"({"shutting_down":false,"processes":[{"name":1}]})").ok());
  NodeHeartbeat hb{"dnode-1", "abc", true, 2, 2500, {{"dnode-1/ssd-0", "ssd", 100, 40, "ACTIVE"}}};
  auto back = DecodeNodeHeartbeat(Encode(hb));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->max_stall_ms, 2500);
  ASSERT_EQ(back->drives.size(), 1u);
  EXPECT_EQ(back->drives[0].used_bytes, 40);
}

}  // namespace
}  // namespace dase::control
