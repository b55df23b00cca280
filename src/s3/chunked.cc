#include "s3/chunked.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "common/check.h"

namespace dase::s3 {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kChunkSignatureExt = ";chunk-signature=";
constexpr std::string_view kTrailerSignatureName = "x-amz-trailer-signature";
constexpr size_t kSignatureHexBytes = 64;
constexpr size_t kSizeHexDigitsMax = 16;

BodyError Fail(BodyErrorKind kind, std::string message) {
  return BodyError{kind, std::move(message)};
}

bool IsSigned(PayloadMode mode) {
  return mode == PayloadMode::kStreamingSigned || mode == PayloadMode::kStreamingSignedTrailer;
}

bool HasTrailers(PayloadMode mode) {
  return mode == PayloadMode::kStreamingSignedTrailer ||
         mode == PayloadMode::kStreamingUnsignedTrailer;
}


int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHexSignature(std::string_view s) {
  return s.size() == kSignatureHexBytes &&
         std::all_of(s.begin(), s.end(), [](char c) { return HexValue(c) >= 0; });
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The body being decoded, consumed from the front.
class Cursor {
 public:
  explicit Cursor(std::string_view body) : rest_(body) {}

  // The next line without its CRLF, at most `max_bytes` long.
  BodyResult<std::string_view> Line(size_t max_bytes, std::string_view what) {
    const size_t end = rest_.substr(0, max_bytes + kCrlf.size()).find(kCrlf);
    if (end == std::string_view::npos) {
      if (rest_.size() < max_bytes + kCrlf.size()) {
        return Fail(BodyErrorKind::kIncompleteBody, "the body ends inside a " + std::string(what));
      }
      return Fail(BodyErrorKind::kInvalidRequest,
                  std::string(what) + " longer than " + std::to_string(max_bytes) + " bytes");
    }
    std::string_view line = rest_.substr(0, end);
    rest_.remove_prefix(end + kCrlf.size());
    return line;
  }

  // Exactly `n` bytes followed by CRLF.
  BodyResult<std::string_view> Data(uint64_t n) {
    // Written so that a huge client-sent n cannot overflow.
    if (n > rest_.size() || rest_.size() - n < kCrlf.size()) {
      return Fail(BodyErrorKind::kIncompleteBody, "the body ends inside a chunk");
    }
    std::string_view data = rest_.substr(0, n);
    if (rest_.substr(n, kCrlf.size()) != kCrlf) {
      return Fail(BodyErrorKind::kInvalidRequest, "chunk data is not followed by CRLF");
    }
    rest_.remove_prefix(n + kCrlf.size());
    return data;
  }

  std::string_view rest() const { return rest_; }
  void Skip(size_t n) { rest_.remove_prefix(n); }

 private:
  std::string_view rest_;
};

struct ChunkHeader {
  uint64_t size = 0;
  std::string_view signature;  // empty in unsigned modes
};

// "<hex size>[;chunk-signature=<sig>]". Unsigned modes ignore any extensions.
BodyResult<ChunkHeader> ParseChunkHeader(std::string_view line, PayloadMode mode) {
  ChunkHeader h;
  const size_t semi = line.find(';');
  const std::string_view size_text = line.substr(0, semi);
  if (size_text.empty() || size_text.size() > kSizeHexDigitsMax) {
    return Fail(BodyErrorKind::kInvalidRequest,
                "bad chunk size '" + std::string(size_text.substr(0, 32)) + "'");
  }
  for (char c : size_text) {
    const int v = HexValue(c);
    if (v < 0) return Fail(BodyErrorKind::kInvalidRequest, "chunk size is not hex");
    h.size = h.size << 4 | static_cast<uint64_t>(v);
  }
  if (!IsSigned(mode)) return h;
  const std::string_view ext = semi == std::string_view::npos ? "" : line.substr(semi);
  if (!ext.starts_with(kChunkSignatureExt) ||
      !IsHexSignature(ext.substr(kChunkSignatureExt.size()))) {
    return Fail(BodyErrorKind::kInvalidRequest,
                "a signed chunk needs ';chunk-signature=<64 hex digits>' and nothing else");
  }
  h.signature = ext.substr(kChunkSignatureExt.size());
  return h;
}

// The x-amz-trailer names, lower case.
BodyResult<std::vector<std::string>> ParseDeclaredTrailers(std::string_view text) {
  std::vector<std::string> names;
  while (!TrimSpaces(text).empty()) {
    const size_t comma = text.find(',');
    std::string name = ToLowerAscii(TrimSpaces(text.substr(0, comma)));
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar) ||
        std::find(names.begin(), names.end(), name) != names.end() ||
        names.size() == kTrailersMax) {
      return Fail(BodyErrorKind::kInvalidRequest, "bad x-amz-trailer header");
    }
    names.push_back(std::move(name));
    text = comma == std::string_view::npos ? "" : text.substr(comma + 1);
  }
  return names;
}

