// What a peer controls is bounded: sizes, connections, bytes that are not frames at all.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include "common/coding.h"
#include "rpc/client.h"
#include "rpc/frame.h"
#include "rpc/server.h"
#include "rpc/test_util.h"

namespace dase::rpc {
namespace {

using namespace std::chrono_literals;
using testutil::RawConnect;
using testutil::ReadToEof;
using testutil::RpcTest;
using testutil::TestSeed;

TEST_F(RpcTest, OversizedFrameClosesOnlyThatConnection) {
  auto server = StartServer(ServerOptions{.max_payload_bytes = 1024});
  Client bystander(io_, "127.0.0.1", server->port());
  Client offender(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    auto r1 = co_await bystander.Call(Method::kPing, "before", 1s);
    CO_ASSERT_OK(r1);
    auto big = co_await offender.Call(Method::kPing, std::string(4096, 'x'), 1s);
    // The error frame may lose the race with the reset caused by the unread payload.
    EXPECT_TRUE(big.status().code() == Code::kResourceExhausted ||
                big.status().code() == Code::kUnavailable)
        << big.status().ToString();
    auto after = co_await bystander.Call(Method::kPing, "after", 1s);
    CO_ASSERT_OK(after);
    EXPECT_EQ(*after, "after");

    // Announcing a huge payload without sending it: the error frame arrives, then EOF.
    tcp::socket raw = co_await RawConnect(server->port());
    Writer header;
    header.PutU32(kFrameMagic);
    header.PutU8(kFrameVersion);
    header.PutU8(0);
    header.PutU16(0);
    header.PutU32(MethodId(Method::kPing));
    header.PutU64(77);
    header.PutU32(1u << 30);
    header.PutU32(0);
    co_await asio::async_write(raw, asio::buffer(header.data()), use_awaitable);
    const std::string reply = co_await ReadToEof(raw, 2000ms);
    CO_ASSERT_TRUE(reply.size() > kFrameHeaderBytes);
    auto h = DecodeFrameHeader(std::string_view(reply).substr(0, kFrameHeaderBytes));
    CO_ASSERT_OK(h);
    EXPECT_EQ(h->type, FrameType::kResponseError);
    EXPECT_EQ(h->request_id, 77u);
    EXPECT_EQ(DecodeErrorPayload(std::string_view(reply).substr(kFrameHeaderBytes)).code(),
              Code::kResourceExhausted);
  });
}

TEST_F(RpcTest, ClientRejectsOversizedRequestsAndResponses) {
  auto server = StartServer();
  server->Register(Method::kMonitorReport, [](std::string) -> awaitable<Result<std::string>> {
    co_return std::string(4096, 'r');
  });
  Client client(io_, "127.0.0.1", server->port(), ClientOptions{.max_payload_bytes = 1024});
  Run([&]() -> awaitable<void> {
    auto big = co_await client.Call(Method::kPing, std::string(2048, 'x'), 1s);
    EXPECT_EQ(big.status().code(), Code::kResourceExhausted);
    auto big_reply = co_await client.Call(Method::kMonitorReport, "", 1s);
    EXPECT_EQ(big_reply.status().code(), Code::kUnavailable) << big_reply.status().ToString();
    auto r2 = co_await client.Call(Method::kPing, "small", 1s);
    CO_ASSERT_OK(r2);
  });
}

TEST_F(RpcTest, GarbageAndProtocolViolationsCloseTheConnection) {
  const uint32_t seed = TestSeed();
  std::mt19937 rng(seed);
  std::string garbage(8192, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());

  std::string bad_crc = EncodeFrame(FrameType::kRequest, MethodId(Method::kPing), 1, "payload");
  bad_crc.back() ^= 1;
  std::string response_frame = EncodeFrame(FrameType::kResponseOk, 1, 1, "");
  std::string bad_version = EncodeFrame(FrameType::kRequest, 1, 5, "");
  bad_version[4] = 9;

  auto server = StartServer();
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    for (const std::string* bytes : {&garbage, &bad_crc, &response_frame}) {
      tcp::socket raw = co_await RawConnect(server->port());
      co_await asio::async_write(raw, asio::buffer(*bytes), asio::as_tuple(use_awaitable));
      co_await ReadToEof(raw, 2000ms);
    }
    // A truncated header, then the client leaves.
    {
      tcp::socket raw = co_await RawConnect(server->port());
      co_await asio::async_write(raw, asio::buffer(bad_crc.data(), 10), use_awaitable);
    }
    // An unknown version is answered on request id 0 before the close.
    tcp::socket raw = co_await RawConnect(server->port());
    co_await asio::async_write(raw, asio::buffer(bad_version), use_awaitable);
    const std::string reply = co_await ReadToEof(raw, 2000ms);
    CO_ASSERT_TRUE(reply.size() > kFrameHeaderBytes);
    auto h = DecodeFrameHeader(std::string_view(reply).substr(0, kFrameHeaderBytes));
    CO_ASSERT_OK(h);
    EXPECT_EQ(h->request_id, kConnectionRequestId);
    EXPECT_EQ(DecodeErrorPayload(std::string_view(reply).substr(kFrameHeaderBytes)).code(),
              Code::kFailedPrecondition);

    auto ping = co_await client.Call(Method::kPing, "alive", 1s);
    CO_ASSERT_OK(ping);
    EXPECT_EQ(*ping, "alive");
  });
}

