// Binary coding: Writer appends fields to a byte string, Reader takes them back off a borrowed
// byte string, both in one fixed encoding so bytes written on one host read the same on another.
//
// Encoding: fixed-width integers are little-endian; varints are LEB128 (7 bits a byte, low
// group first, at most 10 bytes for a u64); a "string" is a varint byte count followed by the
// bytes. Every Reader method that returns a length-delimited value takes the largest length
// the caller accepts, because the length comes from the peer: a bound is what keeps a
// corrupted or hostile length from turning into a huge allocation.
//
// Errors: a Reader that runs out of bytes or meets a malformed varint returns Corruption; a
// length above the caller's bound returns InvalidArgument. After an error the Reader's position
// is unspecified; callers stop decoding.
//
// Thread-safety: both are plain values with no shared state; use one object from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"
#include "common/status.h"

namespace dase {

class Writer {
 public:
  Writer() = default;
  // Appends to `initial` (for example a buffer whose capacity was reserved).
  explicit Writer(std::string initial) : buf_(std::move(initial)) {}

  void PutU8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void PutU16(uint16_t v) { PutFixed(v, 2); }
  void PutU32(uint32_t v) { PutFixed(v, 4); }
  void PutU64(uint64_t v) { PutFixed(v, 8); }
  void PutVarint64(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }
  // Varint length, then the bytes.
  void PutString(std::string_view s) {
    PutVarint64(s.size());
    buf_.append(s);
  }
  // The bytes only; the reader must know the length some other way.
  void PutRaw(std::string_view s) { buf_.append(s); }

  size_t size() const { return buf_.size(); }
  const std::string& data() const { return buf_; }
  std::string Release() && { return std::move(buf_); }

 private:
  void PutFixed(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }

  std::string buf_;
};

class Reader {
 public:
  // Borrows `data`: it must outlive the Reader and every string_view the Reader returns.
  explicit Reader(std::string_view data) : data_(data) {}
  explicit Reader(const char* data) : data_(data) {}
  // A temporary string would die before the Reader is used.
  explicit Reader(std::string&& data) = delete;

  Result<uint8_t> GetU8() { return GetFixed<uint8_t>(1); }
  Result<uint16_t> GetU16() { return GetFixed<uint16_t>(2); }
  Result<uint32_t> GetU32() { return GetFixed<uint32_t>(4); }
  Result<uint64_t> GetU64() { return GetFixed<uint64_t>(8); }

  Result<uint64_t> GetVarint64() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (data_.empty()) return Corruption("truncated varint");
      const auto byte = static_cast<uint8_t>(data_.front());
      data_.remove_prefix(1);
      // The tenth byte holds bit 63 only; anything more would overflow a u64.
      if (shift == 63 && byte > 1) return Corruption("varint overflows 64 bits");
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return Corruption("varint longer than 10 bytes");
  }

  // A length-prefixed string of at most `max_bytes` bytes, borrowed from the input.
  Result<std::string_view> GetStringView(size_t max_bytes) {
    ASSIGN_OR_RETURN(const uint64_t len, GetVarint64());
    if (len > max_bytes) {
      return InvalidArgument("string of " + std::to_string(len) + " bytes exceeds limit " +
                             std::to_string(max_bytes));
    }
    return GetRaw(static_cast<size_t>(len));
  }
  Result<std::string> GetString(size_t max_bytes) {
    ASSIGN_OR_RETURN(const std::string_view s, GetStringView(max_bytes));
    return std::string(s);
  }
  // Exactly `n` bytes with no length prefix.
  Result<std::string_view> GetRaw(size_t n) {
    if (n > data_.size()) {
      return Corruption("need " + std::to_string(n) + " bytes, have " +
                        std::to_string(data_.size()));
    }
    std::string_view out = data_.substr(0, n);
    data_.remove_prefix(n);
    return out;
  }

  // Corruption unless every byte was consumed: trailing bytes mean the writer and reader
  // disagree about the layout.
  Status ExpectEnd() const {
    if (data_.empty()) return Status::Ok();
    return Corruption(std::to_string(data_.size()) + " unexpected trailing bytes");
  }

  size_t remaining() const { return data_.size(); }
  std::string_view rest() const { return data_; }

 private:
  template <typename T>
  Result<T> GetFixed(size_t bytes) {
    ASSIGN_OR_RETURN(const std::string_view raw, GetRaw(bytes));
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(raw[i])) << (8 * i);
    }
    return static_cast<T>(v);
  }

  std::string_view data_;
};

}  // namespace dase
