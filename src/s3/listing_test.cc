#include "s3/listing.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/testing.h"
#include "meta/sqlite_store.h"
#include "s3/keys.h"
#include "s3/object_attrs.h"

namespace dase::s3 {
namespace {

using estore::FileType;

class ListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = meta::SqliteStore::Open(env::Env::Default(), dir_ + "/meta.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto ns = estore::Namespace::Open(store_.get(), env::Env::Default());
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ns_ = std::move(*ns);
    auto bucket = ns_->MakeDirs("bucket");
    ASSERT_TRUE(bucket.ok());
    bucket_ = bucket->ino;
  }
  void TearDown() override {
    ns_.reset();
    store_.reset();
  }

  // Stores `key` as S3 would (a file, or a marked directory for "x/"); false if the namespace
  // refuses it (a name that would be a file and a directory).
  bool Put(const std::string& key) {
    auto path = SplitKey(key);
    if (!path.ok()) return false;
    if (path->marker) {
      auto dir = ns_->MakeDirs(path->Full(), 0755, bucket_);
      if (!dir.ok()) return false;
      ObjectAttrs attrs;
      attrs.marker = true;
      return ns_->SetObjectAttrs(dir->ino, EncodeObjectAttrs(attrs)).ok();
    }
    auto dir = ns_->MakeDirs(path->parent, 0755, bucket_);
    if (!dir.ok()) return false;
    return ns_->Create(dir->ino, path->name, estore::NewNode{FileType::kFile, 0644, 0, 0},
                       estore::CreateMode::kExclusive)
        .ok();
  }

  std::vector<std::string> Walk(const WalkOptions& options) {
    KeyWalker walker(ns_.get(), bucket_, options);
    std::vector<std::string> out;
    for (;;) {
      auto next = walker.Next();
      EXPECT_TRUE(next.ok()) << next.status().ToString();
      if (!next.ok() || !*next) break;
      out.push_back(((*next)->common_prefix ? "P:" : "K:") + (*next)->key);
    }
    return out;
  }

  // What S3 lists: keys in byte order after start_after with the prefix, grouped by the
  // delimiter.
  static std::vector<std::string> Model(const std::set<std::string>& keys,
                                        const WalkOptions& options) {
    std::vector<std::string> out;
    std::string last_prefix;
    for (const std::string& key : keys) {
      if (key <= options.start_after || !key.starts_with(options.prefix)) continue;
      if (!options.skip_prefix.empty() && key.starts_with(options.skip_prefix)) continue;
      size_t pos = options.delimiter.empty()
                       ? std::string::npos
                       : key.find(options.delimiter, options.prefix.size());
      if (pos == std::string::npos) {
        out.push_back("K:" + key);
        continue;
      }
      std::string common = key.substr(0, pos + options.delimiter.size());
      if (common == last_prefix) continue;
      last_prefix = common;
      out.push_back("P:" + common);
    }
    return out;
  }

