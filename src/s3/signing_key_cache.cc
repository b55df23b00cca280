#include "s3/signing_key_cache.h"

#include "common/check.h"
#include "s3/canonical.h"
#include "s3/lru.h"

namespace dase::s3 {

SigningKeyCache::SigningKeyCache(size_t capacity) : capacity_(capacity) {
  CHECK(capacity_ > 0) << "a SigningKeyCache holds at least one key";
}

std::string SigningKeyCache::KeyFor(std::string_view access_key_id, std::string_view secret,
                                    std::string_view date, std::string_view region,
                                    std::string_view service) {
  Scope scope{std::string(access_key_id), std::string(date), std::string(region),
              std::string(service)};
  ++use_counter_;
  auto it = entries_.find(scope);
  if (it != entries_.end() && ConstantTimeEquals(it->second.secret, secret)) {
    ++hits_;
    it->second.last_used = use_counter_;
    return it->second.signing_key;
  }
  ++misses_;
  std::string key = DeriveSigningKey(secret, date, region, service);
  if (it != entries_.end()) {
    // The access key's secret changed: the old entry is of no use any more.
    it->second = Entry{std::string(secret), key, use_counter_};
    return key;
  }
  if (entries_.size() >= capacity_) EraseLeastRecentlyUsed(entries_);
  entries_.emplace(std::move(scope), Entry{std::string(secret), key, use_counter_});
  return key;
}

}  // namespace dase::s3
