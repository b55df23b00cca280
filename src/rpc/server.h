// Server: answers framed RPCs (docs/formats/rpc.md) on one TCP listening socket.
//
// Handlers are registered per Method and run as coroutines on the server's io_context. Every
// request runs in its own coroutine, so a slow handler does not hold up the others on the same
// connection; responses go back in order of completion. Every Server answers Method::kPing by
// echoing the payload.
//
// Limits, all from ServerOptions: payload size (a larger frame closes the connection after an
// error frame), connections (more are accepted and closed at once), requests in flight per
// connection (beyond it the server stops reading from that connection until one is answered,
// so TCP pushes back on the client; nothing queues without bound), and an optional idle
// timeout.
//
// A handler's error Status reaches the client with the same code and message. Handlers that
// throw are answered with Internal; nothing thrown escapes the server.
//
// Thread-safety: none. Call every method from the thread running the io_context (one
// io_context, one thread per process). The Server may be destroyed while connections or
// handlers are still running: it stops first, and what is left holds its own state alive until
// it finishes. Stop() does not cancel running handlers; they run to completion and their
// answers are dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/asio.h"
#include "common/result.h"
#include "rpc/methods.h"

namespace dase::rpc {

struct ServerOptions {
  uint32_t max_payload_bytes = 64 << 20;
  uint32_t max_connections = 1024;
  uint32_t max_inflight_per_connection = 64;
  // A connection that has no handler running and has not read or written a whole frame for
  // this long is closed. Zero means never.
  std::chrono::milliseconds idle_timeout{0};
};

// Takes the request payload, returns the response payload or an error.
using Handler = std::function<awaitable<Result<std::string>>(std::string payload)>;

struct ServerCore;  // state shared with connections, which may outlive the Server

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Each method has at most one handler; registering a second one (including for kPing, which
  // every Server has) is a programmer error.
  void Register(Method method, Handler handler);

  // Binds and listens (SO_REUSEADDR). Port 0 picks an ephemeral port. Returns the bound port.
  Result<uint16_t> Listen(const std::string& host, uint16_t port);
  // Serves on a socket that is already bound and listening, for example one inherited from a
  // parent process across exec. The Server owns `listening_fd` from then on, and marks it
  // close-on-exec so it does not leak further. Returns the bound port.
  Result<uint16_t> Adopt(int listening_fd);

  // Starts accepting. Call after Listen or Adopt succeeded.
  void Start();
  // Stops accepting and closes every connection. Idempotent.
  void Stop();

  // The bound port, or 0 before Listen/Adopt.
  uint16_t port() const;

 private:
  std::shared_ptr<ServerCore> core_;
};

}  // namespace dase::rpc
