#include "http/server.h"

#include <sys/socket.h>

#include <array>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/check.h"
#include "common/log.h"

namespace dase::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using SslStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr auto kTuple = asio::as_tuple(use_awaitable);
// Bytes of the first read of a request: only waits for the connection to become active.
constexpr size_t kFirstReadBytes = 4096;
// Bounds on reading and discarding what a client still sends after a final response: closing a
// socket with unread input sends RST, which can destroy the response before the client reads it.
constexpr size_t kLingerBytesMax = 256 * 1024;
constexpr auto kLingerMax = std::chrono::seconds(2);
constexpr auto kAcceptErrorBackoff = std::chrono::milliseconds(100);

// What to do with a connection after one request.
enum class After {
  kNextRequest,
  kClose,        // the exchange is complete: close politely
  kLingerClose,  // an error response was sent; the client may still be sending
  kDrop,         // the connection failed or timed out: just close it
};

template <typename Stream>
constexpr bool kIsTls = std::is_same_v<Stream, SslStream>;

bool IsParseError(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

Response PlainResponse(bhttp::status status, std::string_view text) {
  Response res{status, 11};
  res.set(bhttp::field::content_type, "text/plain");
  res.body() = std::string(text) + "\n";
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

}  // namespace

struct internal::ServerState {
  ServerState(asio::any_io_executor ex, ServerOptions opts, Handler h)
      : executor(std::move(ex)), options(std::move(opts)), handler(std::move(h)) {}

  asio::any_io_executor executor;
  ServerOptions options;
  Handler handler;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  // The lowest layer of every open connection, so Stop() can close them.
  std::unordered_map<uint64_t, beast::tcp_stream*> connections;
  // Accepted connections not yet finished; counted from accept on, so a burst of accepts cannot
  // overshoot max_connections before their sessions start.
  size_t open_connections = 0;
  uint64_t next_connection_id = 0;
  bool started = false;
  bool stopped = false;
};

namespace {

using State = internal::ServerState;

// Keeps a connection in State::connections for as long as its session runs.
class ConnectionRegistration {
 public:
  ConnectionRegistration(State& state, beast::tcp_stream* stream)
      : state_(state), id_(state.next_connection_id++) {
    state_.connections.emplace(id_, stream);
  }
  ~ConnectionRegistration() { state_.connections.erase(id_); }
  ConnectionRegistration(const ConnectionRegistration&) = delete;
  ConnectionRegistration& operator=(const ConnectionRegistration&) = delete;

 private:
  State& state_;
  uint64_t id_;
};

// Holds one unit of State::open_connections for the life of a connection coroutine.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::shared_ptr<State> state) : state_(std::move(state)) {
    ++state_->open_connections;
  }
  ConnectionSlot(ConnectionSlot&& other) noexcept : state_(std::move(other.state_)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (state_) --state_->open_connections;
  }

 private:
  std::shared_ptr<State> state_;
};

enum class Body { kSend, kOmit };  // kOmit: the answer to HEAD carries the header only

