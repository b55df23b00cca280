// FaultEnv: a MemEnv that models what a disk keeps through a power cut, and injects I/O faults.
//
// Durability model (SQLite's crash VFS for data, RocksDB's FaultInjectionTestFS for names):
//  - Reads see everything written, as through a page cache.
//  - A file has durable content plus the writes and truncates made since its last successful
//    Sync. A directory has durable entries plus the entry changes (creations, removals,
//    renames) made since its last SyncDir. File sync and directory sync are independent: a
//    synced file whose creation was never SyncDir'ed vanishes at a power cut.
//  - PowerCut(seed, mode) decides the fate of everything unsynced, then "reboots": every open
//    File and FileLock dies (IOError "power cut"), and fresh opens see the surviving state.
//      kDropAll: every unsynced write, truncate and entry change is lost.
//      kKeepAll: all of them reach the disk (what a process crash, not a power cut, leaves).
//      kRandom:  each write is kept (40 %), dropped (30 %), torn (15 %: a sector-aligned
//                prefix, possibly empty, lands) or garbled (15 %: the bytes it covered hold
//                noise, the file grown as the write said); each truncate is kept
//                or dropped (50 %); each directory keeps a prefix of its entry changes, in
//                order, as a journal would. A same-directory rename is one change: both names
//                never survive together. Decisions come from the seed alone: a cut replays.
//  - Powersafe overwrite (the default): a write that does not reach the disk whole damages
//    only the bytes it covered, never its neighbours, as SQLite's unix VFS assumes of disks
//    with atomic sector writes. SetPowersafeOverwrite(false) models a disk without it: a
//    garbled write leaves noise in every 512-byte sector it touched, neighbours included.
//  - fsyncgate: a failed Sync (injected by FailAfter or FailSyncAlways) marks every change then
//    unsynced in that file as lost. Lost changes stay visible to reads (Linux keeps the pages
//    in cache) but are dropped at every power cut, whatever the mode, and a later successful
//    Sync does not make them durable. So retrying fsync never turns lost data into durable
//    data, and reading back after a failed fsync proves nothing, as on Linux. A failed SyncDir
//    leaves the entry changes unsynced (a later SyncDir may still make them durable).
//  - After a cut a directory has one parent: should reverted renames leave a directory with
//    two names, the second one reached (in sorted order) is dropped, as fsck would.
//
// Faults: FailAfter arms a one-shot failure of the n-th next matching operation; the operation
// fails with nothing applied. SetNoSpaceAfterBytes fails (NoSpace) any write or truncate that
// would grow the total logical size of the reachable files beyond the limit, again with
// nothing applied. Faults survive a power cut (the disk is still bad); ClearFaults disarms.
//
// Memory: unsynced changes (and a copy of the durable content of each file that has some) are
// held until Sync/SyncDir or PowerCut, even for files removed meanwhile.
//
// Thread-safety: as MemEnv; every method may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "env/mem_env.h"

namespace dase::env {

// Which operations a fault applies to: one EnvOp (same names and order), or a class of them.
enum class FaultOp : int {
  kRead, kWrite, kTruncate, kSync, kSyncDir, kOpen, kCreateDir, kRemove, kRename, kStat,
  kListDir, kLock,
  kAnyWrite,  // any operation that may change state: all but kRead, kStat and kListDir
  kAny,
};

enum class PowerCutMode { kDropAll, kKeepAll, kRandom };

// What a power cut did with one unsynced write or truncate.
enum class Fate {
  kKept,
  kDropped,
  kTorn,     // only a sector-aligned prefix (possibly empty) of the write reached the disk
  kGarbled,  // the write's bytes (without powersafe overwrite: its sectors) hold noise
  kLost,     // a failed Sync doomed it (fsyncgate); dropped in every mode
};
inline constexpr int kFateCount = 5;
std::string_view FateName(Fate fate);

enum class ChangeKind { kWrite, kTruncate };

struct ChangeOutcome {
  std::string path;  // where the file is after the cut
  ChangeKind kind = ChangeKind::kWrite;
  uint64_t offset = 0;  // kTruncate: the size it set
  uint64_t length = 0;  // kWrite: bytes written
  Fate fate = Fate::kKept;
  uint64_t torn_kept_bytes = 0;  // kTorn: the prefix that reached the disk
  uint64_t garbled_begin = 0;    // kGarbled: the file range now holding noise
  uint64_t garbled_end = 0;
};

struct PowerCutReport {
  static constexpr size_t kMaxOutcomes = 10000;

