// Server: an HTTP/1.1 server (keep-alive, optional TLS) that hands each request to one Handler.
//
// Every limit a client controls is bounded by ServerOptions: header and body sizes (431 and
// 413, then the connection closes), the time to deliver a whole request once its first byte
// arrived (read_timeout, so a slowloris client cannot hold a connection), the time a kept-alive
// connection may sit idle, and the number of open connections (beyond it, new connections are
// accepted and closed at once). Malformed requests, including ones carrying both Content-Length
// and Transfer-Encoding, get 400 and a close. A Handler that throws produces 500.
//
// Thread-safety: not thread-safe. A Server, its handler invocations and its connections all run
// on the one io_context it was given; call every method from that context's thread. Stop()
// closes the listeners and every connection; a handler invocation suspended at that moment is
// resumed (with its connection gone) or destroyed with the io_context, so whatever the handler
// captures must outlive the io_context's run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/asio.h"
#include "common/result.h"

namespace dase::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct PeerInfo {
  tcp::endpoint remote;
  bool tls = false;
};

// Returns the response for `request`; the server sets its version, keep-alive and length (an
// answer to HEAD with an empty body may set Content-Length itself: the length a GET would get).
using Handler = std::function<awaitable<Response>(Request& request, const PeerInfo& peer)>;

struct ServerOptions {
  size_t header_limit_bytes = 16 * 1024;
  uint64_t body_limit_bytes = 16 * 1024 * 1024;
  // Bounds the TLS handshake, a new connection's wait for its whole first request, and each
  // later request from its first byte to its last (slowloris).
  std::chrono::steady_clock::duration read_timeout = std::chrono::seconds(30);
  // How long a kept-alive connection may wait for the next request.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(60);
  // For writing one response; a client that stops reading is cut off after it.
  std::chrono::steady_clock::duration write_timeout = std::chrono::seconds(30);
  size_t max_connections = 256;
  // nullptr serves plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

namespace internal {
struct ServerState;
}  // namespace internal

class Server {
 public:
  Server(asio::any_io_executor executor, ServerOptions options, Handler handler);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds a listener to an IP literal ("127.0.0.1", "::", "0.0.0.0"); port 0 picks a free one.
  // Returns the bound port. May be called more than once, before or after Start().
  Result<uint16_t> Listen(const std::string& host, uint16_t port);
  // Serves on a listening socket inherited from a parent process; takes ownership of the fd on
  // success only. Returns its port.
  Result<uint16_t> Adopt(int listening_fd);

  // Starts accepting on every listener. Idempotent.
  void Start();
  // Closes every listener and connection. Idempotent; the server cannot be restarted.
  void Stop();

  // Open connections, including ones being closed.
  size_t connection_count() const;

 private:
  // Shared with every accept loop and connection, so it outlives the Server until they finish.
  std::shared_ptr<internal::ServerState> state_;
};

}  // namespace dase::http
