#include "env/fault_env.h"

#include <algorithm>
#include <cerrno>
#include <random>
#include <unordered_set>

namespace dase::env {
namespace {

bool Matches(FaultOp fault_op, EnvOp op) {
  switch (fault_op) {
    case FaultOp::kAny: return true;
    case FaultOp::kAnyWrite:
      return op != EnvOp::kRead && op != EnvOp::kStat && op != EnvOp::kListDir;
    default: return static_cast<int>(fault_op) == static_cast<int>(op);
  }
}

static_assert(static_cast<int>(FaultOp::kLock) == static_cast<int>(EnvOp::kLock));
static_assert(static_cast<int>(FaultOp::kAnyWrite) == kEnvOpCount);

}  // namespace

std::string_view FateName(Fate fate) {
  switch (fate) {
    case Fate::kKept: return "kept";
    case Fate::kDropped: return "dropped";
    case Fate::kTorn: return "torn";
    case Fate::kGarbled: return "garbled";
    case Fate::kLost: return "lost";
  }
  return "unknown";
}

// One power cut: walks the tree the disk will hold from the root, deciding the fate of each
// directory's unsynced entry changes, then of each surviving file's unsynced writes. Only what
// is reachable after the cut matters, so only that is resolved.
class FaultEnv::Cut {
 public:
  Cut(FaultEnv* env, uint64_t seed, PowerCutMode mode) : env_(env), rng_(seed), mode_(mode) {
    report_.seed = seed;
    report_.mode = mode;
  }

  PowerCutReport Run() {
    std::vector<NodePtr> known_dirs = KnownDirs();
    visited_.insert(env_->root_.get());
    CutDir(env_->root_, "");
    // Directories the disk no longer holds drop their entries, so no unreachable cycle of
    // directories keeps itself alive.
    for (const NodePtr& dir : known_dirs) {
      if (!visited_.contains(dir.get())) dir->entries.clear();
    }
    return std::move(report_);
  }

 private:
  // Every directory in the current tree or with unsynced changes.
  std::vector<NodePtr> KnownDirs() const {
    std::vector<NodePtr> dirs;
    for (const auto& [key, state] : env_->dirs_) dirs.push_back(state.node);
    std::vector<NodePtr> stack = {env_->root_};
    while (!stack.empty()) {
      NodePtr dir = std::move(stack.back());
      stack.pop_back();
      dirs.push_back(dir);
      for (const auto& [name, child] : dir->entries) {
        if (child->is_dir) stack.push_back(child);
      }
    }
    return dirs;
  }

  void CutDir(const NodePtr& dir, const std::string& path) {
    if (auto it = env_->dirs_.find(dir.get()); it != env_->dirs_.end()) {
      DirState& state = it->second;
      size_t keep = ChoosePrefix(state.pending.size());
      Entries entries = state.durable;
      for (size_t i = 0; i < keep; ++i) ApplyEntrySets(entries, state.pending[i]);
      report_.entry_changes_kept += keep;
      report_.entry_changes_reverted += state.pending.size() - keep;
      dir->entries = std::move(entries);
    }
    for (auto entry = dir->entries.begin(); entry != dir->entries.end();) {
      NodePtr child = entry->second;
      std::string child_path = path + "/" + entry->first;
      if (visited_.insert(child.get()).second) {
        if (child->is_dir) {
          CutDir(child, child_path);
        } else {
          CutFile(child, child_path);
        }
      } else if (child->is_dir) {
        entry = dir->entries.erase(entry);  // a second name for a directory
        ++report_.dir_links_dropped;
        continue;
      }
      ++entry;
    }
  }

  void CutFile(const NodePtr& file, const std::string& path) {
    auto it = env_->files_.find(file.get());
    if (it == env_->files_.end()) return;
    FileState& state = it->second;
    std::string data = std::move(state.durable);
    for (const Pending& change : state.pending) {
      ChangeOutcome outcome{.path = path,
                            .kind = change.kind,
                            .offset = change.offset,
                            .length = change.data.size()};
      outcome.fate = change.lost ? Fate::kLost : ChooseFate(change.kind);
      Apply(change, outcome, data);
      Record(std::move(outcome));
    }
    file->data = std::move(data);
  }

