// Randomized check of read-your-writes: Get and Scan inside a transaction with buffered writes
// must match a std::map model of "stored state with the buffer applied". Prints its seed;
// replay with DASE_TEST_SEED=<seed>.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "common/testing.h"
#include "env/env.h"
#include "meta/sqlite_store.h"

namespace dase::meta {
namespace {

// Short keys over a tiny alphabet, so keys collide and ranges overlap often.
std::string RandomKey(std::mt19937_64& rng) {
  static constexpr char kBytes[] = {'\0', 'a', 'b', '\x7f', '\x80', '\xff'};
  std::string key(rng() % 3, '\0');
  for (char& c : key) c = kBytes[rng() % sizeof(kBytes)];
  return key;
}

std::vector<KeyValue> ModelScan(const std::map<std::string, std::string>& model,
                                const std::string& begin, const std::string& end, size_t limit) {
  std::vector<KeyValue> out;
  for (auto it = model.lower_bound(begin); it != model.end() && out.size() < limit; ++it) {
    if (!end.empty() && it->first >= end) break;
    out.push_back({it->first, it->second});
  }
  return out;
}

TEST(ScanModelTest, ReadsMatchStoredStateWithBufferedWritesApplied) {
  const uint64_t seed = ::dase::testing::TestSeed();
  std::mt19937_64 rng(seed);
  const ::dase::testing::TempDir tmp("dase_meta_model");
  const std::string& dir = tmp.path();
  env::Env* env = env::Env::Default();
  {
    auto store = SqliteStore::Open(env, dir + "/kv.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::map<std::string, std::string> model;
    for (int round = 0; round < 50; ++round) {
      auto txn = (*store)->Begin();
      ASSERT_TRUE(txn.ok());
      for (int op = 0; op < 30; ++op) {
        std::string key = RandomKey(rng);
        switch (rng() % 4) {
          case 0: {
            std::string value = std::to_string(rng() % 1000);
            (*txn)->Put(key, value);
            model[key] = value;
            break;
          }
          case 1:
            (*txn)->Delete(key);
            model.erase(key);
            break;
          case 2: {
            auto got = (*txn)->Get(key);
            ASSERT_TRUE(got.ok());
            auto it = model.find(key);
            ASSERT_EQ(*got, it == model.end() ? std::nullopt : std::optional(it->second))
                << "seed " << seed << " round " << round;
            break;
          }
          default: {
            std::string end = rng() % 3 == 0 ? "" : RandomKey(rng);
            size_t limit = rng() % 6;
            auto got = (*txn)->Scan(key, end, limit);
            ASSERT_TRUE(got.ok());
            ASSERT_EQ(*got, ModelScan(model, key, end, limit))
                << "seed " << seed << " round " << round;
          }
        }
      }
      // Single-threaded, so nothing can conflict: every round commits and the model stands.
      ASSERT_TRUE((*txn)->Commit().ok()) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace dase::meta
