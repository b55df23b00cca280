// Spawn: starts a detached coroutine whose escaping exception is logged instead of lost.
//
// RPC coroutines report failures as Status values and should never throw; an exception reaching
// here is a bug (or a handler that threw past its guard), and the log line says where.
// Thread-safety: call on the io_context's thread.
#pragma once

#include <exception>
#include <utility>

#include "common/asio.h"
#include "common/log.h"

namespace dase::rpc {

// `what` names the coroutine in the log; it must be a string literal.
inline void Spawn(asio::io_context& io, awaitable<void> task, const char* what) {
  asio::co_spawn(io, std::move(task), [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      LOG_ERROR("rpc coroutine {} threw: {}", what, ex.what());
    } catch (...) {
      LOG_ERROR("rpc coroutine {} threw a non-standard exception", what);
    }
  });
}

}  // namespace dase::rpc
