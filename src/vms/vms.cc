#include "vms/vms.h"

#include <signal.h>

#include <chrono>

#include "common/asio.h"
#include "common/log.h"
#include "control/config.h"
#include "http/server.h"
#include "http/tls.h"
#include "meta/sqlite_store.h"
#include "rpc/client.h"
#include "rpc/methods.h"
#include "rpc/server.h"
#include "vms/api.h"
#include "vms/protocol_ops.h"

namespace dase::vms {
namespace {

using namespace std::chrono_literals;

// Commands to the monitor, each delivered by its own coroutine with a few retries: the
// monitor outlives the VMS, so a failure here means the whole cluster is going down.
class RpcMonitorLink final : public MonitorLink {
 public:
  RpcMonitorLink(asio::io_context& io, uint16_t port)
      : io_(io), client_(io, "127.0.0.1", port, rpc::ClientOptions{}) {}

  void StartNode(const std::string& name, bool reset) override {
    Send(rpc::Method::kMonitorStartNode, control::Encode(control::StartNodeRequest{name, reset}));
  }
  void StopNode(const std::string& name) override {
    Send(rpc::Method::kMonitorStopNode, control::Encode(control::StopNodeRequest{name}));
  }
  rpc::Client& client() { return client_; }

 private:
  void Send(rpc::Method method, std::string payload) {
    asio::co_spawn(io_, SendWithRetries(method, std::move(payload)), asio::detached);
  }
  awaitable<void> SendWithRetries(rpc::Method method, std::string payload) {
    for (int attempt = 1; attempt <= 5; ++attempt) {
      auto r = co_await client_.Call(method, payload, 2s);
      if (r.ok() || r.status().code() == Code::kNotFound) co_return;
      LOG_WARN("monitor call {} failed (attempt {}): {}", static_cast<int>(method), attempt,
               r.status().ToString());
      asio::steady_timer pause(io_, 500ms);
      co_await pause.async_wait(asio::as_tuple(use_awaitable));
    }
  }
  asio::io_context& io_;
  rpc::Client client_;
};

// Wraps a handler of a decoded message in the RPC handler shape.
template <typename Decode, typename Apply>
rpc::Handler MessageHandler(Decode decode, Apply apply) {
  return [decode, apply](std::string payload) -> awaitable<Result<std::string>> {
    auto message = decode(payload);
    if (!message.ok()) co_return message.status();
    Status s = apply(*message);
    if (!s.ok()) co_return s;
    co_return std::string("{}");
  };
}

struct Vms {
  asio::io_context& io;
  control::ClusterConfig config;
  std::unique_ptr<meta::SqliteStore> store;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<RpcMonitorLink> monitor;
  std::unique_ptr<ClusterManager> cluster;
  std::unique_ptr<Api> api;
  std::unique_ptr<rpc::Server> rpc_server;
  std::unique_ptr<http::Server> http_server;
};

void RegisterRpc(Vms& v) {
  ClusterManager* c = v.cluster.get();
  v.rpc_server->Register(
      rpc::Method::kNodeHello, [c](std::string payload) -> awaitable<Result<std::string>> {
        auto hello = control::DecodeNodeHello(payload);
        if (!hello.ok()) co_return hello.status();
        CO_RETURN_IF_ERROR(c->OnHello(*hello));
        control::NodeWelcome welcome{c->cluster().guid, c->cluster().name};
        co_return control::Encode(welcome);
      });
  v.rpc_server->Register(
      rpc::Method::kNodeHeartbeat, [c](std::string payload) -> awaitable<Result<std::string>> {
        auto heartbeat = control::DecodeNodeHeartbeat(payload);
        if (!heartbeat.ok()) co_return heartbeat.status();
        CO_RETURN_IF_ERROR(c->OnHeartbeat(*heartbeat));
        control::HeartbeatReply reply{c->map_version()};
        co_return control::Encode(reply);
      });
  v.rpc_server->Register(rpc::Method::kClusterMap,
                         [c](std::string) -> awaitable<Result<std::string>> {
                           control::ClusterMap map = c->Map();
                           co_return control::Encode(map);
                         });
  v.rpc_server->Register(
      rpc::Method::kNodeGoodbye,
      MessageHandler(control::DecodeNodeGoodbye,
                     [c](const control::NodeGoodbye& m) { return c->OnGoodbye(m); }));
  v.rpc_server->Register(rpc::Method::kMonitorReport,
                         MessageHandler(control::DecodeMonitorReport,
                                        [c](const control::MonitorReport& m) {
                                          c->OnMonitorReport(m);
                                          return Status::Ok();
                                        }));
}

// Learns what the monitor runs, then asks for every enabled node.
awaitable<void> Startup(Vms& v) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::string empty;  // a named local: GCC 12 mishandles temporaries inside co_await
    auto r = co_await v.monitor->client().Call(rpc::Method::kMonitorStatus, empty, 2s);
    if (r.ok()) {
      if (auto report = control::DecodeMonitorReport(*r); report.ok()) {
        v.cluster->OnMonitorReport(*report);
      }
      break;
    }
    asio::steady_timer pause(v.io, 200ms);
    co_await pause.async_wait(asio::as_tuple(use_awaitable));
  }
  v.cluster->Reconcile();
}

