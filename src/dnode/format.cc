#include "dnode/format.h"

#include "rpc/frame.h"


#include <algorithm>
#include <limits>

#include "common/check.h"
#include "common/coding.h"

namespace dase::dnode {
namespace {

// Drive header: fixed fields, two zero-padded string slots, checksum in the last 4 bytes.
constexpr size_t kClusterGuidSlot = 40;  // u16 length + kMaxClusterGuidBytes
constexpr size_t kDriveIdSlot = kClusterGuidSlot + 2 + kMaxClusterGuidBytes;
constexpr size_t kDriveHeaderCrcAt = kDriveHeaderBytes - 4;
// Block header: the header checksum covers [0, 56); the block checksum covers [0, 60).
constexpr size_t kHeaderCrcAt = 56;
constexpr size_t kBlockCrcAt = 60;

uint32_t LoadU32(std::string_view bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + i])) << (8 * i);
  }
  return v;
}

void PutSlot(Writer& w, std::string_view s, size_t slot_bytes) {
  CHECK(s.size() <= slot_bytes) << "string of " << s.size() << " bytes exceeds its slot";
  w.PutU16(static_cast<uint16_t>(s.size()));
  w.PutRaw(s);
  w.PutRaw(std::string(slot_bytes - s.size(), '\0'));
}

Result<std::string> GetSlot(Reader& r, size_t slot_bytes, const char* what) {
  ASSIGN_OR_RETURN(const uint16_t len, r.GetU16());
  ASSIGN_OR_RETURN(const std::string_view slot, r.GetRaw(slot_bytes));
  if (len > slot_bytes) return Corruption(std::string("drive header: bad ") + what + " length");
  return std::string(slot.substr(0, len));
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

// Covers the header's first 60 bytes, the drive's identity and the sector table (which covers
// the payload).
uint32_t BlockCrc(std::string_view head, std::string_view drive_id) {
  uint32_t crc = Crc32cExtend(0, head.substr(0, kBlockCrcAt));
  crc = Crc32cExtend(crc, drive_id);
  return Crc32cExtend(crc, head.substr(kBlockHeaderBytes));
}

std::string Where(const BlockExpectation& e) {
  return "block at " + std::string(e.drive_id) + " offset " + std::to_string(e.offset);
}

}  // namespace

std::string_view KindName(DriveKind kind) {
  switch (kind) {
    case DriveKind::kScm: return "scm";
    case DriveKind::kSsd: return "ssd";
  }
  return "unknown";
}

bool IsValidKind(uint8_t kind) { return kind <= static_cast<uint8_t>(DriveKind::kSsd); }

std::string DriveName(DriveRef ref) {
  return std::string(KindName(ref.kind)) + "-" + std::to_string(ref.index);
}

std::string DriveId(std::string_view dnode_name, DriveRef ref) {
  return std::string(dnode_name) + "/" + DriveName(ref);
}

uint64_t DriveIdHash(std::string_view drive_id) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : drive_id) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string BlockIdString(const BlockId& id) {
  return std::to_string(id.owner) + "/" + std::to_string(id.chunk) + "@" +
         std::to_string(id.version);
}

uint32_t Crc32cExtend(uint32_t crc, std::string_view data) {
  return rpc::Crc32cExtend(crc, data);  // one CRC32C implementation, shared with the RPC frames
}

std::string EncodeDriveHeader(const DriveHeader& h) {
  Writer w;
  w.PutU32(kDriveMagic);
  w.PutU16(h.version);
  w.PutU8(static_cast<uint8_t>(h.kind));
  w.PutU8(0);
  w.PutU32(h.index);
  w.PutU32(0);
  w.PutU64(h.size_bytes);
  w.PutU64(h.data_offset);
  w.PutU64(static_cast<uint64_t>(h.created_micros));
  CHECK(w.size() == kClusterGuidSlot);
  PutSlot(w, h.cluster_guid, kMaxClusterGuidBytes);
  CHECK(w.size() == kDriveIdSlot);
  PutSlot(w, h.drive_id, kMaxDriveIdBytes);
  w.PutRaw(std::string(kDriveHeaderCrcAt - w.size(), '\0'));
  w.PutU32(Crc32cExtend(0, w.data()));
  CHECK(w.size() == kDriveHeaderBytes);
  return std::move(w).Release();
}

