// Usage: how much of the DNodes' drives the element store holds, read from the metadata store
// (the one place that knows: DNodes do not track allocation). For capacity reports.
//
// Thread-safety: a pure function of the store's contents; use the store from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"
#include "meta/kv.h"

namespace dase::estore {

struct DataUsage {
  // Drive id ("dnode-2/ssd-3") → bytes of the chunk slots stripes hold there.
  std::map<std::string, uint64_t> ssd_used_bytes;
  // DNode name → bytes of its write buffer held by chunks waiting for migration.
  std::map<std::string, uint64_t> buffer_used_bytes;
  uint64_t stripes = 0;          // sealed and pending
  uint64_t pending_stripes = 0;  // being written, or left by a crash until their CNode restarts
  uint64_t buffered_chunks = 0;  // committed chunks not yet migrated
};

Result<DataUsage> MeasureUsage(meta::Store* store);

}  // namespace dase::estore