// The status line and header fields of `res` as Beast's serializer writes them, in one buffer.
std::string SerializedHeader(const Response& res) {
  std::string out;
  size_t bytes = 64;
  for (const auto& field : res) bytes += field.name_string().size() + field.value().size() + 4;
  out.reserve(bytes);
  out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(res.result_int()));
  out.push_back(' ');
  out.append(res.reason());
  out.append("\r\n");
  for (const auto& field : res) {
    out.append(field.name_string());
    out.append(": ");
    out.append(field.value());
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

template <typename Stream>
awaitable<After> SendFinal(State& state, Stream& stream, Response res, After after,
                           Body body = Body::kSend) {
  beast::get_lowest_layer(stream).expires_after(state.options.write_timeout);
  boost::system::error_code ec;
  if (res.chunked()) {  // not what FinishResponse makes; Beast frames it
    if (body == Body::kSend) {
      std::tie(ec, std::ignore) = co_await bhttp::async_write(stream, res, kTuple);
    } else {
      bhttp::response_serializer<bhttp::string_body> serializer(res);
      std::tie(ec, std::ignore) = co_await bhttp::async_write_header(stream, serializer, kTuple);
    }
    co_return ec ? After::kDrop : after;
  }
  // Header and body in one gathered write: one syscall for most answers, and the body is
  // never copied.
  const std::string header = SerializedHeader(res);
  const std::array<asio::const_buffer, 2> buffers{
      asio::buffer(header),
      body == Body::kSend ? asio::buffer(res.body()) : asio::const_buffer()};
  std::tie(ec, std::ignore) = co_await asio::async_write(stream, buffers, kTuple);
  co_return ec ? After::kDrop : after;
}

// Answers a failed read: a response for a bad request, nothing for a dead connection.
template <typename Stream>
awaitable<After> RejectRead(State& state, Stream& stream, const boost::system::error_code& ec) {
  if (ec == bhttp::error::header_limit) {
    co_return co_await SendFinal(
        state, stream,
        PlainResponse(bhttp::status::request_header_fields_too_large, "request header too large"),
        After::kLingerClose);
  }
  if (ec == bhttp::error::body_limit) {
    co_return co_await SendFinal(
        state, stream, PlainResponse(bhttp::status::payload_too_large, "request body too large"),
        After::kLingerClose);
  }
  if (IsParseError(ec) && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    co_return co_await SendFinal(
        state, stream, PlainResponse(bhttp::status::bad_request, "malformed request: " + ec.message()),
        After::kLingerClose);
  }
  co_return After::kDrop;
}

awaitable<Response> CallHandler(State& state, Request& req, const PeerInfo& peer) {
  try {
    co_return co_await state.handler(req, peer);
  } catch (const std::exception& e) {
    LOG_ERROR("HTTP handler threw on {} {}: {}", std::string(req.method_string()),
              std::string(req.target()), e.what());
  } catch (...) {
    LOG_ERROR("HTTP handler threw a non-exception on {}", std::string(req.target()));
  }
  co_return PlainResponse(bhttp::status::internal_server_error, "internal error");
}

// Fixes up the handler's response for this request; false if the response was unsendable.
bool FinishResponse(Response& res, const Request& req) {
  bool keep_alive = req.keep_alive() && res.keep_alive();
  res.version(req.version());
  res.keep_alive(keep_alive);
  if (res.result() == bhttp::status::no_content) {
    // RFC 9110 §8.6: no Content-Length in a 204.
    res.erase(bhttp::field::content_length);
    res.erase(bhttp::field::transfer_encoding);
    if (res.body().empty()) return true;
    LOG_ERROR("HTTP handler sent a body with 204 to {}", std::string(req.target()));
    return false;
  }
  if (req.method() == bhttp::verb::head && res.body().empty() &&
      res.count(bhttp::field::content_length) != 0) {
    return true;  // the handler says how long the body of a GET would be
  }
  try {
    res.prepare_payload();
  } catch (const std::exception& e) {
    LOG_ERROR("HTTP handler response to {} is invalid: {}", std::string(req.target()), e.what());
    return false;
  }
  return true;
}

// Refuses framing that a proxy in front of us could read differently (request smuggling).
bool HasAmbiguousFraming(const bhttp::request_parser<bhttp::string_body>& parser) {
  const Request& req = parser.get();
  if (req.count(bhttp::field::transfer_encoding) == 0) return false;
  return req.count(bhttp::field::content_length) != 0 || !parser.chunked();
}

template <typename Stream>
awaitable<boost::system::error_code> SendContinue(Stream& stream, const Request& req) {
  bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, req.version()};
  auto [ec, n] = co_await bhttp::async_write(stream, cont, kTuple);
  co_return ec;
}

// Reads one request (header, then body) under read_timeout.
template <typename Stream>
awaitable<std::optional<After>> ReadRequest(State& state, Stream& stream,
                                            beast::flat_buffer& buffer,
                                            bhttp::request_parser<bhttp::string_body>& parser) {
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(state.options.read_timeout);
  parser.header_limit(static_cast<uint32_t>(state.options.header_limit_bytes));
  parser.body_limit(state.options.body_limit_bytes);
  auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
  if (ec) co_return co_await RejectRead(state, stream, ec);
  if (HasAmbiguousFraming(parser)) {
    co_return co_await SendFinal(
        state, stream, PlainResponse(bhttp::status::bad_request, "ambiguous message framing"),
        After::kLingerClose);
  }
  // Always answered, even for an empty body: some clients (botocore) otherwise take the final
  // response for the interim one and misread the next exchange on the connection.
  if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
    if (co_await SendContinue(stream, parser.get())) co_return After::kDrop;
  }
  if (!parser.is_done()) {
    auto [body_ec, body_n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    if (body_ec) co_return co_await RejectRead(state, stream, body_ec);
  }
  co_return std::nullopt;
}

