#include "rpc/server_connection.h"

#include <exception>
#include <iterator>
#include <utility>
#include <vector>

#include "common/log.h"
#include "rpc/spawn.h"

namespace dase::rpc {
namespace {

std::string PeerName(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

ServerConnection::ServerConnection(std::shared_ptr<ServerCore> core, tcp::socket socket,
                                   uint64_t id)
    : core_(std::move(core)),
      socket_(std::move(socket)),
      id_(id),
      peer_(PeerName(socket_)),
      slot_timer_(core_->io, asio::steady_timer::time_point::max()),
      idle_timer_(core_->io) {
  Touch();
}

void ServerConnection::Start() {
  Spawn(core_->io, ReadLoop(shared_from_this()), "rpc server read loop");
  if (core_->options.idle_timeout.count() > 0) {
    Spawn(core_->io, IdleWatch(shared_from_this()), "rpc server idle watch");
  }
}

void ServerConnection::Close(const Status& why) {
  if (!open_) return;
  open_ = false;
  if (why.code() == Code::kUnavailable) {
    LOG_DEBUG("rpc: connection from {} ended: {}", peer_, why.ToString());
  } else if (!why.ok()) {
    LOG_WARN("rpc: closing connection from {}: {}", peer_, why.ToString());
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  slot_timer_.cancel();
  idle_timer_.cancel();
  out_.clear();
  core_->connections.erase(id_);
}

awaitable<void> ServerConnection::ReadLoop(std::shared_ptr<ServerConnection> self) {
  const uint32_t max_inflight = core_->options.max_inflight_per_connection;
  while (open_ && !closing_) {
    // At the in-flight limit, stop reading: TCP flow control then slows the client down,
    // instead of requests piling up here.
    while (open_ && inflight_ >= max_inflight) {
      co_await slot_timer_.async_wait(asio::as_tuple(use_awaitable));
    }
    if (!open_) break;
    const Status status = co_await ReadOne(self);
    if (!status.ok()) {
      OnReadError(status);
      break;
    }
  }
}

awaitable<Status> ServerConnection::ReadOne(const std::shared_ptr<ServerConnection>& self) {
  Result<FrameHeader> header = co_await reader_.ReadHeader();
  if (!header.ok()) {
    if (header.status().code() == Code::kFailedPrecondition) {
      // An unknown version: the rest of its header may mean something else, so answer on
      // request id 0, which a client reads as "about the whole connection".
      Send(Outgoing{EncodeResponse(0, kConnectionRequestId, header.status()), {}, false});
    }
    co_return header.status();
  }
  if (header->type != FrameType::kRequest) {
    co_return Corruption("expected a request frame, got type " +
                         std::to_string(static_cast<int>(header->type)));
  }
  const Status limit = CheckPayloadLimit(*header, core_->options.max_payload_bytes);
  if (!limit.ok()) {
    Send(Outgoing{EncodeResponse(header->method, header->request_id, limit), {}, false});
    co_return limit;
  }
  Result<std::string> payload = co_await reader_.ReadPayload(*header);
  if (!payload.ok()) co_return payload.status();
  Touch();
  ++inflight_;
  ++handlers_running_;
  Spawn(core_->io, Serve(self, *header, std::move(*payload)), "rpc server request");
  co_return Status::Ok();
}

void ServerConnection::OnReadError(const Status& status) {
  if (!open_) return;  // closed under us (Stop, idle, write error): nothing to add
  const Code code = status.code();
  if (code != Code::kFailedPrecondition && code != Code::kResourceExhausted) {
    Close(status);
    return;
  }
  // An error frame is queued; stop reading and close once it is written.
  LOG_WARN("rpc: closing connection from {} after an error frame: {}", peer_, status.ToString());
  closing_ = true;
  if (!writing_) Close(Status::Ok());  // Ok: already logged
}

awaitable<void> ServerConnection::Serve(std::shared_ptr<ServerConnection> /*self*/,
                                        FrameHeader header, std::string payload) {
  Result<std::string> result = co_await Dispatch(header.method, std::move(payload));
  --handlers_running_;
  Touch();
  if (result.ok() && result->size() > core_->options.max_payload_bytes) {
    result = ResourceExhausted("rpc response of " + std::to_string(result->size()) +
                               " bytes exceeds the limit of " +
                               std::to_string(core_->options.max_payload_bytes));
  }
  if (!open_) co_return;  // nobody to answer
  if (!result.ok()) {
    Send(Outgoing{EncodeResponse(header.method, header.request_id, result), {}, true});
    co_return;
  }
  // The payload goes out after the header as it is (a 1 MiB chunk read is not copied again).
  std::string answer = std::move(result).value();
  std::string frame_header = EncodeFrameHeader(FrameType::kResponseOk, header.method,
                                               header.request_id, answer.size(), Crc32c(answer));
  Send(Outgoing{std::move(frame_header), std::move(answer), true});
}

awaitable<Result<std::string>> ServerConnection::Dispatch(uint32_t method, std::string payload) {
  auto it = core_->handlers.find(method);
  if (it == core_->handlers.end()) {
    co_return InvalidArgument("unknown rpc method " + std::to_string(method));
  }
  // A copy, so the handler (and its captures) outlives an unregistering or destroyed Server.
  const std::shared_ptr<const Handler> handler = it->second;
  try {
    co_return co_await (*handler)(std::move(payload));
  } catch (const std::exception& e) {
    co_return Internal("rpc method " + std::to_string(method) + " threw: " + e.what());
  } catch (...) {
    co_return Internal("rpc method " + std::to_string(method) + " threw");
  }
}

void ServerConnection::Send(Outgoing outgoing) {
  if (!open_) return;
  out_.push_back(std::move(outgoing));
  if (!writing_) {
    writing_ = true;
    Spawn(core_->io, WriteLoop(shared_from_this()), "rpc server write loop");
  }
}

awaitable<void> ServerConnection::WriteLoop(std::shared_ptr<ServerConnection> /*self*/) {
  while (open_ && !out_.empty()) {
    // Everything queued goes out in one write: concurrent answers cost one syscall, not many.
    std::vector<Outgoing> batch(std::make_move_iterator(out_.begin()),
                                std::make_move_iterator(out_.end()));
    out_.clear();
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(batch.size() * 2);
    for (const Outgoing& next : batch) {
      buffers.push_back(asio::buffer(next.frame));
      if (!next.payload.empty()) buffers.push_back(asio::buffer(next.payload));
    }
    auto [ec, n] = co_await asio::async_write(socket_, buffers, TransferAll(),
                                              asio::as_tuple(use_awaitable));
    if (ec) {
      Close(Unavailable("write rpc frame: " + ec.message()));
      break;
    }
    Touch();
    uint32_t answered = 0;
    for (const Outgoing& next : batch) answered += next.answers_request ? 1 : 0;
    if (answered > 0) {
      inflight_ -= answered;
      slot_timer_.cancel();  // wakes the reader if it waits for a slot
    }
  }
  writing_ = false;
  if (closing_) Close(Status::Ok());
}

awaitable<void> ServerConnection::IdleWatch(std::shared_ptr<ServerConnection> /*self*/) {
  const auto idle = core_->options.idle_timeout;
  while (open_) {
    // A running handler is not idleness: check again a full period later.
    if (handlers_running_ > 0) {
      idle_timer_.expires_after(idle);
    } else {
      idle_timer_.expires_at(last_progress_ + idle);
    }
    co_await idle_timer_.async_wait(asio::as_tuple(use_awaitable));
    if (!open_) break;
    if (handlers_running_ == 0 && std::chrono::steady_clock::now() - last_progress_ >= idle) {
      Close(Unavailable("idle for " + std::to_string(idle.count()) + " ms"));
    }
  }
}

}  // namespace dase::rpc
