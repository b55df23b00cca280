#include "rpc/frame.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <limits>

#include "common/check.h"
#include "common/coding.h"

namespace dase::rpc {
namespace {

// Payloads are read in pieces no larger than this, so memory follows the bytes that arrived.
constexpr size_t kReadChunkBytes = 1 << 20;

std::string Fmt(std::string_view what, uint64_t value) {
  return std::string(what) + " " + std::to_string(value);
}

Status SocketError(std::string_view what, const boost::system::error_code& ec) {
  if (ec == asio::error::eof) return Unavailable(std::string(what) + ": connection closed by peer");
  return Unavailable(std::string(what) + ": " + ec.message());
}

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, std::string_view data) {
  // ISA-L's crc32_iscsi neither inverts its seed nor its result; the standard CRC32C does both.
  crc = ~crc;
  while (!data.empty()) {
    // crc32_iscsi takes an int length, so feed it at most INT_MAX bytes at a time.
    const size_t n = std::min<size_t>(data.size(), std::numeric_limits<int>::max());
    auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
    crc = crc32_iscsi(p, static_cast<int>(n), crc);
    data.remove_prefix(n);
  }
  return ~crc;
}

uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

std::string EncodeFrameHeader(FrameType type, uint32_t method, uint64_t request_id,
                              uint64_t payload_len, uint32_t payload_crc) {
  CHECK(payload_len <= std::numeric_limits<uint32_t>::max()) << payload_len;
  Writer w;
  w.PutU32(kFrameMagic);
  w.PutU8(kFrameVersion);
  w.PutU8(static_cast<uint8_t>(type));
  w.PutU16(0);  // flags
  w.PutU32(method);
  w.PutU64(request_id);
  w.PutU32(static_cast<uint32_t>(payload_len));
  w.PutU32(payload_crc);
  CHECK(w.size() == kFrameHeaderBytes);
  return std::move(w).Release();
}

std::string EncodeFrame(FrameType type, uint32_t method, uint64_t request_id,
                        std::string_view payload) {
  std::string frame =
      EncodeFrameHeader(type, method, request_id, payload.size(), Crc32c(payload));
  frame.append(payload);
  return frame;
}

std::string EncodeResponse(uint32_t method, uint64_t request_id,
                           const Result<std::string>& result) {
  if (result.ok()) return EncodeFrame(FrameType::kResponseOk, method, request_id, *result);
  return EncodeFrame(FrameType::kResponseError, method, request_id,
                     EncodeErrorPayload(result.status()));
}

Result<FrameHeader> DecodeFrameHeader(std::string_view bytes) {
  CHECK(bytes.size() == kFrameHeaderBytes) << bytes.size();
  Reader r(bytes);
  // The header is exactly kFrameHeaderBytes long, so none of these reads can underflow.
  FrameHeader h;
  const uint32_t magic = *r.GetU32();
  if (magic != kFrameMagic) return Corruption(Fmt("bad rpc frame magic", magic));
  h.version = *r.GetU8();
  if (h.version != kFrameVersion)
    return FailedPrecondition(Fmt("unsupported rpc version", h.version));
  const uint8_t type = *r.GetU8();
  if (type > static_cast<uint8_t>(FrameType::kResponseError)) {
    return Corruption(Fmt("bad rpc frame type", type));
  }
  h.type = static_cast<FrameType>(type);
  h.flags = *r.GetU16();
  if (h.flags != 0) return Corruption(Fmt("bad rpc frame flags", h.flags));
  h.method = *r.GetU32();
  h.request_id = *r.GetU64();
  h.payload_len = *r.GetU32();
  h.payload_crc = *r.GetU32();
  return h;
}

Status CheckPayloadLimit(const FrameHeader& header, uint32_t max_payload_bytes) {
  if (header.payload_len <= max_payload_bytes) return Status::Ok();
  return ResourceExhausted("rpc payload of " + std::to_string(header.payload_len) +
                           " bytes exceeds the limit of " + std::to_string(max_payload_bytes));
}

Status VerifyPayload(const FrameHeader& header, std::string_view payload) {
  if (payload.size() != header.payload_len) {
    return Corruption(Fmt("rpc payload length mismatch:", payload.size()));
  }
  const uint32_t crc = Crc32c(payload);
  if (crc != header.payload_crc) {
    return Corruption("rpc payload checksum mismatch: header " +
                      std::to_string(header.payload_crc) + ", computed " + std::to_string(crc));
  }
  return Status::Ok();
}

std::string EncodeErrorPayload(const Status& status) {
  CHECK(!status.ok());
  Writer w;
  w.PutU32(static_cast<uint32_t>(status.code()));
  w.PutString(status.message().substr(0, kMaxErrorMessageBytes));
  return std::move(w).Release();
}

Status DecodeErrorPayload(std::string_view payload) {
  Reader r(payload);
  auto code = r.GetU32();
  if (!code.ok()) return code.status().WithContext("rpc error frame");
  auto message = r.GetString(kMaxErrorMessageBytes);
  if (!message.ok()) return Corruption("rpc error frame: " + message.status().ToString());
  Status end = r.ExpectEnd();
  if (!end.ok()) return end.WithContext("rpc error frame");
  if (*code == 0) return Corruption("rpc error frame carries code OK");
  const auto c = static_cast<Code>(*code);
  if (CodeName(c) == "Unknown") {
    return Internal(Fmt("unknown status code", *code) + ": " + *message);
  }
  return Status(c, std::move(*message));
}

awaitable<Status> FrameReader::Fill(size_t want, const char* what) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (buffer_.size() - begin_ < want) {  // make room: move what is left to the front
    buffer_.erase(0, begin_);
    end_ -= begin_;
    begin_ = 0;
    buffer_.resize(std::max(want, kBufferBytes));
  }
  while (buffered() < want) {
    auto [ec, n] = co_await socket_.async_read_some(
        asio::buffer(buffer_.data() + end_, buffer_.size() - end_), asio::as_tuple(use_awaitable));
    if (ec) co_return SocketError(what, ec);
    end_ += n;
  }
  co_return Status::Ok();
}

