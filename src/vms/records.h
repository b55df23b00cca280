// Persistence of VMS records in the metadata store: one JSON value per key under "vms/".
//
// Key layout (docs/formats/meta.md): vms/cluster, vms/node/<name>, vms/task/<id:016>,
// vms/user/<name>, vms/apitoken/<id>, vms/event/<id:016>, vms/refresh/<sha256 of jti>,
// vms/secret/jwt, vms/vipassign. The protocol objects (views, users, VIP pools...) are in
// vms/protocol_records.h. Not thread-safe (the VMS loop thread only).
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "meta/kv.h"

namespace dase::vms {

inline std::string NodeKey(const std::string& name) { return "vms/node/" + name; }
inline std::string TaskKey(int64_t id) { return fmt::format("vms/task/{:016}", id); }
inline std::string UserKey(const std::string& name) { return "vms/user/" + name; }
inline std::string ApiTokenKey(const std::string& id) { return "vms/apitoken/" + id; }
inline std::string EventKey(int64_t id) { return fmt::format("vms/event/{:016}", id); }
inline std::string RefreshKey(const std::string& jti_sha256) { return "vms/refresh/" + jti_sha256; }
inline constexpr char kClusterKey[] = "vms/cluster";
inline constexpr char kJwtSecretKey[] = "vms/secret/jwt";
// Which CNode holds which VIP ({"127.0.10.1": "cnode-1", ...}), so a restarted VMS keeps them
// where they are.
inline constexpr char kVipAssignmentKey[] = "vms/vipassign";

// Every value under `prefix`, in key order (at most `limit`).
inline Result<std::vector<meta::KeyValue>> LoadPrefix(meta::Store* store, const std::string& prefix,
                                                      size_t limit = 100000) {
  ASSIGN_OR_RETURN(auto txn, store->Begin());
  return txn->Scan(prefix, meta::PrefixEnd(prefix), limit);
}

inline Result<std::optional<std::string>> LoadKey(meta::Store* store, const std::string& key) {
  ASSIGN_OR_RETURN(auto txn, store->Begin());
  return txn->Get(key);
}

// Writes (value set) or deletes (nullopt) keys in one transaction.
inline Status SaveKeys(meta::Store* store,
                       const std::vector<std::pair<std::string, std::optional<std::string>>>& kvs) {
  return store->RunTransaction([&](meta::Transaction& txn) {
    for (const auto& [key, value] : kvs) {
      if (value) {
        txn.Put(key, *value);
      } else {
        txn.Delete(key);
      }
    }
    return Status::Ok();
  });
}

}  // namespace dase::vms
