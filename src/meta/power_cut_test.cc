// Randomized power cuts under SqliteStore, on FaultEnv through the Env VFS: after any cut, no
// acknowledged commit is lost, no transaction is partly applied, and the database is intact.
//
// Each seed runs a few rounds of: open the store, commit random transactions while faults
// (EIO or ENOSPC on some write, a failed fsync) may strike, cut power (drop all, keep all, or a
// random fate per unsynced write: kept, dropped, torn or garbled), reopen, check. Every
// transaction reads the counter "c/a", writes the next value to "c/a", "c/b" and "c/c", writes
// "t/<id>" = that value, and sometimes a large payload "p/<id>" whose bytes follow from the id.
// After recovery:
//   - the three counter keys agree (atomicity), and their value V is at least the last
//     acknowledged one (durability) and was written by a transaction whose "t/" key is there;
//   - every acknowledged transaction's keys are present with its values; a transaction whose
//     Commit was never reached, or returned Aborted, left nothing; one whose Commit failed
//     otherwise (outcome unknown) left all of its keys or none;
//   - PRAGMA integrity_check says ok.
// Prints its base seed; replay one seed with DASE_TEST_SEED=<seed> DASE_POWER_CUT_SEEDS=1.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "env/fault_env.h"
#include "meta/env_vfs.h"
#include "meta/sqlite_store.h"
#include "meta/test_util.h"

