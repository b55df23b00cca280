// CHECK and DCHECK: assertions for programmer errors, never for I/O failures or client input.
//
// CHECK is always on, in every build: use it for invariants whose violation risks corruption.
// DCHECK is compiled only in debug builds: use it for expensive checks. Both accept a streamed
// message: CHECK(x > 0) << "x=" << x;
#pragma once

#include <sstream>

namespace dase::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `CHECK(c) << ...` be an expression of type void in both branches.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace dase::internal

#define CHECK(condition)                           \
  (condition) ? (void)0                            \
              : ::dase::internal::Voidify() &      \
                    ::dase::internal::CheckFailure(__FILE__, __LINE__, #condition)

#ifdef NDEBUG
#define DCHECK(condition) \
  while (false) CHECK(condition)
#else
#define DCHECK(condition) CHECK(condition)
#endif
