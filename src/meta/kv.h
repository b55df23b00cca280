// The metadata store: an ordered, transactional key-value interface.
//
// Keys and values are byte strings; keys sort in unsigned byte order (memcmp), so component
// prefixes ("vms/...", "ns/...") group related keys and a prefix is a range. Every read and
// write happens inside a Transaction, and transactions are serializable: a commit succeeds only
// if nothing this transaction read was changed by another transaction that committed first
// (optimistic concurrency, as in FoundationDB); otherwise Commit returns Aborted and the whole
// transaction may be retried (RunTransaction does that).
//
// The interface is narrow on purpose so that a distributed engine (etcd, FoundationDB) can
// implement it later; the embedded backend is SqliteStore (meta/sqlite_store.h). The on-disk
// format and key space are described in docs/formats/meta.md.
//
// Thread-safety: a Store and its Transactions belong to one thread at a time (one Store per
// thread); several Stores, in one process or many, may share the same underlying database.
// A Transaction must not outlive the Store that began it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace dase::meta {

// Limits on what a caller may write, common to every backend so that code written against one
// runs on the others (FoundationDB allows 10 KB keys, 100 KB values and 10 MB transactions; etcd
// requests default to 1.5 MiB). A transaction that exceeds one fails at Commit with
// InvalidArgument.
inline constexpr size_t kKeyBytesMax = 8 * 1024;
inline constexpr size_t kValueBytesMax = 1024 * 1024;
inline constexpr size_t kTransactionBytesMax = 16 * 1024 * 1024;

struct KeyValue {
  std::string key;
  std::string value;

  bool operator==(const KeyValue&) const = default;
};

// One unit of atomic, serializable work. Writes are buffered in the transaction and reach the
// store only at Commit; reads see the transaction's own buffered writes (read-your-writes). A
// transaction destroyed without a successful Commit has no effect.
class Transaction {
 public:
  virtual ~Transaction() = default;

  // The value of `key`, or nullopt if it is absent. An absent key is a read too: a transaction
  // that created it concurrently makes this one's Commit fail.
  virtual Result<std::optional<std::string>> Get(std::string_view key) = 0;

  // Up to `limit` pairs with begin <= key < end, in byte order; an empty `end` means "to the end
  // of the key space". Only the part of the range up to the last pair returned counts as read
  // when the limit cuts the scan short, so paging through a large range with begin = successor
  // of the last key conflicts only with changes to what was actually seen.
  virtual Result<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                             size_t limit) = 0;

  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view key) = 0;

  // Makes every buffered write durable and visible atomically. Returns
  //   OK               committed (durable: survives a crash or power loss),
  //   Aborted          another transaction changed something this one read; nothing was
  //                    written, and retrying the whole transaction may succeed,
  //   InvalidArgument  a key, value or the transaction exceeds the limits above,
  //   other errors     (IOError, NoSpace, ...) the outcome is unknown: the commit may or may
  //                    not have happened, so a retry must be idempotent.
  // The transaction is finished afterwards, whatever the result; using it again is a
  // programmer error.
  virtual Status Commit() = 0;

  // Commit without waiting for durability, for callers that batch syncs: OK means committed
  // and visible to every reader, but a power cut may take it away until a Store::SyncCommitted
  // that started after this returned has returned OK. Other results as Commit.
  virtual Status CommitUnsynced() { return Commit(); }
};

enum class CommitMode {
  kDurable,   // Transaction::Commit
  kUnsynced,  // Transaction::CommitUnsynced
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::unique_ptr<Transaction>> Begin() = 0;

  // OK while commits can be made durable. After a failed sync of the store's log the store
  // takes no more writes (every commit with writes fails with this error) until it is opened
  // again: what the file holds is unknown, and retrying the sync must not turn that into a
  // success. Callers about to write data that only a commit would make reachable check it
  // first, so a failed store does not cost data writes.
  virtual Status WriteHealth() const { return Status::Ok(); }

  // Makes every commit this store has made so far durable (one sync serves them all). May be
  // called from any thread, also while the store's own thread runs transactions. An error
  // leaves those commits' outcomes unknown and fails the store for writes (WriteHealth).
  virtual Status SyncCommitted() { return Status::Ok(); }

  // Runs `body` in a fresh transaction and commits it, retrying both while the result is
  // Aborted, at most `max_attempts` times in all. `body` may therefore run several times and
  // must have no effects outside the transaction that a retry would repeat. Returns the first
  // non-Aborted result (an error from `body` is returned as is, without committing), or the
  // last Aborted once the attempts are used up.
  // With CommitMode::kUnsynced the commit is made by CommitUnsynced: for records that only a
  // later durable commit makes matter (which then carries them to the disk with it).
  Status RunTransaction(std::function<Status(Transaction&)> body, int max_attempts = 16,
                        CommitMode mode = CommitMode::kDurable);
};

// The smallest key greater than `key` in byte order: `key` followed by a zero byte. The `begin`
// of the next page of a scan is the successor of the last key of the previous page.
std::string KeySuccessor(std::string_view key);

// The `end` that makes Scan(prefix, PrefixEnd(prefix), ...) return exactly the keys that start
// with `prefix`: the prefix with its last byte below 0xff incremented and what follows dropped.
// Empty ("to the end of the key space") when no such byte exists.
std::string PrefixEnd(std::string_view prefix);

// Calls `visit` on every pair whose key starts with `prefix`, in key order, scanning `page`
// pairs at a time within `txn`; stops at the first error `visit` returns. `visit` may write
// to `txn` (e.g. delete what it visits): pages continue after the last key visited.
Status ForEachInPrefix(Transaction& txn, std::string_view prefix,
                       const std::function<Status(KeyValue&)>& visit, size_t page = 4096);

}  // namespace dase::meta
