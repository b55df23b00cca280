// Messages: the payloads of the DNode block service RPCs (kBlockWrite, kBlockRead,
// kBlockFlush, kDriveInfo), encoded with common/coding.h as docs/formats/drives.md describes.
//
// Decoders bound every length by a limit and reject trailing bytes; views in decoded requests
// borrow the input. Thread-safety: pure functions and plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "dnode/drive_queue.h"
#include "dnode/format.h"

namespace dase::dnode {

// A DNode serves at most this many drives; bounds the DriveInfo list a peer sends.
inline constexpr uint32_t kMaxDrives = 64;
inline constexpr size_t kMaxDnodeNameBytes = 64;
inline constexpr size_t kMaxFailureBytes = 4096;

struct WriteRequest {
  DriveRef drive;
  uint64_t offset = 0;
  Durability durability = Durability::kSync;
  std::string_view head;  // BlockHeadBytes(payload.size()), from MakeBlockHead
  std::string_view payload;
};

// BlockWriteMany carries at most this many blocks (a stripe puts at most a few per DNode).
inline constexpr uint32_t kMaxBlocksPerWrite = 64;

// One block of a BlockWriteMany. On the wire its head is followed at once by its payload, so
// a decoded request's head and payload are adjacent (the drive writes them with one pwrite).
struct BlockPut {
  DriveRef drive;
  uint64_t offset = 0;
  std::string_view head;  // BlockHeadBytes(payload.size()), from MakeBlockHead
  std::string_view payload;
};

struct WriteManyRequest {
  Durability durability = Durability::kSync;
  std::vector<BlockPut> blocks;
};

struct ReadRequest {
  DriveRef drive;
  uint64_t offset = 0;
  BlockId id;
  uint32_t payload_len = 0;
  // slice_len > 0: answer only these payload bytes (the DNode verifies the block's head and
  // the sectors holding them).
  uint32_t slice_offset = 0;
  uint32_t slice_len = 0;
};

// No drive: every drive of the DNode.
struct FlushRequest {
  std::optional<DriveRef> drive;
};

struct DriveInfo {
  std::string drive_id;
  DriveRef ref;
  uint64_t size_bytes = 0;  // the whole drive
  uint64_t data_bytes = 0;  // available to blocks
  int64_t created_micros = 0;
  DriveStats stats;
};

struct DriveTotals {
  uint32_t drives = 0;
  uint32_t failed_drives = 0;
  uint64_t scm_data_bytes = 0;
  uint64_t ssd_data_bytes = 0;
  uint64_t high_water_bytes = 0;
  uint64_t bytes_written = 0;
  uint64_t writes = 0;
  uint64_t syncs = 0;
};

struct DnodeInfo {
  std::string dnode_name;
  std::string cluster_guid;
  std::vector<DriveInfo> drives;

  DriveTotals Totals() const;
};

std::string EncodeWriteRequest(const WriteRequest& r);
Result<WriteRequest> DecodeWriteRequest(std::string_view payload);
// The part of a BlockWriteMany request before the blocks' bytes (drives, offsets, lengths);
// the sender then writes each block's head and payload, in order, without copying them.
std::string EncodeWriteManyPrefix(const WriteManyRequest& r);
Result<WriteManyRequest> DecodeWriteManyRequest(std::string_view payload);
std::string EncodeReadRequest(const ReadRequest& r);
Result<ReadRequest> DecodeReadRequest(std::string_view payload);
std::string EncodeFlushRequest(const FlushRequest& r);
Result<FlushRequest> DecodeFlushRequest(std::string_view payload);
std::string EncodeDnodeInfo(const DnodeInfo& info);
Result<DnodeInfo> DecodeDnodeInfo(std::string_view payload);

}  // namespace dase::dnode