Result<DriveHeader> DecodeDriveHeader(std::string_view bytes) {
  if (bytes.size() != kDriveHeaderBytes) return Corruption("drive header is short");
  Reader r(bytes);
  ASSIGN_OR_RETURN(const uint32_t magic, r.GetU32());
  if (magic != kDriveMagic) return Corruption("not a dase drive (bad magic)");
  DriveHeader h;
  ASSIGN_OR_RETURN(h.version, r.GetU16());
  if (h.version != kDriveFormatVersion) {
    return FailedPrecondition("drive format version " + std::to_string(h.version) +
                              " is not supported (this build reads version " +
                              std::to_string(kDriveFormatVersion) + ")");
  }
  const uint32_t crc = Crc32cExtend(0, bytes.substr(0, kDriveHeaderCrcAt));
  if (crc != LoadU32(bytes, kDriveHeaderCrcAt)) return Corruption("drive header checksum mismatch");
  ASSIGN_OR_RETURN(const uint8_t kind, r.GetU8());
  if (!IsValidKind(kind)) return Corruption("drive header: unknown kind " + std::to_string(kind));
  h.kind = static_cast<DriveKind>(kind);
  ASSIGN_OR_RETURN(const uint8_t reserved8, r.GetU8());
  ASSIGN_OR_RETURN(h.index, r.GetU32());
  ASSIGN_OR_RETURN(const uint32_t reserved32, r.GetU32());
  if (reserved8 != 0 || reserved32 != 0) return Corruption("drive header: reserved bytes set");
  ASSIGN_OR_RETURN(h.size_bytes, r.GetU64());
  ASSIGN_OR_RETURN(h.data_offset, r.GetU64());
  ASSIGN_OR_RETURN(const uint64_t created, r.GetU64());
  h.created_micros = static_cast<int64_t>(created);
  ASSIGN_OR_RETURN(h.cluster_guid, GetSlot(r, kMaxClusterGuidBytes, "cluster guid"));
  ASSIGN_OR_RETURN(h.drive_id, GetSlot(r, kMaxDriveIdBytes, "drive id"));
  if (h.data_offset != kDriveHeaderBytes || h.size_bytes <= h.data_offset) {
    return Corruption("drive header: bad size " + std::to_string(h.size_bytes) +
                      " or data offset " + std::to_string(h.data_offset));
  }
  return h;
}

std::string MakeBlockHead(std::string_view drive_id, uint64_t offset, const BlockId& id,
                          std::string_view payload) {
  CHECK(payload.size() <= kMaxBlockPayloadBytes);
  const auto payload_len = static_cast<uint32_t>(payload.size());
  Writer w;
  w.PutU32(kBlockMagic);
  w.PutU16(kBlockFormatVersion);
  w.PutU16(0);  // flags
  w.PutU64(id.owner);
  w.PutU32(id.chunk);
  w.PutU32(payload_len);
  w.PutU64(id.version);
  w.PutU64(DriveIdHash(drive_id));
  w.PutU64(offset);
  w.PutU64(0);  // reserved
  w.PutU32(Crc32cExtend(0, w.data()));
  w.PutU32(0);  // block_crc, filled in below once the sector table is there
  for (uint32_t at = 0; at < payload_len; at += kSectorBytes) {
    w.PutU32(Crc32cExtend(0, payload.substr(at, kSectorBytes)));
  }
  std::string head = std::move(w).Release();
  CHECK(head.size() == BlockHeadBytes(payload_len));
  const uint32_t block_crc = BlockCrc(head, drive_id);
  for (size_t i = 0; i < 4; ++i) head[kBlockCrcAt + i] = static_cast<char>(block_crc >> (8 * i));
  return head;
}

Result<BlockHeader> DecodeBlockHeader(std::string_view bytes) {
  if (bytes.size() != kBlockHeaderBytes) return Corruption("block header is short");
  Reader r(bytes);
  ASSIGN_OR_RETURN(const uint32_t magic, r.GetU32());
  if (magic != kBlockMagic) return Corruption("bad block magic");
  ASSIGN_OR_RETURN(const uint16_t version, r.GetU16());
  if (version != kBlockFormatVersion) {
    return Corruption("unknown block format version " + std::to_string(version));
  }
  BlockHeader h;
  h.header_crc = LoadU32(bytes, kHeaderCrcAt);
  h.block_crc = LoadU32(bytes, kBlockCrcAt);
  if (Crc32cExtend(0, bytes.substr(0, kHeaderCrcAt)) != h.header_crc) {
    return Corruption("block header checksum mismatch");
  }
  ASSIGN_OR_RETURN(const uint16_t flags, r.GetU16());
  ASSIGN_OR_RETURN(h.id.owner, r.GetU64());
  ASSIGN_OR_RETURN(h.id.chunk, r.GetU32());
  ASSIGN_OR_RETURN(h.payload_len, r.GetU32());
  ASSIGN_OR_RETURN(h.id.version, r.GetU64());
  ASSIGN_OR_RETURN(h.drive_id_hash, r.GetU64());
  ASSIGN_OR_RETURN(h.offset, r.GetU64());
  ASSIGN_OR_RETURN(const uint64_t reserved, r.GetU64());
  if (flags != 0 || reserved != 0) return Corruption("block header: reserved bits set");
  if (h.payload_len > kMaxBlockPayloadBytes) return Corruption("block header: payload too long");
  return h;
}

