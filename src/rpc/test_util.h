// Helpers for the rpc tests: one io_context driven by the test, loopback sockets, and
// coroutine-friendly assertions. Test-only; single-threaded like everything on the loop.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <string>

#include "common/asio.h"
#include "common/result.h"
#include "rpc/server.h"
#include "common/testing.h"

namespace dase::rpc::testutil {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// gtest's ASSERT_* return, which a coroutine may not; these co_return instead.
#define CO_ASSERT_TRUE(cond)                             \
  if (!(cond)) {                                         \
    ADD_FAILURE() << "CO_ASSERT_TRUE(" #cond ") failed"; \
    co_return;                                           \
  }
#define CO_ASSERT_OK(result)                                                  \
  if (::dase::Status dase_s_ = ::dase::rpc::testutil::StatusOf(result); !dase_s_.ok()) { \
    ADD_FAILURE() << #result " failed: " << dase_s_.ToString();               \
    co_return;                                                                \
  }

inline Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

inline awaitable<void> Sleep(milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(use_awaitable));
}

// Counts finished tasks; Wait() returns once `n` have finished.
class Latch {
 public:
  Latch(asio::io_context& io, int n) : n_(n), timer_(io, asio::steady_timer::time_point::max()) {}
  void CountDown() {
    if (--n_ == 0) timer_.cancel();
  }
  awaitable<void> Wait() {
    while (n_ > 0) co_await timer_.async_wait(asio::as_tuple(use_awaitable));
  }

 private:
  int n_;
  asio::steady_timer timer_;
};

inline Handler SleepThenEcho(asio::io_context& io, milliseconds d) {
  return [&io, d](std::string p) -> awaitable<Result<std::string>> {
    asio::steady_timer t(io, d);
    co_await t.async_wait(asio::as_tuple(use_awaitable));
    co_return p;
  };
}

// Reads until the peer closes the connection; fails the test if that takes over `limit`.
inline awaitable<std::string> ReadToEof(tcp::socket& s, milliseconds limit) {
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer deadline(co_await asio::this_coro::executor, limit);
  deadline.async_wait([&s, timed_out](boost::system::error_code ec) {
    if (ec) return;
    *timed_out = true;
    s.close();
  });
  std::string data;
  char buf[4096];
  while (true) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
    data.append(buf, n);
    if (ec) break;
  }
  deadline.cancel();
  EXPECT_FALSE(*timed_out) << "the server did not close the connection";
  co_return data;
}

inline awaitable<tcp::socket> RawConnect(uint16_t port) {
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, use_awaitable);
  co_return s;
}

// The seed of a randomized test (common/testing.h), narrowed for std::mt19937.
inline uint32_t TestSeed() { return static_cast<uint32_t>(::dase::testing::TestSeed()); }

class RpcTest : public ::testing::Test {
 protected:
  // Runs `body` on io_ until it finishes, for at most `limit`.
  template <typename F>
  void Run(F body, std::chrono::seconds limit = 30s) {
    bool finished = false;
    asio::co_spawn(io_, std::move(body), [&](std::exception_ptr e) {
      finished = true;
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          ADD_FAILURE() << "test coroutine threw: " << ex.what();
        }
      }
      io_.stop();
    });
    io_.restart();
    io_.run_for(limit);
    EXPECT_TRUE(finished) << "the test did not finish within " << limit.count() << " s";
  }

  // A started server on an ephemeral loopback port.
  std::unique_ptr<Server> StartServer(ServerOptions options = {}) {
    auto server = std::make_unique<Server>(io_, options);
    auto port = server->Listen("127.0.0.1", 0);
    EXPECT_TRUE(port.ok()) << port.status().ToString();
    server->Start();
    return server;
  }

  asio::io_context io_;
};

}  // namespace dase::rpc::testutil
