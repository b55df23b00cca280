// meta_bench: the metadata create path on SQLite (SqliteStore, as dase uses it) and on LMDB,
// next to this machine's fsync rate, so the two backends are compared on the same disk in the
// same run. Prints figures; never fails on a figure (exit 1 only if something could not run).
//
// One "create" is one durable transaction, as a file create in the element store would be:
// read the parent directory's key and the new name's dirent key (absent), then write the new
// inode key (100-byte value), the dirent key and the parent key (updated entry count). Each
// writer creates in its own directory, so writers contend for the backend's write lock and
// the disk but not for keys. SQLite: WAL, synchronous=FULL, one SqliteStore (connection pool)
// per writer thread, through dase's Env VFS. LMDB: one environment, default flags (synced
// commits; MDB_NOSYNC off), its single-writer model serializing the threads.
//
//   meta_bench [--creates N] [--reps R] [--writers 1,4] [--dir DIR]
//
// For each writer count, both backends start on fresh stores, run one warm-up repetition each,
// then R measured rounds of: a SQLite repetition, an LMDB repetition, a 0.5 s fsync probe.
// Interleaving puts the disk's drift (other work on the machine) on both alike. The figures are
// medians over the rounds, and the median of the per-round SQLite/LMDB ratio. N creates per
// repetition are split evenly among the writers.
#include <fmt/format.h>
#include <lmdb.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "env/env.h"
#include "meta/sqlite_store.h"

namespace dase::meta {
namespace {

struct Flags {
  int creates = 2000;
  int reps = 5;
  std::vector<int> writers = {1, 4};
  std::string dir;
};

std::string InodeKey(int writer, int rep, int i) {
  return fmt::format("ino/{:02x}{:04x}{:08x}", writer, rep, i);
}
std::string ParentKey(int writer) { return fmt::format("ino/dir{:02x}", writer); }
std::string DirentKey(int writer, int rep, int i) {
  return fmt::format("dir/{:02x}/file-{:04x}-{:08x}", writer, rep, i);
}
const std::string& InodeValue() {
  static const std::string value(100, 'i');
  return value;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double Seconds(env::Env* env, const std::function<void()>& work) {
  int64_t start = env->MonotonicMicros();
  work();
  return static_cast<double>(env->MonotonicMicros() - start) / 1e6;
}

// The machine's own durable-append rate: fdatasync after each 4 KiB append, for ~0.5 s.
Result<double> FsyncRate(env::Env* env, const std::string& dir) {
  std::string path = dir + "/fsync-probe";
  ASSIGN_OR_RETURN(auto file, env->Open(path, env::OpenMode::kTruncate));
  std::string block(4096, 'f');
  int syncs = 0;
  int64_t start = env->MonotonicMicros();
  while (env->MonotonicMicros() - start < 500'000 || syncs < 20) {
    RETURN_IF_ERROR(file->WriteAt(static_cast<uint64_t>(syncs) * block.size(), block));
    RETURN_IF_ERROR(file->Sync());
    ++syncs;
  }
  double seconds = static_cast<double>(env->MonotonicMicros() - start) / 1e6;
  file.reset();
  RETURN_IF_ERROR(env->RemoveFile(path));
  return syncs / seconds;
}

// ---- SQLite

Status SqliteCreate(SqliteStore& store, int writer, int rep, int i) {
  return store.RunTransaction([&](Transaction& txn) -> Status {
    ASSIGN_OR_RETURN(auto parent, txn.Get(ParentKey(writer)));
    ASSIGN_OR_RETURN(auto dirent, txn.Get(DirentKey(writer, rep, i)));
    if (dirent) return AlreadyExists(DirentKey(writer, rep, i));
    int64_t entries = parent ? std::stoll(*parent) : 0;
    txn.Put(InodeKey(writer, rep, i), InodeValue());
    txn.Put(DirentKey(writer, rep, i), InodeKey(writer, rep, i));
    txn.Put(ParentKey(writer), std::to_string(entries + 1));
    return Status::Ok();
  });
}

// One backend on fresh files, for one writer count; Rep runs one repetition: creates/s.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<double> Rep(int rep) = 0;
};

// Runs `writers` threads, each calling create(writer, i) for i < per_writer; creates/s.
Result<double> RunWriters(env::Env* env, int writers, int per_writer,
                          const std::function<Status(int, int)>& create) {
  std::vector<Status> results(writers);
  double seconds = Seconds(env, [&] {
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < per_writer && results[w].ok(); ++i) results[w] = create(w, i);
      });
    }
    for (auto& t : threads) t.join();
  });
  for (const Status& s : results) RETURN_IF_ERROR(s);
  return per_writer * writers / seconds;
}

class SqliteBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Open(env::Env* env, const Flags& flags, int writers) {
    auto backend = std::make_unique<SqliteBackend>();
    backend->env_ = env;
    backend->per_writer_ = flags.creates / writers;
    std::string path = fmt::format("{}/sqlite-{}/kv.db", flags.dir, writers);
    for (int w = 0; w < writers; ++w) {  // one Store per thread, as kv.h asks
      ASSIGN_OR_RETURN(auto store, SqliteStore::Open(env, path));
      backend->stores_.push_back(std::move(store));
    }
    return std::unique_ptr<Backend>(std::move(backend));
  }

  Result<double> Rep(int rep) override {
    return RunWriters(env_, static_cast<int>(stores_.size()), per_writer_, [&](int w, int i) {
      return SqliteCreate(*stores_[w], w, rep, i);
    });
  }

 private:
  env::Env* env_ = nullptr;
  int per_writer_ = 0;
  std::vector<std::unique_ptr<SqliteStore>> stores_;
};

// ---- LMDB

Status MdbError(int rc, std::string_view what) {
  return IOError(fmt::format("lmdb {}: {}", what, mdb_strerror(rc)));
}

Status MdbCreate(MDB_env* mdb, MDB_dbi dbi, int writer, int rep, int i) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(mdb, nullptr, 0, &txn); rc != 0) return MdbError(rc, "begin");
  auto val = [](const std::string& s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; };
  std::string parent_key = ParentKey(writer), dirent_key = DirentKey(writer, rep, i);
  std::string inode_key = InodeKey(writer, rep, i);
  MDB_val key = val(parent_key), data{};
  int64_t entries = 0;
  int rc = mdb_get(txn, dbi, &key, &data);
  if (rc == 0) entries = std::stoll(std::string(static_cast<char*>(data.mv_data), data.mv_size));
  if (rc == 0 || rc == MDB_NOTFOUND) {
    key = val(dirent_key);
    rc = mdb_get(txn, dbi, &key, &data);
    rc = rc == MDB_NOTFOUND ? 0 : rc == 0 ? MDB_KEYEXIST : rc;
  }
  std::string count = std::to_string(entries + 1);
  std::pair<const std::string*, const std::string*> puts[] = {
      {&inode_key, &InodeValue()}, {&dirent_key, &inode_key}, {&parent_key, &count}};
  for (auto [k, v] : puts) {
    if (rc != 0) break;
    key = val(*k);
    data = val(*v);
    rc = mdb_put(txn, dbi, &key, &data, 0);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return MdbError(rc, "create");
  }
  if (rc = mdb_txn_commit(txn); rc != 0) return MdbError(rc, "commit");
  return Status::Ok();
}

class LmdbBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Open(env::Env* env, const Flags& flags, int writers) {
    auto backend = std::make_unique<LmdbBackend>();
    backend->env_ = env;
    backend->writers_ = writers;
    backend->per_writer_ = flags.creates / writers;
    std::string path = fmt::format("{}/lmdb-{}.mdb", flags.dir, writers);
    if (int rc = mdb_env_create(&backend->mdb_); rc != 0) return MdbError(rc, "env_create");
    MDB_env* mdb = backend->mdb_;
    if (int rc = mdb_env_set_mapsize(mdb, size_t{1} << 30); rc != 0) {
      return MdbError(rc, "mapsize");
    }
    // Default durability: every commit fsyncs (no MDB_NOSYNC, MDB_NOMETASYNC or MDB_WRITEMAP).
    if (int rc = mdb_env_open(mdb, path.c_str(), MDB_NOSUBDIR, 0644); rc != 0) {
      return MdbError(rc, "open " + path);
    }
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(mdb, nullptr, 0, &txn); rc != 0) return MdbError(rc, "begin");
    if (int rc = mdb_dbi_open(txn, nullptr, 0, &backend->dbi_); rc != 0) {
      mdb_txn_abort(txn);
      return MdbError(rc, "dbi_open");
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return MdbError(rc, "commit");
    return std::unique_ptr<Backend>(std::move(backend));
  }
  ~LmdbBackend() override {
    if (mdb_ != nullptr) mdb_env_close(mdb_);
  }

  Result<double> Rep(int rep) override {
    return RunWriters(env_, writers_, per_writer_,
                      [&](int w, int i) { return MdbCreate(mdb_, dbi_, w, rep, i); });
  }

 private:
  env::Env* env_ = nullptr;
  int writers_ = 0;
  int per_writer_ = 0;
  MDB_env* mdb_ = nullptr;
  MDB_dbi dbi_ = 0;
};