namespace dase::meta {
namespace {

constexpr const char* kPath = "/meta/kv.db";
constexpr int kRoundsPerSeed = 3;

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  if (const char* value = getenv(name)) return std::strtoull(value, nullptr, 10);
  return fallback;
}

std::string IdKey(const char* prefix, int64_t id) { return fmt::format("{}{:08}", prefix, id); }

std::string Payload(int64_t id, size_t bytes) {
  std::string out(bytes, '\0');
  for (size_t j = 0; j < bytes; ++j) out[j] = static_cast<char>('a' + (id * 31 + j * 7) % 26);
  return out;
}

enum class Outcome { kAcked, kUnknown, kNotCommitted };

struct Txn {
  int64_t value = 0;
  size_t payload_bytes = 0;
  Outcome outcome = Outcome::kNotCommitted;
};

// What the test did to one database, across rounds.
struct History {
  std::map<int64_t, Txn> txns;  // by id
  int64_t acked_value = 0;      // the counter value of the last acknowledged commit
  int64_t next_id = 1;
};

int64_t ParseInt(std::string_view text) {
  int64_t n = -1;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

// One transaction as described above; records its outcome.
Status RunOne(Store& store, std::mt19937_64& rng, History& history) {
  int64_t id = history.next_id++;
  Txn& txn_record = history.txns[id];
  bool big = rng() % 4 == 0;
  txn_record.payload_bytes = big ? rng() % 60000 : rng() % 3 == 0 ? rng() % 300 : 0;
  ASSIGN_OR_RETURN(auto txn, store.Begin());
  ASSIGN_OR_RETURN(auto current, txn->Get("c/a"));
  int64_t value = (current ? ParseInt(*current) : 0) + 1;
  txn_record.value = value;
  for (const char* key : {"c/a", "c/b", "c/c"}) txn->Put(key, std::to_string(value));
  txn->Put(IdKey("t/", id), std::to_string(value));
  if (txn_record.payload_bytes > 0) {
    txn->Put(IdKey("p/", id), Payload(id, txn_record.payload_bytes));
  }
  // Durable commits, commits made durable by a later SyncCommitted (as CommitBatcher does),
  // and commits left unsynced (visible, never acknowledged).
  int how = static_cast<int>(rng() % 3);
  Status s = how == 0 ? txn->Commit() : txn->CommitUnsynced();
  if (s.ok() && how == 1) s = store.SyncCommitted();
  if (s.ok() && how != 2) {
    txn_record.outcome = Outcome::kAcked;
    history.acked_value = value;
  } else if (s.ok() || (s.code() != Code::kAborted && s.code() != Code::kInvalidArgument)) {
    txn_record.outcome = Outcome::kUnknown;
  }
  return s;
}

Result<std::vector<KeyValue>> ScanPrefix(Transaction& txn, std::string_view prefix) {
  return txn.Scan(prefix, PrefixEnd(prefix), 1'000'000);
}

// Checks the recovered state against the history; returns what is wrong.
std::vector<std::string> Check(Store& store, env::Env* env, const History& history) {
  std::vector<std::string> wrong;
  auto txn = store.Begin();
  if (!txn.ok()) return {"begin after recovery: " + txn.status().ToString()};
  auto counters = ScanPrefix(**txn, "c/");
  auto ids = ScanPrefix(**txn, "t/");
  auto payloads = ScanPrefix(**txn, "p/");
  for (const auto* r : {&counters, &ids, &payloads}) {
    if (!r->ok()) return {"scan after recovery: " + r->status().ToString()};
  }
  int64_t v = 0;
  if (!counters->empty()) {
    v = ParseInt((*counters)[0].value);
    bool agree = counters->size() == 3;
    for (const KeyValue& kv : *counters) agree &= kv.value == (*counters)[0].value;
    if (!agree) {
      wrong.push_back(fmt::format("counter keys disagree ({} present)", counters->size()));
    }
  }
  if (v < history.acked_value) {
    wrong.push_back(fmt::format("counter {} < acknowledged {}", v, history.acked_value));
  }
  std::map<int64_t, int64_t> present;  // id → value
  bool writer_of_v_present = v == 0;
  for (const KeyValue& kv : *ids) {
    int64_t id = ParseInt(std::string_view(kv.key).substr(2)), value = ParseInt(kv.value);
    present[id] = value;
    auto it = history.txns.find(id);
    if (it == history.txns.end() || it->second.outcome == Outcome::kNotCommitted) {
      wrong.push_back(fmt::format("{} present but never committed", kv.key));
    } else if (it->second.value != value || value > v) {
      wrong.push_back(fmt::format("{} = {} (wrote {}, counter {})", kv.key, value,
                                  it->second.value, v));
    }
    writer_of_v_present |= value == v;
  }
  if (!writer_of_v_present) wrong.push_back(fmt::format("no t/ key wrote counter {}", v));
  std::map<int64_t, const std::string*> payload_of;
  for (const KeyValue& kv : *payloads) {
    payload_of[ParseInt(std::string_view(kv.key).substr(2))] = &kv.value;
  }
  for (const auto& [id, txn_record] : history.txns) {
    bool has_id = present.count(id) > 0;
    if (txn_record.outcome == Outcome::kAcked && !has_id) {
      wrong.push_back(fmt::format("acknowledged transaction {} lost", id));
    }
    auto p = payload_of.find(id);
    bool has_payload = p != payload_of.end();
    if (has_payload != (has_id && txn_record.payload_bytes > 0)) {
      wrong.push_back(fmt::format("transaction {} partly applied (t/ {}, p/ {})", id, has_id,
                                  has_payload));
    } else if (has_payload && *p->second != Payload(id, txn_record.payload_bytes)) {
      wrong.push_back(fmt::format("payload of transaction {} has wrong bytes", id));
    }
  }
  txn->reset();
  if (Status s = testutil::IntegrityCheck(env, kPath, "/meta"); !s.ok()) wrong.push_back(s.ToString());
  return wrong;
}

struct Totals {
  uint64_t commits_acked = 0, commits_failed = 0, cuts_mid_failure = 0;
  std::array<uint64_t, env::kFateCount> fates{};
};

// With DASE_POWER_CUT_VERBOSE set: what one round did and what the cut did to each write.
void PrintRound(int round, int plan, const History& history, const env::PowerCutReport& cut) {
  std::printf("round %d: plan %d, acknowledged counter %lld, cut mode %d\n", round, plan,
              static_cast<long long>(history.acked_value), static_cast<int>(cut.mode));
  for (const env::ChangeOutcome& o : cut.outcomes) {
    std::printf("  %s %s offset %llu length %llu: %s\n", o.path.c_str(),
                o.kind == env::ChangeKind::kWrite ? "write" : "truncate",
                static_cast<unsigned long long>(o.offset),
                static_cast<unsigned long long>(o.length), std::string(FateName(o.fate)).c_str());
  }
  std::printf("  entry changes kept %llu, reverted %llu\n",
              static_cast<unsigned long long>(cut.entry_changes_kept),
              static_cast<unsigned long long>(cut.entry_changes_reverted));
}

// One seed: rounds of commits, a cut, a reopen and a check. Returns the violations.
std::vector<std::string> RunSeed(uint64_t seed, Totals& totals) {
  std::mt19937_64 rng(seed);
  env::FaultEnv env(seed);
  // Checkpoints every few commits, so that cuts land in them too.
  SqliteOptions options{.locking = VfsLocking::kInProcess, .checkpoint_frames = 8};
  History history;
  for (int round = 0; round <= kRoundsPerSeed; ++round) {
    auto store = SqliteStore::Open(&env, kPath, options);
    if (!store.ok()) return {fmt::format("round {}: reopen: {}", round, store.status().ToString())};
    if (round > 0) {
      std::vector<std::string> wrong = Check(**store, &env, history);
      for (std::string& w : wrong) w = fmt::format("round {}: {}", round, w);
      if (!wrong.empty() || round == kRoundsPerSeed) return wrong;
    }
    int txns = 1 + static_cast<int>(rng() % 30);
    int plan = static_cast<int>(rng() % 4);
    bool stop_at_error = plan == 1;
    if (plan == 1) env.FailAfter(env::FaultOp::kAnyWrite, 1 + rng() % (txns * 8), Code::kIOError);
    if (plan == 2) env.FailAfter(env::FaultOp::kSync, 1 + rng() % txns, Code::kIOError);
    if (plan == 3) env.FailAfter(env::FaultOp::kWrite, 1 + rng() % (txns * 6), Code::kNoSpace);
    for (int i = 0; i < txns; ++i) {
      Status s = RunOne(**store, rng, history);
      ++(s.ok() ? totals.commits_acked : totals.commits_failed);
      if (!s.ok() && stop_at_error) {
        ++totals.cuts_mid_failure;
        break;
      }
    }
    if (rng() % 5 == 0) store->reset();  // a clean shutdown (checkpoint) before the cut
    env::PowerCutMode mode = rng() % 5 == 0   ? env::PowerCutMode::kDropAll
                             : rng() % 4 == 0 ? env::PowerCutMode::kKeepAll
                                              : env::PowerCutMode::kRandom;
    env::PowerCutReport report = env.PowerCut(rng(), mode);
    if (getenv("DASE_POWER_CUT_VERBOSE") != nullptr) PrintRound(round, plan, history, report);
    for (int f = 0; f < env::kFateCount; ++f) totals.fates[f] += report.fates[f];
    store->reset();  // its files died in the cut: closing writes nothing
    env.ClearFaults();
  }
  return {};
}

TEST(PowerCutTest, NoAcknowledgedCommitLostNoTransactionPartlyApplied) {
  uint64_t base_seed = EnvNumber("DASE_TEST_SEED", static_cast<uint64_t>(
                                                       env::Env::Default()->NowMicros()));
  uint64_t seeds = EnvNumber("DASE_POWER_CUT_SEEDS", 1000);
  std::printf("PowerCutTest seed: DASE_TEST_SEED=%llu (seeds %llu..%llu)\n",
              static_cast<unsigned long long>(base_seed),
              static_cast<unsigned long long>(base_seed),
              static_cast<unsigned long long>(base_seed + seeds - 1));
  Totals totals;
  uint64_t violations = 0;
  for (uint64_t i = 0; i < seeds; ++i) {
    std::vector<std::string> wrong = RunSeed(base_seed + i, totals);
    for (const std::string& w : wrong) {
      ADD_FAILURE() << "seed " << base_seed + i << ": " << w;
    }
    violations += wrong.empty() ? 0 : 1;
  }
  std::printf("%llu seeds, %llu violations; %llu commits acknowledged, %llu failed (%llu cuts at "
              "a failed commit); unsynced writes at the cuts: %llu kept, %llu dropped, %llu torn, "
              "%llu garbled, %llu lost to a failed fsync\n",
              static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(violations),
              static_cast<unsigned long long>(totals.commits_acked),
              static_cast<unsigned long long>(totals.commits_failed),
              static_cast<unsigned long long>(totals.cuts_mid_failure),
              static_cast<unsigned long long>(totals.fates[0]),
              static_cast<unsigned long long>(totals.fates[1]),
              static_cast<unsigned long long>(totals.fates[2]),
              static_cast<unsigned long long>(totals.fates[3]),
              static_cast<unsigned long long>(totals.fates[4]));
  EXPECT_EQ(violations, 0u);
}

}  // namespace
}  // namespace dase::meta
