// A whole element store in one process for tests: `dnodes` DNodes (BlockService behind real
// loopback RPC servers, small drives in a temp directory), the SQLite metadata store, and one
// CNode's namespace, data plane, stripes, migrator and service, all on the test's io_context.
// Test-only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dnode/block_service.h"
#include "dnode/dnode_test_util.h"
#include "estore/data_plane.h"
#include "estore/migrator.h"
#include "estore/namespace.h"
#include "estore/service.h"
#include "meta/sqlite_store.h"
#include "rpc/test_util.h"

namespace dase::estore::testutil {

inline constexpr char kClusterGuid[] = "guid-estore-test";

struct Sizes {
  uint64_t scm_bytes = 8 << 20;
  uint32_t ssd_count = 4;
  uint64_t ssd_bytes = 24 << 20;
};

class EstoreTest : public rpc::testutil::RpcTest {
 protected:
  struct Dnode {
    std::string name;
    std::unique_ptr<dnode::BlockService> service;
    std::unique_ptr<rpc::Server> server;
  };

  // `store_options` for the metadata store: an Env other than the POSIX one needs
  // VfsLocking::kInProcess.
  void StartCluster(int dnodes, Sizes sizes = {}, meta::SqliteOptions store_options = {}) {
    sizes_ = sizes;
    store_options_ = store_options;
    dnodes_.clear();
    for (int i = 1; i <= dnodes; ++i) {
      dnodes_.push_back(Dnode{"dnode-" + std::to_string(i), nullptr, nullptr});
    }
    OpenAll();
  }

