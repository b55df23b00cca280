#include "node/node.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "common/asio.h"
#include "common/log.h"
#include "control/config.h"
#include "control/messages.h"
#include "dnode/block_service.h"
#include "estore/data_plane.h"
#include "estore/migrator.h"
#include "estore/namespace.h"
#include "estore/service.h"
#include "meta/sqlite_store.h"
#include "env/env.h"
#include "rpc/client.h"
#include "rpc/methods.h"
#include "rpc/server.h"
#include "rpc/spawn.h"
#include "s3/service.h"

namespace dase::node {
namespace {

using namespace std::chrono_literals;
constexpr auto kCallTimeout = 2s;

class NodeProcess {
 public:
  NodeProcess(asio::io_context& io, env::Env* env, std::string role, std::string name,
              uint16_t vms_port, control::ClusterConfig config, std::string node_dir,
              std::string meta_db)
      : io_(io),
        env_(env),
        role_(std::move(role)),
        name_(std::move(name)),
        config_(std::move(config)),
        rpc_server_(io, rpc::ServerOptions{}),
        vms_(io, "127.0.0.1", vms_port, rpc::ClientOptions{}),
        signals_(io, SIGTERM, SIGINT),
        tick_(io) {
    incarnation_ = env::RandomHex(env, 8);
    node_dir_ = std::move(node_dir);
    meta_db_ = std::move(meta_db);
  }

  Status Start() {
    ASSIGN_OR_RETURN(rpc_port_, rpc_server_.Listen("127.0.0.1", 0));
    rpc_server_.Start();
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      LOG_INFO("signal {}: stopping", sig);
      stopping_ = true;
      if (migrator_ != nullptr) migrator_->Stop();
      tick_.cancel();
    });
    asio::co_spawn(io_, Loop(), asio::detached);
    return Status::Ok();
  }

