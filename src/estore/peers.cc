#include "estore/peers.h"

namespace dase::estore {

void DnodePeers::Update(const control::ClusterMap& map) {
  for (const control::MapNode& n : map.nodes) {
    if (n.role != "dnode") continue;
    Peer& p = peers_[n.name];
    p.active = n.state == "ACTIVE" && n.rpc_port != 0;
    if (n.rpc_port != 0 && n.rpc_port != p.port) {
      p.port = n.rpc_port;
      if (p.rpc == nullptr) {
        p.rpc = std::make_unique<rpc::Client>(io_, "127.0.0.1", n.rpc_port, rpc::ClientOptions{});
        p.blocks = std::make_unique<dnode::BlockClient>(*p.rpc, n.name);
      } else {
        p.rpc->SetEndpoint("127.0.0.1", n.rpc_port);
      }
    }
  }
}

dnode::BlockClient* DnodePeers::Client(const std::string& dnode) {
  auto it = peers_.find(dnode);
  return it == peers_.end() ? nullptr : it->second.blocks.get();
}

std::vector<std::string> DnodePeers::Active() const {
  std::vector<std::string> names;
  for (const auto& [name, p] : peers_) {
    if (p.active && p.blocks != nullptr) names.push_back(name);
  }
  return names;
}

}  // namespace dase::estore