  size_t ChoosePrefix(size_t n) {
    switch (mode_) {
      case PowerCutMode::kDropAll: return 0;
      case PowerCutMode::kKeepAll: return n;
      case PowerCutMode::kRandom: return static_cast<size_t>(rng_() % (n + 1));
    }
    return 0;
  }

  Fate ChooseFate(ChangeKind kind) {
    switch (mode_) {
      case PowerCutMode::kDropAll: return Fate::kDropped;
      case PowerCutMode::kKeepAll: return Fate::kKept;
      case PowerCutMode::kRandom: break;
    }
    uint64_t roll = rng_() % 100;
    if (kind == ChangeKind::kTruncate) return roll < 50 ? Fate::kKept : Fate::kDropped;
    if (roll < 40) return Fate::kKept;
    if (roll < 70) return Fate::kDropped;
    if (roll < 85) return Fate::kTorn;
    return Fate::kGarbled;
  }

  void Apply(const Pending& change, ChangeOutcome& outcome, std::string& data) {
    switch (outcome.fate) {
      case Fate::kKept: ApplyChange(change, data); break;
      case Fate::kTorn: Tear(change, outcome, data); break;
      case Fate::kGarbled: Garble(change, outcome, data); break;
      case Fate::kDropped:
      case Fate::kLost: break;
    }
  }

  // Keeps the sectors before a random cut point; the write never lands whole.
  void Tear(const Pending& change, ChangeOutcome& outcome, std::string& data) {
    uint64_t cut = change.offset + rng_() % change.data.size();
    cut -= cut % kSectorBytes;
    uint64_t keep = cut > change.offset ? cut - change.offset : 0;
    outcome.torn_kept_bytes = keep;
    WriteBytes(data, change.offset, std::string_view(change.data).substr(0, keep));
  }

  // The file grows as the write said, but the bytes it covered hold noise; without powersafe
  // overwrite, so does the rest of every sector it touched.
  void Garble(const Pending& change, ChangeOutcome& outcome, std::string& data) {
    uint64_t end = change.offset + change.data.size();
    if (data.size() < end) data.resize(end, '\0');
    uint64_t begin = change.offset;
    if (!env_->powersafe_overwrite_) {
      begin -= begin % kSectorBytes;
      uint64_t sector_end = (end + kSectorBytes - 1) / kSectorBytes * kSectorBytes;
      end = std::min<uint64_t>(sector_end, data.size());
    }
    for (uint64_t i = begin; i < end; ++i) data[i] = static_cast<char>(rng_());
    outcome.garbled_begin = begin;
    outcome.garbled_end = end;
  }

  void Record(ChangeOutcome outcome) {
    ++report_.fates[static_cast<int>(outcome.fate)];
    if (report_.outcomes.size() < PowerCutReport::kMaxOutcomes) {
      report_.outcomes.push_back(std::move(outcome));
    } else {
      report_.outcomes_truncated = true;
    }
  }

  FaultEnv* const env_;
  std::mt19937_64 rng_;
  const PowerCutMode mode_;
  std::unordered_set<const Node*> visited_;
  PowerCutReport report_;
};

FaultEnv::FaultEnv(uint64_t seed, TimeSource time_source) : MemEnv(seed, time_source) {}

PowerCutReport FaultEnv::PowerCut(uint64_t seed, PowerCutMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  PowerCutReport report = Cut(this, seed, mode).Run();
  files_.clear();
  dirs_.clear();
  locked_.clear();  // the processes holding them died
  ++epoch_;
  return report;
}

void FaultEnv::FailAfter(FaultOp op, int64_t n, Code code) {
  CHECK(n >= 1) << "FailAfter counts from 1: " << n;
  CHECK(code != Code::kOk) << "FailAfter needs an error code";
  std::lock_guard<std::mutex> lock(mu_);
  CHECK(armed_.size() < kMaxArmedFaults) << "too many armed faults";
  armed_.push_back(ArmedFault{op, n, code});
}

void FaultEnv::SetNoSpaceAfterBytes(uint64_t total_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  space_limit_bytes_ = total_bytes;
}

void FaultEnv::FailSyncAlways(bool fail) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_sync_always_ = fail;
}

void FaultEnv::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_.clear();
  space_limit_bytes_ = UINT64_MAX;
  fail_sync_always_ = false;
}

void FaultEnv::SetPowersafeOverwrite(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  powersafe_overwrite_ = on;
}

