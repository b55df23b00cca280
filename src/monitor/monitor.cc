#include "monitor/monitor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>

#include "common/log.h"
#include "control/messages.h"
#include "monitor/backoff.h"
#include "monitor/process.h"
#include "rpc/client.h"
#include "rpc/methods.h"
#include "rpc/server.h"

namespace dase::monitor {
namespace {

using control::ProcessInfo;
using control::ProcessPhase;
using namespace std::chrono_literals;

constexpr int kApiFd = 3;  // descriptor numbers the VMS finds its sockets at
constexpr int kRpcFd = 4;
constexpr auto kStopGrace = 10s;
constexpr auto kReportTimeout = 2s;
constexpr uint64_t kLogRotateBytes = 16 << 20;

// The message of a log line, without its "<time> <level> <process> " prefix.
std::string LogMessage(const std::string& line) {
  size_t pos = 0;
  for (int field = 0; field < 3 && pos != std::string::npos; ++field) {
    pos = line.find(' ', pos);
    if (pos != std::string::npos) ++pos;
  }
  return pos == std::string::npos ? line : line.substr(pos);
}

struct Entry {
  ProcessInfo info;
  bool wanted = false;  // the process should be running
  int64_t started_us = 0;
  std::unique_ptr<asio::steady_timer> restart_timer;
};

class MonitorImpl final : public Monitor {
 public:
  MonitorImpl(asio::io_context& io, env::Env* env, control::Layout layout,
              control::ClusterConfig config, std::string exe)
      : io_(io),
        env_(env),
        layout_(std::move(layout)),
        config_(std::move(config)),
        exe_(std::move(exe)),
        signals_(io, SIGCHLD, SIGINT, SIGTERM),
        wake_reporter_(io, asio::steady_timer::time_point::max()),
        child_exited_(io, asio::steady_timer::time_point::max()),
        rpc_server_(io, rpc::ServerOptions{}) {}

  ~MonitorImpl() override {
    if (api_fd_ >= 0) ::close(api_fd_);
    if (rpc_fd_ >= 0) ::close(rpc_fd_);
  }

  Status Init();
  awaitable<int> Run() override;

 private:
  void AddEntry(const std::string& name, const std::string& role);
  std::vector<std::string> ArgsFor(const Entry& e) const;
  void StartProcess(Entry& e);
  void OnChildExit(pid_t pid, int wait_status);
  void ScheduleRestart(Entry& e, int64_t delay_ms);
  void RequestStop(Entry& e, int signal);
  void MarkDirty();
  control::MonitorReport Snapshot() const;
  Entry* Find(const std::string& name);
  bool AnyRunning(const std::string& role) const;
  Status WriteInfo() const;

  awaitable<void> SignalLoop();
  awaitable<void> ReportLoop();
  awaitable<void> StopRole(std::string role);
  awaitable<Result<std::string>> HandleStartNode(std::string payload);
  awaitable<Result<std::string>> HandleStopNode(std::string payload);

