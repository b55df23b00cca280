// Stripe geometry: how wide a stripe is for a cluster of a given size, and where its chunks go.
//
// The failure domain is the DNode: a stripe never places more chunks on one DNode than it has
// parity chunks, so losing a whole DNode (and with it all its drives) never loses data. The
// rule for every cluster size, and the placement function, are specified in
// docs/formats/stripes.md (format version 1); both are part of the on-disk format, since a
// reader recomputes where a stripe's chunks are.
//
// Thread-safety: pure functions of their arguments; safe to call from any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace dase::ec {

inline constexpr int kStripeFormatVersion = 1;
// Large sequential writes to every drive; see docs/formats/stripes.md.
inline constexpr uint32_t kChunkBytesDefault = 1u << 20;
// Parity chunks per stripe chosen by ChooseGeometry (any 4 drives, or one whole DNode).
inline constexpr int kParityChunksDefault = 4;
// Widest stripe ChooseGeometry makes: 32+4 (ReedSolomon allows at most 32 data chunks).
inline constexpr int kStripeWidthMax = 36;
// Limits on the cluster shapes the functions below accept.
inline constexpr int kDnodesMax = 1024;
inline constexpr int kDrivesPerDnodeMax = 256;

struct Geometry {
  int k = 0;  // data chunks
  int m = 0;  // parity chunks
  uint32_t chunk_bytes = 0;

  int width() const { return k + m; }
  uint64_t data_bytes() const { return uint64_t{chunk_bytes} * static_cast<uint64_t>(k); }
  bool operator==(const Geometry&) const = default;
};

// Where one chunk lives: indices into the cluster's DNodes and into that DNode's SSD drives.
struct Placement {
  int dnode = 0;
  int drive = 0;
  bool operator==(const Placement&) const = default;
};

// The version 1 geometry for `dnodes` DNodes of `ssd_drives_per_dnode` drives: m = 4 and
// k + m = min(4 * dnodes, 36), with 1 MiB chunks; 4 DNodes give 12+4. Fails with
// FailedPrecondition for a single DNode (no stripe survives losing it) and InvalidArgument for
// counts outside [1, kDnodesMax] x [1, kDrivesPerDnodeMax]. The drive count does not change the
// geometry, so adding drives never changes the stripe shape; it only changes placement.
Result<Geometry> ChooseGeometry(int dnodes, int ssd_drives_per_dnode);

// OK when `g` is a codable geometry (ReedSolomon limits, chunk_bytes > 0) that obeys the
// failure-domain rule on `dnodes` DNodes of `drives_per_dnode` drives; InvalidArgument otherwise.
// For geometries read back from metadata rather than made by ChooseGeometry.
Status ValidateGeometry(const Geometry& g, int dnodes, int drives_per_dnode);

// How many whole DNodes may fail, in the worst case, without losing any stripe of geometry `g`
// laid out by PlaceStripe on `dnodes` DNodes. 0 when the rule does not hold.
int DnodeFailuresTolerated(const Geometry& g, int dnodes);

// The same for single drives failing anywhere in the cluster (drives of one DNode or of several).
int DriveFailuresTolerated(const Geometry& g, int dnodes, int drives_per_dnode);

// The location of every chunk of stripe `stripe_number`, indexed by chunk (data 0..k-1, then
// parity). Chunk i goes to DNode (s + i) mod D and drive (s / D + i / D) mod R. This spreads the
// chunks of a stripe over DNodes evenly (sizes differ by at most one), over a DNode's drives
// evenly, and rotates so that over every D * R consecutive stripes each drive holds exactly the
// same number of data and of parity chunks. `g` must pass ValidateGeometry (CHECK).
//
// The result depends on dnodes and drives_per_dnode: a stripe's metadata must record the shape
// it was placed with, because the cluster may grow afterwards.
std::vector<Placement> PlaceStripe(const Geometry& g, int dnodes, int drives_per_dnode,
                                   uint64_t stripe_number);

}  // namespace dase::ec
