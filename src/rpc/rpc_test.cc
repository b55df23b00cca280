// Client and Server over real loopback sockets, all on one io_context driven by the test.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rpc/client.h"
#include "rpc/server.h"
#include "rpc/test_util.h"

namespace dase::rpc {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using testutil::Latch;
using testutil::RawConnect;
using testutil::ReadToEof;
using testutil::RpcTest;
using testutil::Sleep;
using testutil::SleepThenEcho;
using testutil::TestSeed;

TEST_F(RpcTest, RoundTrip) {
  auto server = StartServer();
  server->Register(Method::kNodeHello,
                   [](std::string p) -> awaitable<Result<std::string>> { co_return "hello " + p; });
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    auto r = co_await client.Call(Method::kNodeHello, "cnode-1", 1s);
    CO_ASSERT_OK(r);
    EXPECT_EQ(*r, "hello cnode-1");
    auto ping = co_await client.Call(Method::kPing, std::string("\0bin\xff", 5), 1s);
    CO_ASSERT_OK(ping);
    EXPECT_EQ(*ping, std::string("\0bin\xff", 5));
    auto empty = co_await client.Call(Method::kPing, "", 1s);
    CO_ASSERT_OK(empty);
    EXPECT_EQ(*empty, "");
  });
}

TEST_F(RpcTest, ConcurrentCallsOnOneConnectionAnsweredOutOfOrder) {
  const uint32_t seed = TestSeed();
  // One connection allowed, so a second connection would fail the calls; 100 calls exceed the
  // default 64 in flight, so the reader's back-pressure is exercised too.
  auto server = StartServer(ServerOptions{.max_connections = 1});
  auto rng = std::make_shared<std::mt19937>(seed);
  server->Register(Method::kNodeHeartbeat,
                   [this, rng](std::string p) -> awaitable<Result<std::string>> {
                     asio::steady_timer t(io_, milliseconds((*rng)() % 50));
                     co_await t.async_wait(asio::as_tuple(use_awaitable));
                     co_return p;
                   });
  Client client(io_, "127.0.0.1", server->port());
  constexpr int kCalls = 100;
  std::vector<int> completion_order;
  Latch latch(io_, kCalls);
  Run([&]() -> awaitable<void> {
    for (int i = 0; i < kCalls; ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> awaitable<void> {
            auto r = co_await client.Call(Method::kNodeHeartbeat, std::to_string(i), 10s);
            EXPECT_TRUE(r.ok()) << r.status().ToString();
            if (r.ok()) {
              EXPECT_EQ(*r, std::to_string(i));
            }
            completion_order.push_back(i);
            latch.CountDown();
          },
          asio::detached);
    }
    co_await latch.Wait();
  });
  ASSERT_EQ(completion_order.size(), static_cast<size_t>(kCalls));
  EXPECT_FALSE(std::is_sorted(completion_order.begin(), completion_order.end()))
      << "responses came back in request order; expected completion order";
}

TEST_F(RpcTest, HandlerErrorKeepsCodeAndMessage) {
  auto server = StartServer();
  server->Register(Method::kMonitorStopNode, [](std::string) -> awaitable<Result<std::string>> {
    co_return NotFound("no such node cnode-9");
  });
  server->Register(Method::kMonitorStartNode, [](std::string) -> awaitable<Result<std::string>> {
    throw std::runtime_error("boom");
    co_return "unreachable";
  });
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    auto r = co_await client.Call(Method::kMonitorStopNode, "", 1s);
    EXPECT_EQ(r.status().code(), Code::kNotFound);
    EXPECT_EQ(r.status().message(), "no such node cnode-9");
    auto thrown = co_await client.Call(Method::kMonitorStartNode, "", 1s);
    EXPECT_EQ(thrown.status().code(), Code::kInternal);
    EXPECT_NE(thrown.status().message().find("boom"), std::string_view::npos);
  });
}

TEST_F(RpcTest, UnknownMethod) {
  auto server = StartServer();
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    auto r = co_await client.Call(Method::kMonitorStatus, "", 1s);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "unknown rpc method 302");
  });
}

TEST_F(RpcTest, TimeoutDropsTheLateReplyAndKeepsTheConnection) {
  auto server = StartServer();
  server->Register(Method::kNodeHello, SleepThenEcho(io_, 300ms));
  server->Register(Method::kNodeGoodbye, SleepThenEcho(io_, 1h));  // never in time
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    auto never = co_await client.Call(Method::kNodeGoodbye, "x", 100ms);
    EXPECT_EQ(never.status().code(), Code::kTimeout);
    auto late = co_await client.Call(Method::kNodeHello, "late", 50ms);
    EXPECT_EQ(late.status().code(), Code::kTimeout);
    co_await Sleep(400ms);  // the late reply arrives and must be dropped quietly
    auto ping = co_await client.Call(Method::kPing, "still here", 1s);
    CO_ASSERT_OK(ping);
    EXPECT_EQ(*ping, "still here");
  });
}