// The trailer section after the final chunk's line: its lines without the closing blank line.
BodyResult<std::vector<std::string_view>> TrailerLines(Cursor& cursor) {
  std::vector<std::string_view> lines;
  // The tolerated variant: a blank line first, then trailers, maybe without a closing blank.
  const bool blank_first = cursor.rest().starts_with(kCrlf) && cursor.rest().size() > kCrlf.size();
  if (blank_first) cursor.Skip(kCrlf.size());
  while (!cursor.rest().empty()) {
    BodyResult<std::string_view> line = cursor.Line(kTrailerLineBytesMax, "trailer line");
    if (!line.ok()) return line.error();
    if (line->empty()) {
      if (!cursor.rest().empty()) {
        return Fail(BodyErrorKind::kInvalidRequest, "bytes after the end of the trailers");
      }
      return lines;
    }
    if (lines.size() == kTrailersMax + 1) {
      return Fail(BodyErrorKind::kInvalidRequest, "too many trailers");
    }
    lines.push_back(*line);
  }
  if (blank_first) return lines;
  return Fail(BodyErrorKind::kIncompleteBody, "the body ends before the trailers end");
}

// Parses, checks against the declaration and (signed mode) verifies the trailers.
BodyResult<void> ReadTrailers(Cursor& cursor, const ChunkedDecodeOptions& options,
                              std::string_view previous_signature, DecodedBody& out) {
  BodyResult<std::vector<std::string>> declared = ParseDeclaredTrailers(options.declared_trailers);
  if (!declared.ok()) return declared.error();
  BodyResult<std::vector<std::string_view>> lines = TrailerLines(cursor);
  if (!lines.ok()) return lines.error();

  std::string canonical;  // "name:value\n" of every trailer but the signature
  std::optional<std::string> signature;
  for (std::string_view line : *lines) {
    if (signature) {
      return Fail(BodyErrorKind::kInvalidRequest,
                  "x-amz-trailer-signature must be the last trailer");
    }
    const size_t colon = line.find(':');
    std::string name = ToLowerAscii(TrimSpaces(line.substr(0, colon)));
    if (colon == std::string_view::npos || name.empty() ||
        !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return Fail(BodyErrorKind::kInvalidRequest, "malformed trailer line");
    }
    std::string value(TrimSpaces(line.substr(colon + 1)));
    if (name == kTrailerSignatureName) {
      signature = std::move(value);
      continue;
    }
    if (std::find(declared->begin(), declared->end(), name) == declared->end()) {
      return Fail(BodyErrorKind::kInvalidRequest,
                  "trailer '" + name + "' was not declared in x-amz-trailer");
    }
    for (const Header& seen : out.trailers) {
      if (seen.first == name) {
        return Fail(BodyErrorKind::kInvalidRequest, "trailer '" + name + "' sent twice");
      }
    }
    if (std::optional<ChecksumAlgorithm> algorithm = ChecksumAlgorithmOfHeader(name)) {
      if (out.checksum) {
        return Fail(BodyErrorKind::kInvalidRequest, "more than one checksum trailer");
      }
      out.checksum = TrailerChecksum{*algorithm, value};
    }
    canonical += name + ":" + value + "\n";
    out.trailers.emplace_back(std::move(name), std::move(value));
  }
  if (out.trailers.size() != declared->size()) {
    return Fail(BodyErrorKind::kInvalidRequest, "a trailer declared in x-amz-trailer did not come");
  }
  if (options.mode == PayloadMode::kStreamingUnsignedTrailer) {
    if (signature) {
      return Fail(BodyErrorKind::kInvalidRequest, "x-amz-trailer-signature in an unsigned body");
    }
    return {};
  }
  if (!signature || !IsHexSignature(*signature)) {
    return Fail(BodyErrorKind::kInvalidRequest, "a signed body needs x-amz-trailer-signature");
  }
  const std::string expected = TrailerSignature(*options.signing, previous_signature, canonical);
  if (!ConstantTimeEquals(expected, ToLowerAscii(*signature))) {
    return Fail(BodyErrorKind::kSignatureDoesNotMatch, "the trailer signature does not match");
  }
  return {};
}

std::string HexSize(uint64_t n) { return fmt::format("{:x}", n); }

