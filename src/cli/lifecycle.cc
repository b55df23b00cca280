// `dase up` and `dase down`.
//
// `up` forks the monitor. With --detach the monitor leaves the terminal (new session, logs to
// DIR/logs/monitor.log) and `up` returns once the cluster is ONLINE with every enabled node
// ACTIVE, or fails with the reason. In the foreground the monitor keeps the terminal: Ctrl-C
// reaches it (this parent ignores it) and stops the cluster gracefully; a second one forces.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "env/env.h"
#include "monitor/monitor.h"
#include "monitor/process.h"

namespace dase::cli {
namespace json = boost::json;

namespace {

// Online means: cluster ONLINE and every enabled node ACTIVE. Returns a progress line.
Result<bool> CheckOnline(const control::Layout& layout, std::string* progress) {
  ASSIGN_OR_RETURN(ApiClient client, ApiClient::Open(layout));
  ASSIGN_OR_RETURN(json::value cluster, client.Get("clusters/"));
  const json::value& c = cluster.as_array().at(0);
  bool online = c.at("state").as_string() == "ONLINE";
  *progress = fmt::format("cluster {}: {}", c.at("state").as_string().c_str(),
                          c.at("state_reason").as_string().c_str());
  for (const char* role : {"cnodes/", "dnodes/"}) {
    ASSIGN_OR_RETURN(json::value nodes, client.Get(role));
    for (const json::value& n : nodes.as_array()) {
      if (n.at("enabled").as_bool() && n.at("state").as_string() != "ACTIVE") online = false;
    }
  }
  return online;
}

void DetachChild(const control::Layout& layout) {
  ::setsid();
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  int log_fd = ::open(layout.Log("monitor").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
}

}  // namespace

int Up(const control::Layout& layout, const control::ClusterConfig& config, const UpOptions& opts) {
  env::Env* env = env::Env::Default();
  if (ClusterRunning(layout)) {
    if (opts.detach) {
      std::cout << "a cluster is already running in " << layout.root << "\n";
      return ShowStatus(layout, false);
    }
    std::cerr << "dase: a cluster is already running in " << layout.root << "\n";
    return 1;
  }
  for (const std::string& dir : {layout.root, layout.LogDir(), layout.RunDir()}) {
    if (dase::Status s = env::CreateDirs(env, dir); !s.ok()) {
      std::cerr << "dase: " << s.ToString() << "\n";
      return 1;
    }
  }
  if (dase::Status s = control::SaveConfig(env, layout.Config(), config); !s.ok()) {
    std::cerr << "dase: " << s.ToString() << "\n";
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  pid_t child = ::fork();
  if (child < 0) {
    std::cerr << "dase: fork failed\n";
    return 1;
  }
  if (child == 0) {
    if (opts.detach) DetachChild(layout);
    ::_exit(monitor::RunMonitor(layout, config));
  }
  if (!opts.detach) ::signal(SIGINT, SIG_IGN);  // the monitor handles Ctrl-C

  auto deadline = started + std::chrono::seconds(opts.timeout_s);
  std::string progress = "waiting for the monitor";
  bool online = false;
  while (!online) {
    int wstatus = 0;
    if (::waitpid(child, &wstatus, WNOHANG) == child) {
      std::cerr << "dase: the monitor " << monitor::DescribeExit(wstatus) << ": "
                << monitor::LastLogLine(layout.Log("monitor")) << "\n";
      return 1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "dase: the cluster did not come ONLINE within " << opts.timeout_s
                << " s; last seen: " << progress << " (logs in " << layout.LogDir() << ")\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto r = CheckOnline(layout, &progress);
    online = r.ok() && *r;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto info = ReadMonitorInfo(layout);
  std::cout << fmt::format("cluster ONLINE in {:.2f} s: all nodes ACTIVE\n", seconds);
  if (info.ok()) {
    std::cout << fmt::format("  API https://{}:{}  user admin, password in {}\n", info->api_host,
                             info->api_port, layout.AdminPassword());
  }
  std::cout << fmt::format("  data in {}, logs in {}\n", layout.root, layout.LogDir());
  std::cout.flush();
  if (opts.detach) return 0;
  int wstatus = 0;
  while (::waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;
}

int Down(const control::Layout& layout, bool force, int timeout_s) {
  if (!ClusterRunning(layout)) {
    std::cout << "no cluster is running in " << layout.root << "\n";
    return 0;
  }
  auto info = ReadMonitorInfo(layout);
  if (!info.ok()) {
    std::cerr << "dase: cannot find the monitor: " << info.status().ToString() << "\n";
    return 1;
  }
  pid_t pid = static_cast<pid_t>(info->pid);
  if (::kill(pid, force ? SIGKILL : SIGTERM) != 0) {
    std::cerr << "dase: cannot signal monitor pid " << pid << "\n";
    return 1;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (ClusterRunning(layout)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "dase: the cluster is still stopping after " << timeout_s
                << " s (use --force to kill it)\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cout << "cluster in " << layout.root << " stopped\n";
  return 0;
}

}  // namespace dase::cli
