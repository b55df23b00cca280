// Format: the on-disk layout of a DNode's drives and of the blocks stored on them
// (docs/formats/drives.md), as pure encode/decode/verify functions.
//
// A drive file starts with a 4 KiB drive header naming its cluster and its identity. The rest
// is the data area, where blocks live at 4 KiB-aligned offsets chosen by the caller. A block is
// its head, followed by its payload. The head is a 64-byte header and a sector table: one CRC32C
// per 4 KiB sector of the payload. The header's checksum covers the header, the drive's identity
// and the sector table, so bit rot, torn writes and misdirected writes (right data, wrong place)
// all fail verification, and a read of a few sectors verifies just the head and those sectors.
// The same verification runs on the DNode before a read is answered and again on the client
// (whole-block reads), end to end.
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/status.h"

namespace dase::dnode {

inline constexpr uint64_t kDriveHeaderBytes = 4096;
// The ASCII bytes "DDRV" read as a little-endian u32.
inline constexpr uint32_t kDriveMagic = 0x56524444;
inline constexpr uint16_t kDriveFormatVersion = 2;
inline constexpr size_t kMaxClusterGuidBytes = 128;
inline constexpr size_t kMaxDriveIdBytes = 128;

inline constexpr uint64_t kBlockHeaderBytes = 64;  // the fixed part of a block's head
// The ASCII bytes "DBLK" read as a little-endian u32.
inline constexpr uint32_t kBlockMagic = 0x4b4c4244;
inline constexpr uint16_t kBlockFormatVersion = 2;
inline constexpr uint64_t kBlockAlignBytes = 4096;
inline constexpr uint32_t kMaxBlockPayloadBytes = 4 << 20;
// The payload is checksummed in sectors of this size (the last one may be shorter).
inline constexpr uint32_t kSectorBytes = 4096;

// Sectors of a payload of `payload_len` bytes: one sector table entry each.
constexpr uint32_t SectorCount(uint32_t payload_len) {
  return (payload_len + kSectorBytes - 1) / kSectorBytes;
}
// A block's head: the header and the sector table, stored in front of the payload.
constexpr uint64_t BlockHeadBytes(uint32_t payload_len) {
  return kBlockHeaderBytes + 4 * uint64_t{SectorCount(payload_len)};
}
inline constexpr uint64_t kMaxBlockHeadBytes = BlockHeadBytes(kMaxBlockPayloadBytes);

// Values are part of the on-disk and wire formats.
enum class DriveKind : uint8_t {
  kScm = 0,  // write buffer (stands in for NVRAM)
  kSsd = 1,  // capacity
};

// Names a drive within one DNode.
struct DriveRef {
  DriveKind kind = DriveKind::kSsd;
  uint32_t index = 0;
  friend bool operator==(const DriveRef&, const DriveRef&) = default;
};

// What a block is: the CNode's name for it. A read states the BlockId it expects.
struct BlockId {
  uint64_t owner = 0;    // stripe number or buffer slot
  uint32_t chunk = 0;    // chunk index within the stripe
  uint64_t version = 0;  // bumped each time the owner's place is reused
  friend bool operator==(const BlockId&, const BlockId&) = default;
};

// Bytes [offset, offset + length) of a block's payload; length 0 means the whole block.
struct PayloadSlice {
  uint32_t offset = 0;
  uint32_t length = 0;
};

// "scm" or "ssd"; false for an unknown wire value.
std::string_view KindName(DriveKind kind);
bool IsValidKind(uint8_t kind);
// "ssd-3": the drive's file name and its short name in messages.
std::string DriveName(DriveRef ref);
// "dnode-2/ssd-3": the drive's identity, stored in its header and covered by block checksums.
std::string DriveId(std::string_view dnode_name, DriveRef ref);
// FNV-1a 64 of the drive id, stored in each block header.
uint64_t DriveIdHash(std::string_view drive_id);
std::string BlockIdString(const BlockId& id);  // "owner/chunk@version"

// CRC32C (Castagnoli) continued over `data`; Crc32cExtend(0, d) is the CRC32C of d.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);

struct DriveHeader {
  uint16_t version = kDriveFormatVersion;
  DriveKind kind = DriveKind::kSsd;
  uint32_t index = 0;
  uint64_t size_bytes = 0;  // the whole drive, header included
  uint64_t data_offset = kDriveHeaderBytes;
  int64_t created_micros = 0;
  std::string cluster_guid;
  std::string drive_id;
};

// Exactly kDriveHeaderBytes. The strings must fit their limits (a programmer error otherwise).
std::string EncodeDriveHeader(const DriveHeader& header);
// Corruption for a bad magic, checksum or layout; FailedPrecondition for another version.
Result<DriveHeader> DecodeDriveHeader(std::string_view bytes);

struct BlockHeader {
  BlockId id;
  uint32_t payload_len = 0;
  uint64_t drive_id_hash = 0;
  uint64_t offset = 0;  // within the drive's data area
  uint32_t header_crc = 0;
  uint32_t block_crc = 0;
};

// The encoded head (BlockHeadBytes(payload.size()) bytes) of a block holding `payload`, stored
// at `offset` of `drive_id`.
std::string MakeBlockHead(std::string_view drive_id, uint64_t offset, const BlockId& id,
                          std::string_view payload);
// Parses a head's first 64 bytes and checks magic, version and the header checksum (not the
// sector table or the payload).
Result<BlockHeader> DecodeBlockHeader(std::string_view bytes);

// What a read expects to find.
struct BlockExpectation {
  std::string_view drive_id;
  uint64_t offset = 0;
  BlockId id;
  uint32_t payload_len = 0;
};

// Verifies a block read back (`head` as MakeBlockHead made it, `payload` the bytes after it):
// NotFound if the whole area is zero (never written); Corruption, saying what differed, for any
// other mismatch of magic, checksums, drive, offset, BlockId or length.
Status VerifyBlock(const BlockExpectation& expected, std::string_view head,
                   std::string_view payload);
// The same for part of the payload: `sectors` are the payload bytes from sector `first_sector`
// on, whole sectors (the payload's last sector may be short). Only those sectors are checked.
Status VerifyBlockSectors(const BlockExpectation& expected, std::string_view head,
                          uint32_t first_sector, std::string_view sectors);

// InvalidArgument unless a block with `payload_len` bytes fits at `offset` of a data area of
// `data_bytes`: 4 KiB aligned, payload at most kMaxBlockPayloadBytes, inside the area.
Status CheckPlacement(uint64_t offset, uint64_t payload_len, uint64_t data_bytes);

// The bytes a block occupies, rounded up to the alignment: where the next block may start.
uint64_t BlockFootprint(uint32_t payload_len);

}  // namespace dase::dnode