awaitable<void> TickLoop(Vms& v) {
  asio::steady_timer timer(v.io);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(v.config.heartbeat_interval_ms));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(use_awaitable));
    if (ec) co_return;
    v.cluster->Tick();
  }
}

Status Build(Vms& v, env::Env* env, const control::Layout& layout, int api_fd, int rpc_fd,
             uint16_t monitor_port) {
  ASSIGN_OR_RETURN(v.config, control::LoadConfig(env, layout.Config()));
  RETURN_IF_ERROR(env::CreateDirs(env, layout.TlsDir(), 0700));
  RETURN_IF_ERROR(http::EnsureSelfSignedCert(env, layout.TlsCert(), layout.TlsKey(),
                                             {"127.0.0.1", v.config.api_host}, {"localhost"}));
  ASSIGN_OR_RETURN(v.store, meta::SqliteStore::Open(env, layout.MetaDb()));
  ASSIGN_OR_RETURN(v.accounts, Accounts::Open(env, v.store.get(), layout));
  RETURN_IF_ERROR(SeedDefaults(v.store.get(), env));
  v.monitor = std::make_unique<RpcMonitorLink>(v.io, monitor_port);
  ASSIGN_OR_RETURN(v.cluster, ClusterManager::Open(env, v.store.get(), v.config, v.monitor.get()));
  v.api = std::make_unique<Api>(v.cluster.get(), v.accounts.get(), v.config, v.store.get(), env);
  v.rpc_server = std::make_unique<rpc::Server>(v.io, rpc::ServerOptions{});
  RegisterRpc(v);
  RETURN_IF_ERROR(v.rpc_server->Adopt(rpc_fd).status());
  ASSIGN_OR_RETURN(auto tls, http::MakeServerTlsContext(env, layout.TlsCert(), layout.TlsKey()));
  http::ServerOptions options;
  options.tls = tls;
  Api* api = v.api.get();
  v.http_server = std::make_unique<http::Server>(
      v.io.get_executor(), options, [api](http::Request& req, const http::PeerInfo& peer) {
        return api->Handle(req, peer);
      });
  RETURN_IF_ERROR(v.http_server->Adopt(api_fd).status());
  return Status::Ok();
}

}  // namespace

int RunVms(const control::Layout& layout, int api_fd, int rpc_fd, uint16_t monitor_port) {
  log::SetProcessName("vms");
  env::Env* env = env::Env::Default();
  asio::io_context io(1);
  Vms v{io, {}, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  if (Status s = Build(v, env, layout, api_fd, rpc_fd, monitor_port); !s.ok()) {
    LOG_ERROR("cannot start: {}", s.ToString());
    return 1;
  }
  v.rpc_server->Start();
  v.http_server->Start();
  asio::co_spawn(io, Startup(v), asio::detached);
  asio::co_spawn(io, TickLoop(v), asio::detached);
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    LOG_INFO("signal {}: stopping", sig);
    v.http_server->Stop();
    v.rpc_server->Stop();
    io.stop();
  });
  LOG_INFO("VMS serving, cluster {} is {}", v.cluster->cluster().name,
           ClusterStateName(v.cluster->cluster().state));
  io.run();
  return 0;
}

}  // namespace dase::vms