  asio::io_context& io_;
  env::Env* env_;
  control::Layout layout_;
  control::ClusterConfig config_;
  std::string exe_;
  asio::signal_set signals_;
  asio::steady_timer wake_reporter_;  // cancelled when a snapshot is due
  asio::steady_timer child_exited_;   // cancelled when a child exits
  rpc::Server rpc_server_;
  std::unique_ptr<rpc::Client> vms_client_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;  // vms, cnodes, dnodes
  int api_fd_ = -1;
  int rpc_fd_ = -1;
  uint16_t api_port_ = 0;
  uint16_t vms_rpc_port_ = 0;
  uint16_t monitor_rpc_port_ = 0;
  bool dirty_ = true;
  bool shutting_down_ = false;
  bool forced_ = false;
  bool done_ = false;
};

Status MonitorImpl::Init() {
  ASSIGN_OR_RETURN(auto api, BindListener(config_.api_host, config_.api_port));
  api_fd_ = api.first;
  api_port_ = api.second;
  ASSIGN_OR_RETURN(auto rpc, BindListener("127.0.0.1", 0));
  rpc_fd_ = rpc.first;
  vms_rpc_port_ = rpc.second;
  rpc_server_.Register(rpc::Method::kMonitorStartNode,
                       [this](std::string p) { return HandleStartNode(std::move(p)); });
  rpc_server_.Register(rpc::Method::kMonitorStopNode,
                       [this](std::string p) { return HandleStopNode(std::move(p)); });
  rpc_server_.Register(rpc::Method::kMonitorStatus, [this](std::string) -> awaitable<Result<std::string>> {
    co_return control::Encode(Snapshot());
  });
  ASSIGN_OR_RETURN(monitor_rpc_port_, rpc_server_.Listen("127.0.0.1", 0));
  vms_client_ = std::make_unique<rpc::Client>(io_, "127.0.0.1", vms_rpc_port_, rpc::ClientOptions{});

  AddEntry("vms", "vms");
  for (int i = 1; i <= config_.cnodes; ++i) AddEntry(fmt::format("cnode-{}", i), "cnode");
  for (int i = 1; i <= config_.dnodes; ++i) AddEntry(fmt::format("dnode-{}", i), "dnode");
  entries_.at("vms").wanted = true;  // nodes start when the VMS asks for them
  return WriteInfo();
}

void MonitorImpl::AddEntry(const std::string& name, const std::string& role) {
  Entry e;
  e.info.name = name;
  e.info.role = role;
  e.info.phase = ProcessPhase::kStopped;
  e.restart_timer = std::make_unique<asio::steady_timer>(io_);
  entries_.emplace(name, std::move(e));
  order_.push_back(name);
}

Status MonitorImpl::WriteInfo() const {
  boost::json::object info{{"pid", static_cast<int64_t>(::getpid())},
                           {"api_host", config_.api_host},
                           {"api_port", api_port_},
                           {"vms_rpc_port", vms_rpc_port_},
                           {"monitor_rpc_port", monitor_rpc_port_},
                           {"data_dir", layout_.root}};
  return env::WriteFileAtomic(env_, layout_.MonitorInfo(), boost::json::serialize(info), 0644);
}

std::vector<std::string> MonitorImpl::ArgsFor(const Entry& e) const {
  if (e.info.role == "vms") {
    return {"dase", "role", "vms", "--data-dir", layout_.root, "--api-fd",
            std::to_string(kApiFd), "--rpc-fd", std::to_string(kRpcFd), "--monitor-port",
            std::to_string(monitor_rpc_port_)};
  }
  return {"dase", "role", e.info.role, "--data-dir", layout_.root, "--name", e.info.name,
          "--vms-port", std::to_string(vms_rpc_port_)};
}

void MonitorImpl::StartProcess(Entry& e) {
  std::string log_path = layout_.Log(e.info.name);
  if (auto st = env_->Stat(log_path); st.ok() && st->size > kLogRotateBytes) {
    env_->Rename(log_path, log_path + ".1").IgnoreError();  // best effort: logs only
  }
  SpawnSpec spec{exe_, ArgsFor(e), log_path, {}};
  if (e.info.role == "vms") spec.inherit_fds = {{api_fd_, kApiFd}, {rpc_fd_, kRpcFd}};
  auto pid = Spawn(spec);
  if (!pid.ok()) {
    e.info.phase = ProcessPhase::kFailed;
    e.info.reason = "cannot start process: " + pid.status().ToString();
    LOG_ERROR("{}: {}", e.info.name, e.info.reason);
    MarkDirty();
    return;
  }
  e.info.pid = *pid;
  e.info.phase = ProcessPhase::kRunning;
  e.info.starts++;
  e.info.next_start_ms = 0;
  e.info.reason.clear();
  e.started_us = env_->MonotonicMicros();
  LOG_INFO("{} started, pid {}", e.info.name, *pid);
  MarkDirty();
}

void MonitorImpl::ScheduleRestart(Entry& e, int64_t delay_ms) {
  e.info.phase = ProcessPhase::kBackoff;
  e.info.next_start_ms = delay_ms;
  e.restart_timer->expires_after(std::chrono::milliseconds(delay_ms));
  e.restart_timer->async_wait([this, name = e.info.name](boost::system::error_code ec) {
    Entry* entry = Find(name);
    if (ec || entry == nullptr || !entry->wanted || shutting_down_) return;
    if (entry->info.phase == ProcessPhase::kBackoff) StartProcess(*entry);
  });
}

void MonitorImpl::OnChildExit(pid_t pid, int wait_status) {
  child_exited_.cancel();
  Entry* found = nullptr;
  for (auto& [name, e] : entries_) {
    if (e.info.pid == pid) found = &e;
  }
  if (found == nullptr) return;
  Entry& e = *found;
  e.info.pid = 0;
  std::string how = DescribeExit(wait_status);
  MarkDirty();
  if (!e.wanted || shutting_down_) {
    e.info.phase = ProcessPhase::kStopped;
    e.info.reason = shutting_down_ ? "cluster shutdown" : "deactivated";
    LOG_INFO("{} stopped ({})", e.info.name, how);
    return;
  }
  e.info.exits++;
  // A process that exited on its own usually logged why; a killed one did not.
  std::string why = WIFEXITED(wait_status) ? LogMessage(LastLogLine(layout_.Log(e.info.name))) : "";
  e.info.last_exit = why.empty() ? how : how + ": " + why;
  int64_t up_ms = (env_->MonotonicMicros() - e.started_us) / 1000;
  e.info.failures = up_ms < config_.restart.stable_after_ms ? e.info.failures + 1 : 1;
  if (JudgeExit(config_.restart, e.info.failures) == ExitVerdict::kGiveUp) {
    e.info.phase = ProcessPhase::kFailed;
    e.info.reason = fmt::format("failed {} times in a row, not restarting until activated; last: {}",
                                e.info.failures, e.info.last_exit);
    LOG_ERROR("{}: {}", e.info.name, e.info.reason);
    return;
  }
  uint64_t random = 0;
  env_->RandomBytes(std::span<char>(reinterpret_cast<char*>(&random), sizeof(random)));
  int64_t delay_ms = RestartDelayMs(config_.restart, e.info.failures, random);
  LOG_WARN("{} {}; restarting in {} ms (failure {} of {})", e.info.name, e.info.last_exit,
           delay_ms, e.info.failures, config_.restart.max_failures);
  ScheduleRestart(e, delay_ms);
}

void MonitorImpl::RequestStop(Entry& e, int signal) {
  e.restart_timer->cancel();
  if (e.info.pid > 0) {
    ::kill(static_cast<pid_t>(e.info.pid), signal);
    e.info.phase = ProcessPhase::kStopping;
  } else {
    // Nothing runs (waiting in backoff, or FAILED): the node is simply stopped now.
    e.info.phase = ProcessPhase::kStopped;
    e.info.reason = shutting_down_ ? "cluster shutdown" : "deactivated";
  }
  MarkDirty();
}

void MonitorImpl::MarkDirty() {
  dirty_ = true;
  wake_reporter_.cancel();
}

control::MonitorReport MonitorImpl::Snapshot() const {
  control::MonitorReport report;
  report.shutting_down = shutting_down_;
  for (const std::string& name : order_) report.processes.push_back(entries_.at(name).info);
  return report;
}

Entry* MonitorImpl::Find(const std::string& name) {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

bool MonitorImpl::AnyRunning(const std::string& role) const {
  for (const auto& [name, e] : entries_) {
    if (e.info.role == role && e.info.pid > 0) return true;
  }
  return false;
}

awaitable<Result<std::string>> MonitorImpl::HandleStartNode(std::string payload) {
  CO_ASSIGN_OR_RETURN(auto req, control::DecodeStartNode(payload));
  Entry* e = Find(req.name);
  if (e == nullptr || e->info.role == "vms") co_return NotFound("no node named " + req.name);
  if (shutting_down_) co_return FailedPrecondition("the cluster is shutting down");
  e->wanted = true;
  if (req.reset) e->info.failures = 0;
  bool idle = e->info.phase == ProcessPhase::kStopped ||
              (e->info.phase == ProcessPhase::kFailed && req.reset) ||
              (e->info.phase == ProcessPhase::kBackoff && req.reset);
  if (idle && e->info.pid == 0) {
    e->restart_timer->cancel();
    StartProcess(*e);
  }
  co_return control::Encode(Snapshot());
}

awaitable<Result<std::string>> MonitorImpl::HandleStopNode(std::string payload) {
  CO_ASSIGN_OR_RETURN(auto req, control::DecodeStopNode(payload));
  Entry* e = Find(req.name);
  if (e == nullptr || e->info.role == "vms") co_return NotFound("no node named " + req.name);
  e->wanted = false;
  RequestStop(*e, SIGTERM);
  co_return control::Encode(Snapshot());
}

awaitable<void> MonitorImpl::SignalLoop() {
  while (!done_) {
    auto [ec, sig] = co_await signals_.async_wait(asio::as_tuple(use_awaitable));
    if (ec) co_return;
    if (sig == SIGCHLD) {
      int wait_status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &wait_status, WNOHANG)) > 0) OnChildExit(pid, wait_status);
      continue;
    }
    if (!shutting_down_) {
      LOG_INFO("signal {}: stopping the cluster (again to force)", sig);
      shutting_down_ = true;
      MarkDirty();
      child_exited_.cancel();
    } else if (!forced_) {
      LOG_WARN("signal {} again: killing every process now", sig);
      forced_ = true;
      for (auto& [name, e] : entries_) RequestStop(e, SIGKILL);
      child_exited_.cancel();
    }
  }
}

