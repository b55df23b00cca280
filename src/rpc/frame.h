// Frame: the unit of the RPC wire format (docs/formats/rpc.md), plus the coroutines that read
// one off a socket.
//
// Every message is a 28-byte fixed header followed by the payload. Encoding and decoding are
// pure functions; the reading coroutines bound every allocation by the header's payload length,
// which callers check against their limit before reading the payload.
//
// Thread-safety: the functions are pure; the coroutines use the socket they are given, which
// must not be read concurrently by anything else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/asio.h"
#include "common/result.h"
#include "common/status.h"

namespace dase::rpc {

// The ASCII bytes "DRPC" read as a little-endian u32.
inline constexpr uint32_t kFrameMagic = 0x43505244;
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 28;
// Request id 0 is never used by a call: an error frame carrying it concerns the whole
// connection (for example an unsupported version), not one call.
inline constexpr uint64_t kConnectionRequestId = 0;
// Error messages longer than this are truncated when encoded and rejected when decoded.
inline constexpr size_t kMaxErrorMessageBytes = 16 * 1024;

enum class FrameType : uint8_t {
  kRequest = 0,
  kResponseOk = 1,
  kResponseError = 2,
};

struct FrameHeader {
  uint8_t version = kFrameVersion;
  FrameType type = FrameType::kRequest;
  uint16_t flags = 0;
  uint32_t method = 0;
  uint64_t request_id = 0;
  uint32_t payload_len = 0;
  uint32_t payload_crc = 0;
};

// CRC32C (Castagnoli), as used by iSCSI: the checksum of the empty string is 0.
uint32_t Crc32c(std::string_view data);
// The CRC32C of `data` continued from `crc` (the CRC32C of what came before; 0 to start).
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);

// The header and payload of one frame, ready to write. The payload must fit a u32 length;
// callers enforce their (smaller) payload limit first.
std::string EncodeFrame(FrameType type, uint32_t method, uint64_t request_id,
                        std::string_view payload);
// A response frame for `result`: its value as an OK frame, or its status as an error frame.
std::string EncodeResponse(uint32_t method, uint64_t request_id, const Result<std::string>& result);
// Only the kFrameHeaderBytes header of a frame whose payload of `payload_len` bytes, with
// CRC32C `payload_crc`, is written right after it (from memory of the caller's, not copied).
std::string EncodeFrameHeader(FrameType type, uint32_t method, uint64_t request_id,
                              uint64_t payload_len, uint32_t payload_crc);

// asio's async_read and async_write move at most 64 KiB per system call by default; this
// completion condition lets each call move everything that is left (a 1 MiB payload is one
// recv or send instead of sixteen).
struct TransferAll {
  size_t operator()(const boost::system::error_code& ec, size_t /*done*/) const {
    return ec ? 0 : size_t{1} << 30;
  }
};

// Parses kFrameHeaderBytes bytes. Corruption for a bad magic, type or nonzero flags;
// FailedPrecondition for a version other than kFrameVersion (the peer may want to say so).
Result<FrameHeader> DecodeFrameHeader(std::string_view bytes);
// ResourceExhausted if the payload is longer than `max_payload_bytes`.
Status CheckPayloadLimit(const FrameHeader& header, uint32_t max_payload_bytes);
// Corruption unless `payload` matches the header's length and checksum.
Status VerifyPayload(const FrameHeader& header, std::string_view payload);

// The payload of an error frame: u32 status code, then the message as a string.
std::string EncodeErrorPayload(const Status& status);
// The error Status an error frame carries. Corruption if the payload is malformed or claims
// code OK; a code this build does not know becomes Internal, naming the code.
Status DecodeErrorPayload(std::string_view payload);

// Reads frames from a socket through a buffer: each receive takes whatever has arrived (up to
// kBufferBytes), so frames sent back to back cost one system call between them instead of two
// each, and are handed out without returning to the event loop in between (a DNode whose write
// buffer group-commits on the loop sees them as one batch). A payload too large for the buffer
// is read straight into its own string.
class FrameReader {
 public:
  static constexpr size_t kBufferBytes = 64 << 10;

  explicit FrameReader(tcp::socket& socket) : socket_(socket) {}
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // The next header. Unavailable on any socket error or end of stream; otherwise as
  // DecodeFrameHeader.
  awaitable<Result<FrameHeader>> ReadHeader();
  // The payload `header` announces, its checksum verified. The string grows as bytes arrive,
  // so a peer that announces a large payload and sends little costs little memory.
  awaitable<Result<std::string>> ReadPayload(const FrameHeader& header);

 private:
  size_t buffered() const { return end_ - begin_; }
  // Receives at least once, until `want` bytes are buffered; Unavailable on a socket error.
  awaitable<Status> Fill(size_t want, const char* what);

  tcp::socket& socket_;
  std::string buffer_;
  size_t begin_ = 0;  // buffer_[begin_, end_) has been received and not handed out
  size_t end_ = 0;
};

}  // namespace dase::rpc