 private:
  awaitable<void> Loop() {
    LOG_INFO("{} {} starting, pid {}, rpc port {}", role_, name_, ::getpid(), rpc_port_);
    auto interval = std::chrono::milliseconds(config_.heartbeat_interval_ms);
    while (!stopping_) {
      co_await ReportToVms();
      auto expected = std::chrono::steady_clock::now() + interval;
      tick_.expires_at(expected);
      co_await tick_.async_wait(asio::as_tuple(use_awaitable));
      auto late_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - expected)
                         .count();
      if (!stopping_ && late_ms > config_.stall_threshold_ms) {
        ++stalls_;
        max_stall_ms_ = std::max<int64_t>(max_stall_ms_, late_ms);
        LOG_WARN("event loop stalled for {} ms (threshold {} ms)", late_ms,
                 config_.stall_threshold_ms);
      }
      ExitIfStoreFailed();
    }
    if (batcher_ != nullptr) {
      LOG_INFO("metadata: {} writes in {} group commits", batcher_->bodies_committed(),
               batcher_->commits());
    }
    // Payloads are named locals: GCC 12 destroys temporaries inside co_await expressions twice.
    control::NodeGoodbye goodbye{name_, incarnation_};
    std::string payload = control::Encode(goodbye);
    auto r = co_await vms_.Call(rpc::Method::kNodeGoodbye, payload, 1s);
    r.IgnoreError();  // best effort: the monitor reports the exit anyway
    rpc_server_.Stop();
    if (s3_listeners_ != nullptr) s3_listeners_->StopAll();
    vms_.Close();
    signals_.cancel();
    // Connections to DNodes and drive work keep the loop busy forever: stop it outright. The
    // block service, destroyed after the loop returns, waits for drive I/O in progress.
    io_.stop();
  }

  // A metadata store whose log failed to sync takes no more writes until it is opened again
  // (kv.h WriteHealth), and what its file holds is unknown: a failed fsync fails the node.
  // Exiting lets the monitor restart this CNode, which opens the store from what is durable;
  // a disk that keeps failing makes it FAILED after the restart policy's attempts.
  void ExitIfStoreFailed() {
    if (store_ == nullptr) return;
    if (Status health = store_->WriteHealth(); !health.ok()) {
      LOG_ERROR("metadata store failed, exiting for a restart: {}", health.ToString());
      ::_exit(1);
    }
  }

  // Says hello until the VMS knows this incarnation, then heartbeats.
  awaitable<void> ReportToVms() {
    if (!registered_) {
      control::NodeHello hello{name_, role_, ::getpid(), rpc_port_, incarnation_};
      std::string payload = control::Encode(hello);
      auto r = co_await vms_.Call(rpc::Method::kNodeHello, payload, kCallTimeout);
      if (!r.ok()) {
        LOG_WARN("hello to VMS failed: {}", r.status().ToString());
        co_return;
      }
      auto welcome = control::DecodeNodeWelcome(*r);
      if (!welcome.ok()) {
        LOG_WARN("bad welcome from VMS: {}", welcome.status().ToString());
        co_return;
      }
      cluster_guid_ = welcome->cluster_guid;
      Status activated = role_ == "dnode" ? ActivateDnode() : co_await ActivateCnode();
      if (!activated.ok()) {
        // Nothing this process can fix by waiting: exit, and let the monitor's restart policy
        // decide (a node that cannot activate ends FAILED with this reason).
        LOG_ERROR("cannot activate: {}", activated.ToString());
        ::_exit(1);
      }
      registered_ = true;
      ready_ = true;
    }
    control::NodeHeartbeat hb{name_, incarnation_, ready_, stalls_, max_stall_ms_, DriveReports()};
    std::string payload = control::Encode(hb);
    auto r = co_await vms_.Call(rpc::Method::kNodeHeartbeat, payload, kCallTimeout);
    if (!r.ok()) {
      // A restarted VMS does not know this incarnation: register again.
      if (r.status().code() == Code::kFailedPrecondition) registered_ = false;
      LOG_WARN("heartbeat to VMS failed: {}", r.status().ToString());
      co_return;
    }
    auto reply = control::DecodeHeartbeatReply(*r);
    if (reply.ok() && peers_ != nullptr && reply->map_version != map_version_) {
      Status s = co_await RefreshMap();
      if (!s.ok()) LOG_WARN("cannot refresh the cluster map: {}", s.ToString());
    } else if (s3_listeners_ != nullptr && s3_listeners_->Serving().size() != vips_.size()) {
      s3_listeners_->Update(vips_);  // a VIP its former holder had not released yet
    }
  }

  // A CNode serves the element store: the shared metadata store, the namespace, and the
  // DNodes it writes to, found through the VMS's cluster map.
  awaitable<Status> ActivateCnode() {
    if (estore_ != nullptr) co_return Status::Ok();
    CO_ASSIGN_OR_RETURN(store_, meta::SqliteStore::Open(env_, meta_db_));
    CO_ASSIGN_OR_RETURN(namespace_, estore::Namespace::Open(store_.get(), env_));
    peers_ = std::make_unique<estore::DnodePeers>(io_);
    CO_RETURN_IF_ERROR(co_await RefreshMap());
    int index = std::atoi(name_.substr(name_.rfind('-') + 1).c_str()) - 1;
    if (index < 0 || index >= config_.cnodes) co_return InvalidArgument("bad cnode name " + name_);
    uint64_t scm_data = static_cast<uint64_t>(config_.scm_bytes) - dnode::kDriveHeaderBytes;
    allocator_ = std::make_unique<estore::BufferAllocator>(name_, index, config_.cnodes, scm_data);
    estore::StripeStoreOptions stripe_options;
    stripe_options.cnode = name_;
    stripe_options.ssd_drives = config_.ssd_drives;
    stripe_options.ssd_data_bytes = static_cast<uint64_t>(config_.ssd_bytes) - dnode::kDriveHeaderBytes;
    stripes_ = std::make_unique<estore::StripeStore>(env_, store_.get(), peers_.get(), stripe_options,
                                                     [this] { return RefreshMap(); });
    data_ = std::make_unique<estore::DataPlane>(env_, peers_.get(), allocator_.get(), stripes_.get(),
                                                [this] { return RefreshMap(); });
    estore::MigratorOptions migrator_options;
    migrator_options.cnode = name_;
    migrator_options.flush_after_us = config_.flush_after_ms * 1000;
    migrator_options.sweep_every_us = config_.sweep_every_ms * 1000;
    migrator_ = std::make_unique<estore::Migrator>(io_, env_, store_.get(), data_.get(),
                                                   stripes_.get(), allocator_.get(), migrator_options);
    CO_RETURN_IF_ERROR(migrator_->Start());
    batcher_ = std::make_unique<estore::CommitBatcher>(io_, store_.get());
    stripe_batcher_ = std::make_unique<estore::StripeBatcher>(io_, stripes_.get(), migrator_.get());
    objects_ = std::make_unique<estore::ObjectStore>(namespace_.get(), data_.get(), stripes_.get(),
                                                     migrator_.get(), batcher_.get(),
                                                     stripe_batcher_.get());
    estore_ = std::make_unique<estore::EstoreService>(objects_.get());
    estore_->Register(rpc_server_);
    rpc::Spawn(io_, migrator_->Run(), "migrator");
    s3_ = std::make_unique<s3::S3Service>(env_, objects_.get(), store_.get(), s3::S3Options{});
    s3_listeners_ = std::make_unique<s3::S3Listeners>(io_.get_executor(), s3_.get(), config_.s3_port);
    s3_listeners_->Update(vips_);
    co_return Status::Ok();
  }

  awaitable<Status> RefreshMap() {
    std::string empty;
    auto r = co_await vms_.Call(rpc::Method::kClusterMap, empty, kCallTimeout);
    if (!r.ok()) co_return r.status();
    CO_ASSIGN_OR_RETURN(control::ClusterMap map, control::DecodeClusterMap(*r));
    peers_->Update(map);
    map_version_ = map.version;
    // The VIPs this CNode holds (the VMS moves them between CNodes).
    for (const control::MapNode& n : map.nodes) {
      if (n.name == name_) vips_ = n.vips;
    }
    if (s3_listeners_ != nullptr) s3_listeners_->Update(vips_);
    co_return Status::Ok();
  }

  // The data-plane work of activation: a DNode opens (or creates) its drives and serves them.
  Status ActivateDnode() {
    if (blocks_ != nullptr) return Status::Ok();
    dnode::DnodeOptions options;
    options.node_dir = node_dir_;
    options.dnode_name = name_;
    options.cluster_guid = cluster_guid_;
    options.drives.scm_count = static_cast<uint32_t>(config_.scm_drives);
    options.drives.scm_bytes = static_cast<uint64_t>(config_.scm_bytes);
    options.drives.scm_preformat = config_.scm_preformat;
    options.drives.ssd_count = static_cast<uint32_t>(config_.ssd_drives);
    options.drives.ssd_bytes = static_cast<uint64_t>(config_.ssd_bytes);
    ASSIGN_OR_RETURN(blocks_, dnode::BlockService::Open(io_, env_, options));
    blocks_->Register(rpc_server_);
    LOG_INFO("serving {} drives", blocks_->Info().drives.size());
    return Status::Ok();
  }

  std::vector<control::DriveReport> DriveReports() const {
    std::vector<control::DriveReport> reports;
    if (blocks_ == nullptr) return reports;
    for (const dnode::DriveInfo& d : blocks_->Info().drives) {
      bool failed = d.stats.state != dnode::DriveState::kActive;
      reports.push_back({d.drive_id, std::string(dnode::KindName(d.ref.kind)),
                         static_cast<int64_t>(d.data_bytes),
                         static_cast<int64_t>(d.stats.high_water_bytes),
                         failed ? "FAILED" : "ACTIVE"});
    }
    return reports;
  }

  asio::io_context& io_;
  env::Env* env_;
  std::string role_;
  std::string name_;
  control::ClusterConfig config_;
  rpc::Server rpc_server_;
  rpc::Client vms_;
  asio::signal_set signals_;
  asio::steady_timer tick_;
  std::string incarnation_;
  std::string cluster_guid_;
  std::string node_dir_;
  std::unique_ptr<dnode::BlockService> blocks_;
  std::string meta_db_;
  int64_t map_version_ = 0;
  std::unique_ptr<meta::SqliteStore> store_;
  std::unique_ptr<estore::Namespace> namespace_;
  std::unique_ptr<estore::DnodePeers> peers_;
  std::unique_ptr<estore::BufferAllocator> allocator_;
  std::unique_ptr<estore::StripeStore> stripes_;
  std::unique_ptr<estore::DataPlane> data_;
  std::unique_ptr<estore::Migrator> migrator_;
  std::unique_ptr<estore::CommitBatcher> batcher_;
  std::unique_ptr<estore::StripeBatcher> stripe_batcher_;
  std::unique_ptr<estore::ObjectStore> objects_;
  std::unique_ptr<estore::EstoreService> estore_;
  std::unique_ptr<s3::S3Service> s3_;
  std::unique_ptr<s3::S3Listeners> s3_listeners_;  // after s3_: its servers call into it
  std::vector<std::string> vips_;
  uint16_t rpc_port_ = 0;
  bool registered_ = false;
  bool ready_ = false;
  bool stopping_ = false;
  int64_t stalls_ = 0;
  int64_t max_stall_ms_ = 0;
};

}  // namespace

int RunNode(const std::string& role, const control::Layout& layout, const std::string& name,
            uint16_t vms_port) {
  env::Env* env = env::Env::Default();
  log::SetProcessName(name);
  auto config = control::LoadConfig(env, layout.Config());
  if (!config.ok()) {
    LOG_ERROR("cannot read cluster config: {}", config.status().ToString());
    return 1;
  }
  std::string dir = layout.NodeDir(name);
  if (Status s = env::CreateDirs(env, dir, 0700); !s.ok()) {
    LOG_ERROR("cannot use node directory: {}", s.ToString());
    return 1;
  }
  auto lock = env->LockFile(dir + "/node.lock");
  if (!lock.ok()) {
    LOG_ERROR("node directory is in use: {}", lock.status().ToString());
    return 1;
  }
  asio::io_context io(1);
  NodeProcess node(io, env, role, name, vms_port, *config, dir, layout.MetaDb());
  if (Status s = node.Start(); !s.ok()) {
    LOG_ERROR("cannot start: {}", s.ToString());
    return 1;
  }
  io.run();
  LOG_INFO("stopped");
  return 0;
}

}  // namespace dase::node