TEST_F(RpcTest, ServerStopFailsPendingCallsAndClientReconnects) {
  auto server = StartServer();
  const uint16_t port = server->port();
  server->Register(Method::kNodeHello, SleepThenEcho(io_, 10s));
  Client client(io_, "127.0.0.1", port);
  Run([&]() -> awaitable<void> {
    std::optional<Result<std::string>> pending;
    Latch latch(io_, 1);
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          pending.emplace(co_await client.Call(Method::kNodeHello, "slow", 5s));
          latch.CountDown();
        },
        asio::detached);
    co_await Sleep(100ms);
    server->Stop();
    co_await latch.Wait();
    EXPECT_EQ(pending->status().code(), Code::kUnavailable) << pending->status().ToString();

    auto down = co_await client.Call(Method::kPing, "", 1s);
    EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();

    Server second(io_);
    auto bound = second.Listen("127.0.0.1", port);
    CO_ASSERT_OK(bound);
    second.Start();
    auto ping = co_await client.Call(Method::kPing, "again", 1s);
    CO_ASSERT_OK(ping);
    EXPECT_EQ(*ping, "again");
  });
}

TEST_F(RpcTest, AdoptServesOnAnInheritedListeningSocket) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t bound_port = ntohs(addr.sin_port);

  Server server(io_);
  // Bound but not yet listening: not something a server can adopt.
  EXPECT_EQ(server.Adopt(fd).status().code(), Code::kInvalidArgument);
  ASSERT_EQ(::listen(fd, 16), 0);
  auto port = server.Adopt(fd);
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_EQ(*port, bound_port);
  server.Start();

  Client client(io_, "127.0.0.1", bound_port);
  Run([&]() -> awaitable<void> {
    auto ping = co_await client.Call(Method::kPing, "adopted", 1s);
    CO_ASSERT_OK(ping);
    EXPECT_EQ(*ping, "adopted");
  });
}

TEST_F(RpcTest, ConnectFailureIsUnavailable) {
  uint16_t free_port = 0;
  {
    Server probe(io_);
    auto p = probe.Listen("127.0.0.1", 0);
    ASSERT_TRUE(p.ok());
    free_port = *p;
  }  // closed: nothing listens there now
  Client client(io_, "127.0.0.1", free_port, ClientOptions{.connect_timeout = 500ms});
  Run([&]() -> awaitable<void> {
    auto r = co_await client.Call(Method::kPing, "", 1s);
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  });
}

TEST_F(RpcTest, ConnectTimesOutWhenThePeerNeverAnswers) {
  // A listener that never accepts, with its backlog filled: Linux drops further SYNs, so a
  // connect hangs until the client's deadline.
  tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
  silent.listen(0);
  const uint16_t port = silent.local_endpoint().port();
  std::vector<tcp::socket> fillers;
  Client client(io_, "127.0.0.1", port, ClientOptions{.connect_timeout = 200ms});
  Run([&]() -> awaitable<void> {
    for (int i = 0; i < 4; ++i) {
      fillers.emplace_back(io_);
      asio::steady_timer t(io_, 100ms);
      fillers.back().async_connect({asio::ip::make_address("127.0.0.1"), port},
                                   [](boost::system::error_code) {});
      co_await t.async_wait(asio::as_tuple(use_awaitable));
    }
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await client.Call(Method::kPing, "", 5s);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
    EXPECT_NE(r.status().message().find("timed out"), std::string_view::npos)
        << r.status().ToString();
    EXPECT_LT(elapsed, 2s);
  });
}

TEST_F(RpcTest, SetEndpointMovesLaterCalls) {
  auto a = StartServer();
  auto b = StartServer();
  a->Register(Method::kNodeHello,
              [](std::string) -> awaitable<Result<std::string>> { co_return "a"; });
  b->Register(Method::kNodeHello,
              [](std::string) -> awaitable<Result<std::string>> { co_return "b"; });
  Client client(io_, "127.0.0.1", a->port());
  Run([&]() -> awaitable<void> {
    auto first = co_await client.Call(Method::kNodeHello, "", 1s);
    CO_ASSERT_OK(first);
    EXPECT_EQ(*first, "a");
    client.SetEndpoint("localhost", b->port());  // a name, so the lookup path runs too
    auto second = co_await client.Call(Method::kNodeHello, "", 1s);
    CO_ASSERT_OK(second);
    EXPECT_EQ(*second, "b");
  });
}

TEST_F(RpcTest, DestroyingTheClientFailsPendingCalls) {
  auto server = StartServer();
  server->Register(Method::kNodeHello, SleepThenEcho(io_, 10s));
  auto client = std::make_unique<Client>(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    std::optional<Result<std::string>> pending;
    Latch latch(io_, 1);
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          pending.emplace(co_await client->Call(Method::kNodeHello, "", 5s));
          latch.CountDown();
        },
        asio::detached);
    co_await Sleep(50ms);
    client.reset();
    co_await latch.Wait();
    EXPECT_EQ(pending->status().code(), Code::kUnavailable) << pending->status().ToString();
  });
}

TEST_F(RpcTest, IdleConnectionsAreClosed) {
  auto server = StartServer(ServerOptions{.idle_timeout = 100ms});
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    tcp::socket raw = co_await RawConnect(server->port());
    co_await ReadToEof(raw, 2000ms);
    // A client whose connection was closed while idle reconnects on its next call.
    auto r3 = co_await client.Call(Method::kPing, "", 1s);
    CO_ASSERT_OK(r3);
    co_await Sleep(300ms);
    auto r4 = co_await client.Call(Method::kPing, "", 1s);
    CO_ASSERT_OK(r4);
  });
}

}  // namespace
}  // namespace dase::rpc
