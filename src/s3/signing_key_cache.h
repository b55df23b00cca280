// SigningKeyCache: SigV4 signing keys derived recently, so that a client's requests of one day
// skip the four HMAC-SHA256 of DeriveSigningKey.
//
// It caches the derivation only, never a decision or a lookup: the verifier still reads the
// access key's secret for every request (a revoked key fails at once), and an entry answers
// only for the very secret it was derived from (a rotated secret misses and replaces it). An
// entry is keyed by (access key id, date, region, service) and holds that secret and the key.
//
// Bounded: at most `capacity` entries, the least recently used one replaced when full. A client
// can only churn it (with many regions), which costs it the hits, not correctness.
//
// Thread-safety: none; one cache per thread (the S3 server's loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace dase::s3 {

inline constexpr size_t kSigningKeysMax = 1024;

class SigningKeyCache {
 public:
  explicit SigningKeyCache(size_t capacity = kSigningKeysMax);

  // DeriveSigningKey(secret, date, region, service): from the cache when derived before from
  // this same secret, else derived now and kept.
  std::string KeyFor(std::string_view access_key_id, std::string_view secret,
                     std::string_view date, std::string_view region, std::string_view service);

  size_t size() const { return entries_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Scope {
    std::string access_key_id;
    std::string date;
    std::string region;
    std::string service;
    auto operator<=>(const Scope&) const = default;
  };
  struct Entry {
    std::string secret;       // what signing_key was derived from
    std::string signing_key;  // 32 raw bytes
    uint64_t last_used = 0;   // use_counter_ at the last hit or insert
  };

  size_t capacity_;
  std::map<Scope, Entry> entries_;
  uint64_t use_counter_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace dase::s3