  ::dase::testing::TempDir tmp_{"dase_listing_test"};
  const std::string dir_ = tmp_.path();
  std::unique_ptr<meta::SqliteStore> store_;
  std::unique_ptr<estore::Namespace> ns_;
  uint64_t bucket_ = 0;
};

TEST_F(ListingTest, DirectoriesSortAsNameSlash) {
  std::set<std::string> keys;
  for (const char* k : {"a", "a-b", "a.c", "a0", "b/x", "b-", "b/", "b/y/z", "b/y-", "c/d/e"}) {
    if (Put(k)) keys.insert(k);
  }
  // "a" is a file, "b/" a marked directory holding keys.
  EXPECT_EQ(keys.count("a"), 1u);
  EXPECT_EQ(keys.count("b/"), 1u);
  EXPECT_EQ(Walk({}), Model(keys, {}));
  WalkOptions slash;
  slash.delimiter = "/";
  EXPECT_EQ(Walk(slash), (std::vector<std::string>{"K:a", "K:a-b", "K:a.c", "K:a0", "K:b-",
                                                    "P:b/", "P:c/"}));
  WalkOptions inside;
  inside.prefix = "b/";
  inside.delimiter = "/";
  EXPECT_EQ(Walk(inside), (std::vector<std::string>{"K:b/", "K:b/x", "K:b/y-", "P:b/y/"}));
}

TEST_F(ListingTest, MatchesS3OrderForRandomKeysAndOptions) {
  uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  // Characters around '/' in byte order, so directories and files interleave.
  const std::string alphabet = "ab-./0~";
  auto random_string = [&](size_t max_len) {
    std::string s;
    size_t len = 1 + rng() % max_len;
    for (size_t i = 0; i < len; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  std::set<std::string> keys;
  for (int i = 0; i < 400; ++i) {
    std::string key = random_string(9);
    if (rng() % 8 == 0) key += "/";  // a marker
    if (SplitKey(key).ok() && Put(key)) keys.insert(key);
  }
  ASSERT_GT(keys.size(), 100u);
  std::vector<std::string> all(keys.begin(), keys.end());
  for (int round = 0; round < 300; ++round) {
    WalkOptions options;
    const std::string& some = all[rng() % all.size()];
    switch (rng() % 3) {
      case 0: break;
      case 1: options.prefix = some.substr(0, rng() % (some.size() + 1)); break;
      case 2: options.prefix = random_string(3); break;
    }
    const char* delimiters[] = {"", "/", "/", "-", "b", "a/"};
    options.delimiter = delimiters[rng() % 6];
    switch (rng() % 3) {
      case 0: break;
      case 1: options.start_after = all[rng() % all.size()]; break;
      case 2: options.start_after = random_string(6); break;
    }
    if (!options.delimiter.empty() && rng() % 4 == 0) {
      // Resuming after a common prefix (a marker or continuation token that is one).
      auto model = Model(keys, options);
      for (const std::string& item : model) {
        if (item.starts_with("P:")) {
          options.start_after = options.skip_prefix = item.substr(2);
          break;
        }
      }
    }
    EXPECT_EQ(Walk(options), Model(keys, options))
        << "prefix '" << options.prefix << "' delimiter '" << options.delimiter
        << "' start_after '" << options.start_after << "' skip '" << options.skip_prefix << "'";
    if (HasFailure()) break;
  }
}

TEST(KeysTest, SplitsAndRefuses) {
  auto plain = SplitKey("a/b/c");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->parent, "a/b");
  EXPECT_EQ(plain->name, "c");
  EXPECT_FALSE(plain->marker);
  EXPECT_EQ(plain->Directories(), (std::vector<std::string>{"a", "a/b"}));
  auto marker = SplitKey("a/b/");
  ASSERT_TRUE(marker.ok());
  EXPECT_TRUE(marker->marker);
  EXPECT_EQ(marker->Full(), "a/b");
  EXPECT_EQ(marker->Directories(), (std::vector<std::string>{"a", "a/b"}));
  for (std::string bad : {std::string(""), std::string("/a"), std::string("a//b"),
                          std::string("a/../b"), std::string("./a"), std::string("a\0b", 3),
                          std::string(256, 'x'), std::string(1025, 'y'), std::string("/")}) {
    EXPECT_FALSE(SplitKey(bad).ok()) << bad;
    EXPECT_TRUE(CheckKey(bad).has_value()) << bad;
  }
}

TEST(ObjectAttrsTest, RoundTrips) {
  ObjectAttrs a;
  a.etag = "0123456789abcdef0123456789abcdef-3";
  a.headers = {{"content-type", "text/plain"}, {"x-amz-meta-k", "v"}};
  a.checksum_algorithm = "CRC32";
  a.checksum = "AAAAAA==-3";
  a.parts = 3;
  a.marker = true;
  auto b = DecodeObjectAttrs(EncodeObjectAttrs(a));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->etag, a.etag);
  EXPECT_EQ(b->headers, a.headers);
  EXPECT_EQ(b->checksum, a.checksum);
  EXPECT_EQ(b->parts, 3u);
  EXPECT_TRUE(b->marker);
  std::string encoded = EncodeObjectAttrs(a);
  for (size_t cut = 0; cut < encoded.size(); ++cut) {
    EXPECT_FALSE(DecodeObjectAttrs(encoded.substr(0, cut)).ok()) << cut;
  }
  UploadRecord u{"bucket", "k", "alice", 42, {{"content-type", "x"}}, "SHA256"};
  auto v = DecodeUploadRecord(EncodeUploadRecord(u));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->key, "k");
  EXPECT_EQ(v->initiated_us, 42);
  PartRecord p{"etag", "sum", 7};
  auto q = DecodePartRecord(EncodePartRecord(p));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->checksum, "sum");
}

}  // namespace
}  // namespace dase::s3
