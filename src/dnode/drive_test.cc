// Drive files and the block format: creation, reopening, refusal of foreign or damaged drives,
// and the pure encode/verify functions. Through the public Drive and format interfaces.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>

#include "dnode/drive.h"
#include "dnode/dnode_test_util.h"
#include "dnode/format.h"
#include "dnode/messages.h"

namespace dase::dnode {
namespace {

using testutil::TempDir;

constexpr uint64_t kSize = 1 << 20;

DriveSpec Spec(const TempDir& dir, std::string guid = "guid-aaaa",
               std::string drive_id = "dnode-1/ssd-0", uint64_t size = kSize) {
  return DriveSpec{dir.path(), DriveRef{DriveKind::kSsd, 0}, std::move(drive_id),
                   std::move(guid), size};
}

void Poke(const std::string& path, uint64_t at, char c) {
  auto file = env::Env::Default()->Open(path, env::OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->WriteAt(at, std::string(1, c)).ok());
}

TEST(DriveTest, CreatesSparseDriveAndReopensIt) {
  TempDir dir;
  env::Env* env = env::Env::Default();
  int64_t created = 0;
  {
    auto drive = Drive::Open(env, Spec(dir));
    ASSERT_TRUE(drive.ok()) << drive.status().ToString();
    EXPECT_EQ((*drive)->size_bytes(), kSize);
    EXPECT_EQ((*drive)->data_bytes(), kSize - kDriveHeaderBytes);
    EXPECT_EQ((*drive)->drive_id(), "dnode-1/ssd-0");
    created = (*drive)->created_micros();
  }
  auto info = env->Stat(dir.path() + "/ssd-0");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, kSize);
  EXPECT_FALSE(env::Exists(env, dir.path() + "/ssd-0.tmp"));
  auto again = Drive::Open(env, Spec(dir));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->created_micros(), created);
}

// Bytes the file system has allocated to `path` (st_blocks counts 512-byte units).
uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

TEST(DriveTest, PreformattedDriveIsWrittenWholeAndSparseOneIsNot) {
  TempDir dir;
  DriveSpec sparse = Spec(dir);
  DriveSpec whole = Spec(dir, "guid-aaaa", "dnode-1/scm-0");
  whole.ref = DriveRef{DriveKind::kScm, 0};
  whole.preformat = true;
  ASSERT_TRUE(Drive::Open(env::Env::Default(), sparse).ok());
  auto drive = Drive::Open(env::Env::Default(), whole);
  ASSERT_TRUE(drive.ok()) << drive.status().ToString();
  EXPECT_GE(AllocatedBytes(dir.path() + "/scm-0"), kSize);
  EXPECT_LT(AllocatedBytes(dir.path() + "/ssd-0"), kSize / 2);
  // The zeros are data, not a header: the drive reopens as itself and serves blocks.
  drive->reset();
  auto again = Drive::Open(env::Env::Default(), whole);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->drive_id(), "dnode-1/scm-0");
}

