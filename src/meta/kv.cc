#include "meta/kv.h"

#include <utility>

#include "common/check.h"

namespace dase::meta {

Status Store::RunTransaction(std::function<Status(Transaction&)> body, int max_attempts) {
  CHECK(max_attempts > 0) << "max_attempts=" << max_attempts;
  Status last;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    // No backoff here: a conflict means another transaction committed, so the system as a
    // whole made progress, and waiting for the writer is the backend's job (SQLite's
    // busy_timeout).
    ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, Begin());
    last = body(*txn);
    if (last.ok()) last = txn->Commit();
    if (last.code() != Code::kAborted) return last;
  }
  return last.WithContext("gave up after " + std::to_string(max_attempts) + " attempts");
}

std::string KeySuccessor(std::string_view key) {
  std::string next(key);
  next.push_back('\0');
  return next;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace dase::meta
