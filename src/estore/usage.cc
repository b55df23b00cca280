#include "estore/usage.h"

#include <fmt/format.h>

#include "common/coding.h"
#include "estore/keys.h"
#include "estore/migrator.h"
#include "estore/stripes.h"

namespace dase::estore {
namespace {

// "<dnode>/<drive:8>..." after a prefix → the drive id "dnode/ssd-N".
Result<std::string> DriveId(std::string_view rest) {
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || rest.size() < slash + 1 + 8) {
    return Corruption("malformed slot key");
  }
  uint64_t drive = ReadBigEndian64(rest.substr(slash + 1, 8));
  return fmt::format("{}/ssd-{}", rest.substr(0, slash), drive);
}

}  // namespace

Result<DataUsage> MeasureUsage(meta::Store* store) {
  DataUsage usage;
  ASSIGN_OR_RETURN(auto txn, store->Begin());
  std::string_view high_water(kHighWaterPrefix);
  RETURN_IF_ERROR(meta::ForEachInPrefix(*txn, high_water, [&](meta::KeyValue& kv) -> Status {
    ASSIGN_OR_RETURN(std::string id, DriveId(std::string_view(kv.key).substr(high_water.size())));
    Reader r(kv.value);
    ASSIGN_OR_RETURN(uint64_t handed_out, r.GetU64());
    usage.ssd_used_bytes[id] += handed_out;
    return Status::Ok();
  }));
  std::string_view free_slots(kFreeSlotPrefix);
  RETURN_IF_ERROR(meta::ForEachInPrefix(*txn, free_slots, [&](meta::KeyValue& kv) -> Status {
    ASSIGN_OR_RETURN(std::string id, DriveId(std::string_view(kv.key).substr(free_slots.size())));
    uint64_t& used = usage.ssd_used_bytes[id];
    used -= std::min(used, kSlotBytes);
    return Status::Ok();
  }));
  RETURN_IF_ERROR(meta::ForEachInPrefix(*txn, kStripePrefix, [&](meta::KeyValue& kv) -> Status {
    usage.stripes++;
    if (kv.value.size() > 1 && kv.value[1] == static_cast<char>(StripeState::kPending)) {
      usage.pending_stripes++;
    }
    return Status::Ok();
  }));
  RETURN_IF_ERROR(meta::ForEachInPrefix(*txn, kBufferIndexPrefix, [&](meta::KeyValue& kv) -> Status {
    ASSIGN_OR_RETURN(BufferEntry e, DecodeBufferEntry(std::move(kv.key), kv.value));
    usage.buffered_chunks++;
    for (const BufferCopy& c : e.location.copies) {
      usage.buffer_used_bytes[c.dnode] += dnode::BlockFootprint(e.location.length);
    }
    return Status::Ok();
  }));
  return usage;
}

}  // namespace dase::estore