std::string Figures(const std::vector<double>& rates) {
  std::string out;
  for (double r : rates) out += fmt::format(" {:.0f}", r);
  return out;
}

// One writer count: both backends side by side, interleaved with fsync probes.
Status RunRounds(env::Env* env, const Flags& flags, int writers) {
  ASSIGN_OR_RETURN(auto sqlite, SqliteBackend::Open(env, flags, writers));
  ASSIGN_OR_RETURN(auto lmdb, LmdbBackend::Open(env, flags, writers));
  RETURN_IF_ERROR(sqlite->Rep(0).status());  // warm-up
  RETURN_IF_ERROR(lmdb->Rep(0).status());
  std::vector<double> sqlite_rates, lmdb_rates, ratios, fsyncs;
  for (int rep = 1; rep <= flags.reps; ++rep) {
    ASSIGN_OR_RETURN(double s, sqlite->Rep(rep));
    ASSIGN_OR_RETURN(double l, lmdb->Rep(rep));
    ASSIGN_OR_RETURN(double f, FsyncRate(env, flags.dir));
    sqlite_rates.push_back(s);
    lmdb_rates.push_back(l);
    ratios.push_back(s / l);
    fsyncs.push_back(f);
  }
  std::printf("%7d  median %16.0f %16.0f %8.2fx %10.0f\n", writers, Median(sqlite_rates),
              Median(lmdb_rates), Median(ratios), Median(fsyncs));
  std::printf("%7d  rounds  sqlite:%s | lmdb:%s | fsync:%s\n", writers,
              Figures(sqlite_rates).c_str(), Figures(lmdb_rates).c_str(), Figures(fsyncs).c_str());
  std::fflush(stdout);
  return Status::Ok();
}

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return false;
    std::string_view arg = argv[i];
    const char* value = argv[i + 1];
    if (arg == "--creates") {
      flags.creates = std::max(1, std::atoi(value));
    } else if (arg == "--reps") {
      flags.reps = std::max(1, std::atoi(value));
    } else if (arg == "--dir") {
      flags.dir = value;
    } else if (arg == "--writers") {
      flags.writers.clear();
      for (const char* p = value; *p != '\0';) {
        flags.writers.push_back(std::max(1, std::atoi(p)));
        p = std::strchr(p, ',');
        if (p == nullptr) break;
        ++p;
      }
    } else {
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) {
    std::fprintf(stderr, "usage: meta_bench [--creates N] [--reps R] [--writers 1,4] [--dir D]\n");
    return 2;
  }
  env::Env* env = env::Env::Default();
  bool own_dir = flags.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/dase-meta-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    flags.dir = tmpl;
  }
  std::printf("dase meta_bench: %d creates per repetition; %d rounds after 1 warm-up; dir %s;"
              " %u cores\n", flags.creates, flags.reps, flags.dir.c_str(),
              std::thread::hardware_concurrency());
  std::printf("create = 1 durable transaction: get parent, get dirent (absent), put inode "
              "(100 B), put dirent, put parent\n");
  std::printf("fsync/s = fdatasync of 4 KiB appends, 0.5 s per round\n");
  std::printf("%7s %7s %16s %16s %9s %10s\n", "writers", "", "sqlite creates/s",
              "lmdb creates/s", "ratio", "fsync/s");
  int status = 0;
  for (int writers : flags.writers) {
    Status s = RunRounds(env, flags, writers);
    if (!s.ok()) {
      std::printf("%7d  FAILED: %s\n", writers, s.ToString().c_str());
      status = 1;
    }
  }
  if (own_dir) {  // removed file by file through the Env: no shelling out
    for (int w : flags.writers) {
      for (const char* suffix : {"", "-wal", "-shm"}) {
        env->RemoveFile(fmt::format("{}/sqlite-{}/kv.db{}", flags.dir, w, suffix)).IgnoreError();
      }
      env->RemoveDir(fmt::format("{}/sqlite-{}", flags.dir, w)).IgnoreError();
      env->RemoveFile(fmt::format("{}/lmdb-{}.mdb", flags.dir, w)).IgnoreError();
      env->RemoveFile(fmt::format("{}/lmdb-{}.mdb-lock", flags.dir, w)).IgnoreError();
    }
    env->RemoveFile(flags.dir + "/fsync-probe").IgnoreError();
    env->RemoveDir(flags.dir).IgnoreError();
  }
  return status;
}

}  // namespace
}  // namespace dase::meta

int main(int argc, char** argv) { return dase::meta::Main(argc, argv); }
