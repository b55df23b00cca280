// aws-chunked request bodies (Content-Encoding: aws-chunked): decoding with chunk and trailer
// signature checks, checksum verification, and encoding (tests, the load generator).
//
// Framing, by x-amz-content-sha256 (PayloadMode):
//
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD
//     <hex size>;chunk-signature=<sig>\r\n <data> \r\n   ...   0;chunk-signature=<sig>\r\n \r\n
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
//     <hex size>;chunk-signature=<sig>\r\n <data> \r\n   ...   0;chunk-signature=<sig>\r\n
//     x-amz-checksum-crc32c:<base64>\r\n x-amz-trailer-signature:<sig>\r\n \r\n
//   STREAMING-UNSIGNED-PAYLOAD-TRAILER (boto3, awscli and the other SDKs' default for PUTs)
//     <hex size>\r\n <data> \r\n   ...   0\r\n  x-amz-checksum-crc32:<base64>\r\n  \r\n
//
// Chunk signatures chain from the request's seed signature (sigv4.h's SigningContext):
//   HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n<timestamp>\n<scope>\n<previous signature>\n"
//             "<hex SHA-256 of "">\n<hex SHA-256 of the chunk data>")
// and the trailer signature from the final (empty) chunk's:
//   HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n<timestamp>\n<scope>\n<previous signature>\n"
//             "<hex SHA-256 of the trailers as "name:value\n" lines>")
// (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// sigv4-streaming-trailers.html).
//
// The decoder takes the whole body in memory. It is strict about framing (CRLF line ends, hex
// sizes, nothing after the end) with one tolerance: some clients put the empty final chunk's
// CRLF before the trailers ("0;...\r\n\r\n<trailers>") and then end without a blank line.
// Everything a client controls is bounded: chunk header lines (kChunkLineBytesMax), trailer
// lines (kTrailerLineBytesMax, kTrailersMax), and the decoded size, which must equal
// x-amz-decoded-content-length.
//
// Thread-safety: free functions without shared state; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "s3/checksum.h"
#include "s3/outcome.h"
#include "s3/sigv4.h"

namespace dase::s3 {

inline constexpr size_t kChunkLineBytesMax = 1024;
inline constexpr size_t kTrailerLineBytesMax = 1024;
inline constexpr size_t kTrailersMax = 8;  // besides x-amz-trailer-signature

// Each kind is one answer of the S3 server (S3 error code in brackets).
enum class BodyErrorKind {
  kIncompleteBody,         // [IncompleteBody]: the body ends early, or decodes to fewer bytes
                           // than x-amz-decoded-content-length
  kInvalidRequest,         // [InvalidRequest]: bad framing, a limit exceeded, more bytes than
                           // declared, trailers not as declared, a checksum value that is not
                           // base64 of the right length
  kSignatureDoesNotMatch,  // [SignatureDoesNotMatch]: a chunk or trailer signature
  kBadDigest,              // [BadDigest]: a checksum does not match the data
};
std::string_view BodyErrorKindName(BodyErrorKind kind);

struct BodyError {
  BodyErrorKind kind;
  std::string message;

  // For logs and generic paths: InvalidArgument, Unauthenticated or Corruption.
  Status ToStatus() const;
};

template <typename T>
using BodyResult = Outcome<T, BodyError>;

struct ChunkedDecodeOptions {
  PayloadMode mode = PayloadMode::kStreamingUnsignedTrailer;  // one of the streaming modes
  uint64_t decoded_length = 0;                                // x-amz-decoded-content-length
  // The verified request's context; required (non-null) for the two signed modes.
  const SigningContext* signing = nullptr;
  // The x-amz-trailer header as sent ("x-amz-checksum-crc32", names comma-separated), empty
  // if absent. The trailers received must be exactly these.
  std::string_view declared_trailers;
};

struct TrailerChecksum {
  ChecksumAlgorithm algorithm;
  std::string base64;  // as sent; check it with VerifyChecksum
};

struct DecodedBody {
  std::string data;
  // Received trailers in order, names in lower case, values trimmed; without the signature.
  std::vector<Header> trailers;
  // The x-amz-checksum-* trailer, if one came.
  std::optional<TrailerChecksum> checksum;
};

BodyResult<DecodedBody> DecodeChunked(std::string_view body, const ChunkedDecodeOptions& options);

// Checks `data` against a checksum header or trailer value: kInvalidRequest if `base64` is not
// the base64 of a digest of the algorithm's length, kBadDigest if it differs. The Digest form
// takes a raw digest computed as the data streamed in (Checksummer::Final()).
BodyResult<void> VerifyChecksum(ChecksumAlgorithm algorithm, std::string_view base64,
                                std::string_view data);
BodyResult<void> VerifyChecksumDigest(ChecksumAlgorithm algorithm, std::string_view base64,
                                      std::string_view digest);

// Lowercase hex signatures, as above.
std::string ChunkSignature(const SigningContext& signing, std::string_view previous_signature,
                           std::string_view chunk_data);
std::string TrailerSignature(const SigningContext& signing, std::string_view previous_signature,
                             std::string_view canonical_trailers);

struct ChunkedEncodeOptions {
  PayloadMode mode = PayloadMode::kStreamingUnsignedTrailer;  // one of the streaming modes
  size_t chunk_bytes = 64 * 1024;  // every chunk but the last; at least 1
  // From SignRequest; required (non-null) for the two signed modes.
  const SigningContext* signing = nullptr;
  // A checksum trailer (trailer modes only); send x-amz-trailer: ChecksumHeaderName(*it).
  std::optional<ChecksumAlgorithm> trailer_checksum;
};

// The body for `data`. InvalidArgument for a mode that is not streaming, a trailer checksum
// without a trailer mode, chunk_bytes of 0 or a missing signing context.
Result<std::string> EncodeChunked(std::string_view data, const ChunkedEncodeOptions& options);
// EncodeChunked's output length for `decoded_length` bytes, known before signing (for a
// signed Content-Length header).
Result<uint64_t> EncodedChunkedLength(uint64_t decoded_length, const ChunkedEncodeOptions& options);

}  // namespace dase::s3