// A new connection must deliver its first request within read_timeout; a kept-alive one may
// first wait idle_timeout for the request to begin.
enum class Wait { kFirstRequest, kKeptAlive };

template <typename Stream>
awaitable<After> ServeOne(State& state, Stream& stream, beast::flat_buffer& buffer,
                          const PeerInfo& peer, Wait wait) {
  auto& tcp = beast::get_lowest_layer(stream);
  if (wait == Wait::kKeptAlive && buffer.size() == 0) {
    tcp.expires_after(state.options.idle_timeout);
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstReadBytes), kTuple);
    if (ec) co_return After::kDrop;
    buffer.commit(n);
  }
  bhttp::request_parser<bhttp::string_body> parser;
  std::optional<After> rejected = co_await ReadRequest(state, stream, buffer, parser);
  if (rejected) co_return *rejected;
  Request req = parser.release();
  tcp.expires_never();
  Response res = co_await CallHandler(state, req, peer);
  if (state.stopped) co_return After::kDrop;
  if (!FinishResponse(res, req)) {
    res = PlainResponse(bhttp::status::internal_server_error, "internal error");
    CHECK(FinishResponse(res, req));
  }
  bool keep_alive = res.keep_alive();
  co_return co_await SendFinal(state, stream, std::move(res),
                               keep_alive ? After::kNextRequest : After::kClose,
                               req.method() == bhttp::verb::head ? Body::kOmit : Body::kSend);
}

// Half-closes, then reads and discards input for a bounded time so the client sees our last
// response followed by EOF rather than a reset.
awaitable<void> LingerAndClose(State& state, beast::tcp_stream& tcp) {
  boost::system::error_code ignored;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ignored);
  tcp.expires_after(std::min<std::chrono::steady_clock::duration>(state.options.read_timeout,
                                                                   kLingerMax));
  std::array<char, 4096> sink;
  size_t drained = 0;
  while (drained < kLingerBytesMax && !state.stopped) {
    auto [ec, n] = co_await tcp.async_read_some(asio::buffer(sink), kTuple);
    if (ec) break;
    drained += n;
  }
  tcp.close();
}

template <typename Stream>
awaitable<void> Close(State& state, Stream& stream, After after) {
  auto& tcp = beast::get_lowest_layer(stream);
  if (after == After::kDrop || state.stopped) {
    tcp.close();
    co_return;
  }
  if constexpr (kIsTls<Stream>) {
    if (after == After::kClose) {
      tcp.expires_after(std::min<std::chrono::steady_clock::duration>(
          state.options.write_timeout, kLingerMax));
      auto [ec] = co_await stream.async_shutdown(kTuple);
      if (ec) {
        tcp.close();
        co_return;
      }
    }
  }
  co_await LingerAndClose(state, tcp);
}

template <typename Stream>
awaitable<void> Serve(std::shared_ptr<State> state, Stream& stream, PeerInfo peer) {
  ConnectionRegistration registration(*state, &beast::get_lowest_layer(stream));
  if (state->stopped) co_return;  // stopped between accept and now: Stop() did not see us
  if constexpr (kIsTls<Stream>) {
    beast::get_lowest_layer(stream).expires_after(state->options.read_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (ec) {
      LOG_DEBUG("TLS handshake with {} failed: {}", peer.remote.address().to_string(),
                ec.message());
      beast::get_lowest_layer(stream).close();
      co_return;
    }
  }
  beast::flat_buffer buffer;
  After after = co_await ServeOne(*state, stream, buffer, peer, Wait::kFirstRequest);
  while (after == After::kNextRequest && !state->stopped) {
    after = co_await ServeOne(*state, stream, buffer, peer, Wait::kKeptAlive);
  }
  co_await Close(*state, stream, after);
}

// `slot` lives in the coroutine frame, so it is released however the connection ends.
awaitable<void> RunConnection(std::shared_ptr<State> state, [[maybe_unused]] ConnectionSlot slot,
                              tcp::socket socket) {
  boost::system::error_code ec;
  PeerInfo peer{socket.remote_endpoint(ec), state->options.tls != nullptr};
  if (state->options.tls) {
    SslStream stream(beast::tcp_stream(std::move(socket)), *state->options.tls);
    co_await Serve(state, stream, peer);
  } else {
    beast::tcp_stream stream(std::move(socket));
    co_await Serve(state, stream, peer);
  }
}

void LogEscaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    LOG_ERROR("HTTP connection failed: {}", ex.what());
  } catch (...) {
    LOG_ERROR("HTTP connection failed with a non-exception");
  }
}