TEST_F(RpcTest, MutatedFramesNeverCrashTheServer) {
  std::mt19937 rng(TestSeed());
  auto server = StartServer(ServerOptions{.max_payload_bytes = 1 << 16});
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    for (int round = 0; round < 200; ++round) {
      std::string bytes = EncodeFrame(FrameType::kRequest, MethodId(Method::kPing), round + 1,
                                      std::string(rng() % 64, 'p'));
      for (int flips = 1 + rng() % 3; flips > 0; --flips) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
      bytes.resize(rng() % (bytes.size() + 1));
      tcp::socket raw = co_await RawConnect(server->port());
      co_await asio::async_write(raw, asio::buffer(bytes), asio::as_tuple(use_awaitable));
      // Whatever the server made of it, our end of stream makes it close.
      boost::system::error_code ignored;
      raw.shutdown(tcp::socket::shutdown_send, ignored);
      co_await ReadToEof(raw, 2000ms);
    }
    auto ping = co_await client.Call(Method::kPing, "alive", 1s);
    CO_ASSERT_OK(ping);
  });
}

TEST_F(RpcTest, ConnectionsBeyondTheLimitAreRefused) {
  auto server = StartServer(ServerOptions{.max_connections = 1});
  Client first(io_, "127.0.0.1", server->port());
  Client second(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    auto r1 = co_await first.Call(Method::kPing, "", 1s);
    CO_ASSERT_OK(r1);
    auto refused = co_await second.Call(Method::kPing, "", 1s);
    EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
    first.Close();
    co_await testutil::Sleep(100ms);  // the server notices the close
    auto r2 = co_await second.Call(Method::kPing, "", 1s);
    CO_ASSERT_OK(r2);
  });
}

TEST_F(RpcTest, OversizedResponseBecomesResourceExhausted) {
  auto server = StartServer(ServerOptions{.max_payload_bytes = 1024});
  server->Register(Method::kMonitorReport, [](std::string) -> awaitable<Result<std::string>> {
    co_return std::string(4096, 'r');
  });
  Client client(io_, "127.0.0.1", server->port());
  Run([&]() -> awaitable<void> {
    auto r = co_await client.Call(Method::kMonitorReport, "", 1s);
    EXPECT_EQ(r.status().code(), Code::kResourceExhausted) << r.status().ToString();
    auto ping = co_await client.Call(Method::kPing, "", 1s);
    CO_ASSERT_OK(ping);
  });
}

TEST_F(RpcTest, ListenOnABusyPortFails) {
  auto server = StartServer();
  Server second(io_);
  auto r = second.Listen("127.0.0.1", server->port());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(second.port(), 0);
}

// A fake server that answers each connection's first request with `reply(request header)`.
awaitable<void> FakeServer(tcp::acceptor& acceptor, int connections,
                           std::function<std::string(const FrameHeader&)> reply) {
  for (int i = 0; i < connections; ++i) {
    tcp::socket s = co_await acceptor.async_accept(use_awaitable);
    FrameReader reader(s);
    auto header = co_await reader.ReadHeader();
    if (!header.ok()) continue;
    auto payload = co_await reader.ReadPayload(*header);
    if (!payload.ok()) continue;
    co_await asio::async_write(s, asio::buffer(reply(*header)), use_awaitable);
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_send, ignored);
  }
}

TEST_F(RpcTest, ClientSurvivesAMisbehavingServer) {
  tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
  Client client(io_, "127.0.0.1", acceptor.local_endpoint().port());
  int round = 0;
  asio::co_spawn(
      io_,
      FakeServer(
          acceptor, 3,
          [&round](const FrameHeader& h) -> std::string {
            switch (round++) {
              case 0:  // the whole connection is refused
                return EncodeResponse(0, kConnectionRequestId, FailedPrecondition("go away"));
              case 1: {  // a corrupted response
                std::string f = EncodeFrame(FrameType::kResponseOk, h.method, h.request_id, "data");
                f.back() ^= 1;
                return f;
              }
              default:  // a reply to nobody, then the real one
                return EncodeFrame(FrameType::kResponseOk, h.method, h.request_id + 1000, "stray") +
                       EncodeFrame(FrameType::kResponseOk, h.method, h.request_id, "real");
            }
          }),
      asio::detached);
  Run([&]() -> awaitable<void> {
    auto refused = co_await client.Call(Method::kPing, "", 1s);
    EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().ToString();
    EXPECT_EQ(refused.status().message(), "go away");
    auto corrupt = co_await client.Call(Method::kPing, "", 1s);
    EXPECT_EQ(corrupt.status().code(), Code::kUnavailable) << corrupt.status().ToString();
    auto real = co_await client.Call(Method::kPing, "", 1s);
    CO_ASSERT_OK(real);
    EXPECT_EQ(*real, "real");
  });
}

}  // namespace
}  // namespace dase::rpc
