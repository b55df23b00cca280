#include "common/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace dase {
namespace {

TEST(CodingTest, FixedIntegersAreLittleEndian) {
  Writer w;
  w.PutU8(0x01);
  w.PutU16(0x0302);
  w.PutU32(0x07060504);
  w.PutU64(0x0f0e0d0c0b0a0908ull);
  const std::string& b = w.data();
  ASSERT_EQ(b.size(), 15u);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(static_cast<uint8_t>(b[i]), i + 1) << i;

  Reader r(b);
  EXPECT_EQ(*r.GetU8(), 0x01);
  EXPECT_EQ(*r.GetU16(), 0x0302);
  EXPECT_EQ(*r.GetU32(), 0x07060504u);
  EXPECT_EQ(*r.GetU64(), 0x0f0e0d0c0b0a0908ull);
  EXPECT_TRUE(r.ExpectEnd().ok());
}

TEST(CodingTest, VarintRoundTripsBoundaries) {
  const uint64_t values[] = {
      0, 1, 127, 128, 16383, 16384, (1ull << 35) + 7, std::numeric_limits<uint64_t>::max()};
  Writer w;
  for (uint64_t v : values) w.PutVarint64(v);
  Reader r(w.data());
  for (uint64_t v : values) {
    auto got = r.GetVarint64();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, v);
  }
  EXPECT_TRUE(r.ExpectEnd().ok());
}

TEST(CodingTest, VarintSizes) {
  auto encoded_size = [](uint64_t v) {
    Writer w;
    w.PutVarint64(v);
    return w.size();
  };
  EXPECT_EQ(encoded_size(0), 1u);
  EXPECT_EQ(encoded_size(127), 1u);
  EXPECT_EQ(encoded_size(128), 2u);
  EXPECT_EQ(encoded_size(std::numeric_limits<uint64_t>::max()), 10u);
}

TEST(CodingTest, MalformedVarints) {
  // Reader borrows its input, so each input is a named string that outlives its Reader.
  const std::string truncated_bytes("\x80\x80", 2);
  Reader truncated(truncated_bytes);
  EXPECT_EQ(truncated.GetVarint64().status().code(), Code::kCorruption);

  // Ten bytes whose last carries more than bit 63.
  const std::string overflow_bytes = std::string(9, '\xff') + '\x02';
  Reader overflow(overflow_bytes);
  EXPECT_EQ(overflow.GetVarint64().status().code(), Code::kCorruption);

  const std::string too_long_bytes(11, '\x80');
  Reader too_long(too_long_bytes);
  EXPECT_EQ(too_long.GetVarint64().status().code(), Code::kCorruption);
}

TEST(CodingTest, StringsRoundTrip) {
  Writer w;
  w.PutString("");
  w.PutString("hello");
  w.PutString(std::string("a\0b", 3));
  w.PutRaw("xyz");
  Reader r(w.data());
  EXPECT_EQ(*r.GetString(10), "");
  EXPECT_EQ(*r.GetStringView(10), "hello");
  EXPECT_EQ(*r.GetString(3), std::string("a\0b", 3));
  EXPECT_EQ(*r.GetRaw(3), "xyz");
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(CodingTest, UnderflowIsCorruption) {
  Writer w;
  w.PutU16(7);
  Reader r(w.data());
  EXPECT_EQ(r.GetU32().status().code(), Code::kCorruption);

  Reader r8("");
  EXPECT_EQ(r8.GetU8().status().code(), Code::kCorruption);

  // A string whose length promises more bytes than follow.
  Writer s;
  s.PutVarint64(5);
  s.PutRaw("abc");
  Reader rs(s.data());
  EXPECT_EQ(rs.GetString(100).status().code(), Code::kCorruption);
}

TEST(CodingTest, OverLongStringIsInvalidArgument) {
  Writer w;
  w.PutString("0123456789");
  Reader r(w.data());
  auto got = r.GetString(9);
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);

  // A huge claimed length is rejected by the bound before anything is allocated.
  Writer huge;
  huge.PutVarint64(std::numeric_limits<uint64_t>::max());
  Reader rh(huge.data());
  EXPECT_EQ(rh.GetString(1 << 20).status().code(), Code::kInvalidArgument);
}

TEST(CodingTest, ExpectEndReportsTrailingBytes) {
  Writer w;
  w.PutU32(1);
  w.PutU8(2);
  Reader r(w.data());
  ASSERT_TRUE(r.GetU32().ok());
  EXPECT_EQ(r.ExpectEnd().code(), Code::kCorruption);
  EXPECT_EQ(r.rest().size(), 1u);
}

TEST(CodingTest, WriterAppendsToInitialBuffer) {
  Writer w(std::string("pre"));
  w.PutU8('!');
  EXPECT_EQ(std::move(w).Release(), "pre!");
}

}  // namespace
}  // namespace dase
