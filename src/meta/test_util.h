// Helpers for tests of code that keeps a SqliteStore on an in-memory or fault-injecting Env.
// Test-only.
#pragma once

#include <sqlite3.h>

#include <string>

#include "common/result.h"
#include "env/env.h"
#include "meta/env_vfs.h"

namespace dase::meta::testutil {

// Runs SQLite's PRAGMA integrity_check on the database at `db_path` through the Env VFS with
// in-process locking (the store's own options, so its locks are shared), with temporary files
// under `temp_dir`. Corruption with SQLite's findings unless it answers "ok".
inline Status IntegrityCheck(env::Env* env, const std::string& db_path,
                             const std::string& temp_dir) {
  VfsOptions options{.locking = VfsLocking::kInProcess, .temp_dir = temp_dir};
  ASSIGN_OR_RETURN(std::string vfs, RegisterEnvVfs(env, options));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, vfs.c_str());
  std::string result;
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(
        db, "PRAGMA integrity_check",
        [](void* out, int, char** values, char**) {
          *static_cast<std::string*>(out) += values[0] ? values[0] : "NULL";
          return 0;
        },
        &result, nullptr);
  }
  std::string error = rc == SQLITE_OK ? "" : sqlite3_errmsg(db);
  sqlite3_close(db);
  if (rc != SQLITE_OK) return Corruption("integrity_check: " + error);
  if (result != "ok") return Corruption("integrity_check: " + result);
  return Status::Ok();
}

}  // namespace dase::meta::testutil
