// Checksums and digests of S3 payloads, and the text encodings they travel in.
//
// S3 clients send a whole-object checksum in a header or an aws-chunked trailer named
// x-amz-checksum-<suffix>, whose value is the base64 of the big-endian digest bytes:
//
//   algorithm   header suffix  x-amz-checksum-algorithm value  digest bytes
//   CRC-32      crc32          CRC32                           4  (zlib/gzip polynomial)
//   CRC-32C     crc32c         CRC32C                          4  (Castagnoli)
//   CRC-64/NVME crc64nvme      CRC64NVME                       8
//   SHA-1       sha1           SHA1                            20
//   SHA-256     sha256         SHA256                          32
//
// MD5 is not one of them (Content-MD5 and ETags use it); Checksummer::Md5() computes it the same
// way. The CRCs run on ISA-L where it has the polynomial (CRC-32, CRC-32C); CRC-64/NVME is
// table-driven here because the ISA-L we build against (Debian 12's 2.30) predates its
// crc64_rocksoft functions. The hashes are OpenSSL's EVP.
//
// Decoders are strict: every accepted text has exactly one byte string and vice versa, so a
// checksum compares equal as text exactly when it compares equal as bytes.
//
// Thread-safety: the free functions have no shared state. A Checksummer is a value that one
// thread uses at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dase::s3 {

enum class ChecksumAlgorithm { kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256 };

// "crc32", "crc32c", "crc64nvme", "sha1", "sha256" (the x-amz-checksum-* header suffix).
std::string_view ChecksumSuffix(ChecksumAlgorithm algorithm);
// "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256".
std::string_view ChecksumAlgorithmName(ChecksumAlgorithm algorithm);
// "x-amz-checksum-crc32", ...
std::string ChecksumHeaderName(ChecksumAlgorithm algorithm);
// Length of the raw digest: 4, 4, 8, 20, 32.
size_t ChecksumDigestBytes(ChecksumAlgorithm algorithm);

// Parsers are case-insensitive (header names are; SDKs send the values in upper case). An
// unknown name is InvalidArgument.
//   ParseChecksumSuffix("crc64nvme"), ParseChecksumAlgorithmName("CRC32C") (the values of
//   x-amz-checksum-algorithm and x-amz-sdk-checksum-algorithm).
Result<ChecksumAlgorithm> ParseChecksumSuffix(std::string_view suffix);
Result<ChecksumAlgorithm> ParseChecksumAlgorithmName(std::string_view name);
// The algorithm of a checksum header or trailer name ("x-amz-checksum-sha256"), or nullopt if
// `name` is not one (including x-amz-checksum-algorithm, -type and -mode).
std::optional<ChecksumAlgorithm> ChecksumAlgorithmOfHeader(std::string_view name);

// An incremental checksum or digest: Update() any number of times, then Final() once.
class Checksummer {
 public:
  explicit Checksummer(ChecksumAlgorithm algorithm);
  static Checksummer Md5();
  ~Checksummer();
  Checksummer(Checksummer&&) noexcept;
  Checksummer& operator=(Checksummer&&) noexcept;
  Checksummer(const Checksummer&) = delete;
  Checksummer& operator=(const Checksummer&) = delete;

  void Update(std::string_view data);
  // The raw digest, big-endian for the CRCs (what S3 base64-encodes). Calling Update() or
  // Final() after Final() is a programmer error.
  std::string Final();

 private:
  enum class Kind { kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256, kMd5 };
  struct Evp;
  explicit Checksummer(Kind kind);

  Kind kind_;
  bool finished_ = false;
  uint64_t crc_ = 0;          // the running CRC, in the form each CRC function continues from
  std::unique_ptr<Evp> evp_;  // the digest context, for the hashes
};

// One-shot forms: raw digest bytes.
std::string ComputeChecksum(ChecksumAlgorithm algorithm, std::string_view data);
std::string Md5(std::string_view data);
std::string Sha256(std::string_view data);
// The CRCs as numbers, for known-answer tests and callers that keep them as integers.
uint32_t Crc32(std::string_view data);
uint32_t Crc32c(std::string_view data);
uint64_t Crc64Nvme(std::string_view data);

// RFC 4648 §4 base64 with padding. Decode rejects characters outside the alphabet, missing or
// misplaced '=', whitespace, and non-zero unused bits.
std::string Base64Encode(std::string_view data);
Result<std::string> Base64Decode(std::string_view text);

// Lowercase hex. Decode accepts either case and rejects odd lengths and non-hex characters.
std::string HexEncode(std::string_view data);
Result<std::string> HexDecode(std::string_view text);

}  // namespace dase::s3
