// ObjectStore reads for callers that hold their own metadata snapshot (ReadFromView).
#include <algorithm>

#include "estore/objects.h"

namespace dase::estore {

awaitable<Result<std::string>> ObjectStore::ReadFromView(const Namespace::ReadView& view,
                                                         uint64_t offset, uint64_t length) {
  if (view.inode.type != FileType::kFile) co_return InvalidArgument("not a file");
  const uint64_t start = std::min(offset, view.inode.size);
  const uint64_t end = start + std::min(length, view.inode.size - start);
  std::string out;  // sized at the first extent that covers only part of the range
  for (const Extent& e : view.extents) {
    const uint64_t from = std::max(start, e.offset);
    const uint64_t to = std::min(end, e.offset + e.length);
    if (from >= to) continue;
    CO_ASSIGN_OR_RETURN(ChunkLocation loc, DecodeLocation(e.location));
    const uint64_t chunk_offset = e.location_offset + (from - e.offset);
    Result<std::string> bytes = co_await data_->ReadChunk(std::move(loc), chunk_offset, to - from);
    if (!bytes.ok()) co_return bytes.status();
    if (bytes->size() != to - from) co_return Corruption("short read from the data plane");
    // Extents do not overlap: one that covers the whole range is the only one read.
    if (from == start && to == end) co_return std::move(bytes).value();
    if (out.empty()) out.assign(end - start, '\0');  // holes read as zeros
    out.replace(from - start, bytes->size(), *bytes);
  }
  if (out.size() != end - start) out.assign(end - start, '\0');  // nothing but holes
  co_return out;
}

}  // namespace dase::estore
