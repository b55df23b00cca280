// ServerConnection: one accepted TCP connection of a Server, and ServerCore, the state the
// Server shares with its connections. Internal to src/rpc.
//
// A connection runs three kinds of coroutine: one reader that parses frames and spawns a
// request coroutine per frame, at most one writer that drains the response queue one
// async_write at a time, and (with an idle timeout) one watchdog. Each holds a shared_ptr to
// the connection, so the connection lives until the last of them finishes.
//
// Thread-safety: none; everything runs on the Server's io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/asio.h"
#include "common/result.h"
#include "common/status.h"
#include "rpc/frame.h"
#include "rpc/server.h"

namespace dase::rpc {

class ServerConnection;

struct ServerCore {
  ServerCore(asio::io_context& io_context, ServerOptions server_options)
      : io(io_context), options(server_options), acceptor(io_context) {}

  asio::io_context& io;
  const ServerOptions options;
  tcp::acceptor acceptor;
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;
  // shared_ptr so a running handler keeps its captures alive even if the Server goes away.
  std::unordered_map<uint32_t, std::shared_ptr<const Handler>> handlers;
  // Weak: a connection is owned by its own coroutines; this map only finds it for Stop().
  std::unordered_map<uint64_t, std::weak_ptr<ServerConnection>> connections;
  uint64_t next_connection_id = 1;
};

class ServerConnection : public std::enable_shared_from_this<ServerConnection> {
 public:
  ServerConnection(std::shared_ptr<ServerCore> core, tcp::socket socket, uint64_t id);

  // Spawns the reader (and the idle watchdog, if configured).
  void Start();
  // Closes the socket at once, dropping queued responses. An OK `why` (server stopping) is not
  // logged; an Unavailable one (the peer went away) is logged at debug level; anything else is
  // a protocol violation and logged as a warning.
  void Close(const Status& why);

 private:
  struct Outgoing {
    std::string frame;    // a whole frame, or only its header when `payload` follows
    std::string payload;  // written after `frame`, not copied into it
    bool answers_request;  // frees a request slot once written
  };

  awaitable<void> ReadLoop(std::shared_ptr<ServerConnection> self);
  // Reads one frame and spawns its request coroutine. On a violation that deserves an answer
  // (unsupported version, oversized payload) it queues the error frame before returning.
  awaitable<Status> ReadOne(const std::shared_ptr<ServerConnection>& self);
  void OnReadError(const Status& status);
  awaitable<void> Serve(std::shared_ptr<ServerConnection> self, FrameHeader header,
                        std::string payload);
  awaitable<Result<std::string>> Dispatch(uint32_t method, std::string payload);
  void Send(Outgoing outgoing);
  awaitable<void> WriteLoop(std::shared_ptr<ServerConnection> self);
  awaitable<void> IdleWatch(std::shared_ptr<ServerConnection> self);
  void Touch() { last_progress_ = std::chrono::steady_clock::now(); }

  std::shared_ptr<ServerCore> core_;
  tcp::socket socket_;
  FrameReader reader_{socket_};
  const uint64_t id_;
  std::string peer_;  // for log lines
  // Never expires on its own: the reader waits on it for a free request slot and the writer
  // cancels it to wake the reader.
  asio::steady_timer slot_timer_;
  asio::steady_timer idle_timer_;
  std::deque<Outgoing> out_;  // at most max_inflight_per_connection + 1 entries
  bool writing_ = false;
  bool open_ = true;
  // No more reads; close once out_ has been written (used to deliver a final error frame).
  bool closing_ = false;
  uint32_t inflight_ = 0;          // requests read whose response is not yet written
  uint32_t handlers_running_ = 0;  // requests whose handler has not returned
  std::chrono::steady_clock::time_point last_progress_;
};

}  // namespace dase::rpc
