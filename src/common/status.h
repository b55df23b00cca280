// Status: the outcome of an operation that can fail, as a value.
//
// An OK status carries nothing; an error carries a code and a message. Codes are few on purpose:
// a code exists only when some caller reacts to it specifically (FoundationDB's rule). Protocol
// codes (HTTP status, S3 <Code>, NFS3ERR_*) are mapped from these at the protocol edge only.
//
// Thread-safety: a Status is a value; distinct objects may be used from distinct threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace dase {

enum class Code : int {
  kOk = 0,
  kInvalidArgument = 1,   // the caller's input is wrong; retrying it unchanged will not help
  kNotFound = 2,
  kAlreadyExists = 3,
  kPermissionDenied = 4,  // authenticated, not allowed
  kUnauthenticated = 5,   // no or wrong credentials
  kFailedPrecondition = 6,  // the system is not in a state that allows the operation
  kResourceExhausted = 7,   // a limit was hit (sizes, queue depths, connections)
  kNoSpace = 8,             // ENOSPC and the like
  kIOError = 9,
  kCorruption = 10,         // checksum or format mismatch: the data must not be served
  kTimeout = 11,            // the outcome is unknown
  kUnavailable = 12,        // a peer is down or unreachable; retrying later may help
  kAborted = 13,            // a conflict; the whole operation may be retried
  kCancelled = 14,
  kInternal = 15,           // a bug
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  Code code() const { return state_ ? state_->code : Code::kOk; }
  std::string_view message() const { return state_ ? std::string_view(state_->message) : ""; }
  // "NotFound: no such node cnode-9"
  std::string ToString() const;

  // Returns a copy whose message is prefixed by `context` ("open drive: ...").
  Status WithContext(std::string_view context) const;

  // Ignoring an error must be explicit and greppable.
  void IgnoreError() const {}

 private:
  struct State {
    Code code;
    std::string message;
  };
  std::shared_ptr<const State> state_;
};

inline Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status PermissionDenied(std::string m) { return Status(Code::kPermissionDenied, std::move(m)); }
inline Status Unauthenticated(std::string m) { return Status(Code::kUnauthenticated, std::move(m)); }
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status ResourceExhausted(std::string m) {
  return Status(Code::kResourceExhausted, std::move(m));
}
inline Status NoSpace(std::string m) { return Status(Code::kNoSpace, std::move(m)); }
inline Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
inline Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
inline Status Timeout(std::string m) { return Status(Code::kTimeout, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status Aborted(std::string m) { return Status(Code::kAborted, std::move(m)); }
inline Status Cancelled(std::string m) { return Status(Code::kCancelled, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

// Maps an errno value to a Status ("open /x: No such file or directory").
Status ErrnoStatus(std::string_view context, int err);

}  // namespace dase

#define DASE_CONCAT_INNER(a, b) a##b
#define DASE_CONCAT(a, b) DASE_CONCAT_INNER(a, b)

// Returns from the enclosing function (or coroutine, with co_return) when `expr` is an error.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::dase::Status dase_status_ = (expr);      \
    if (!dase_status_.ok()) return dase_status_; \
  } while (0)

#define CO_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::dase::Status dase_status_ = (expr);         \
    if (!dase_status_.ok()) co_return dase_status_; \
  } while (0)
