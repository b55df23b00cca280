// StripeStore: erasure-coded stripes on the DNodes' SSD drives (docs/formats/stripes.md).
//
// A stripe holds up to k × 1 MiB of data: k data chunks and m parity chunks (Reed–Solomon,
// src/ec), each chunk a block on an SSD drive of a different place chosen by ec::PlaceStripe
// over the DNodes active when it was written. Its record in the metadata store (s/r/<n>) names
// every chunk's DNode, drive and offset, so a reader never recomputes placement.
//
// Life of a stripe:
//   1. Write: one transaction takes a stripe number and a slot on each chunk's drive and stores
//      the record as *pending*; then every chunk is written and fsync'd on its DNode.
//   2. Seal (inside the caller's transaction, the one that points extents at the stripe): the
//      record becomes *sealed* and gets its members s/m/<n>/<ino><offset> — the file ranges
//      whose data went into it. A crash between 1 and 2 leaves a pending stripe that nothing
//      references; its writer frees it when it starts again (FreePending).
//   3. Sweep: a member whose file range no longer has an extent in this stripe (overwritten,
//      truncated, deleted) is dropped; a stripe with no members left is freed and its slots go
//      back to the free lists (s/f/...). Freed slots are reused by stripes with other numbers,
//      so a reader holding a stale extent gets a BlockId mismatch (an error), never other data.
//
// Read gives any byte range of a sealed stripe's data. A chunk that is missing, corrupt or on a
// DNode that is down is rebuilt from any k others (degraded read); fewer than k readable chunks
// is an error, never wrong bytes.
//
// Thread-safety: the CNode's loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "ec/geometry.h"
#include "ec/reed_solomon.h"
#include "env/env.h"
#include "estore/keys.h"
#include "estore/peers.h"
#include "meta/kv.h"

namespace dase::estore {

struct StripeChunk {
  std::string dnode;
  uint32_t drive = 0;  // SSD drive index on that DNode
  uint64_t offset = 0;  // in the drive's data area
};

enum class StripeState : uint8_t { kPending = 1, kSealed = 2 };

struct StripeRecord {
  uint64_t number = 0;
  StripeState state = StripeState::kPending;
  ec::Geometry geometry;      // chunk_bytes may be below 1 MiB for a stripe of little data
  std::string writer;         // the CNode that wrote it
  int64_t created_us = 0;
  std::vector<StripeChunk> chunks;  // k data chunks, then m parity chunks
};

// A file range whose data went into a stripe.
struct StripeMember {
  uint64_t ino = 0;
  uint64_t file_offset = 0;
  uint64_t length = 0;
};

std::string EncodeStripeRecord(const StripeRecord& record);
Result<StripeRecord> DecodeStripeRecord(uint64_t number, std::string_view bytes);

struct StripeStoreOptions {
  std::string cnode;             // writer name recorded in new stripes
  int ssd_drives = 4;            // SSD drives per DNode
  uint64_t ssd_data_bytes = 0;   // each SSD drive's data area
};

struct SweepResult {
  uint64_t stripes_seen = 0;
  uint64_t members_dropped = 0;
  uint64_t stripes_freed = 0;
  uint64_t next = 0;  // where the next sweep continues (0: from the start)
};

class StripeStore {
 public:
  // `refresh` fetches the cluster map again when chunks are unreachable (may be empty).
  StripeStore(env::Env* env, meta::Store* store, DnodePeers* peers, StripeStoreOptions options,
              MapRefresher refresh)
      : env_(env), store_(store), peers_(peers), options_(std::move(options)),
        refresh_(std::move(refresh)) {}

  // The most data one new stripe takes over the DNodes active now (k × 1 MiB); 0 if fewer than
  // two DNodes are active.
  uint64_t CapacityNow() const;

  // Writes `data` as a new pending stripe over the active DNodes; every chunk is durable when
  // this returns. Chunks are as small as the data allows (4 KiB multiples, at most 1 MiB).
  awaitable<Result<StripeRecord>> Write(std::string data);
  // The same for the data `pieces` hold end to end, copied once (into the buffer that also
  // holds the parity): the pieces need to stay alive only until this returns.
  awaitable<Result<StripeRecord>> WritePieces(std::vector<std::string_view> pieces);

  // Inside `txn`: the stripe becomes sealed with `members`.
  static void Seal(meta::Transaction& txn, StripeRecord record,
                   const std::vector<StripeMember>& members);
  // Inside `txn`: more members of a sealed stripe.
  static void AddMembers(meta::Transaction& txn, uint64_t number,
                         const std::vector<StripeMember>& members);
  // Inside `txn`: deletes the stripe's record and members and frees its slots.
  static Status Free(meta::Transaction& txn, const StripeRecord& record);

  // `length` bytes at `offset` of the data of sealed stripe `number`, degraded if need be.
  awaitable<Result<std::string>> Read(uint64_t number, uint64_t offset, uint64_t length);

  // Frees stripes this CNode wrote and will not seal, in one transaction.
  Status FreeUnused(const std::vector<StripeRecord>& records);
  // Frees the pending stripes this CNode left behind (call before writing any).
  Status FreePending();

  // Visits up to `max_stripes` stripes from number `from`, dropping members that no extent
  // references any more and freeing stripes left with none (one transaction per stripe).
  Result<SweepResult> Sweep(uint64_t from, size_t max_stripes);
  // The same for one stripe, adding to `result`.
  Status SweepStripe(uint64_t number, SweepResult* result);


 private:
  Result<StripeRecord> Reserve(const ec::Geometry& g, const std::vector<std::string>& dnodes);
  Result<StripeRecord> Record(uint64_t number);
  Result<const ec::ReedSolomon*> Code(const ec::Geometry& g);
  // Read's general path: the chunks holding the range (only the sectors holding it when it lies
  // in one chunk), rebuilt from parity if need be.
  awaitable<Result<std::string>> ReadChunks(const StripeRecord& record, uint64_t offset,
                                            uint64_t length);
  // The chunk, or with slice_len > 0 only those bytes of it.
  awaitable<Result<std::string>> ReadChunk(const StripeRecord& record, int index,
                                           uint32_t slice_offset = 0, uint32_t slice_len = 0);

  env::Env* env_;
  meta::Store* store_;
  DnodePeers* peers_;
  StripeStoreOptions options_;
  MapRefresher refresh_;
  std::map<uint64_t, StripeRecord> records_;  // sealed records read recently
  std::map<std::pair<int, int>, std::unique_ptr<ec::ReedSolomon>> codes_;
};

}  // namespace dase::estore
