// Boost.Asio and Beast, compiled once (separate compilation) and used through these names.
//
// Every dase process runs one single-threaded io_context: handlers never run concurrently, so
// state owned by the loop needs no locks. Blocking work does not belong on the loop.
//
// GCC 12 may destroy a temporary with a non-trivial destructor that is part of a co_await
// expression twice (a std::string argument built inline, a Status passed to a coroutine).
// Build such arguments as named locals first, then co_await.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace dase {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
}  // namespace dase