awaitable<Result<FrameHeader>> FrameReader::ReadHeader() {
  if (buffered() < kFrameHeaderBytes) {
    CO_RETURN_IF_ERROR(co_await Fill(kFrameHeaderBytes, "read rpc frame header"));
  }
  const std::string_view bytes(buffer_.data() + begin_, kFrameHeaderBytes);
  begin_ += kFrameHeaderBytes;
  co_return DecodeFrameHeader(bytes);
}

awaitable<Result<std::string>> FrameReader::ReadPayload(const FrameHeader& header) {
  const size_t len = header.payload_len;
  std::string payload;
  if (len <= kBufferBytes) {
    if (buffered() < len) CO_RETURN_IF_ERROR(co_await Fill(len, "read rpc frame payload"));
    payload.assign(buffer_.data() + begin_, len);
    begin_ += len;
  } else {
    // Large: what the buffer holds of it, then the rest straight into the payload.
    payload.assign(buffer_.data() + begin_, buffered());
    begin_ = end_ = 0;
    while (payload.size() < len) {
      const size_t old_size = payload.size();
      const size_t chunk = std::min<size_t>(len - old_size, kReadChunkBytes);
      payload.resize(old_size + chunk);
      auto [ec, n] =
          co_await asio::async_read(socket_, asio::buffer(payload.data() + old_size, chunk),
                                    TransferAll(), asio::as_tuple(use_awaitable));
      if (ec) co_return SocketError("read rpc frame payload", ec);
    }
  }
  CO_RETURN_IF_ERROR(VerifyPayload(header, payload));
  co_return payload;
}

}  // namespace dase::rpc
