#include "ec/geometry.h"

#include <algorithm>
#include <functional>
#include <string>

#include "common/check.h"
#include "ec/reed_solomon.h"

namespace dase::ec {
namespace {

// Larger chunks gain nothing for sequential I/O and make every degraded read and rebuild slower.
constexpr uint32_t kChunkBytesMax = 64u << 20;

Status ValidateShape(int dnodes, int drives_per_dnode) {
  if (dnodes < 1 || dnodes > kDnodesMax) {
    return InvalidArgument("stripe geometry: " + std::to_string(dnodes) +
                           " DNodes; need 1.." + std::to_string(kDnodesMax));
  }
  if (drives_per_dnode < 1 || drives_per_dnode > kDrivesPerDnodeMax) {
    return InvalidArgument("stripe geometry: " + std::to_string(drives_per_dnode) +
                           " drives per DNode; need 1.." + std::to_string(kDrivesPerDnodeMax));
  }
  return Status::Ok();
}

// Largest f such that the f largest entries of `counts` (chunks of one stripe per failure
// domain) sum to at most m.
int FailuresTolerated(std::vector<int> counts, int m) {
  std::sort(counts.begin(), counts.end(), std::greater<int>());
  int lost = 0;
  int f = 0;
  for (int c : counts) {
    if (lost + c > m) break;
    lost += c;
    ++f;
  }
  return f;
}

// Chunks of one stripe on each DNode that holds any: PlaceStripe's round robin gives
// width % dnodes DNodes one chunk more than the others.
std::vector<int> ChunksPerDnode(int width, int dnodes) {
  std::vector<int> counts;
  for (int d = 0; d < dnodes && d < width; ++d) {
    counts.push_back(width / dnodes + (d < width % dnodes ? 1 : 0));
  }
  return counts;
}

}  // namespace

Result<Geometry> ChooseGeometry(int dnodes, int ssd_drives_per_dnode) {
  RETURN_IF_ERROR(ValidateShape(dnodes, ssd_drives_per_dnode));
  if (dnodes < 2) {
    return FailedPrecondition(
        "erasure-coded stripes need at least 2 DNodes: the DNode is the failure domain, and no "
        "stripe on a single DNode survives losing it");
  }
  const int width = std::min(kParityChunksDefault * dnodes, kStripeWidthMax);
  Geometry g{width - kParityChunksDefault, kParityChunksDefault, kChunkBytesDefault};
  CHECK(ValidateGeometry(g, dnodes, ssd_drives_per_dnode).ok());
  return g;
}

Status ValidateGeometry(const Geometry& g, int dnodes, int drives_per_dnode) {
  RETURN_IF_ERROR(ValidateShape(dnodes, drives_per_dnode));
  const std::string name = std::to_string(g.k) + "+" + std::to_string(g.m);
  if (g.k < 1 || g.k > ReedSolomon::kDataChunksMax || g.m < 1 ||
      g.m > ReedSolomon::kParityChunksMax || g.width() > ReedSolomon::kChunksMax) {
    return InvalidArgument("stripe geometry " + name + " is outside the code's limits");
  }
  if (g.chunk_bytes == 0 || g.chunk_bytes > kChunkBytesMax) {
    return InvalidArgument("stripe geometry " + name + ": chunk of " +
                           std::to_string(g.chunk_bytes) + " bytes");
  }
  const int per_dnode_max = (g.width() + dnodes - 1) / dnodes;
  if (per_dnode_max > g.m) {
    return InvalidArgument("stripe geometry " + name + " on " + std::to_string(dnodes) +
                           " DNodes puts " + std::to_string(per_dnode_max) +
                           " chunks on one DNode, more than its parity");
  }
  return Status::Ok();
}

int DnodeFailuresTolerated(const Geometry& g, int dnodes) {
  if (dnodes < 1 || g.width() < 1) return 0;
  return FailuresTolerated(ChunksPerDnode(g.width(), dnodes), g.m);
}

int DriveFailuresTolerated(const Geometry& g, int dnodes, int drives_per_dnode) {
  if (dnodes < 1 || drives_per_dnode < 1 || g.width() < 1) return 0;
  // A DNode's chunks occupy consecutive drives round robin: some drives get one more.
  std::vector<int> per_drive;
  for (int c : ChunksPerDnode(g.width(), dnodes)) {
    for (int r = 0; r < drives_per_dnode && r < c; ++r) {
      per_drive.push_back(c / drives_per_dnode + (r < c % drives_per_dnode ? 1 : 0));
    }
  }
  return FailuresTolerated(std::move(per_drive), g.m);
}

std::vector<Placement> PlaceStripe(const Geometry& g, int dnodes, int drives_per_dnode,
                                   uint64_t stripe_number) {
  const Status valid = ValidateGeometry(g, dnodes, drives_per_dnode);
  CHECK(valid.ok()) << valid.ToString();
  const uint64_t d = static_cast<uint64_t>(dnodes);
  const uint64_t r = static_cast<uint64_t>(drives_per_dnode);
  // The DNode rotation advances every stripe; the drive rotation once per full DNode cycle, so
  // that the two are independent and every (DNode offset, drive offset) pair occurs once in
  // each D * R stripes.
  const uint64_t dnode_start = stripe_number % d;
  const uint64_t drive_start = (stripe_number / d) % r;
  std::vector<Placement> out(static_cast<size_t>(g.width()));
  for (uint64_t i = 0; i < out.size(); ++i) {
    out[i].dnode = static_cast<int>((dnode_start + i) % d);
    out[i].drive = static_cast<int>((drive_start + i / d) % r);
  }
  return out;
}

}  // namespace dase::ec
