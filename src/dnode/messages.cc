#include "dnode/messages.h"

#include "common/coding.h"

namespace dase::dnode {
namespace {

void PutDriveRef(Writer& w, DriveRef ref) {
  w.PutU8(static_cast<uint8_t>(ref.kind));
  w.PutU32(ref.index);
}

Result<DriveRef> GetDriveRef(Reader& r) {
  ASSIGN_OR_RETURN(const uint8_t kind, r.GetU8());
  if (!IsValidKind(kind)) return InvalidArgument("unknown drive kind " + std::to_string(kind));
  DriveRef ref;
  ref.kind = static_cast<DriveKind>(kind);
  ASSIGN_OR_RETURN(ref.index, r.GetU32());
  return ref;
}

void PutDriveInfo(Writer& w, const DriveInfo& d) {
  w.PutString(d.drive_id);
  PutDriveRef(w, d.ref);
  w.PutU64(d.size_bytes);
  w.PutU64(d.data_bytes);
  w.PutU64(static_cast<uint64_t>(d.created_micros));
  w.PutU8(static_cast<uint8_t>(d.stats.state));
  w.PutString(d.stats.failure.substr(0, kMaxFailureBytes));
  w.PutU64(d.stats.writes);
  w.PutU64(d.stats.reads);
  w.PutU64(d.stats.syncs);
  w.PutU64(d.stats.bytes_written);
  w.PutU64(d.stats.high_water_bytes);
}

Result<DriveInfo> GetDriveInfo(Reader& r) {
  DriveInfo d;
  ASSIGN_OR_RETURN(d.drive_id, r.GetString(kMaxDriveIdBytes));
  ASSIGN_OR_RETURN(d.ref, GetDriveRef(r));
  ASSIGN_OR_RETURN(d.size_bytes, r.GetU64());
  ASSIGN_OR_RETURN(d.data_bytes, r.GetU64());
  ASSIGN_OR_RETURN(const uint64_t created, r.GetU64());
  d.created_micros = static_cast<int64_t>(created);
  ASSIGN_OR_RETURN(const uint8_t state, r.GetU8());
  if (state > static_cast<uint8_t>(DriveState::kFailed)) {
    return InvalidArgument("unknown drive state " + std::to_string(state));
  }
  d.stats.state = static_cast<DriveState>(state);
  ASSIGN_OR_RETURN(d.stats.failure, r.GetString(kMaxFailureBytes));
  ASSIGN_OR_RETURN(d.stats.writes, r.GetU64());
  ASSIGN_OR_RETURN(d.stats.reads, r.GetU64());
  ASSIGN_OR_RETURN(d.stats.syncs, r.GetU64());
  ASSIGN_OR_RETURN(d.stats.bytes_written, r.GetU64());
  ASSIGN_OR_RETURN(d.stats.high_water_bytes, r.GetU64());
  return d;
}

}  // namespace

DriveTotals DnodeInfo::Totals() const {
  DriveTotals t;
  for (const DriveInfo& d : drives) {
    ++t.drives;
    if (d.stats.state == DriveState::kFailed) ++t.failed_drives;
    (d.ref.kind == DriveKind::kScm ? t.scm_data_bytes : t.ssd_data_bytes) += d.data_bytes;
    t.high_water_bytes += d.stats.high_water_bytes;
    t.bytes_written += d.stats.bytes_written;
    t.writes += d.stats.writes;
    t.syncs += d.stats.syncs;
  }
  return t;
}

std::string EncodeWriteRequest(const WriteRequest& r) {
  Writer w;
  PutDriveRef(w, r.drive);
  w.PutU64(r.offset);
  w.PutU8(static_cast<uint8_t>(r.durability));
  // The payload's length first, so that the head and the payload are adjacent (the DNode
  // stores them with one write), as in BlockWriteMany.
  w.PutU32(static_cast<uint32_t>(r.payload.size()));
  w.PutRaw(r.head);
  w.PutRaw(r.payload);
  return std::move(w).Release();
}

Result<WriteRequest> DecodeWriteRequest(std::string_view payload) {
  Reader r(payload);
  WriteRequest req;
  ASSIGN_OR_RETURN(req.drive, GetDriveRef(r));
  ASSIGN_OR_RETURN(req.offset, r.GetU64());
  ASSIGN_OR_RETURN(const uint8_t durability, r.GetU8());
  if (durability > static_cast<uint8_t>(Durability::kBuffered)) {
    return InvalidArgument("unknown durability " + std::to_string(durability));
  }
  req.durability = static_cast<Durability>(durability);
  ASSIGN_OR_RETURN(const uint32_t payload_len, r.GetU32());
  if (payload_len > kMaxBlockPayloadBytes) {
    return InvalidArgument("block payload of " + std::to_string(payload_len) + " bytes");
  }
  ASSIGN_OR_RETURN(req.head, r.GetRaw(BlockHeadBytes(payload_len)));
  ASSIGN_OR_RETURN(req.payload, r.GetRaw(payload_len));
  RETURN_IF_ERROR(r.ExpectEnd());
  return req;
}

std::string EncodeWriteManyPrefix(const WriteManyRequest& r) {
  Writer w;
  w.PutU8(static_cast<uint8_t>(r.durability));
  w.PutVarint64(r.blocks.size());
  for (const BlockPut& b : r.blocks) {
    PutDriveRef(w, b.drive);
    w.PutU64(b.offset);
    w.PutU32(static_cast<uint32_t>(b.payload.size()));
  }
  return std::move(w).Release();
}

Result<WriteManyRequest> DecodeWriteManyRequest(std::string_view payload) {
  Reader r(payload);
  WriteManyRequest req;
  ASSIGN_OR_RETURN(const uint8_t durability, r.GetU8());
  if (durability > static_cast<uint8_t>(Durability::kBuffered)) {
    return InvalidArgument("unknown durability " + std::to_string(durability));
  }
  req.durability = static_cast<Durability>(durability);
  ASSIGN_OR_RETURN(const uint64_t count, r.GetVarint64());
  if (count == 0 || count > kMaxBlocksPerWrite) {
    return InvalidArgument("a block write carries 1 to " + std::to_string(kMaxBlocksPerWrite) +
                           " blocks, not " + std::to_string(count));
  }
  req.blocks.resize(count);
  std::vector<uint32_t> lengths(count);
  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(req.blocks[i].drive, GetDriveRef(r));
    ASSIGN_OR_RETURN(req.blocks[i].offset, r.GetU64());
    ASSIGN_OR_RETURN(lengths[i], r.GetU32());
    if (lengths[i] > kMaxBlockPayloadBytes) {
      return InvalidArgument("block payload of " + std::to_string(lengths[i]) + " bytes");
    }
  }
  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(req.blocks[i].head, r.GetRaw(BlockHeadBytes(lengths[i])));
    ASSIGN_OR_RETURN(req.blocks[i].payload, r.GetRaw(lengths[i]));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return req;
}

