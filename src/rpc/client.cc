#include "rpc/client.h"

#include <deque>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "rpc/frame.h"
#include "rpc/spawn.h"

namespace dase::rpc {
namespace {

struct PendingCall;

// A frame waiting to be written: its header, then its payload, either owned or borrowed.
struct OutFrame {
  std::string header;
  std::string owned;
  GatherPayload gathered;  // used when `owned` is empty
};

// One TCP connection and the calls waiting on it. Replaced, never reused, once broken.
struct Connection {
  Connection(asio::io_context& io, std::string peer_host, uint16_t peer_port)
      : host(std::move(peer_host)),
        port(peer_port),
        name(host + ":" + std::to_string(port)),
        socket(io),
        resolver(io),
        connect_timer(io) {}

  const std::string host;
  const uint16_t port;
  const std::string name;  // for messages
  tcp::socket socket;
  FrameReader reader{socket};
  tcp::resolver resolver;
  asio::steady_timer connect_timer;
  bool connect_timed_out = false;
  bool connected = false;
  bool broken = false;
  bool writing = false;
  std::deque<OutFrame> out;  // requests not yet written
  std::unordered_map<uint64_t, PendingCall*> pending;
};

// A call waiting for its response. Lives in the calling coroutine's frame and registers itself
// with the connection for exactly its own lifetime, so the map never holds a dangling pointer.
struct PendingCall {
  PendingCall(asio::io_context& io, const std::shared_ptr<Connection>& c, uint64_t request_id,
              uint32_t method_id)
      : timer(io), connection(c), id(request_id), method(method_id) {
    c->pending.emplace(id, this);
  }
  ~PendingCall() {
    if (auto c = connection.lock()) c->pending.erase(id);
  }
  PendingCall(const PendingCall&) = delete;
  PendingCall& operator=(const PendingCall&) = delete;

  // Completing a call = setting `result`, then cancelling `timer` to wake the caller.
  void Complete(Result<std::string> r) {
    result.emplace(std::move(r));
    timer.cancel();
  }

