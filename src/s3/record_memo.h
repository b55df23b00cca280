// RecordMemo<T>: answers computed from a few stored records, reused only while every one of
// those records reads back byte for byte as it was when the answer was computed.
//
// For the catalog's lookups, which are pure functions of two records (an access key and its
// user; a bucket's index entry and its view): each request still reads both records in its
// own transaction, so a revoked key, a changed user or a deleted view shows at once. What is
// saved is decoding them (JSON) and deriving the answer again.
//
// Bounded: at most `capacity` names, the least recently used replaced when full.
// Thread-safety: none; one memo per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/result.h"
#include "meta/kv.h"
#include "s3/lru.h"

namespace dase::s3 {

// Stored records: (key, bytes).
using StoredRecords = std::vector<std::pair<std::string, std::string>>;

template <typename T>
class RecordMemo {
 public:
  using Records = StoredRecords;  // what an answer came from

  explicit RecordMemo(size_t capacity) : capacity_(capacity) {
    CHECK(capacity_ > 0) << "a RecordMemo holds at least one answer";
  }

  // The answer for `name` if every record it came from reads the same in `txn`; nullopt if
  // there is none or a record changed.
  Result<std::optional<T>> Find(meta::Transaction& txn, std::string_view name) {
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::optional<T>();
    for (const auto& [key, bytes] : it->second.records) {
      ASSIGN_OR_RETURN(std::optional<std::string> now, txn.Get(key));
      if (!now || *now != bytes) return std::optional<T>();
    }
    it->second.last_used = ++use_counter_;
    return std::optional<T>(it->second.answer);
  }

  // Remembers `answer` for `name`, computed from `records` as read in one snapshot.
  void Put(std::string_view name, Records records, T answer) {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      if (entries_.size() >= capacity_) EraseLeastRecentlyUsed(entries_);
      it = entries_.emplace(std::string(name), Entry{}).first;
    }
    it->second = Entry{std::move(records), std::move(answer), ++use_counter_};
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Records records;
    T answer;
    uint64_t last_used = 0;
  };

  size_t capacity_;
  std::map<std::string, Entry, std::less<>> entries_;
  uint64_t use_counter_ = 0;
};

}  // namespace dase::s3
