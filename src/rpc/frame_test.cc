#include "rpc/frame.h"

#include <gtest/gtest.h>

#include <string>

#include "common/coding.h"

namespace dase::rpc {
namespace {

std::string Header(uint32_t magic, uint8_t version, uint8_t type, uint16_t flags,
                   uint32_t payload_len = 0) {
  Writer w;
  w.PutU32(magic);
  w.PutU8(version);
  w.PutU8(type);
  w.PutU16(flags);
  w.PutU32(7);   // method
  w.PutU64(42);  // request id
  w.PutU32(payload_len);
  w.PutU32(0);
  return std::move(w).Release();
}

TEST(FrameTest, Crc32cMatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(FrameTest, EncodeDecodeRoundTrip) {
  const std::string frame = EncodeFrame(FrameType::kResponseOk, 300, 0x1122334455667788ull, "abc");
  ASSERT_EQ(frame.size(), kFrameHeaderBytes + 3);
  EXPECT_EQ(frame.substr(0, 4), "DRPC");  // the magic reads as ASCII on the wire
  auto h = DecodeFrameHeader(std::string_view(frame).substr(0, kFrameHeaderBytes));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->version, kFrameVersion);
  EXPECT_EQ(h->type, FrameType::kResponseOk);
  EXPECT_EQ(h->flags, 0);
  EXPECT_EQ(h->method, 300u);
  EXPECT_EQ(h->request_id, 0x1122334455667788ull);
  EXPECT_EQ(h->payload_len, 3u);
  EXPECT_EQ(h->payload_crc, Crc32c("abc"));
  EXPECT_TRUE(VerifyPayload(*h, "abc").ok());
  EXPECT_EQ(VerifyPayload(*h, "abd").code(), Code::kCorruption);
  EXPECT_EQ(VerifyPayload(*h, "ab").code(), Code::kCorruption);
}

TEST(FrameTest, RejectsBadHeaders) {
  EXPECT_EQ(DecodeFrameHeader(Header(0x12345678, 1, 0, 0)).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeFrameHeader(Header(kFrameMagic, 2, 0, 0)).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(DecodeFrameHeader(Header(kFrameMagic, 1, 3, 0)).status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeFrameHeader(Header(kFrameMagic, 1, 0, 1)).status().code(), Code::kCorruption);
  EXPECT_TRUE(DecodeFrameHeader(Header(kFrameMagic, 1, 2, 0)).ok());
}

TEST(FrameTest, PayloadLimit) {
  auto h = DecodeFrameHeader(Header(kFrameMagic, 1, 0, 0, 1025));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(CheckPayloadLimit(*h, 1024).code(), Code::kResourceExhausted);
  EXPECT_TRUE(CheckPayloadLimit(*h, 1025).ok());
}

TEST(FrameTest, ErrorPayloadRoundTrip) {
  const Status s = NotFound("no such node cnode-9");
  const Status back = DecodeErrorPayload(EncodeErrorPayload(s));
  EXPECT_EQ(back.code(), Code::kNotFound);
  EXPECT_EQ(back.message(), "no such node cnode-9");
}

TEST(FrameTest, ErrorPayloadTruncatesLongMessages) {
  const Status back =
      DecodeErrorPayload(EncodeErrorPayload(Internal(std::string(kMaxErrorMessageBytes + 9, 'x'))));
  EXPECT_EQ(back.code(), Code::kInternal);
  EXPECT_EQ(back.message().size(), kMaxErrorMessageBytes);
}

TEST(FrameTest, MalformedErrorPayloads) {
  Writer ok_code;
  ok_code.PutU32(0);
  ok_code.PutString("fine");
  EXPECT_EQ(DecodeErrorPayload(ok_code.data()).code(), Code::kCorruption);

  Writer unknown;
  unknown.PutU32(999);
  unknown.PutString("from the future");
  const Status u = DecodeErrorPayload(unknown.data());
  EXPECT_EQ(u.code(), Code::kInternal);
  EXPECT_NE(u.message().find("999"), std::string_view::npos);
  EXPECT_NE(u.message().find("from the future"), std::string_view::npos);

  Writer trailing;
  trailing.PutU32(static_cast<uint32_t>(Code::kNotFound));
  trailing.PutString("x");
  trailing.PutU8(0);
  EXPECT_EQ(DecodeErrorPayload(trailing.data()).code(), Code::kCorruption);

  EXPECT_EQ(DecodeErrorPayload("ab").code(), Code::kCorruption);
}

}  // namespace
}  // namespace dase::rpc