  asio::steady_timer timer;
  std::weak_ptr<Connection> connection;
  const uint64_t id;
  const uint32_t method;
  std::optional<Result<std::string>> result;
};

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Client::Impl> {
 public:
  Impl(asio::io_context& io, std::string host, uint16_t port, ClientOptions options)
      : io_(io), options_(options), host_(std::move(host)), port_(port) {}

  awaitable<Result<std::string>> Call(Method method, OutFrame frame, uint64_t payload_bytes,
                                      std::chrono::milliseconds timeout);
  void SetEndpoint(std::string host, uint16_t port);
  void Close();

 private:
  std::shared_ptr<Connection> GetConnection();
  awaitable<void> Run(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c);
  awaitable<Status> Connect(std::shared_ptr<Connection> c);
  awaitable<Status> ReadLoop(Connection& c);
  Status Deliver(Connection& c, const FrameHeader& header, std::string payload);
  void StartWriter(const std::shared_ptr<Connection>& c);
  awaitable<void> WriteLoop(std::shared_ptr<Impl> self, std::shared_ptr<Connection> c);
  // Marks `c` broken and fails its waiting calls with `why`. Idempotent.
  void Fail(Connection& c, const Status& why);

  asio::io_context& io_;
  const ClientOptions options_;
  std::string host_;
  uint16_t port_;
  std::shared_ptr<Connection> conn_;  // null until a Call needs one, and after it breaks
  uint64_t next_request_id_ = kConnectionRequestId + 1;
};

awaitable<Result<std::string>> Client::Impl::Call(Method method, OutFrame frame,
                                                  uint64_t payload_bytes,
                                                  std::chrono::milliseconds timeout) {
  const uint32_t method_id = MethodId(method);
  if (payload_bytes > options_.max_payload_bytes) {
    co_return ResourceExhausted("rpc request of " + std::to_string(payload_bytes) +
                                " bytes exceeds the limit of " +
                                std::to_string(options_.max_payload_bytes));
  }
  uint32_t crc = 0;
  if (frame.gathered.pieces.empty()) {
    crc = Crc32c(frame.owned);
  } else {
    for (std::string_view piece : frame.gathered.pieces) crc = Crc32cExtend(crc, piece);
  }
  const std::shared_ptr<Connection> c = GetConnection();
  PendingCall call(io_, c, next_request_id_++, method_id);
  frame.header = EncodeFrameHeader(FrameType::kRequest, method_id, call.id, payload_bytes, crc);
  c->out.push_back(std::move(frame));
  StartWriter(c);
  call.timer.expires_after(timeout);
  auto [ec] = co_await call.timer.async_wait(asio::as_tuple(use_awaitable));
  // A result wins over the timer: it may have arrived just as the deadline passed.
  if (call.result) co_return std::move(*call.result);
  if (ec == asio::error::operation_aborted) co_return Cancelled("rpc call cancelled");
  co_return Timeout("rpc method " + std::to_string(method_id) + " to " + c->name +
                    " timed out after " + std::to_string(timeout.count()) + " ms");
}

void Client::Impl::SetEndpoint(std::string host, uint16_t port) {
  if (host == host_ && port == port_) return;
  host_ = std::move(host);
  port_ = port;
  if (conn_) {
    Fail(*conn_, Unavailable("rpc endpoint changed to " + host_ + ":" + std::to_string(port_)));
  }
}

void Client::Impl::Close() {
  if (conn_) Fail(*conn_, Unavailable("rpc connection to " + conn_->name + " closed by client"));
}

std::shared_ptr<Connection> Client::Impl::GetConnection() {
  if (conn_ && !conn_->broken) return conn_;
  conn_ = std::make_shared<Connection>(io_, host_, port_);
  Spawn(io_, Run(shared_from_this(), conn_), "rpc client connection");
  return conn_;
}

awaitable<void> Client::Impl::Run(std::shared_ptr<Impl> /*self*/, std::shared_ptr<Connection> c) {
  Status why = co_await Connect(c);
  if (why.ok() && !c->broken) {
    c->connected = true;
    StartWriter(c);
    why = co_await ReadLoop(*c);
  }
  // Unavailable is the ordinary end of a connection; anything else means the peer broke the
  // protocol, which deserves a log line and keeps its code in the message.
  const bool ordinary = why.ok() || why.code() == Code::kUnavailable;
  if (!ordinary) LOG_WARN("rpc: dropping connection to {}: {}", c->name, why.ToString());
  Fail(*c, Unavailable("rpc connection to " + c->name + ": " +
                       (ordinary ? std::string(why.message()) : why.ToString())));
}

awaitable<Status> Client::Impl::Connect(std::shared_ptr<Connection> c) {
  // The deadline closes the socket and cancels the lookup, which ends whichever is running.
  c->connect_timer.expires_after(options_.connect_timeout);
  c->connect_timer.async_wait([weak = std::weak_ptr<Connection>(c)](boost::system::error_code ec) {
    auto conn = weak.lock();
    if (ec || !conn) return;
    conn->connect_timed_out = true;
    conn->resolver.cancel();
    boost::system::error_code ignored;
    conn->socket.close(ignored);
  });
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(c->host, ec);
  if (!ec) {
    endpoints.emplace_back(address, c->port);
  } else {
    auto [resolve_ec, results] = co_await c->resolver.async_resolve(
        c->host, std::to_string(c->port), asio::as_tuple(use_awaitable));
    ec = resolve_ec;
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  if (!ec) {
    auto [connect_ec, endpoint] =
        co_await asio::async_connect(c->socket, endpoints, asio::as_tuple(use_awaitable));
    ec = connect_ec;
  }
  c->connect_timer.cancel();
  if (c->connect_timed_out) {
    co_return Unavailable("connect timed out after " +
                          std::to_string(options_.connect_timeout.count()) + " ms");
  }
  if (ec) co_return Unavailable("connect: " + ec.message());
  boost::system::error_code ignored;
  // Requests are small and latency-bound; do not let Nagle hold them back.
  c->socket.set_option(tcp::no_delay(true), ignored);
  co_return Status::Ok();
}

awaitable<Status> Client::Impl::ReadLoop(Connection& c) {
  while (!c.broken) {
    Result<FrameHeader> header = co_await c.reader.ReadHeader();
    if (!header.ok()) co_return header.status();
    if (header->type == FrameType::kRequest) co_return Corruption("peer sent a request frame");
    CO_RETURN_IF_ERROR(CheckPayloadLimit(*header, options_.max_payload_bytes));
    Result<std::string> payload = co_await c.reader.ReadPayload(*header);
    if (!payload.ok()) co_return payload.status();
    CO_RETURN_IF_ERROR(Deliver(c, *header, std::move(*payload)));
  }
  co_return Status::Ok();
}

Status Client::Impl::Deliver(Connection& c, const FrameHeader& header, std::string payload) {
  if (header.request_id == kConnectionRequestId) {
    if (header.type != FrameType::kResponseError) {
      return Corruption("OK response on the connection's request id 0");
    }
    // The peer's verdict on the whole connection (say, an unsupported version) is what every
    // waiting call should see.
    const Status peer_status = DecodeErrorPayload(payload);
    Fail(c, peer_status);
    return peer_status;
  }
  auto it = c.pending.find(header.request_id);
  if (it == c.pending.end()) {
    LOG_DEBUG("rpc: dropping a late reply from {} to request {}", c.name, header.request_id);
    return Status::Ok();
  }
  PendingCall* call = it->second;
  if (call->method != header.method) {
    return Corruption("response to request " + std::to_string(header.request_id) +
                      " names method " + std::to_string(header.method) + ", expected " +
                      std::to_string(call->method));
  }
  c.pending.erase(it);
  if (header.type == FrameType::kResponseOk) {
    call->Complete(std::move(payload));
  } else {
    call->Complete(DecodeErrorPayload(payload));
  }
  return Status::Ok();
}

void Client::Impl::StartWriter(const std::shared_ptr<Connection>& c) {
  if (c->writing || !c->connected || c->broken || c->out.empty()) return;
  c->writing = true;
  Spawn(io_, WriteLoop(shared_from_this(), c), "rpc client write loop");
}

awaitable<void> Client::Impl::WriteLoop(std::shared_ptr<Impl> /*self*/,
                                        std::shared_ptr<Connection> c) {
  while (!c->broken && !c->out.empty()) {
    // Everything queued goes out in one write: concurrent calls cost one syscall, not many.
    std::vector<OutFrame> batch(std::make_move_iterator(c->out.begin()),
                                std::make_move_iterator(c->out.end()));
    c->out.clear();
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(batch.size() * 2);
    for (const OutFrame& frame : batch) {
      buffers.push_back(asio::buffer(frame.header));
      if (frame.gathered.pieces.empty()) {
        if (!frame.owned.empty()) buffers.push_back(asio::buffer(frame.owned));
      } else {
        for (std::string_view piece : frame.gathered.pieces) {
          if (!piece.empty()) buffers.push_back(asio::buffer(piece.data(), piece.size()));
        }
      }
    }
    auto [ec, n] = co_await asio::async_write(c->socket, buffers, TransferAll(),
                                              asio::as_tuple(use_awaitable));
    if (ec) {
      Fail(*c, Unavailable("rpc connection to " + c->name + ": write: " + ec.message()));
      break;
    }
  }
  c->writing = false;
}

void Client::Impl::Fail(Connection& c, const Status& why) {
  if (!c.broken) {
    c.broken = true;
    boost::system::error_code ignored;
    c.socket.close(ignored);
    c.resolver.cancel();
    c.connect_timer.cancel();
    LOG_DEBUG("rpc: connection to {} failed: {}", c.name, why.ToString());
  }
  c.out.clear();
  // Complete() lets each caller resume later; the map is emptied first so none is seen twice.
  std::unordered_map<uint64_t, PendingCall*> pending;
  pending.swap(c.pending);
  for (auto& [id, call] : pending) call->Complete(why);
  if (conn_.get() == &c) conn_.reset();
}

Client::Client(asio::io_context& io, std::string host, uint16_t port, ClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(host), port, options)) {}

Client::~Client() { impl_->Close(); }

awaitable<Result<std::string>> Client::Call(Method method, std::string payload,
                                            std::chrono::milliseconds timeout) {
  // The frame keeps Impl alive even if the Client is destroyed while the call waits.
  const std::shared_ptr<Impl> impl = impl_;
  const uint64_t bytes = payload.size();
  OutFrame frame;
  frame.owned = std::move(payload);
  co_return co_await impl->Call(method, std::move(frame), bytes, timeout);
}

awaitable<Result<std::string>> Client::Call(Method method, GatherPayload payload,
                                            std::chrono::milliseconds timeout) {
  const std::shared_ptr<Impl> impl = impl_;
  uint64_t bytes = 0;
  for (std::string_view piece : payload.pieces) bytes += piece.size();
  OutFrame frame;
  frame.gathered = std::move(payload);
  co_return co_await impl->Call(method, std::move(frame), bytes, timeout);
}

void Client::SetEndpoint(std::string host, uint16_t port) {
  impl_->SetEndpoint(std::move(host), port);
}

void Client::Close() { impl_->Close(); }

}  // namespace dase::rpc