uint64_t FaultEnv::OpCount(FaultOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (int i = 0; i < kEnvOpCount; ++i) {
    if (Matches(op, static_cast<EnvOp>(i))) total += op_counts_[i];
  }
  return total;
}

uint64_t FaultEnv::StoredBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return StoredBytesLocked();
}

uint64_t FaultEnv::StoredBytesLocked() const {
  uint64_t total = 0;
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack = {root_.get()};
  while (!stack.empty()) {
    const Node* dir = stack.back();
    stack.pop_back();
    for (const auto& [name, child] : dir->entries) {
      if (!seen.insert(child.get()).second) continue;
      if (child->is_dir) {
        stack.push_back(child.get());
      } else {
        total += child->data.size();
      }
    }
  }
  return total;
}

Status FaultEnv::BeforeOp(EnvOp op) {
  ++op_counts_[static_cast<int>(op)];
  Status result;
  for (auto it = armed_.begin(); it != armed_.end();) {
    if (Matches(it->op, op) && --it->remaining == 0) {
      if (result.ok()) {
        result = Status(it->code, "injected " + std::string(CodeName(it->code)) + " on " +
                                      std::string(EnvOpName(op)));
      }
      it = armed_.erase(it);
    } else {
      ++it;
    }
  }
  return result;
}

Status FaultEnv::CheckSpaceLocked(uint64_t size_now, uint64_t size_after) const {
  if (size_after <= size_now || space_limit_bytes_ == UINT64_MAX) return Status::Ok();
  if (StoredBytesLocked() + (size_after - size_now) > space_limit_bytes_) {
    return ErrnoStatus("injected", ENOSPC);
  }
  return Status::Ok();
}

Status FaultEnv::BeforeWrite(const NodePtr& file, uint64_t offset, std::string_view data) {
  uint64_t size = file->data.size();
  RETURN_IF_ERROR(CheckSpaceLocked(size, std::max<uint64_t>(size, offset + data.size())));
  FileStateLocked(file).pending.push_back(
      Pending{ChangeKind::kWrite, offset, std::string(data)});
  return Status::Ok();
}

Status FaultEnv::BeforeTruncate(const NodePtr& file, uint64_t size) {
  RETURN_IF_ERROR(CheckSpaceLocked(file->data.size(), size));
  FileStateLocked(file).pending.push_back(Pending{ChangeKind::kTruncate, size, {}});
  return Status::Ok();
}

void FaultEnv::BeforeEntryChange(const NodePtr& dir, std::span<const EntrySet> sets) {
  auto it = dirs_.find(dir.get());
  if (it == dirs_.end()) {
    it = dirs_.emplace(dir.get(), DirState{dir, dir->entries, {}}).first;
  }
  it->second.pending.emplace_back(sets.begin(), sets.end());
}

Status FaultEnv::SyncFileLocked(const NodePtr& node) {
  Status status = BeforeOp(EnvOp::kSync);
  if (status.ok() && fail_sync_always_) status = ErrnoStatus("injected", EIO);
  if (node->is_dir) return status.ok() ? SyncDirLocked(node) : status;
  auto it = files_.find(node.get());
  if (it == files_.end()) return status;  // nothing unsynced
  FileState& state = it->second;
  if (!status.ok()) {
    for (Pending& change : state.pending) change.lost = true;
    return status;
  }
  for (const Pending& change : state.pending) {
    if (!change.lost) ApplyChange(change, state.durable);
  }
  state.pending.clear();
  // Lost writes may leave the page cache ahead of the disk; then the state must stay.
  if (state.durable == node->data) files_.erase(it);
  return Status::Ok();
}

Status FaultEnv::SyncDirLocked(const NodePtr& dir) {
  dirs_.erase(dir.get());
  return Status::Ok();
}

void FaultEnv::ApplyChange(const Pending& change, std::string& data) {
  if (change.kind == ChangeKind::kTruncate) {
    data.resize(change.offset, '\0');
  } else {
    WriteBytes(data, change.offset, change.data);
  }
}

FaultEnv::FileState& FaultEnv::FileStateLocked(const NodePtr& file) {
  auto it = files_.find(file.get());
  if (it == files_.end()) {
    it = files_.emplace(file.get(), FileState{file, file->data, {}}).first;
  }
  return it->second;
}

}  // namespace dase::env
