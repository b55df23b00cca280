#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "http/tls.h"
#include "common/testing.h"

namespace dase::http {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Answers "<method> <target> <body>"; /throw throws, /empty answers 204.
class Recorder {
 public:
  Handler MakeHandler() {
    return [this](Request& req, const PeerInfo& peer) -> awaitable<Response> {
      {
        std::lock_guard<std::mutex> lock(mu_);
        peer_ports_.push_back(peer.remote.port());
      }
      if (req.target() == "/throw") throw std::runtime_error("handler bug");
      if (req.target() == "/empty") co_return Response{bhttp::status::no_content, 11};
      Response res{bhttp::status::ok, 11};
      res.body() = std::string(req.method_string()) + " " + std::string(req.target()) + " " +
                   req.body();
      co_return res;
    };
  }
  std::vector<uint16_t> peer_ports() {
    std::lock_guard<std::mutex> lock(mu_);
    return peer_ports_;
  }

 private:
  std::mutex mu_;
  std::vector<uint16_t> peer_ports_;
};

// A Server on its own thread and io_context, as another process would run it.
class TestServer {
 public:
  TestServer(ServerOptions options, Handler handler, std::vector<std::string> hosts = {"127.0.0.1"})
      : work_(asio::make_work_guard(io_)) {
    server_ = std::make_unique<Server>(io_.get_executor(), std::move(options), std::move(handler));
    for (const std::string& host : hosts) ports_.push_back(server_->Listen(host, 0).value());
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    asio::post(io_, [this] {
      server_.reset();
      work_.reset();
    });
    thread_.join();
  }
  uint16_t port(size_t i = 0) const { return ports_[i]; }
  size_t ConnectionCount() {
    std::promise<size_t> count;
    asio::post(io_, [&] { count.set_value(server_->connection_count()); });
    return count.get_future().get();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<Server> server_;
  std::vector<uint16_t> ports_;
  std::thread thread_;
};

// A blocking loopback TCP connection with bounded reads, for speaking raw (bad) HTTP.
class RawConn {
 public:
  explicit RawConn(uint16_t port, const char* ip = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &addr.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConn() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until EOF (returns true), error, or `timeout` (returns false).
  bool ReadUntilEof(std::chrono::milliseconds timeout) { return ReadUntil(timeout, [] { return false; }); }
  // Reads one response with a Content-Length body (or none).
  bool ReadResponse(std::chrono::milliseconds timeout) {
    ReadUntil(timeout, [this] { return ResponseComplete(); });
    return ResponseComplete();
  }
  // Removes and returns the first complete response from what was read.
  std::string TakeResponse() {
    size_t end = ResponseEnd();
    std::string out = data_.substr(0, end);
    data_.erase(0, end);
    return out;
  }
  const std::string& data() const { return data_; }
  bool eof() const { return eof_; }

 private:
  template <typename Done>
  bool ReadUntil(std::chrono::milliseconds timeout, Done done) {
    auto deadline = Clock::now() + timeout;
    while (!done()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof_ = true;
        return true;
      }
      data_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  size_t ResponseEnd() const {
    size_t header_end = data_.find("\r\n\r\n");
    if (header_end == std::string::npos) return std::string::npos;
    std::string header = data_.substr(0, header_end);
    for (char& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t cl = header.find("content-length:");
    size_t length = cl == std::string::npos ? 0 : std::stoul(header.substr(cl + 15));
    size_t end = header_end + 4 + length;
    return data_.size() >= end ? end : std::string::npos;
  }
  bool ResponseComplete() const { return ResponseEnd() != std::string::npos; }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string data_;
};

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    ASSERT_TRUE(EnsureSelfSignedCert(env_, cert_, key_, {"127.0.0.1", "::1"}, {"localhost"}).ok());
  }
  ServerOptions TlsOptions() {
    ServerOptions options;
    options.tls = MakeServerTlsContext(env_, cert_, key_).value();
    return options;
  }
  FetchRequest Https(uint16_t port, std::string target = "/") {
    FetchRequest r;
    r.host = "127.0.0.1";
    r.port = port;
    r.target = std::move(target);
    r.scheme = Scheme::kHttps;
    r.ca_cert_path = cert_;
    r.timeout = 10s;
    return r;
  }
  static FetchRequest Plain(uint16_t port, std::string target = "/") {
    FetchRequest r;
    r.host = "127.0.0.1";
    r.port = port;
    r.target = std::move(target);
    r.timeout = 10s;
    return r;
  }

  env::Env* env_ = env::Env::Default();
  ::dase::testing::TempDir tmp_{"dase_http_test"};
  const std::string dir_ = tmp_.path();
  std::string cert_, key_;
  Recorder recorder_;
};

TEST_F(HttpTest, SelfSignedCertIsKeptAndKeyIsPrivate) {
  EXPECT_EQ(env_->Stat(key_)->mode, 0600u);
  std::string cert = env::ReadFile(env_, cert_).value();
  EXPECT_NE(cert.find("BEGIN CERTIFICATE"), std::string::npos);
  ASSERT_TRUE(EnsureSelfSignedCert(env_, cert_, key_, {"127.0.0.1"}, {}).ok());
  EXPECT_EQ(env::ReadFile(env_, cert_).value(), cert);
}

TEST_F(HttpTest, BadSubjectAltNamesAreRejected) {
  EXPECT_EQ(EnsureSelfSignedCert(env_, dir_ + "/c", dir_ + "/k", {"not-an-ip"}, {}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(EnsureSelfSignedCert(env_, dir_ + "/c", dir_ + "/k", {}, {"a,DNS:b"}).code(),
            Code::kInvalidArgument);
}

TEST_F(HttpTest, HttpsWithPinnedCertificate) {
  TestServer server(TlsOptions(), recorder_.MakeHandler());
  FetchRequest r = Https(server.port(), "/api/v5/views/?x=1");
  r.method = "POST";
  r.body = "hello";
  auto res = Fetch(r);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(res->body, "POST /api/v5/views/?x=1 hello");
  EXPECT_EQ(res->headers["content-length"], "29");
}

TEST_F(HttpTest, HttpsWithAnotherCaIsRejected) {
  std::string other_cert = dir_ + "/other_cert.pem";
  ASSERT_TRUE(EnsureSelfSignedCert(env_, other_cert, dir_ + "/other_key.pem", {"127.0.0.1"}, {}).ok());
  TestServer server(TlsOptions(), recorder_.MakeHandler());
  FetchRequest r = Https(server.port());
  r.ca_cert_path = other_cert;
  EXPECT_EQ(Fetch(r).status().code(), Code::kUnauthenticated);
  r.verify = TlsVerify::kNone;  // like `curl -k`
  EXPECT_TRUE(Fetch(r).ok());
}

TEST_F(HttpTest, HttpsChecksTheAddressAgainstSubjectAltNames) {
  TestServer server(TlsOptions(), recorder_.MakeHandler(), {"127.0.0.1", "127.0.0.2"});
  FetchRequest r = Https(server.port(1));
  r.host = "127.0.0.2";  // not in the certificate
  EXPECT_EQ(Fetch(r).status().code(), Code::kUnauthenticated);
  r.host = "localhost";  // a DNS SAN
  auto res = Fetch(r);
  if (!res.ok()) {
    // "localhost" may resolve to ::1 first, where nothing listens; the name check is what counts.
    EXPECT_NE(res.status().code(), Code::kUnauthenticated) << res.status().ToString();
  }
}

TEST_F(HttpTest, KeepAliveServesTwoRequestsOnOneConnection) {
  TestServer server(ServerOptions{}, recorder_.MakeHandler());
  RawConn conn(server.port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(conn.ReadResponse(5000ms));
  EXPECT_NE(conn.TakeResponse().find("GET /one"), std::string::npos);
  ASSERT_TRUE(conn.Send("POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  ASSERT_TRUE(conn.ReadResponse(5000ms));
  EXPECT_NE(conn.TakeResponse().find("POST /two abc"), std::string::npos);
  auto ports = recorder_.peer_ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0], ports[1]);
}

TEST_F(HttpTest, OversizedHeaderGets431AndClose) {
  TestServer server(ServerOptions{}, recorder_.MakeHandler());
  RawConn conn(server.port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') +
                        "\r\n\r\n"));
  EXPECT_TRUE(conn.ReadUntilEof(5000ms));
  EXPECT_TRUE(conn.data().starts_with("HTTP/1.1 431")) << conn.data();
  EXPECT_TRUE(recorder_.peer_ports().empty());
}

TEST_F(HttpTest, OversizedBodyGets413AndClose) {
  ServerOptions options;
  options.body_limit_bytes = 1024;
  TestServer server(options, recorder_.MakeHandler());
  {
    RawConn conn(server.port());
    ASSERT_TRUE(conn.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" +
                          std::string(2048, 'b')));
    EXPECT_TRUE(conn.ReadUntilEof(5000ms));
    EXPECT_TRUE(conn.data().starts_with("HTTP/1.1 413")) << conn.data();
  }
  {
    RawConn conn(server.port());
    std::string chunk = "800\r\n" + std::string(2048, 'c') + "\r\n0\r\n\r\n";
    ASSERT_TRUE(conn.Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk));
    EXPECT_TRUE(conn.ReadUntilEof(5000ms));
    EXPECT_TRUE(conn.data().starts_with("HTTP/1.1 413")) << conn.data();
  }
  EXPECT_TRUE(recorder_.peer_ports().empty());
}

TEST_F(HttpTest, ContentLengthWithTransferEncodingGets400) {
  TestServer server(ServerOptions{}, recorder_.MakeHandler());
  for (std::string framing : {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                              "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                              "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n"}) {
    RawConn conn(server.port());
    ASSERT_TRUE(conn.Send("POST / HTTP/1.1\r\nHost: x\r\n" + framing + "\r\n0\r\n\r\n"));
    EXPECT_TRUE(conn.ReadUntilEof(5000ms));
    EXPECT_TRUE(conn.data().starts_with("HTTP/1.1 400")) << framing << conn.data();
  }
  EXPECT_TRUE(recorder_.peer_ports().empty());
}

TEST_F(HttpTest, GarbageDoesNotHurtTheServer) {
  TestServer plain(ServerOptions{}, recorder_.MakeHandler());
  TestServer tls(TlsOptions(), recorder_.MakeHandler());
  std::string garbage;
  uint32_t x = 12345;  // fixed seed: the bytes are the same on every run
  for (int i = 0; i < 5000; ++i) {
    x = x * 1103515245 + 12345;
    garbage.push_back(static_cast<char>(x >> 16));
  }
  for (uint16_t port : {plain.port(), tls.port()}) {
    for (std::string bytes : {garbage, std::string("\r\n\r\n\0\0GET\r\n\r\n", 12),
                              std::string("GET / HTTP/9.9\r\n\r\n")}) {
      RawConn conn(port);
      conn.Send(bytes);
      EXPECT_TRUE(conn.ReadUntilEof(5000ms));
    }
  }
  EXPECT_EQ(Fetch(Plain(plain.port())).value().status, 200u);
  EXPECT_EQ(Fetch(Https(tls.port())).value().status, 200u);
}

TEST_F(HttpTest, MutatedRequestsNeverCrashTheServer) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  ServerOptions options;
  options.read_timeout = 200ms;
  options.idle_timeout = 200ms;
  options.header_limit_bytes = 512;
  options.body_limit_bytes = 64;
  TestServer server(options, recorder_.MakeHandler());
  const std::string base =
      "POST /api/v5/views/?a=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  for (int i = 0; i < 60; ++i) {
    std::string req = base;
    for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
      size_t pos = rng() % req.size();
      switch (rng() % 3) {
        case 0: req[pos] = static_cast<char>(rng()); break;
        case 1: req.insert(pos, std::string(1 + rng() % 300, static_cast<char>(rng()))); break;
        default: req.erase(pos, 1 + rng() % 8); break;
      }
    }
    RawConn conn(server.port());
    conn.Send(req);
    EXPECT_TRUE(conn.ReadUntilEof(5000ms)) << "iteration " << i;
  }
  EXPECT_EQ(Fetch(Plain(server.port())).value().status, 200u);
}

TEST_F(HttpTest, SlowlorisIsCutOffWhileOthersAreServed) {
  for (bool use_tls : {false, true}) {
    ServerOptions options = use_tls ? TlsOptions() : ServerOptions{};
    options.read_timeout = 300ms;
    options.idle_timeout = 60s;
    TestServer server(options, recorder_.MakeHandler());
    RawConn slow(server.port());
    RawConn silent(server.port());  // sends nothing at all
    // Plain: half a header. TLS: half a ClientHello.
    ASSERT_TRUE(slow.Send(use_tls ? std::string("\x16\x03\x01\x02\x00\x01", 6)
                                  : "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    auto start = Clock::now();
    for (int i = 0; i < 3; ++i) {
      auto res = Fetch(use_tls ? Https(server.port()) : Plain(server.port()));
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      EXPECT_EQ(res->status, 200u);
    }
    EXPECT_TRUE(slow.ReadUntilEof(10000ms));
    EXPECT_TRUE(slow.eof());
    EXPECT_TRUE(silent.ReadUntilEof(10000ms));
    EXPECT_TRUE(silent.eof());
    auto elapsed = Clock::now() - start;
    EXPECT_LT(elapsed, 5s);
  }
}

TEST_F(HttpTest, IdleKeptAliveConnectionIsClosed) {
  ServerOptions options;
  options.idle_timeout = 200ms;
  TestServer server(options, recorder_.MakeHandler());
  RawConn conn(server.port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(conn.ReadResponse(5000ms));
  EXPECT_TRUE(conn.ReadUntilEof(5000ms));
  EXPECT_TRUE(conn.eof());
}

TEST_F(HttpTest, ConnectionsBeyondTheLimitAreClosed) {
  ServerOptions options;
  options.max_connections = 2;
  TestServer server(options, recorder_.MakeHandler());
  auto first = std::make_unique<RawConn>(server.port());
  auto second = std::make_unique<RawConn>(server.port());
  // Wait until the server has accepted both.
  for (int i = 0; i < 500 && server.ConnectionCount() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(server.ConnectionCount(), 2u);
  RawConn third(server.port());
  EXPECT_TRUE(third.ReadUntilEof(5000ms));
  EXPECT_TRUE(third.data().empty());
  first.reset();
  second.reset();
  for (int i = 0; i < 500 && server.ConnectionCount() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(Fetch(Plain(server.port())).value().status, 200u);
}

TEST_F(HttpTest, HandlerExceptionBecomes500) {
  TestServer server(ServerOptions{}, recorder_.MakeHandler());
  auto res = Fetch(Plain(server.port(), "/throw"));
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 500u);
  EXPECT_EQ(Fetch(Plain(server.port())).value().status, 200u);
}

TEST_F(HttpTest, NoContentHasNoContentLength) {
  TestServer server(ServerOptions{}, recorder_.MakeHandler());
  RawConn conn(server.port());
  ASSERT_TRUE(conn.Send("DELETE /empty HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(conn.ReadResponse(5000ms));
  std::string first = conn.TakeResponse();
  EXPECT_TRUE(first.starts_with("HTTP/1.1 204")) << first;
  EXPECT_EQ(first.find("Content-Length"), std::string::npos) << first;
  ASSERT_TRUE(conn.ReadResponse(5000ms));
  EXPECT_NE(conn.TakeResponse().find("GET /after"), std::string::npos);
}

TEST_F(HttpTest, ExpectContinueIsAnswered) {
  TestServer server(ServerOptions{}, recorder_.MakeHandler());
  RawConn conn(server.port());
  ASSERT_TRUE(conn.Send("PUT /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        "Content-Length: 3\r\n\r\n"));
  ASSERT_TRUE(conn.ReadResponse(5000ms));
  EXPECT_TRUE(conn.TakeResponse().starts_with("HTTP/1.1 100 Continue")) << conn.data();
  ASSERT_TRUE(conn.Send("xyz"));
  ASSERT_TRUE(conn.ReadResponse(5000ms));
  EXPECT_NE(conn.TakeResponse().find("PUT /c xyz"), std::string::npos);
}

TEST_F(HttpTest, HeadGetsTheHeaderOnly) {
  TestServer server(ServerOptions{}, recorder_.MakeHandler());
  RawConn conn(server.port());
  ASSERT_TRUE(conn.Send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  conn.ReadUntilEof(300ms);  // times out: the connection stays open
  EXPECT_FALSE(conn.eof());
  EXPECT_TRUE(conn.data().starts_with("HTTP/1.1 200")) << conn.data();
  EXPECT_NE(conn.data().find("Content-Length: 8\r\n"), std::string::npos) << conn.data();
  EXPECT_TRUE(conn.data().ends_with("\r\n\r\n")) << conn.data();
}

TEST_F(HttpTest, AdoptServesAnInheritedSocket) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  asio::io_context io;
  Server server(io.get_executor(), ServerOptions{}, recorder_.MakeHandler());
  EXPECT_EQ(server.Adopt(fd).status().code(), Code::kInvalidArgument);  // not listening yet
  ASSERT_EQ(::listen(fd, 16), 0);
  auto port = server.Adopt(fd);
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_NE(*port, 0);
  server.Start();
  std::thread loop([&] { io.run_for(10s); });
  auto res = Fetch(Plain(*port));
  asio::post(io, [&] {
    server.Stop();
    io.stop();
  });
  loop.join();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200u);
}

TEST_F(HttpTest, FetchFailsCleanly) {
  TestServer server(TlsOptions(), recorder_.MakeHandler());
  FetchRequest r = Plain(server.port());  // plain HTTP to a TLS port
  r.timeout = 2s;
  EXPECT_FALSE(Fetch(r).ok());
  EXPECT_EQ(Fetch(Plain(1)).status().code(), Code::kUnavailable);  // nothing listens on port 1
  r.method = "NOT A METHOD";
  EXPECT_EQ(Fetch(r).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace dase::http