std::string EncodeReadRequest(const ReadRequest& r) {
  Writer w;
  PutDriveRef(w, r.drive);
  w.PutU64(r.offset);
  w.PutU64(r.id.owner);
  w.PutU32(r.id.chunk);
  w.PutU64(r.id.version);
  w.PutU32(r.payload_len);
  if (r.slice_len > 0) {
    w.PutU32(r.slice_offset);
    w.PutU32(r.slice_len);
  }
  return std::move(w).Release();
}

Result<ReadRequest> DecodeReadRequest(std::string_view payload) {
  Reader r(payload);
  ReadRequest req;
  ASSIGN_OR_RETURN(req.drive, GetDriveRef(r));
  ASSIGN_OR_RETURN(req.offset, r.GetU64());
  ASSIGN_OR_RETURN(req.id.owner, r.GetU64());
  ASSIGN_OR_RETURN(req.id.chunk, r.GetU32());
  ASSIGN_OR_RETURN(req.id.version, r.GetU64());
  ASSIGN_OR_RETURN(req.payload_len, r.GetU32());
  if (r.remaining() > 0) {
    ASSIGN_OR_RETURN(req.slice_offset, r.GetU32());
    ASSIGN_OR_RETURN(req.slice_len, r.GetU32());
    if (req.slice_len == 0 || req.slice_offset > req.payload_len ||
        req.slice_len > req.payload_len - req.slice_offset) {
      return InvalidArgument("read slice outside the payload");
    }
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return req;
}

std::string EncodeFlushRequest(const FlushRequest& r) {
  Writer w;
  w.PutU8(r.drive.has_value() ? 1 : 0);
  if (r.drive.has_value()) PutDriveRef(w, *r.drive);
  return std::move(w).Release();
}

Result<FlushRequest> DecodeFlushRequest(std::string_view payload) {
  Reader r(payload);
  FlushRequest req;
  ASSIGN_OR_RETURN(const uint8_t scope, r.GetU8());
  if (scope > 1) return InvalidArgument("unknown flush scope " + std::to_string(scope));
  if (scope == 1) {
    ASSIGN_OR_RETURN(req.drive, GetDriveRef(r));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return req;
}

std::string EncodeDnodeInfo(const DnodeInfo& info) {
  Writer w;
  w.PutString(info.dnode_name);
  w.PutString(info.cluster_guid);
  w.PutVarint64(info.drives.size());
  for (const DriveInfo& d : info.drives) PutDriveInfo(w, d);
  return std::move(w).Release();
}

Result<DnodeInfo> DecodeDnodeInfo(std::string_view payload) {
  Reader r(payload);
  DnodeInfo info;
  ASSIGN_OR_RETURN(info.dnode_name, r.GetString(kMaxDnodeNameBytes));
  ASSIGN_OR_RETURN(info.cluster_guid, r.GetString(kMaxClusterGuidBytes));
  ASSIGN_OR_RETURN(const uint64_t count, r.GetVarint64());
  if (count > kMaxDrives) return InvalidArgument("too many drives: " + std::to_string(count));
  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(DriveInfo d, GetDriveInfo(r));
    info.drives.push_back(std::move(d));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return info;
}

}  // namespace dase::dnode
