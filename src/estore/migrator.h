// Migrator: moves a CNode's buffered data into erasure-coded stripes and frees the buffer, and
// sweeps stripes for space that overwrites and deletes left unreferenced (DESIGN.md §3a).
//
// Every chunk a CNode writes to the buffer and commits is recorded in its *buffer index*
// (b/q/<cnode>/<seq>), in the same transaction as the extents that point at it. A migration
// pass takes the oldest entries, enough for one stripe (or fewer, once the oldest has waited
// flush_after), reads their data from the buffer, writes the stripe (StripeStore::Write, all
// chunks durable), and then in ONE transaction points every extent that still references a
// buffered chunk at the chunk's place in the stripe, seals the stripe with its members and
// drops the index entries. Only then is the buffer space released. A crash before that
// transaction leaves the extents on the buffer (still readable) and a pending stripe that the
// next start frees; after it, the extents are on the stripe. Either way each byte is readable
// exactly once. An extent that changed meanwhile (overwritten, truncated, deleted) is not
// touched: its chunk is simply not referenced by the stripe.
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "env/env.h"
#include "estore/data_plane.h"
#include "estore/location.h"
#include "estore/records.h"
#include "estore/stripes.h"
#include "meta/kv.h"

namespace dase::estore {

struct MigratorOptions {
  std::string cnode;
  // A stripe that is not full is written once its oldest data has waited this long.
  int64_t flush_after_us = 1'000'000;
  // Stripes that lost extents are swept at most this often.
  int64_t sweep_every_us = 5'000'000;
};

// One committed chunk in the write buffer, as its buffer index entry records it.
struct BufferEntry {
  std::string key;              // b/q/<cnode>/<seq>
  uint64_t ino = 0;             // the file it was written for
  uint64_t file_offset = 0;     // where in the file
  int64_t written_us = 0;
  std::string location_bytes;   // exactly as the extents hold it
  ChunkLocation location;       // decoded, with ring positions
  uint64_t stripe_offset = 0;   // (migration) where its data goes in the stripe being written
};
Result<BufferEntry> DecodeBufferEntry(std::string key, std::string_view value);

struct MigratorStats {
  uint64_t stripes_written = 0;
  uint64_t chunks_migrated = 0;   // buffered chunks now in stripes
  uint64_t chunks_dropped = 0;    // buffered chunks nothing referenced any more
  uint64_t stripes_freed = 0;
};

class Migrator {
 public:
  Migrator(asio::io_context& io, env::Env* env, meta::Store* store, DataPlane* data,
           StripeStore* stripes, BufferAllocator* allocator, MigratorOptions options);

  // Frees stripes an earlier run of this CNode left pending and holds the buffer space its
  // index still names. Call once, before writing.
  Status Start();
  // The background loop: migrates when a stripe's worth is buffered or the oldest data waited
  // flush_after, sweeps when asked. Ends after Stop.
  awaitable<void> Run();
  void Stop();

  // Inside the transaction that commits an extent of file `ino` at `file_offset` on the
  // buffered chunk `location`: records the chunk in the buffer index.
  void RecordBuffered(meta::Transaction& txn, uint64_t ino, uint64_t file_offset,
                      const ChunkLocation& location);
  // After such a transaction committed: `bytes` more are buffered.
  void Wake(uint64_t bytes);
  // Extents were overwritten or deleted: sweep the stripes they were in soon.
  void NoteDisplaced(const std::vector<Extent>& displaced);

  // One migration pass. With `force`, a partial stripe is written whatever the age of its
  // data. Returns the number of index entries handled (0: nothing to do yet).
  awaitable<Result<size_t>> MigrateOnce(bool force);
  // Sweeps every stripe now (at start: what a crash left unswept), or those noted displaced.
  Result<SweepResult> SweepAll();
  Result<SweepResult> SweepNoted();
  // StripeStore::WritePieces, which on NoSpace first reclaims what it can (ReclaimNow) and
  // tries once more. The data is `pieces` end to end, borrowed until this returns.
  awaitable<Result<StripeRecord>> WriteStripe(std::vector<std::string_view> pieces);
  // Out of SSD space: sweeps what may be reclaimable now rather than at the next sweep time.
  // True if some stripe was freed.
  bool ReclaimNow();

  const MigratorStats& stats() const { return stats_; }

 private:
  Result<std::vector<BufferEntry>> LoadOldest(size_t max);

  asio::io_context& io_;
  env::Env* env_;
  meta::Store* store_;
  DataPlane* data_;
  StripeStore* stripes_;
  BufferAllocator* allocator_;
  MigratorOptions options_;
  asio::steady_timer wake_;
  uint64_t next_seq_ = 1;
  int64_t next_try_us_ = 0;  // after a failed pass, wait until then
  bool full_sweep_needed_ = true;  // once at start
  std::set<uint64_t> dirty_stripes_;  // stripes that lost extents since the last sweep
  int64_t last_sweep_us_ = 0;
  bool stopping_ = false;
  bool idle_ = false;             // asleep until woken: nothing is buffered
  uint64_t recorded_bytes_ = 0;   // buffered since the last pass
  MigratorStats stats_;
};

}  // namespace dase::estore