  // Opens every DNode, the store and the CNode (again, after StopAll).
  void OpenAll() {
    for (size_t i = 0; i < dnodes_.size(); ++i) {
      StartDnode(i);
      if (HasFatalFailure()) return;
    }
    auto store = meta::SqliteStore::Open(env_, DbPath(), store_options_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    OpenCnode();
  }

  // Closes the CNode, the store and every DNode, as if every process stopped.
  void StopAll() {
    StopCnode();
    store_.reset();
    for (Dnode& d : dnodes_) {
      d.server.reset();
      d.service.reset();
    }
  }

  void StopCnode() {
    service_.reset();
    objects_.reset();
    stripe_batcher_.reset();
    batcher_.reset();
    migrator_.reset();
    data_.reset();
    stripes_.reset();
    allocator_.reset();
    peers_.reset();
    ns_.reset();
  }

  std::string DbPath() const { return dir_.path() + "/meta/meta.db"; }

  // (Re)creates the CNode's objects, as a restarted CNode process would.
  void OpenCnode() {
    StopCnode();
    auto ns = Namespace::Open(store_.get(), env_);
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ns_ = std::move(ns).value();
    peers_ = std::make_unique<DnodePeers>(io_);
    UpdateMap();
    allocator_ = std::make_unique<BufferAllocator>("cnode-1", 0, 1,
                                                   sizes_.scm_bytes - dnode::kDriveHeaderBytes);
    StripeStoreOptions so;
    so.cnode = "cnode-1";
    so.ssd_drives = static_cast<int>(sizes_.ssd_count);
    so.ssd_data_bytes = sizes_.ssd_bytes - dnode::kDriveHeaderBytes;
    // The cluster map as the VMS would serve it now.
    MapRefresher refresh = [this]() -> awaitable<Status> {
      UpdateMap();
      co_return Status::Ok();
    };
    stripes_ = std::make_unique<StripeStore>(env_, store_.get(), peers_.get(), so, refresh);
    data_ = std::make_unique<DataPlane>(env_, peers_.get(), allocator_.get(), stripes_.get(),
                                        refresh);
    MigratorOptions mo;
    mo.cnode = "cnode-1";
    migrator_ = std::make_unique<Migrator>(io_, env_, store_.get(), data_.get(), stripes_.get(),
                                           allocator_.get(), mo);
    ASSERT_TRUE(migrator_->Start().ok());
    batcher_ = std::make_unique<CommitBatcher>(io_, store_.get());
    stripe_batcher_ = std::make_unique<StripeBatcher>(io_, stripes_.get(), migrator_.get());
    objects_ = std::make_unique<ObjectStore>(ns_.get(), data_.get(), stripes_.get(),
                                             migrator_.get(), batcher_.get(),
                                             stripe_batcher_.get());
    service_ = std::make_unique<EstoreService>(objects_.get());
  }

  void StartDnode(size_t i) {
    Dnode& d = dnodes_[i];
    dnode::DnodeOptions o;
    o.node_dir = dir_.path() + "/" + d.name;
    o.dnode_name = d.name;
    o.cluster_guid = kClusterGuid;
    o.drives = dnode::DriveOptions{.scm_count = 1, .scm_bytes = sizes_.scm_bytes,
                                   .ssd_count = sizes_.ssd_count, .ssd_bytes = sizes_.ssd_bytes};
    auto service = dnode::BlockService::Open(io_, env_, o);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    d.service = std::move(service).value();
    d.server = StartServer();
    d.service->Register(*d.server);
  }

  // Restarts DNode i on a new port, without telling the CNode (it finds out by refreshing).
  void RestartDnode(size_t i) {
    dnodes_[i].server.reset();
    dnodes_[i].service.reset();
    StartDnode(i);
  }

  // Takes DNode i away (its port then refuses connections) and tells the CNode.
  void StopDnode(size_t i) {
    dnodes_[i].server.reset();
    dnodes_[i].service.reset();
    UpdateMap();
  }

  void UpdateMap() {
    control::ClusterMap map;
    map.version = ++map_version_;
    for (const Dnode& d : dnodes_) {
      bool up = d.server != nullptr;
      map.nodes.push_back(control::MapNode{d.name, "dnode", up ? "ACTIVE" : "INACTIVE",
                                           up ? d.server->port() : uint16_t{1}});
    }
    peers_->Update(map);
  }

  std::string DrivePath(size_t dnode_index, const std::string& drive) const {
    return dir_.path() + "/" + dnodes_[dnode_index].name + "/drives/" + drive;
  }

  // The stripe location of the first extent of `path` (fails the test if it is buffered).
  Result<StripeRecord> StripeOf(const std::string& path) {
    ASSIGN_OR_RETURN(Inode inode, ns_->Resolve(path));
    ASSIGN_OR_RETURN(auto extents, ns_->Extents(inode.ino, 0, inode.size));
    if (extents.empty()) return NotFound("no extents");
    ASSIGN_OR_RETURN(ChunkLocation loc, DecodeLocation(extents[0].location));
    if (loc.kind != LocationKind::kStripe) return FailedPrecondition(path + " is buffered");
    ASSIGN_OR_RETURN(auto txn, store_->Begin());
    ASSIGN_OR_RETURN(auto raw, txn->Get(StripeKey(loc.stripe)));
    if (!raw) return NotFound("no stripe record");
    return DecodeStripeRecord(loc.stripe, *raw);
  }

  env::Env* env_ = env::Env::Default();
  dnode::testutil::TempDir dir_;
  Sizes sizes_;
  meta::SqliteOptions store_options_;
  int64_t map_version_ = 0;
  std::vector<Dnode> dnodes_;
  std::unique_ptr<meta::SqliteStore> store_;
  std::unique_ptr<Namespace> ns_;
  std::unique_ptr<DnodePeers> peers_;
  std::unique_ptr<BufferAllocator> allocator_;
  std::unique_ptr<StripeStore> stripes_;
  std::unique_ptr<DataPlane> data_;
  std::unique_ptr<Migrator> migrator_;
  std::unique_ptr<CommitBatcher> batcher_;
  std::unique_ptr<StripeBatcher> stripe_batcher_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<EstoreService> service_;
};

}  // namespace dase::estore::testutil