Status VerifyBlockSectors(const BlockExpectation& e, std::string_view head,
                          uint32_t first_sector, std::string_view sectors) {
  const uint64_t start = uint64_t{first_sector} * kSectorBytes;
  if (start > e.payload_len || sectors.size() > e.payload_len - start ||
      (start + sectors.size() != e.payload_len && sectors.size() % kSectorBytes != 0)) {
    return InvalidArgument("sectors from " + std::to_string(first_sector) + " (" +
                           std::to_string(sectors.size()) + " bytes) are not whole sectors of a " +
                           std::to_string(e.payload_len) + "-byte payload");
  }
  if (AllZero(head)) {
    if (AllZero(sectors)) return NotFound("no " + Where(e) + " (never written)");
    return Corruption(Where(e) + ": header is zero but the payload area is not (torn write?)");
  }
  if (head.size() < kBlockHeaderBytes) return Corruption(Where(e) + ": head is short");
  Result<BlockHeader> h = DecodeBlockHeader(head.substr(0, kBlockHeaderBytes));
  if (!h.ok()) return h.status().WithContext(Where(e));
  if (h->drive_id_hash != DriveIdHash(e.drive_id)) {
    return Corruption(Where(e) + " belongs to another drive (misdirected write)");
  }
  if (h->offset != e.offset) {
    return Corruption(Where(e) + " says it belongs at offset " + std::to_string(h->offset) +
                      " (misdirected write)");
  }
  if (h->id != e.id) {
    return Corruption(Where(e) + " is " + BlockIdString(h->id) + ", expected " +
                      BlockIdString(e.id));
  }
  if (h->payload_len != e.payload_len) {
    return Corruption(Where(e) + " holds " + std::to_string(h->payload_len) +
                      " bytes, expected " + std::to_string(e.payload_len));
  }
  if (head.size() != BlockHeadBytes(e.payload_len)) {
    return Corruption(Where(e) + ": head of " + std::to_string(head.size()) + " bytes, expected " +
                      std::to_string(BlockHeadBytes(e.payload_len)));
  }
  if (BlockCrc(head, e.drive_id) != h->block_crc) {
    return Corruption(Where(e) + ": header or sector table checksum mismatch");
  }
  for (size_t at = 0; at < sectors.size(); at += kSectorBytes) {
    const size_t sector = first_sector + at / kSectorBytes;
    if (Crc32cExtend(0, sectors.substr(at, kSectorBytes)) !=
        LoadU32(head, kBlockHeaderBytes + 4 * sector)) {
      return Corruption(Where(e) + ": checksum mismatch in payload sector " +
                        std::to_string(sector) + " (bit rot or torn write)");
    }
  }
  return Status::Ok();
}

Status VerifyBlock(const BlockExpectation& e, std::string_view head, std::string_view payload) {
  if (payload.size() != e.payload_len) {
    return Corruption(Where(e) + ": read " + std::to_string(payload.size()) +
                      " payload bytes, expected " + std::to_string(e.payload_len));
  }
  return VerifyBlockSectors(e, head, 0, payload);
}

Status CheckPlacement(uint64_t offset, uint64_t payload_len, uint64_t data_bytes) {
  if (offset % kBlockAlignBytes != 0) {
    return InvalidArgument("block offset " + std::to_string(offset) + " is not 4 KiB aligned");
  }
  if (payload_len > kMaxBlockPayloadBytes) {
    return InvalidArgument("block payload of " + std::to_string(payload_len) +
                           " bytes exceeds the limit of " + std::to_string(kMaxBlockPayloadBytes));
  }
  const uint64_t need = BlockHeadBytes(static_cast<uint32_t>(payload_len)) + payload_len;
  if (offset > data_bytes || need > data_bytes - offset) {
    return InvalidArgument("block of " + std::to_string(need) + " bytes at offset " +
                           std::to_string(offset) + " does not fit the drive's data area of " +
                           std::to_string(data_bytes) + " bytes");
  }
  return Status::Ok();
}

uint64_t BlockFootprint(uint32_t payload_len) {
  const uint64_t need = BlockHeadBytes(payload_len) + payload_len;
  return (need + kBlockAlignBytes - 1) / kBlockAlignBytes * kBlockAlignBytes;
}

}  // namespace dase::dnode
