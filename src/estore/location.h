// Where a chunk of file data lives: the opaque `location` of an extent (docs/formats/estore.md).
//
// Two kinds. A *buffer* location names a block written to the SCM write buffer of several DNodes
// (each copy complete on its own). A *stripe* location names a byte range of an erasure-coded
// stripe's data (docs/formats/stripes.md); the stripe's chunks are found through its record in
// the metadata store. An extent's `location_offset` counts from the start of what its location
// names, so migration can move a chunk from buffer to stripe by replacing the location alone.
//
// Value types; pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "dnode/format.h"

namespace dase::estore {

// One durable copy of a buffered chunk.
struct BufferCopy {
  std::string dnode;
  uint32_t drive = 0;  // SCM drive index
  uint64_t offset = 0;
  // Where the allocator placed it in this CNode's ring of `dnode`'s buffer (BufferAllocator).
  // Not part of the location's encoding: only the writer's buffer index records it.
  uint64_t ring_pos = 0;
};

enum class LocationKind : uint8_t { kBuffer = 1, kStripe = 2 };

struct ChunkLocation {
  LocationKind kind = LocationKind::kBuffer;
  uint32_t length = 0;  // bytes the location names
  // kBuffer: the block and its copies.
  dnode::BlockId id;
  std::vector<BufferCopy> copies;
  // kStripe: the stripe and where these bytes start in its data.
  uint64_t stripe = 0;
  uint64_t stripe_offset = 0;
};

// The most bytes one location names: a stripe location may cover a whole stripe's data.
inline constexpr uint32_t kLocationLengthMax = 64u << 20;

std::string EncodeLocation(const ChunkLocation& location);
Result<ChunkLocation> DecodeLocation(std::string_view bytes);

}  // namespace dase::estore