Status CheckEncodeOptions(const ChunkedEncodeOptions& options) {
  if (!IsStreaming(options.mode)) return InvalidArgument("not a streaming payload mode");
  if (options.chunk_bytes == 0) return InvalidArgument("chunk_bytes of 0");
  if (IsSigned(options.mode) && options.signing == nullptr) {
    return InvalidArgument("signed streaming needs the signing context");
  }
  if (options.trailer_checksum && !HasTrailers(options.mode)) {
    return InvalidArgument("a trailer checksum needs a trailer mode");
  }
  return Status::Ok();
}

// Appends one chunk (header line, data, CRLF; no data CRLF for a final chunk in a trailer
// mode) and returns its signature (empty if unsigned).
std::string AppendChunk(std::string& out, std::string_view data,
                        const ChunkedEncodeOptions& options, std::string_view previous_signature) {
  out += HexSize(data.size());
  std::string signature;
  if (IsSigned(options.mode)) {
    signature = ChunkSignature(*options.signing, previous_signature, data);
    out += kChunkSignatureExt;
    out += signature;
  }
  out += kCrlf;
  if (!data.empty() || !HasTrailers(options.mode)) {
    out += data;
    out += kCrlf;
  }
  return signature;
}

}  // namespace

std::string_view BodyErrorKindName(BodyErrorKind kind) {
  switch (kind) {
    case BodyErrorKind::kIncompleteBody: return "IncompleteBody";
    case BodyErrorKind::kInvalidRequest: return "InvalidRequest";
    case BodyErrorKind::kSignatureDoesNotMatch: return "SignatureDoesNotMatch";
    case BodyErrorKind::kBadDigest: return "BadDigest";
  }
  return "Unknown";
}

Status BodyError::ToStatus() const {
  std::string text = std::string(BodyErrorKindName(kind)) + ": " + message;
  switch (kind) {
    case BodyErrorKind::kSignatureDoesNotMatch: return Unauthenticated(std::move(text));
    case BodyErrorKind::kBadDigest: return Corruption(std::move(text));
    default: return InvalidArgument(std::move(text));
  }
}

BodyResult<DecodedBody> DecodeChunked(std::string_view body, const ChunkedDecodeOptions& options) {
  if (!IsStreaming(options.mode)) {
    return Fail(BodyErrorKind::kInvalidRequest, "the payload mode is not aws-chunked");
  }
  CHECK(!IsSigned(options.mode) || options.signing != nullptr) << "signed body without a context";
  DecodedBody out;
  out.data.reserve(std::min<uint64_t>(options.decoded_length, body.size()));
  Cursor cursor(body);
  std::string previous = IsSigned(options.mode) ? options.signing->signature : "";
  while (true) {
    BodyResult<std::string_view> line = cursor.Line(kChunkLineBytesMax, "chunk header line");
    if (!line.ok()) return line.error();
    BodyResult<ChunkHeader> header = ParseChunkHeader(*line, options.mode);
    if (!header.ok()) return header.error();
    if (header->size > options.decoded_length - out.data.size()) {
      return Fail(BodyErrorKind::kInvalidRequest,
                  "the chunks hold more than x-amz-decoded-content-length (" +
                      std::to_string(options.decoded_length) + ") bytes");
    }
    std::string_view data;
    if (header->size > 0) {
      BodyResult<std::string_view> d = cursor.Data(header->size);
      if (!d.ok()) return d.error();
      data = *d;
    }
    if (IsSigned(options.mode)) {
      const std::string expected = ChunkSignature(*options.signing, previous, data);
      if (!ConstantTimeEquals(expected, ToLowerAscii(header->signature))) {
        return Fail(BodyErrorKind::kSignatureDoesNotMatch,
                    "the signature of the chunk at decoded offset " +
                        std::to_string(out.data.size()) + " does not match");
      }
      previous = expected;
    }
    out.data.append(data);
    if (header->size == 0) break;
  }
  if (out.data.size() != options.decoded_length) {
    return Fail(BodyErrorKind::kIncompleteBody, "the chunks hold " +
                                                    std::to_string(out.data.size()) +
                                                    " bytes; x-amz-decoded-content-length says " +
                                                    std::to_string(options.decoded_length));
  }
  if (HasTrailers(options.mode)) {
    BodyResult<void> trailers = ReadTrailers(cursor, options, previous, out);
    if (!trailers.ok()) return trailers.error();
    return out;
  }
  // The final chunk's (empty) data is followed by its CRLF, and then the body ends.
  if (cursor.rest().size() < kCrlf.size() && kCrlf.starts_with(cursor.rest())) {
    return Fail(BodyErrorKind::kIncompleteBody, "the body ends inside the final chunk");
  }
  if (cursor.rest() != kCrlf) {
    return Fail(BodyErrorKind::kInvalidRequest, "bytes after the final chunk");
  }
  return out;
}

