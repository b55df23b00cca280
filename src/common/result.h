// Result<T>: either a value of type T or an error Status (modelled on absl::StatusOr).
//
// Check ok() before using value(), * or ->; using the value of an error Result is a programmer
// error and aborts. Thread-safety: a value type.
#pragma once

#include <cstdlib>
#include <utility>
#include <variant>

#include "common/check.h"
#include "common/status.h"

namespace dase {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    CHECK(!std::get<Status>(v_).ok()) << "Result constructed from an OK status";
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & {
    CheckOk();
    return std::get<T>(v_);
  }
  const T& value() const& {
    CheckOk();
    return std::get<T>(v_);
  }
  // By value, so `for (auto& x : F().value())` never binds to a dead temporary.
  T value() && {
    CheckOk();
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  void IgnoreError() const {}

 private:
  void CheckOk() const {
    CHECK(ok()) << "value() of an error Result: " << std::get<Status>(v_).ToString();
  }
  std::variant<T, Status> v_;
};

}  // namespace dase

// ASSIGN_OR_RETURN(auto x, Foo()): binds the value of Foo() to `x`, or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  DASE_ASSIGN_OR_RETURN_IMPL(DASE_CONCAT(dase_result_, __LINE__), lhs, expr, return)
#define CO_ASSIGN_OR_RETURN(lhs, expr) \
  DASE_ASSIGN_OR_RETURN_IMPL(DASE_CONCAT(dase_result_, __LINE__), lhs, expr, co_return)
#define DASE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) ret tmp.status();                      \
  lhs = std::move(tmp).value()