  uint64_t seed = 0;
  PowerCutMode mode = PowerCutMode::kDropAll;
  std::array<uint64_t, kFateCount> fates{};  // counts indexed by Fate
  uint64_t entry_changes_kept = 0;
  uint64_t entry_changes_reverted = 0;
  uint64_t dir_links_dropped = 0;  // second names of directories removed after the cut
  // Per change, in file-walk order then change order; the first kMaxOutcomes only.
  std::vector<ChangeOutcome> outcomes;
  bool outcomes_truncated = false;

  uint64_t count(Fate fate) const { return fates[static_cast<int>(fate)]; }
};

class FaultEnv final : public MemEnv {
 public:
  static constexpr uint64_t kSectorBytes = 512;
  static constexpr size_t kMaxArmedFaults = 64;

  explicit FaultEnv(uint64_t seed, TimeSource time_source = TimeSource::kFake);

  // Simulates power loss and a reboot; see the header comment. Returns what happened.
  PowerCutReport PowerCut(uint64_t seed, PowerCutMode mode);

  // The n-th next operation matching `op` (n >= 1; 1 is the very next) fails with `code`
  // (kIOError for EIO, kNoSpace for ENOSPC, ...). One-shot; several may be armed at once.
  void FailAfter(FaultOp op, int64_t n, Code code);
  // Writes and truncates that would grow the stored bytes beyond `total_bytes` fail NoSpace.
  void SetNoSpaceAfterBytes(uint64_t total_bytes);
  // While set, every File::Sync fails with IOError (and dooms the file's unsynced writes).
  void FailSyncAlways(bool fail);
  // Disarms FailAfter faults, the space limit and FailSyncAlways.
  void ClearFaults();
  // See the header comment; on by default. Applies to the next power cut.
  void SetPowersafeOverwrite(bool on);

  // Operations seen (attempted, failed or not) since construction.
  uint64_t OpCount(FaultOp op) const;
  // Logical bytes of the files reachable now (the figure the space limit compares).
  uint64_t StoredBytes() const;

 private:
  struct Pending {
    ChangeKind kind;
    uint64_t offset;   // kTruncate: the size
    std::string data;  // kWrite: the bytes
    bool lost = false;
  };
  // A file with changes since its last successful Sync (absent: durable == data).
  struct FileState {
    NodePtr node;  // keeps the key alive
    std::string durable;
    std::vector<Pending> pending;
  };
  // A directory with entry changes since its last SyncDir (absent: durable == entries).
  struct DirState {
    NodePtr node;
    Entries durable;
    std::vector<std::vector<EntrySet>> pending;  // one element per change, in order
  };
  struct ArmedFault {
    FaultOp op;
    int64_t remaining;
    Code code;
  };
  class Cut;

  Status BeforeOp(EnvOp op) override;
  Status BeforeWrite(const NodePtr& file, uint64_t offset, std::string_view data) override;
  Status BeforeTruncate(const NodePtr& file, uint64_t size) override;
  void BeforeEntryChange(const NodePtr& dir, std::span<const EntrySet> sets) override;
  Status SyncFileLocked(const NodePtr& node) override;
  Status SyncDirLocked(const NodePtr& dir) override;

  // Applies a change that reached the disk whole.
  static void ApplyChange(const Pending& change, std::string& data);
  FileState& FileStateLocked(const NodePtr& file);
  Status CheckSpaceLocked(uint64_t size_now, uint64_t size_after) const;
  uint64_t StoredBytesLocked() const;

  std::unordered_map<const Node*, FileState> files_;
  std::unordered_map<const Node*, DirState> dirs_;
  std::vector<ArmedFault> armed_;
  std::array<uint64_t, kEnvOpCount> op_counts_{};
  uint64_t space_limit_bytes_ = UINT64_MAX;
  bool fail_sync_always_ = false;
  bool powersafe_overwrite_ = true;
};

}  // namespace dase::env
