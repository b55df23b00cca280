// The steps that the writes of protocol_ops.h share over every kind of protocol record (each
// has id, guid, name and created_us): the FieldError shorthands, and creating, updating and
// loading a record the way every kind does it. Internal to the records library (view_ops.cc,
// user_ops.cc, protocol_records.cc).
//
// Thread-safety: free functions; the Transaction rules of meta/kv.h apply.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "env/env.h"
#include "meta/kv.h"
#include "vms/protocol_ops.h"
#include "vms/protocol_records.h"

namespace dase::vms {

inline Status Invalid(std::string_view field, std::string_view text) {
  return FieldError(Code::kInvalidArgument, field, text);
}
inline Status Duplicate(std::string_view field, std::string_view text) {
  return FieldError(Code::kAlreadyExists, field, text);
}
// DRF's text for a reference to an object that does not exist.
inline std::string NoSuchObject(int64_t id) {
  return fmt::format("Invalid pk \"{}\" - object does not exist.", id);
}
// ResourceExhausted when a new object (id 0) would make more than `max` of its kind; `count`
// is how many there are.
inline Status CheckRoom(int64_t id, size_t count, size_t max, std::string_view kind_plural) {
  if (id != 0 || count < max) return Status::Ok();
  return FieldError(Code::kResourceExhausted, "non_field_errors",
                    fmt::format("A cluster holds at most {} {}.", max, kind_plural));
}

// How one kind of record is read, checked and written.
template <typename Record>
struct RecordKind {
  std::string_view counter;  // the kind whose ids AllocateId hands out
  Result<std::optional<Record>> (*load)(meta::Transaction&, int64_t);
  // Every check of a write; the record's id is 0 when it is new (excluded from duplicates).
  Status (*check)(meta::Transaction&, const Record&);
  void (*put)(meta::Transaction&, const Record&);
};

// The stored record `id`; NotFound ("Not found.") if there is none.
template <typename Record>
Result<Record> LoadExisting(meta::Transaction& txn, const RecordKind<Record>& kind, int64_t id) {
  ASSIGN_OR_RETURN(auto record, kind.load(txn, id));
  if (!record) return NotFound("Not found.");
  return std::move(*record);
}

// What a new record without a name is called: nothing (the check refuses it), or
// "<counter>-<id>".
enum class DefaultName { kNone, kCounterDashId };

// Checks and writes `record` as a new one, with the next id of its kind, a guid and the
// creation time. A default name is checked before the id exists and again after (it may be
// taken).
template <typename Record>
Result<Record> CreateRecord(meta::Transaction& txn, env::Env* env, const RecordKind<Record>& kind,
                            Record record, DefaultName default_name) {
  record.id = 0;
  bool name_it = default_name == DefaultName::kCounterDashId && record.name.empty();
  if (name_it) record.name = std::string(kind.counter);
  RETURN_IF_ERROR(kind.check(txn, record));
  ASSIGN_OR_RETURN(record.id, AllocateId(txn, kind.counter));
  if (name_it) {
    record.name = fmt::format("{}-{}", kind.counter, record.id);
    RETURN_IF_ERROR(kind.check(txn, record));
  }
  record.guid = env::RandomHex(env, 16);
  record.created_us = env->NowMicros();
  kind.put(txn, record);
  return record;
}

// Replaces the stored record `desired.id` (NotFound if there is none) by `desired`, whose guid
// and creation time stay as stored. `revise(stored, record)` restores whatever else may not
// change, or refuses the change, before the kind's check.
template <typename Record, typename Revise>
Result<Record> UpdateRecord(meta::Transaction& txn, const RecordKind<Record>& kind,
                            const Record& desired, Revise revise) {
  ASSIGN_OR_RETURN(Record old, LoadExisting(txn, kind, desired.id));
  Record record = desired;
  record.guid = old.guid;
  record.created_us = old.created_us;
  RETURN_IF_ERROR(revise(old, record));
  RETURN_IF_ERROR(kind.check(txn, record));
  kind.put(txn, record);
  return record;
}

template <typename Record>
Result<Record> UpdateRecord(meta::Transaction& txn, const RecordKind<Record>& kind,
                            const Record& desired) {
  return UpdateRecord(txn, kind, desired, [](const Record&, Record&) { return Status::Ok(); });
}

}  // namespace dase::vms