BodyResult<void> VerifyChecksumDigest(ChecksumAlgorithm algorithm, std::string_view base64,
                                      std::string_view digest) {
  const std::string header = ChecksumHeaderName(algorithm);
  Result<std::string> expected = Base64Decode(base64);
  if (!expected.ok() || expected->size() != ChecksumDigestBytes(algorithm)) {
    return Fail(BodyErrorKind::kInvalidRequest, "value for " + header + " is invalid");
  }
  if (*expected != digest) {
    return Fail(BodyErrorKind::kBadDigest,
                "the " + header + " you specified did not match the calculated checksum");
  }
  return {};
}

BodyResult<void> VerifyChecksum(ChecksumAlgorithm algorithm, std::string_view base64,
                                std::string_view data) {
  return VerifyChecksumDigest(algorithm, base64, ComputeChecksum(algorithm, data));
}

std::string ChunkSignature(const SigningContext& signing, std::string_view previous_signature,
                           std::string_view chunk_data) {
  std::string to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n";
  to_sign.append(signing.timestamp).append("\n");
  to_sign.append(signing.scope).append("\n");
  to_sign.append(previous_signature).append("\n");
  to_sign.append(kEmptySha256Hex).append("\n");
  to_sign.append(Sha256Hex(chunk_data));
  return HexEncode(HmacSha256(signing.signing_key, to_sign));
}

std::string TrailerSignature(const SigningContext& signing, std::string_view previous_signature,
                             std::string_view canonical_trailers) {
  std::string to_sign = "AWS4-HMAC-SHA256-TRAILER\n";
  to_sign.append(signing.timestamp).append("\n");
  to_sign.append(signing.scope).append("\n");
  to_sign.append(previous_signature).append("\n");
  to_sign.append(Sha256Hex(canonical_trailers));
  return HexEncode(HmacSha256(signing.signing_key, to_sign));
}

Result<std::string> EncodeChunked(std::string_view data, const ChunkedEncodeOptions& options) {
  RETURN_IF_ERROR(CheckEncodeOptions(options));
  std::string out;
  std::string previous = IsSigned(options.mode) ? options.signing->signature : "";
  for (size_t pos = 0; pos < data.size(); pos += options.chunk_bytes) {
    previous = AppendChunk(out, data.substr(pos, options.chunk_bytes), options, previous);
  }
  previous = AppendChunk(out, "", options, previous);
  if (!HasTrailers(options.mode)) return out;
  std::string canonical;
  if (options.trailer_checksum) {
    canonical = ChecksumHeaderName(*options.trailer_checksum) + ":" +
                Base64Encode(ComputeChecksum(*options.trailer_checksum, data)) + "\n";
    out += canonical.substr(0, canonical.size() - 1);
    out += kCrlf;
  }
  if (IsSigned(options.mode)) {
    out += std::string(kTrailerSignatureName) + ":" +
           TrailerSignature(*options.signing, previous, canonical);
    out += kCrlf;
  }
  out += kCrlf;
  return out;
}

Result<uint64_t> EncodedChunkedLength(uint64_t decoded_length,
                                      const ChunkedEncodeOptions& options) {
  RETURN_IF_ERROR(CheckEncodeOptions(options));
  const uint64_t ext = IsSigned(options.mode) ? kChunkSignatureExt.size() + kSignatureHexBytes : 0;
  const uint64_t full_chunks = decoded_length / options.chunk_bytes;
  const uint64_t last = decoded_length % options.chunk_bytes;
  uint64_t n = full_chunks * (HexSize(options.chunk_bytes).size() + ext + 2 * kCrlf.size());
  if (last > 0) n += HexSize(last).size() + ext + 2 * kCrlf.size();
  n += decoded_length;
  n += 1 + ext + kCrlf.size();  // "0" [ext] CRLF
  if (!HasTrailers(options.mode)) return n + kCrlf.size();
  if (options.trailer_checksum) {
    const uint64_t digest = ChecksumDigestBytes(*options.trailer_checksum);
    n += ChecksumHeaderName(*options.trailer_checksum).size() + 1 + (digest + 2) / 3 * 4 +
         kCrlf.size();
  }
  if (IsSigned(options.mode)) {
    n += kTrailerSignatureName.size() + 1 + kSignatureHexBytes + kCrlf.size();
  }
  return n + kCrlf.size();
}

}  // namespace dase::s3
