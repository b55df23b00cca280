#include "dnode/drive.h"

#include <algorithm>
#include <span>
#include <utility>

#include "common/log.h"

namespace dase::dnode {
namespace {

// Refuses a drive whose header is intact but belongs to someone else.
Status CheckIdentity(const DriveSpec& spec, const DriveHeader& h) {
  const std::string name = DriveName(spec.ref);
  if (h.cluster_guid != spec.cluster_guid) {
    return FailedPrecondition("drive " + name + " belongs to cluster " + h.cluster_guid +
                              ", not " + spec.cluster_guid);
  }
  if (h.drive_id != spec.drive_id || h.kind != spec.ref.kind || h.index != spec.ref.index) {
    return FailedPrecondition("drive file " + name + " is drive " + h.drive_id + ", not " +
                              spec.drive_id);
  }
  if (h.size_bytes != spec.size_bytes) {
    return FailedPrecondition("drive " + name + " was created with " +
                              std::to_string(h.size_bytes) + " bytes; the options ask for " +
                              std::to_string(spec.size_bytes));
  }
  return Status::Ok();
}

// Writes zeros over [from, to) of `file`, a megabyte at a time.
Status WriteZeros(env::File& file, uint64_t from, uint64_t to) {
  const std::string zeros(size_t{1} << 20, '\0');
  for (uint64_t at = from; at < to; at += zeros.size()) {
    const uint64_t n = std::min<uint64_t>(zeros.size(), to - at);
    RETURN_IF_ERROR(file.WriteAt(at, std::string_view(zeros.data(), n)));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Drive>> Drive::Open(env::Env* env, const DriveSpec& spec) {
  if (spec.size_bytes <= kDriveHeaderBytes + kBlockAlignBytes) {
    return InvalidArgument("drive " + DriveName(spec.ref) + " of " +
                           std::to_string(spec.size_bytes) + " bytes is too small");
  }
  if (spec.cluster_guid.empty() || spec.cluster_guid.size() > kMaxClusterGuidBytes ||
      spec.drive_id.size() > kMaxDriveIdBytes) {
    return InvalidArgument("cluster guid or drive id empty or too long");
  }
  const std::string path = spec.dir + "/" + DriveName(spec.ref);
  Result<env::FileInfo> info = env->Stat(path);
  if (info.ok()) return Reopen(env, spec, path);
  if (info.status().code() != Code::kNotFound) return info.status();
  return Create(env, spec, path);
}

Result<std::unique_ptr<Drive>> Drive::Create(env::Env* env, const DriveSpec& spec,
                                             const std::string& path) {
  DriveHeader h;
  h.kind = spec.ref.kind;
  h.index = spec.ref.index;
  h.size_bytes = spec.size_bytes;
  h.created_micros = env->NowMicros();
  h.cluster_guid = spec.cluster_guid;
  h.drive_id = spec.drive_id;
  const std::string encoded = EncodeDriveHeader(h);
  // Built under a temp name, so the drive's own name only ever shows a durable header.
  const std::string tmp = path + ".tmp";
  {
    ASSIGN_OR_RETURN(std::unique_ptr<env::File> tmp_file,
                     env->Open(tmp, env::OpenMode::kTruncate));
    RETURN_IF_ERROR(tmp_file->Truncate(spec.size_bytes));
    if (spec.preformat) {
      RETURN_IF_ERROR(WriteZeros(*tmp_file, kDriveHeaderBytes, spec.size_bytes));
    }
    RETURN_IF_ERROR(tmp_file->WriteAt(0, encoded));
    RETURN_IF_ERROR(tmp_file->Sync());
  }
  RETURN_IF_ERROR(env->Rename(tmp, path));
  RETURN_IF_ERROR(env->SyncDir(spec.dir));
  // Opened again under its own name, so that errors name the drive file.
  ASSIGN_OR_RETURN(std::unique_ptr<env::File> file, env->Open(path, env::OpenMode::kReadWrite));
  LOG_INFO("created drive {} ({} bytes{}) at {}", spec.drive_id, spec.size_bytes,
           spec.preformat ? ", zeros written" : "", path);
  return std::unique_ptr<Drive>(new Drive(spec, std::move(file), h.created_micros));
}

Result<std::unique_ptr<Drive>> Drive::Reopen(env::Env* env, const DriveSpec& spec,
                                             const std::string& path) {
  const std::string name = DriveName(spec.ref);
  ASSIGN_OR_RETURN(std::unique_ptr<env::File> file, env->Open(path, env::OpenMode::kReadWrite));
  std::string raw(kDriveHeaderBytes, '\0');
  ASSIGN_OR_RETURN(const size_t n, file->ReadAt(0, std::span<char>(raw.data(), raw.size())));
  if (n != kDriveHeaderBytes) return Corruption("drive " + name + ": header is truncated");
  Result<DriveHeader> h = DecodeDriveHeader(raw);
  if (!h.ok()) return h.status().WithContext("drive " + name);
  RETURN_IF_ERROR(CheckIdentity(spec, *h));
  ASSIGN_OR_RETURN(const uint64_t file_bytes, file->Size());
  if (file_bytes < h->size_bytes) {
    return Corruption("drive " + name + " file is " + std::to_string(file_bytes) +
                      " bytes, its header says " + std::to_string(h->size_bytes) +
                      " (truncated)");
  }
  return std::unique_ptr<Drive>(new Drive(spec, std::move(file), h->created_micros));
}

Status Drive::WriteBlock(uint64_t offset, std::string_view head, std::string_view payload) {
  RETURN_IF_ERROR(CheckPlacement(offset, payload.size(), data_bytes()));
  const auto payload_len = static_cast<uint32_t>(payload.size());
  if (head.size() != BlockHeadBytes(payload_len)) {
    return InvalidArgument("block head of " + std::to_string(head.size()) + " bytes for a " +
                           std::to_string(payload_len) + "-byte payload");
  }
  Result<BlockHeader> h = DecodeBlockHeader(head.substr(0, kBlockHeaderBytes));
  if (!h.ok()) return h.status().WithContext("write rejected");
  const BlockExpectation expect{spec_.drive_id, offset, h->id, payload_len};
  const Status verified = VerifyBlock(expect, head, payload);
  if (!verified.ok()) return Corruption("write rejected: " + std::string(verified.message()));
  const uint64_t at = kDriveHeaderBytes + offset;
  if (head.data() + head.size() == payload.data()) {
    // Adjacent in memory (a BlockWriteMany request): one write instead of two.
    return file_->WriteAt(at, std::string_view(head.data(), head.size() + payload.size()));
  }
  RETURN_IF_ERROR(file_->WriteAt(at, head));
  return file_->WriteAt(at + head.size(), payload);
}

Result<std::string> Drive::ReadBlock(uint64_t offset, const BlockId& id, uint32_t payload_len,
                                     ReadWait wait, PayloadSlice slice) {
  RETURN_IF_ERROR(CheckPlacement(offset, payload_len, data_bytes()));
  if (slice.offset > payload_len || slice.length > payload_len - slice.offset) {
    return InvalidArgument("read slice outside the payload");
  }
  const BlockExpectation expect{spec_.drive_id, offset, id, payload_len};
  const size_t head_bytes = BlockHeadBytes(payload_len);
  if (slice.length == 0) {
    std::string block(head_bytes + payload_len, '\0');
    RETURN_IF_ERROR(ReadAt(offset, wait, block));
    const std::string_view view(block);
    RETURN_IF_ERROR(VerifyBlock(expect, view.substr(0, head_bytes), view.substr(head_bytes)));
    return block;
  }
  // Only the sectors the slice touches are read and verified, with the head that lists their
  // checksums: a 4 KiB slice of a 1 MiB chunk reads about 5 KiB, not the chunk. Buffers are
  // never zero-filled first (ReadAt clears only what a short read left).
  const uint32_t first_sector = slice.offset / kSectorBytes;
  const size_t from = size_t{first_sector} * kSectorBytes;
  const size_t to = std::min<size_t>(
      payload_len, (size_t{slice.offset} + slice.length + kSectorBytes - 1) / kSectorBytes *
                       kSectorBytes);
  const bool adjacent = first_sector == 0;  // the sectors follow the head: one read for both
  const size_t head_read = adjacent ? head_bytes + to : head_bytes;
  auto head_buffer = std::make_unique_for_overwrite<char[]>(head_read);
  RETURN_IF_ERROR(ReadAt(offset, wait, std::span<char>(head_buffer.get(), head_read)));
  const std::string_view head(head_buffer.get(), head_bytes);
  std::string_view sectors(head_buffer.get() + head_bytes, head_read - head_bytes);
  std::unique_ptr<char[]> sector_buffer;
  if (!adjacent) {
    sector_buffer = std::make_unique_for_overwrite<char[]>(to - from);
    RETURN_IF_ERROR(ReadAt(offset + head_bytes + from, wait,
                           std::span<char>(sector_buffer.get(), to - from)));
    sectors = std::string_view(sector_buffer.get(), to - from);
  }
  RETURN_IF_ERROR(VerifyBlockSectors(expect, head, first_sector, sectors));
  return std::string(sectors.substr(slice.offset - from, slice.length));
}

Status Drive::ReadAt(uint64_t offset, ReadWait wait, std::span<char> bytes) {
  const uint64_t at = kDriveHeaderBytes + offset;
  ASSIGN_OR_RETURN(size_t read, wait == ReadWait::kNever ? file_->ReadAtWithoutWaiting(at, bytes)
                                                         : file_->ReadAt(at, bytes));
  // A short read (a file cut short under us) leaves zeros, which verification then rejects.
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(read), bytes.end(), '\0');
  return Status::Ok();
}

Status Drive::Sync() { return file_->Sync(); }

}  // namespace dase::dnode
