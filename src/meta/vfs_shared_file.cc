#include "meta/vfs_shared_file.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <tuple>
#include <utility>

#include "common/check.h"

namespace dase::meta::internal {
namespace {

static_assert(SQLITE_SHM_NLOCK == 8);

struct Registry {
  std::mutex mu;
  std::map<std::tuple<env::Env*, std::string>, std::shared_ptr<SharedFile>> files;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

void AddRange(Ranges& ranges, uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  // Merge with every range that overlaps or touches [begin, end).
  auto it = ranges.upper_bound(begin);
  if (it != ranges.begin() && std::prev(it)->second >= begin) --it;
  while (it != ranges.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    it = ranges.erase(it);
  }
  ranges.emplace(begin, end);
}

}  // namespace

std::shared_ptr<SharedFile> SharedFile::Acquire(env::Env* env, const std::string& path) {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  std::shared_ptr<SharedFile>& shared = registry.files[{env, path}];
  if (shared == nullptr) shared = std::make_shared<SharedFile>();
  ++shared->open_files_;
  return shared;
}

void SharedFile::Release(env::Env* env, const std::string& path,
                         std::shared_ptr<SharedFile> shared, std::unique_ptr<env::File> file,
                         bool keep_open) {
  std::vector<std::unique_ptr<env::File>> to_close;
  {
    Registry& registry = GetRegistry();
    std::lock_guard lock(registry.mu);
    if (--shared->open_files_ > 0) {
      if (keep_open) shared->closed_files_.push_back(std::move(file));
    } else {
      to_close = std::move(shared->closed_files_);
      registry.files.erase({env, path});
    }
  }
  // Closed outside the lock: a close may wait for I/O.
  to_close.clear();
  file.reset();
}

// ---- Writes since the last good sync.

void SharedFile::NoteWrite(uint64_t offset, uint64_t length) {
  std::lock_guard lock(mu_);
  AddRange(unsynced_, offset, offset + length);
}

void SharedFile::NoteTruncate() {
  std::lock_guard lock(mu_);
  truncated_ = true;
}

Status SharedFile::RewriteIfSyncFailed(env::File& file) {
  Ranges ranges;
  bool truncated = false;
  {
    std::lock_guard lock(mu_);
    if (!sync_failed_) return Status::Ok();
    ranges = unsynced_;
    truncated = truncated_;
  }
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  // A truncate is remembered by the size alone: setting it again makes it a fresh change.
  if (truncated) RETURN_IF_ERROR(file.Truncate(size));
  std::string buffer;
  for (auto [begin, end] : ranges) {
    if (begin >= size) break;
    end = std::min(end, size);
    buffer.resize(end - begin);
    ASSIGN_OR_RETURN(size_t n, file.ReadAt(begin, std::span(buffer.data(), buffer.size())));
    RETURN_IF_ERROR(file.WriteAt(begin, std::string_view(buffer.data(), n)));
  }
  return Status::Ok();
}

Ranges SharedFile::BeginSync() {
  std::lock_guard lock(mu_);
  return std::exchange(unsynced_, Ranges());
}

void SharedFile::EndSync(Ranges taken, bool ok) {
  std::lock_guard lock(mu_);
  if (ok) {
    truncated_ = false;
    sync_failed_ = false;
    return;
  }
  for (auto [begin, end] : taken) AddRange(unsynced_, begin, end);
  sync_failed_ = true;
}

// ---- kInProcess file locks.

int SharedFile::Lock(LockHolder& holder, int level) {
  std::lock_guard lock(mu_);
  if (holder.lock >= level) return SQLITE_OK;
  switch (level) {
    case SQLITE_LOCK_SHARED:
      // A pending writer keeps new readers out, so it cannot starve.
      if (pending_ != nullptr || exclusive_ != nullptr) return SQLITE_BUSY;
      ++shared_locks_;
      break;
    case SQLITE_LOCK_RESERVED:
      if (reserved_ != nullptr) return SQLITE_BUSY;
      reserved_ = &holder;
      break;
    case SQLITE_LOCK_EXCLUSIVE:
      if (pending_ != nullptr && pending_ != &holder) return SQLITE_BUSY;
      pending_ = &holder;
      holder.lock = SQLITE_LOCK_PENDING;
      if (shared_locks_ > 1) return SQLITE_BUSY;  // readers left: wait, holding PENDING
      exclusive_ = &holder;
      break;
    default:
      CHECK(false) << "SQLite asked for lock level " << level;
  }
  holder.lock = level;
  return SQLITE_OK;
}

int SharedFile::Unlock(LockHolder& holder, int level) {
  std::lock_guard lock(mu_);
  if (holder.lock <= level) return SQLITE_OK;
  if (reserved_ == &holder) reserved_ = nullptr;
  if (pending_ == &holder) pending_ = nullptr;
  if (exclusive_ == &holder) exclusive_ = nullptr;
  if (level == SQLITE_LOCK_NONE) --shared_locks_;
  holder.lock = level;
  return SQLITE_OK;
}

bool SharedFile::Reserved() {
  std::lock_guard lock(mu_);
  return reserved_ != nullptr || pending_ != nullptr || exclusive_ != nullptr;
}

// ---- kInProcess WAL index.

int SharedFile::ShmMap(LockHolder& holder, int region, int region_bytes, bool extend,
                       void volatile** out) {
  std::lock_guard lock(mu_);
  if (!holder.shm_mapped) {
    holder.shm_mapped = true;
    ++shm_users_;
  }
  auto index = static_cast<size_t>(region);
  if (index >= shm_regions_.size()) {
    if (!extend) {
      *out = nullptr;
      return SQLITE_OK;
    }
    while (shm_regions_.size() <= index) {
      // Zeroed, as a new "-shm" would be: SQLite then rebuilds the index from the WAL.
      shm_regions_.push_back(std::make_unique<char[]>(static_cast<size_t>(region_bytes)));
    }
  }
  *out = shm_regions_[index].get();
  return SQLITE_OK;
}

void SharedFile::ShmReleaseLocked(LockHolder& holder, uint32_t mask) {
  for (int i = 0; i < SQLITE_SHM_NLOCK; ++i) {
    uint32_t bit = 1u << i;
    if ((mask & bit) == 0) continue;
    if (holder.shm_exclusive & bit) shm_locks_[i] = 0;
    if (holder.shm_shared & bit) --shm_locks_[i];
  }
  holder.shm_shared &= ~mask;
  holder.shm_exclusive &= ~mask;
}

int SharedFile::ShmLock(LockHolder& holder, int offset, int n, int flags) {
  if (offset < 0 || n < 1 || offset + n > SQLITE_SHM_NLOCK) return SQLITE_IOERR_SHMLOCK;
  uint32_t mask = ((1u << n) - 1) << offset;
  std::lock_guard lock(mu_);
  if (flags & SQLITE_SHM_UNLOCK) {
    ShmReleaseLocked(holder, mask);
    return SQLITE_OK;
  }
  if (flags & SQLITE_SHM_SHARED) {
    for (int i = offset; i < offset + n; ++i) {
      if (shm_locks_[i] < 0 && (holder.shm_exclusive & (1u << i)) == 0) return SQLITE_BUSY;
    }
    for (int i = offset; i < offset + n; ++i) {
      uint32_t bit = 1u << i;
      if ((holder.shm_shared | holder.shm_exclusive) & bit) continue;
      ++shm_locks_[i];
      holder.shm_shared |= bit;
    }
    return SQLITE_OK;
  }
  for (int i = offset; i < offset + n; ++i) {
    uint32_t bit = 1u << i;
    if (holder.shm_exclusive & bit) continue;
    int others = shm_locks_[i] - ((holder.shm_shared & bit) ? 1 : 0);
    if (others != 0) return SQLITE_BUSY;
  }
  ShmReleaseLocked(holder, mask & holder.shm_shared);
  for (int i = offset; i < offset + n; ++i) shm_locks_[i] = -1;
  holder.shm_exclusive |= mask;
  return SQLITE_OK;
}

void SharedFile::ShmBarrier() {
  // As the unix VFS: a full fence and a round trip through the mutex.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::lock_guard lock(mu_);
}

void SharedFile::ShmUnmap(LockHolder& holder) {
  std::lock_guard lock(mu_);
  if (!holder.shm_mapped) return;
  ShmReleaseLocked(holder, ~0u);
  holder.shm_mapped = false;
  // Nothing is on disk to delete; the index goes with its last user, as at a power cut.
  if (--shm_users_ == 0) shm_regions_.clear();
}

}  // namespace dase::meta::internal