TEST(DriveTest, ForeignClusterRefused) {
  TempDir dir;
  ASSERT_TRUE(Drive::Open(env::Env::Default(), Spec(dir)).ok());
  auto drive = Drive::Open(env::Env::Default(), Spec(dir, "guid-bbbb"));
  ASSERT_FALSE(drive.ok());
  EXPECT_EQ(drive.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(drive.status().message(), "drive ssd-0 belongs to cluster guid-aaaa, not guid-bbbb");
}

TEST(DriveTest, WrongDriveIdRefused) {
  TempDir dir;
  ASSERT_TRUE(Drive::Open(env::Env::Default(), Spec(dir)).ok());
  auto drive = Drive::Open(env::Env::Default(), Spec(dir, "guid-aaaa", "dnode-2/ssd-0"));
  ASSERT_FALSE(drive.ok());
  EXPECT_EQ(drive.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(drive.status().message().find("is drive dnode-1/ssd-0, not dnode-2/ssd-0"),
            std::string::npos)
      << drive.status().ToString();
}

TEST(DriveTest, OtherSizeRefused) {
  TempDir dir;
  ASSERT_TRUE(Drive::Open(env::Env::Default(), Spec(dir)).ok());
  auto drive = Drive::Open(env::Env::Default(), Spec(dir, "guid-aaaa", "dnode-1/ssd-0", 2 * kSize));
  ASSERT_FALSE(drive.ok());
  EXPECT_EQ(drive.status().code(), Code::kFailedPrecondition);
}

TEST(DriveTest, BadHeaderChecksumRefused) {
  TempDir dir;
  ASSERT_TRUE(Drive::Open(env::Env::Default(), Spec(dir)).ok());
  Poke(dir.path() + "/ssd-0", 100, 'x');  // inside the drive id slot
  auto drive = Drive::Open(env::Env::Default(), Spec(dir));
  ASSERT_FALSE(drive.ok());
  EXPECT_EQ(drive.status().code(), Code::kCorruption);
  EXPECT_EQ(drive.status().message(), "drive ssd-0: drive header checksum mismatch");
}

TEST(DriveTest, BadMagicAndZeroHeaderRefusedNotReformatted) {
  TempDir dir;
  ASSERT_TRUE(Drive::Open(env::Env::Default(), Spec(dir)).ok());
  Poke(dir.path() + "/ssd-0", 0, 'X');
  auto drive = Drive::Open(env::Env::Default(), Spec(dir));
  ASSERT_FALSE(drive.ok());
  EXPECT_EQ(drive.status().code(), Code::kCorruption);
  EXPECT_NE(drive.status().message().find("bad magic"), std::string::npos);
  // Still refused the second time: nothing was rewritten.
  EXPECT_EQ(Drive::Open(env::Env::Default(), Spec(dir)).status().code(), Code::kCorruption);
}

TEST(DriveTest, TruncatedDriveFileRefused) {
  TempDir dir;
  ASSERT_TRUE(Drive::Open(env::Env::Default(), Spec(dir)).ok());
  auto file = env::Env::Default()->Open(dir.path() + "/ssd-0", env::OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Truncate(kSize / 2).ok());
  auto drive = Drive::Open(env::Env::Default(), Spec(dir));
  ASSERT_FALSE(drive.ok());
  EXPECT_EQ(drive.status().code(), Code::kCorruption);
}

TEST(DriveTest, BlockWriteReadAndRejectedHeader) {
  TempDir dir;
  auto drive = Drive::Open(env::Env::Default(), Spec(dir));
  ASSERT_TRUE(drive.ok());
  const BlockId id{7, 3, 1};
  const std::string payload = "hello block";
  const std::string header = MakeBlockHead("dnode-1/ssd-0", 8192, id, payload);
  ASSERT_TRUE((*drive)->WriteBlock(8192, header, payload).ok());
  auto block = (*drive)->ReadBlock(8192, id, payload.size());
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  EXPECT_EQ(block->substr(BlockHeadBytes(payload.size())), payload);
  // A header made for another place, or payload bytes changed on the way: refused.
  EXPECT_EQ((*drive)->WriteBlock(4096, header, payload).code(), Code::kCorruption);
  EXPECT_EQ((*drive)->WriteBlock(8192, header, "hellO block").code(), Code::kCorruption);
  const std::string other = MakeBlockHead("dnode-1/ssd-1", 8192, id, payload);
  EXPECT_EQ((*drive)->WriteBlock(8192, other, payload).code(), Code::kCorruption);
}

// A slice read returns only its bytes and verifies the block's head and the sectors holding
// the slice: damage there is refused, and so is a never-written block or a slice past the
// payload; damage in other sectors fails only the reads that touch them.
TEST(DriveTest, SliceReadVerifiesTheHeadAndItsSectors) {
  TempDir dir;
  auto drive = Drive::Open(env::Env::Default(), Spec(dir));
  ASSERT_TRUE(drive.ok());
  const BlockId id{9, 1, 1};
  std::string payload(3 * 4096 + 100, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const uint64_t at = 16384;
  const std::string header = MakeBlockHead("dnode-1/ssd-0", at, id, payload);
  ASSERT_TRUE((*drive)->WriteBlock(at, header, payload).ok());
  const uint32_t len = static_cast<uint32_t>(payload.size());
  for (PayloadSlice slice : {PayloadSlice{0, 1}, PayloadSlice{4096, 4096}, PayloadSlice{4000, 200},
                             PayloadSlice{len - 7, 7}, PayloadSlice{0, len}}) {
    auto got = (*drive)->ReadBlock(at, id, len, Drive::ReadWait::kMay, slice);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, payload.substr(slice.offset, slice.length));
  }
  EXPECT_EQ((*drive)->ReadBlock(at, id, len, Drive::ReadWait::kMay, {len - 7, 8}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ((*drive)->ReadBlock(at + 65536, id, len, Drive::ReadWait::kMay, {0, 4}).status().code(),
            Code::kNotFound);
  auto read = [&](PayloadSlice slice) {
    return (*drive)->ReadBlock(at, id, len, Drive::ReadWait::kMay, slice).status().code();
  };
  // One flipped byte in the payload's last (short) sector: reads touching it fail, the first
  // sectors still read.
  const uint64_t payload_at = kDriveHeaderBytes + at + BlockHeadBytes(len);
  Poke(dir.path() + "/ssd-0", payload_at + len - 1, '!');
  EXPECT_EQ(read({len - 7, 7}), Code::kCorruption);
  EXPECT_EQ(read({3 * 4096 - 1, 2}), Code::kCorruption);
  EXPECT_EQ(read({0, len}), Code::kCorruption);
  EXPECT_EQ((*drive)->ReadBlock(at, id, len).status().code(), Code::kCorruption);
  EXPECT_EQ(read({0, 4096}), Code::kOk);
  EXPECT_EQ(read({4096, 8192}), Code::kOk);
  // A flipped byte in the sector table (the head) fails every read of the block.
  Poke(dir.path() + "/ssd-0", kDriveHeaderBytes + at + kBlockHeaderBytes + 4 + 1, '!');
  EXPECT_EQ(read({0, 1}), Code::kCorruption);
  EXPECT_EQ(read({8192, 4}), Code::kCorruption);
}

TEST(FormatTest, DriveHeaderRoundTrip) {
  DriveHeader h;
  h.kind = DriveKind::kScm;
  h.index = 2;
  h.size_bytes = 1 << 30;
  h.created_micros = 1234567;
  h.cluster_guid = "c0ffee";
  h.drive_id = "dnode-4/scm-2";
  const std::string raw = EncodeDriveHeader(h);
  ASSERT_EQ(raw.size(), kDriveHeaderBytes);
  auto back = DecodeDriveHeader(raw);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kind, DriveKind::kScm);
  EXPECT_EQ(back->index, 2u);
  EXPECT_EQ(back->size_bytes, h.size_bytes);
  EXPECT_EQ(back->created_micros, h.created_micros);
  EXPECT_EQ(back->cluster_guid, h.cluster_guid);
  EXPECT_EQ(back->drive_id, h.drive_id);
  for (char version : {1, 3}) {  // an older format and a newer one are both refused by name
    std::string other = raw;
    other[4] = version;
    const Status s = DecodeDriveHeader(other).status();
    EXPECT_EQ(s.code(), Code::kFailedPrecondition);
    EXPECT_NE(s.message().find("version " + std::to_string(version)), std::string::npos);
  }
}

TEST(FormatTest, VerifyBlockNamesWhatDiffered) {
  const BlockId id{1, 2, 3};
  const std::string payload(100, 'p');
  const std::string header = MakeBlockHead("d/ssd-0", 4096, id, payload);
  const BlockExpectation ok{"d/ssd-0", 4096, id, 100};
  EXPECT_TRUE(VerifyBlock(ok, header, payload).ok());
  auto message = [&](BlockExpectation e, std::string_view h, std::string_view p) {
    const Status s = VerifyBlock(e, h, p);
    EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
    return std::string(s.message());
  };
  EXPECT_NE(message({"d/ssd-1", 4096, id, 100}, header, payload).find("another drive"),
            std::string::npos);
  EXPECT_NE(message({"d/ssd-0", 8192, id, 100}, header, payload).find("misdirected"),
            std::string::npos);
  EXPECT_NE(message({"d/ssd-0", 4096, BlockId{1, 2, 4}, 100}, header, payload)
                .find("is 1/2@3, expected 1/2@4"),
            std::string::npos);
  std::string flipped = payload;
  flipped[50] ^= 1;
  EXPECT_NE(message(ok, header, flipped).find("payload sector 0"), std::string::npos);
  std::string bad_header = header;
  bad_header[9] ^= 1;
  EXPECT_NE(message(ok, bad_header, payload).find("header checksum"), std::string::npos);
  std::string bad_table = header;
  bad_table[kBlockHeaderBytes] ^= 1;
  EXPECT_NE(message(ok, bad_table, payload).find("sector table checksum"), std::string::npos);
  EXPECT_NE(message(ok, header.substr(0, kBlockHeaderBytes), payload).find("head of 64 bytes"),
            std::string::npos);
  const std::string zeros(BlockHeadBytes(100), '\0');
  EXPECT_EQ(VerifyBlock(ok, zeros, std::string(100, '\0')).code(), Code::kNotFound);
  EXPECT_NE(message(ok, zeros, payload).find("torn"), std::string::npos);
}

TEST(FormatTest, PlacementLimits) {
  EXPECT_TRUE(CheckPlacement(0, 0, 8192).ok());
  // One sector: a 64-byte header and one 4-byte sector checksum before the payload.
  EXPECT_EQ(BlockHeadBytes(1), 68u);
  EXPECT_EQ(BlockHeadBytes(4096), 68u);
  EXPECT_EQ(BlockHeadBytes(4097), 72u);
  EXPECT_EQ(BlockHeadBytes(1 << 20), 64u + 1024u);
  EXPECT_TRUE(CheckPlacement(4096, 4096 - 68, 8192).ok());
  EXPECT_EQ(CheckPlacement(4096, 4097 - 68, 8192).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckPlacement(100, 10, 8192).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckPlacement(UINT64_MAX - 4095, 10, 8192).code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckPlacement(0, kMaxBlockPayloadBytes + 1, uint64_t{1} << 30).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(BlockFootprint(0), 4096u);
  EXPECT_EQ(BlockFootprint(4096 - 68), 4096u);
  EXPECT_EQ(BlockFootprint(4096 - 67), 8192u);
  EXPECT_EQ(BlockFootprint(4096), 8192u);
  EXPECT_EQ(BlockFootprint(1 << 20), (1u << 20) + 4096u);
}

TEST(MessagesTest, RoundTripsAndRejectsTrailingBytes) {
  const std::string head(BlockHeadBytes(4), 'h');
  const WriteRequest w{DriveRef{DriveKind::kScm, 3}, 4096, Durability::kBuffered, head, "data"};
  const std::string encoded = EncodeWriteRequest(w);  // the decoded views borrow it
  auto wr = DecodeWriteRequest(encoded);
  ASSERT_TRUE(wr.ok()) << wr.status().ToString();
  EXPECT_EQ(wr->drive, w.drive);
  EXPECT_EQ(wr->durability, Durability::kBuffered);
  EXPECT_EQ(wr->head, head);
  EXPECT_EQ(wr->payload, "data");
  // The head's length follows from the payload's: a byte more or less is refused.
  EXPECT_FALSE(DecodeWriteRequest(encoded + "x").ok());
  EXPECT_FALSE(DecodeWriteRequest(encoded.substr(0, encoded.size() - 1)).ok());
  const ReadRequest r{DriveRef{DriveKind::kSsd, 1}, 8192, BlockId{9, 8, 7}, 42};
  auto rr = DecodeReadRequest(EncodeReadRequest(r));
  ASSERT_TRUE(rr.ok());
  EXPECT_EQ(rr->id, r.id);
  EXPECT_EQ(rr->payload_len, 42u);
  EXPECT_FALSE(DecodeReadRequest(EncodeReadRequest(r) + "x").ok());
  auto f = DecodeFlushRequest(EncodeFlushRequest(FlushRequest{DriveRef{DriveKind::kSsd, 2}}));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->drive.has_value());
  EXPECT_EQ(f->drive->index, 2u);
  EXPECT_FALSE(DecodeFlushRequest(std::string("\x01\x07\0\0\0\0", 6)).ok());  // bad kind
}

}  // namespace
}  // namespace dase::dnode
