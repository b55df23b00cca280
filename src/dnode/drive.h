// Drive: one drive file of a DNode (an SCM or SSD stand-in), opened and checked, with blocking
// block I/O on it (docs/formats/drives.md).
//
// Open creates a missing drive crash-safely (a temp file is sized sparse, given its header,
// synced, renamed into place, and the directory synced), so a file under a drive's name always
// has a durable header. An existing drive is refused, never reformatted, when its header is
// damaged or names another cluster, another drive, or another size.
//
// The methods block on file I/O: call them from a drive's I/O thread (DriveQueue), or from the
// event loop only where waiting is acceptable (the write buffer's DriveExecution::kLoop) or
// ruled out (ReadBlock with ReadWait::kNever). Thread-safety: the accessors are immutable
// after Open; WriteBlock, ReadBlock and Sync may be called from any thread (the Env's File is
// thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/status.h"
#include "dnode/format.h"
#include "env/env.h"

namespace dase::dnode {

struct DriveSpec {
  std::string dir;  // the node's drives directory
  DriveRef ref;
  std::string drive_id;      // DriveId(dnode name, ref)
  std::string cluster_guid;  // the cluster the drive must belong to
  uint64_t size_bytes = 0;   // the whole drive, header included
  // Create writes zeros over the whole drive instead of leaving a sparse file, so later
  // writes overwrite allocated blocks and their fdatasync need not also persist allocation.
  bool preformat = false;
};

class Drive {
 public:
  static Result<std::unique_ptr<Drive>> Open(env::Env* env, const DriveSpec& spec);

  Drive(const Drive&) = delete;
  Drive& operator=(const Drive&) = delete;

  // Writes a block: its encoded head (made by MakeBlockHead, checked here against this drive,
  // `offset` and `payload`), then its payload. Corruption if the header's checksum
  // does not match (the bytes were damaged on the way); InvalidArgument if it names another
  // place or the block does not fit. Not durable until Sync.
  Status WriteBlock(uint64_t offset, std::string_view head, std::string_view payload);
  // Reads and verifies (VerifyBlock) the block at `offset`; returns its head and payload, or
  // with a non-empty `slice` only those bytes of the payload (then only the head and the
  // sectors holding the slice are read and verified). With ReadWait::kNever, Unavailable
  // instead of waiting for the disk (see File::ReadAtWithoutWaiting).
  enum class ReadWait { kMay, kNever };
  Result<std::string> ReadBlock(uint64_t offset, const BlockId& id, uint32_t payload_len,
                                ReadWait wait = ReadWait::kMay, PayloadSlice slice = {});
  // fdatasync of the drive file.
  Status Sync();

  DriveRef ref() const { return spec_.ref; }
  const std::string& drive_id() const { return spec_.drive_id; }
  std::string name() const { return DriveName(spec_.ref); }
  uint64_t size_bytes() const { return spec_.size_bytes; }
  // Bytes available to blocks: the size less the drive header.
  uint64_t data_bytes() const { return spec_.size_bytes - kDriveHeaderBytes; }
  int64_t created_micros() const { return created_micros_; }

 private:
  // Fills `bytes` from `offset` of the data area; what lies past the end of the file reads as
  // zeros.
  Status ReadAt(uint64_t offset, ReadWait wait, std::span<char> bytes);

  Drive(DriveSpec spec, std::unique_ptr<env::File> file, int64_t created_micros)
      : spec_(std::move(spec)), file_(std::move(file)), created_micros_(created_micros) {}

  static Result<std::unique_ptr<Drive>> Create(env::Env* env, const DriveSpec& spec,
                                               const std::string& path);
  static Result<std::unique_ptr<Drive>> Reopen(env::Env* env, const DriveSpec& spec,
                                               const std::string& path);

  DriveSpec spec_;
  std::unique_ptr<env::File> file_;
  int64_t created_micros_;
};

}  // namespace dase::dnode