awaitable<void> MonitorImpl::ReportLoop() {
  auto retry_delay = 200ms;
  while (!done_) {
    const Entry& vms = entries_.at("vms");
    if (!dirty_ || vms.info.pid == 0) {
      wake_reporter_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_reporter_.async_wait(asio::as_tuple(use_awaitable));
      continue;
    }
    dirty_ = false;
    std::string payload = control::Encode(Snapshot());  // a named local: see node.cc
    auto reply = co_await vms_client_->Call(rpc::Method::kMonitorReport, payload, kReportTimeout);
    if (reply.ok()) {
      retry_delay = 200ms;
      continue;
    }
    // The VMS may be starting or restarting: try again, less often the longer it takes.
    dirty_ = true;
    asio::steady_timer pause(io_, retry_delay);
    co_await pause.async_wait(asio::as_tuple(use_awaitable));
    retry_delay = std::min<std::chrono::milliseconds>(retry_delay * 2, 5s);
  }
}

awaitable<void> MonitorImpl::StopRole(std::string role) {
  for (auto& [name, e] : entries_) {
    if (e.info.role == role) {
      e.wanted = false;
      RequestStop(e, forced_ ? SIGKILL : SIGTERM);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  bool killed = false;
  while (AnyRunning(role)) {
    if (!killed && (forced_ || std::chrono::steady_clock::now() >= deadline)) {
      LOG_WARN("{} processes still running: killing them", role);
      for (auto& [name, e] : entries_) {
        if (e.info.role == role && e.info.pid > 0) ::kill(static_cast<pid_t>(e.info.pid), SIGKILL);
      }
      killed = true;
    }
    child_exited_.expires_at(killed ? asio::steady_timer::time_point::max() : deadline);
    co_await child_exited_.async_wait(asio::as_tuple(use_awaitable));
  }
}

awaitable<int> MonitorImpl::Run() {
  asio::co_spawn(io_, SignalLoop(), asio::detached);
  asio::co_spawn(io_, ReportLoop(), asio::detached);
  rpc_server_.Start();
  LOG_INFO("monitor pid {} starting cluster {} ({} cnodes, {} dnodes), API on {}:{}", ::getpid(),
           config_.name, config_.cnodes, config_.dnodes, config_.api_host, api_port_);
  StartProcess(entries_.at("vms"));
  while (!shutting_down_) {
    child_exited_.expires_at(asio::steady_timer::time_point::max());
    co_await child_exited_.async_wait(asio::as_tuple(use_awaitable));
  }
  for (std::string role : {"cnode", "dnode", "vms"}) co_await StopRole(role);
  done_ = true;
  rpc_server_.Stop();
  vms_client_->Close();
  signals_.cancel();
  wake_reporter_.cancel();
  env_->RemoveFile(layout_.MonitorInfo()).IgnoreError();  // stale info is harmless but confusing
  LOG_INFO("cluster stopped");
  co_return forced_ ? 1 : 0;
}

}  // namespace

Result<std::unique_ptr<Monitor>> Monitor::Create(asio::io_context& io, env::Env* env,
                                                 control::Layout layout,
                                                 control::ClusterConfig config) {
  ASSIGN_OR_RETURN(std::string exe, SelfExe());
  auto monitor = std::make_unique<MonitorImpl>(io, env, std::move(layout), std::move(config),
                                               std::move(exe));
  RETURN_IF_ERROR(monitor->Init());
  return std::unique_ptr<Monitor>(std::move(monitor));
}

int RunMonitor(const control::Layout& layout, const control::ClusterConfig& config) {
  env::Env* env = env::Env::Default();
  log::SetProcessName("monitor");
  for (const std::string& dir : {layout.RunDir(), layout.LogDir()}) {
    if (Status s = env::CreateDirs(env, dir); !s.ok()) {
      LOG_ERROR("cannot create {}: {}", dir, s.ToString());
      return 1;
    }
  }
  auto lock = env->LockFile(layout.MonitorLock());
  if (!lock.ok()) {
    LOG_ERROR("a cluster is already running in {} ({})", layout.root, lock.status().ToString());
    return 1;
  }
  asio::io_context io(1);
  auto monitor = Monitor::Create(io, env, layout, config);
  if (!monitor.ok()) {
    LOG_ERROR("cannot start: {}", monitor.status().ToString());
    return 1;
  }
  int code = 1;
  asio::co_spawn(io, (*monitor)->Run(), [&](std::exception_ptr e, int rc) {
    code = e ? 2 : rc;
    io.stop();
  });
  io.run();
  return code;
}

}  // namespace dase::monitor
