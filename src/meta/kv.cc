#include "meta/kv.h"

#include <utility>

#include "common/check.h"

namespace dase::meta {

Status Store::RunTransaction(std::function<Status(Transaction&)> body, int max_attempts,
                             CommitMode mode) {
  CHECK(max_attempts > 0) << "max_attempts=" << max_attempts;
  Status last;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    // No backoff here: a conflict means another transaction committed, so the system as a
    // whole made progress, and waiting for the writer is the backend's job (SQLite's
    // busy_timeout).
    ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, Begin());
    last = body(*txn);
    if (last.ok()) last = mode == CommitMode::kDurable ? txn->Commit() : txn->CommitUnsynced();
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

Status ForEachInPrefix(Transaction& txn, std::string_view prefix,
                       const std::function<Status(KeyValue&)>& visit, size_t page) {
  CHECK(page > 0);
  std::string from(prefix);
  const std::string end = PrefixEnd(prefix);
  while (true) {
    ASSIGN_OR_RETURN(std::vector<KeyValue> rows, txn.Scan(from, end, page));
    for (KeyValue& kv : rows) RETURN_IF_ERROR(visit(kv));
    if (rows.size() < page) return Status::Ok();
    from = KeySuccessor(rows.back().key);
  }
}

}  // namespace dase::meta
