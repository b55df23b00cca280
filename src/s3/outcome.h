// Outcome<T, E>: a value of type T, or an error of type E that says more than a Status can.
//
// The S3 wire checks (signatures, aws-chunked bodies) fail in ways the S3 server must answer
// with distinct S3 error codes; their error structs carry a kind for that, and Outcome carries
// them the way Result<T> carries a Status. Outcome<void, E> is "done, or an error".
//
// Using value() of an error, or error() of a success, is a programmer error and aborts.
// Thread-safety: a value type.
#pragma once

#include <optional>
#include <utility>
#include <variant>

#include "common/check.h"

namespace dase::s3 {

template <typename T, typename E>
class [[nodiscard]] Outcome {
 public:
  Outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Outcome(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }

  T& value() & {
    CHECK(ok()) << "value() of an error Outcome";
    return std::get<0>(v_);
  }
  const T& value() const& {
    CHECK(ok()) << "value() of an error Outcome";
    return std::get<0>(v_);
  }
  T value() && {
    CHECK(ok()) << "value() of an error Outcome";
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const {
    CHECK(!ok()) << "error() of a successful Outcome";
    return std::get<1>(v_);
  }

 private:
  std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Outcome<void, E> {
 public:
  Outcome() = default;                            // success
  Outcome(E error) : error_(std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return !error_.has_value(); }
  const E& error() const {
    CHECK(!ok()) << "error() of a successful Outcome";
    return *error_;
  }

 private:
  std::optional<E> error_;
};

}  // namespace dase::s3