awaitable<void> AcceptLoop(std::shared_ptr<State> state, tcp::acceptor& acceptor) {
  while (!state->stopped) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (state->stopped || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Usually EMFILE: back off instead of spinning on a listener that stays readable.
      LOG_WARN("HTTP accept failed: {}", ec.message());
      asio::steady_timer backoff(state->executor, kAcceptErrorBackoff);
      co_await backoff.async_wait(kTuple);
      continue;
    }
    if (state->open_connections >= state->options.max_connections) {
      LOG_WARN("HTTP connection limit {} reached; refusing a connection",
               state->options.max_connections);
      socket.close(ec);
      continue;
    }
    asio::co_spawn(state->executor,
                   RunConnection(state, ConnectionSlot(state), std::move(socket)), LogEscaped);
  }
}

}  // namespace

Server::Server(asio::any_io_executor executor, ServerOptions options, Handler handler)
    : state_(std::make_shared<State>(std::move(executor), std::move(options), std::move(handler))) {
  CHECK(state_->handler) << "Server needs a handler";
  CHECK(state_->options.max_connections > 0);
  CHECK(state_->options.header_limit_bytes > 0);
}

Server::~Server() { Stop(); }

Result<uint16_t> Server::Listen(const std::string& host, uint16_t port) {
  if (state_->stopped) return FailedPrecondition("server stopped");
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("listen address is not an IP literal: '" + host + "'");
  tcp::endpoint endpoint(address, port);
  auto acceptor = std::make_unique<tcp::acceptor>(state_->executor);
  std::string where = fmt::format("listen on {}:{}", host, port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable(where + ": " + ec.message());
  uint16_t bound = acceptor->local_endpoint(ec).port();
  if (ec) return Unavailable(where + ": " + ec.message());
  state_->acceptors.push_back(std::move(acceptor));
  if (state_->started) {
    asio::co_spawn(state_->executor, AcceptLoop(state_, *state_->acceptors.back()), LogEscaped);
  }
  return bound;
}

Result<uint16_t> Server::Adopt(int listening_fd) {
  if (state_->stopped) return FailedPrecondition("server stopped");
  sockaddr_storage addr{};
  socklen_t addr_len = sizeof(addr);
  if (::getsockname(listening_fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    return ErrnoStatus(fmt::format("adopt listening fd {}", listening_fd), errno);
  }
  int listening = 0;
  socklen_t opt_len = sizeof(listening);
  if (::getsockopt(listening_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &opt_len) != 0 ||
      listening == 0) {
    return InvalidArgument(fmt::format("fd {} is not a listening socket", listening_fd));
  }
  tcp protocol = addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  auto acceptor = std::make_unique<tcp::acceptor>(state_->executor);
  boost::system::error_code ec;
  acceptor->assign(protocol, listening_fd, ec);
  if (ec) {
    return Unavailable(fmt::format("adopt listening fd {}: {}", listening_fd, ec.message()));
  }
  uint16_t bound = acceptor->local_endpoint(ec).port();
  state_->acceptors.push_back(std::move(acceptor));
  if (state_->started) {
    asio::co_spawn(state_->executor, AcceptLoop(state_, *state_->acceptors.back()), LogEscaped);
  }
  return bound;
}

void Server::Start() {
  if (state_->started || state_->stopped) return;
  state_->started = true;
  for (auto& acceptor : state_->acceptors) {
    asio::co_spawn(state_->executor, AcceptLoop(state_, *acceptor), LogEscaped);
  }
}

void Server::Stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  for (auto& acceptor : state_->acceptors) acceptor->close(ignored);
  // Closing only cancels; sessions unregister later, from their own completions.
  for (auto& [id, stream] : state_->connections) stream->close();
}

size_t Server::connection_count() const { return state_->open_connections; }

}  // namespace dase::http
