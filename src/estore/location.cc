#include "estore/location.h"

#include <fmt/format.h>

#include "common/coding.h"
#include "dnode/messages.h"

namespace dase::estore {
namespace {
constexpr uint8_t kLocationVersion = 1;
constexpr size_t kCopiesMax = 8;
}  // namespace

std::string EncodeLocation(const ChunkLocation& location) {
  Writer w;
  w.PutU8(kLocationVersion);
  w.PutU8(static_cast<uint8_t>(location.kind));
  w.PutVarint64(location.length);
  if (location.kind == LocationKind::kStripe) {
    w.PutVarint64(location.stripe);
    w.PutVarint64(location.stripe_offset);
    return std::move(w).Release();
  }
  w.PutU64(location.id.owner);
  w.PutVarint64(location.id.chunk);
  w.PutVarint64(location.id.version);
  w.PutVarint64(location.copies.size());
  for (const BufferCopy& c : location.copies) {
    w.PutString(c.dnode);
    w.PutVarint64(c.drive);
    w.PutVarint64(c.offset);
  }
  return std::move(w).Release();
}

Result<ChunkLocation> DecodeLocation(std::string_view bytes) {
  Reader r(bytes);
  ASSIGN_OR_RETURN(uint8_t version, r.GetU8());
  ASSIGN_OR_RETURN(uint8_t kind, r.GetU8());
  bool known_kind = kind == static_cast<uint8_t>(LocationKind::kBuffer) ||
                    kind == static_cast<uint8_t>(LocationKind::kStripe);
  if (version != kLocationVersion || !known_kind) {
    return Corruption(fmt::format("unknown location version {} kind {}", version, kind));
  }
  ChunkLocation loc;
  loc.kind = static_cast<LocationKind>(kind);
  ASSIGN_OR_RETURN(uint64_t length, r.GetVarint64());
  if (loc.kind == LocationKind::kStripe) {
    ASSIGN_OR_RETURN(loc.stripe, r.GetVarint64());
    ASSIGN_OR_RETURN(loc.stripe_offset, r.GetVarint64());
    if (length == 0 || length > kLocationLengthMax || loc.stripe == 0 ||
        loc.stripe_offset > kLocationLengthMax) {
      return Corruption("stripe location out of range");
    }
    loc.length = static_cast<uint32_t>(length);
    RETURN_IF_ERROR(r.ExpectEnd());
    return loc;
  }
  ASSIGN_OR_RETURN(loc.id.owner, r.GetU64());
  ASSIGN_OR_RETURN(uint64_t chunk, r.GetVarint64());
  ASSIGN_OR_RETURN(loc.id.version, r.GetVarint64());
  ASSIGN_OR_RETURN(uint64_t copies, r.GetVarint64());
  if (length == 0 || length > dnode::kMaxBlockPayloadBytes || copies == 0 ||
      copies > kCopiesMax || chunk > UINT32_MAX) {
    return Corruption("location out of range");
  }
  loc.length = static_cast<uint32_t>(length);
  loc.id.chunk = static_cast<uint32_t>(chunk);
  for (uint64_t i = 0; i < copies; ++i) {
    BufferCopy c;
    ASSIGN_OR_RETURN(c.dnode, r.GetString(dnode::kMaxDnodeNameBytes));
    ASSIGN_OR_RETURN(uint64_t drive, r.GetVarint64());
    ASSIGN_OR_RETURN(c.offset, r.GetVarint64());
    if (drive > UINT32_MAX) return Corruption("location out of range");
    c.drive = static_cast<uint32_t>(drive);
    loc.copies.push_back(std::move(c));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return loc;
}

}  // namespace dase::estore
