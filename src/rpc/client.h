// Client: calls RPCs on one peer (docs/formats/rpc.md) over one lazily made TCP connection.
//
// Concurrent calls share the connection and are matched to responses by request id, so a slow
// call does not hold up a fast one. Outcomes of Call:
//   - the response payload, or the peer's error Status with its code and message intact;
//   - Timeout when the deadline passes first: the call may or may not have run on the peer,
//     and a reply that arrives later is dropped;
//   - Unavailable when the connection cannot be made (within connect_timeout) or breaks: every
//     call waiting on it fails, and the next Call connects again;
//   - ResourceExhausted, without sending, for a payload above max_payload_bytes;
//   - Cancelled when the calling coroutine is cancelled through asio's cancellation slot.
// A response larger than max_payload_bytes, or any malformed frame, breaks the connection.
//
// Thread-safety: none. Use from the thread running the io_context. The Client may be destroyed
// with calls in flight: they complete with Unavailable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "rpc/methods.h"

namespace dase::rpc {

// A request payload sent as `pieces` back to back, never copied into a frame: the pieces
// borrow memory that `owner` keeps alive, and the connection holds `owner` until the frame is
// written or dropped, so a call may end (a timeout) while its bytes are still queued.
struct GatherPayload {
  std::vector<std::string_view> pieces;
  std::shared_ptr<const void> owner;
};

struct ClientOptions {
  uint32_t max_payload_bytes = 64 << 20;
  std::chrono::milliseconds connect_timeout{2000};
};

class Client {
 public:
  Client(asio::io_context& io, std::string host, uint16_t port, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  awaitable<Result<std::string>> Call(Method method, std::string payload,
                                      std::chrono::milliseconds timeout);
  awaitable<Result<std::string>> Call(Method method, GatherPayload payload,
                                      std::chrono::milliseconds timeout);

  // Points later calls at a new address. If it differs from the current one, the current
  // connection is closed and the calls waiting on it fail with Unavailable.
  void SetEndpoint(std::string host, uint16_t port);
  // Closes the connection; waiting calls fail with Unavailable. A later Call reconnects.
  void Close();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with running coroutines, which may outlive the Client
};

}  // namespace dase::rpc
