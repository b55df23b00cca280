// DnodePeers: a CNode's connections to the DNodes, kept in step with the VMS's cluster map.
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "control/messages.h"
#include "dnode/block_client.h"
#include "rpc/client.h"

namespace dase::estore {

class DnodePeers {
 public:
  explicit DnodePeers(asio::io_context& io) : io_(io) {}
  void Update(const control::ClusterMap& map);
  dnode::BlockClient* Client(const std::string& dnode);  // nullptr if not in the map
  std::vector<std::string> Active() const;                // ACTIVE DNodes, by name
  size_t size() const { return peers_.size(); }

 private:
  struct Peer {
    uint16_t port = 0;
    bool active = false;
    std::unique_ptr<rpc::Client> rpc;
    std::unique_ptr<dnode::BlockClient> blocks;
  };
  asio::io_context& io_;
  std::map<std::string, Peer> peers_;
};

// Fetches the cluster map again (the peers may be behind the VMS's view).
using MapRefresher = std::function<awaitable<Status>()>;

}  // namespace dase::estore
