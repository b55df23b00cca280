// The eviction the S3 server's small bounded caches share (RecordMemo, SigningKeyCache): each
// entry records when it was last used (`last_used`, from a counter the cache advances), and a
// full cache drops the least recently used one.
#pragma once

#include <algorithm>

namespace dase::s3 {

// Erases the entry of `entries` (a map whose values have a `last_used`) used longest ago. A
// linear scan: these caches evict rarely (on a new key, bucket or day), never per request.
template <typename Map>
void EraseLeastRecentlyUsed(Map& entries) {
  auto oldest = std::min_element(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second.last_used < b.second.last_used;
  });
  if (oldest != entries.end()) entries.erase(oldest);
}

}  // namespace dase::s3
