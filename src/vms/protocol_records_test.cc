#include "vms/protocol_records.h"

#include <gtest/gtest.h>

#include <set>

#include "common/testing.h"
#include "meta/sqlite_store.h"
#include "vms/protocol_ops.h"

namespace dase::vms {
namespace {

std::string FieldOf(const Status& s) { return SplitFieldError(s).first; }

TEST(BucketNameTest, FollowsS3Rules) {
  for (const char* good : {"abc", "my-bucket", "my.bucket.1", "0bucket9", "a-b.c-d",
                           "a23456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_TRUE(ValidateBucketName(good).ok()) << good;
  }
  for (const char* bad :
       {"", "ab", "Abc", "my_bucket", "-abc", "abc-", ".abc", "abc.", "a..b", "192.168.1.1",
        "127.0.10.1", "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3", "a b", "abc/",
        "ab\xc3\xa9", "a234567890123456789012345678901234567890123456789012345678901234"}) {
    Status s = ValidateBucketName(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(FieldOf(s), "bucket") << bad;
  }
}

TEST(ViewPathTest, MustBeAbsoluteAndNormalized) {
  for (const char* good : {"/", "/a", "/a/b/c", "/with space", "/a.b/..c/c.."}) {
    EXPECT_TRUE(ValidateViewPath(good).ok()) << good;
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "a", "a/b", "/a/", "//", "/a//b", "/./a", "/a/..", "/a/../b", "/a/.",
           std::string("/a\0b", 4), "/" + std::string(256, 'x'), std::string(1025, '/')}) {
    Status s = ValidateViewPath(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(FieldOf(s), "path");
  }
}

TEST(Ipv4Test, ParsesStrictDottedQuads) {
  EXPECT_EQ(*ParseIpv4("127.0.10.1"), 0x7f000a01u);
  EXPECT_EQ(*ParseIpv4("0.0.0.0"), 0u);
  EXPECT_EQ(*ParseIpv4("255.255.255.255"), 0xffffffffu);
  for (const char* bad : {"", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1..2.3",
                          "1.2.3.", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "-1.2.3.4", "1.2.3.+4"}) {
    EXPECT_FALSE(ParseIpv4(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatIpv4(0x7f000a08u), "127.0.10.8");
}

TEST(HostListTest, AcceptsStarAddressesAndCidrs) {
  EXPECT_TRUE(
      ValidateHostList("nfs_read_write", {"*", "10.0.0.1", "10.0.0.0/8", "1.2.3.4/32"}).ok());
  for (const char* bad : {"host.example", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", ""}) {
    Status s = ValidateHostList("nfs_read_only", {bad});
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(FieldOf(s), "nfs_read_only");
  }
}

ViewRequest NfsView(const std::string& path, int64_t policy_id) {
  ViewRequest r;
  r.path = path;
  r.policy_id = policy_id;
  return r;
}

VipPoolRecord Pool(const std::string& name, std::vector<IpRange> ranges) {
  VipPoolRecord p;
  p.name = name;
  p.ip_ranges = std::move(ranges);
  return p;
}

TEST(VipRangesTest, ExpandsValidRanges) {
  auto vips = ValidateVipRanges({{"127.0.10.1", "127.0.10.3"}, {"127.0.11.9", "127.0.11.9"}}, {});
  ASSERT_TRUE(vips.ok()) << vips.status().ToString();
  EXPECT_EQ(*vips,
            (std::vector<std::string>{"127.0.10.1", "127.0.10.2", "127.0.10.3", "127.0.11.9"}));
  auto across = ValidateVipRanges({{"127.0.0.255", "127.0.1.1"}}, {});
  ASSERT_TRUE(across.ok());
  EXPECT_EQ(across->size(), 3u);
  EXPECT_EQ(PoolAddresses(Pool("p", {{"127.0.10.1", "127.0.10.2"}})),
            (std::vector<std::string>{"127.0.10.1", "127.0.10.2"}));
}

TEST(VipRangesTest, RefusesBadRanges) {
  std::vector<VipPoolRecord> others = {Pool("default", {{"127.0.10.1", "127.0.10.8"}})};
  const std::vector<std::vector<IpRange>> bad = {
      {},                                                            // no range
      {{"127.0.10.20", "127.0.10.10"}},                              // end before start
      {{"10.0.0.1", "10.0.0.2"}},                                    // not loopback
      {{"127.0.0.1", "128.0.0.1"}},                                  // leaves 127/8
      {{"127.0.0.0", "127.0.0.3"}},                                  // network address
      {{"127.255.255.250", "127.255.255.255"}},                      // broadcast
      {{"127.0.10.8", "127.0.10.9"}},                                // overlaps the other pool
      {{"127.0.20.1", "127.0.20.5"}, {"127.0.20.5", "127.0.20.6"}},  // overlaps itself
      {{"127.0.20.0", "127.0.21.0"}},                                // 257 addresses
      {{"127.0.20.1", "127.0.20.x"}},                                // not an address
  };
  for (const auto& ranges : bad) {
    auto r = ValidateVipRanges(ranges, others);
    EXPECT_FALSE(r.ok()) << (ranges.empty() ? "empty" : ranges[0].start);
    EXPECT_EQ(FieldOf(r.status()), "ip_ranges");
  }
  EXPECT_TRUE(ValidateVipRanges({{"127.0.20.0", "127.0.20.255"}}, others).ok());  // 256
}

TEST(RecordCodecTest, ToleratesMissingAndUnknownFields) {
  auto v = DecodeRecord<ViewRecord>(R"({"id": 7, "path": "/x", "future_field": [1, 2]})");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->id, 7);
  EXPECT_EQ(v->path, "/x");
  EXPECT_EQ(v->policy_id, kDefaultPolicyId);
  EXPECT_TRUE(v->protocols.empty());
  EXPECT_EQ(DecodeRecord<ViewRecord>(R"({"id": "seven"})").status().code(), Code::kCorruption);
  EXPECT_EQ(DecodeRecord<ViewRecord>("[]").status().code(), Code::kCorruption);

  LocalUserRecord u;
  u.id = 3;
  u.name = "alice";
  u.uid = 1001;
  auto back = DecodeRecord<LocalUserRecord>(EncodeRecord(u));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->uid, std::optional<int64_t>(1001));
  EXPECT_EQ(back->leading_gid, std::nullopt);
  EXPECT_EQ(back->name, "alice");
}

// The transactions on a real store, as the VMS and the CNodes share it.
class ProtocolOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = meta::SqliteStore::Open(env_, dir_ + "/meta.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    ASSERT_OK(SeedDefaults(store_.get(), env_));
  }
  void TearDown() override {
    store_.reset();
  }
  template <typename T>
  Result<T> Run(const std::function<Result<T>(meta::Transaction&)>& body) {
    return Transact<T>(store_.get(), body);
  }
  Result<LocalUserRecord> AddUser(const std::string& name) {
    LocalUserRecord u;
    u.name = name;
    return Run<LocalUserRecord>([&](meta::Transaction& t) { return CreateLocalUser(t, env_, u); });
  }
  ViewRequest S3View(const std::string& path, const std::string& bucket) {
    ViewRequest r;
    r.path = path;
    r.policy_id = kS3DefaultPolicyId;
    r.protocols = {"S3"};
    r.bucket = bucket;
    r.bucket_owner = "alice";
    return r;
  }

  env::Env* env_ = env::Env::Default();
  ::dase::testing::TempDir tmp_{"dase_records_test"};
  const std::string dir_ = tmp_.path();
  std::unique_ptr<meta::SqliteStore> store_;
};

TEST_F(ProtocolOpsTest, SeedsDefaultsOnce) {
  auto policies = LoadViewPolicies(store_.get());
  ASSERT_TRUE(policies.ok());
  ASSERT_EQ(policies->size(), 2u);
  EXPECT_EQ((*policies)[0].name, "default");
  EXPECT_EQ((*policies)[1].name, "s3_default_policy");
  EXPECT_EQ((*policies)[1].flavor, "S3_NATIVE");
  auto pools = LoadVipPools(store_.get());
  ASSERT_TRUE(pools.ok());
  ASSERT_EQ(pools->size(), 1u);
  EXPECT_EQ(PoolAddresses((*pools)[0]).size(), 8u);
  // A deleted seeded object stays deleted when the seeding runs again (a VMS restart).
  ASSERT_OK(store_->RunTransaction([](meta::Transaction& t) { return DeleteVipPool(t, 1); }));
  ASSERT_OK(SeedDefaults(store_.get(), env_));
  EXPECT_TRUE(LoadVipPools(store_.get())->empty());
  EXPECT_EQ(LoadViewPolicies(store_.get())->size(), 2u);
}

TEST_F(ProtocolOpsTest, CreatesAndDeletesViewsWithTheBucketIndex) {
  ASSERT_TRUE(AddUser("alice").ok());
  auto nfs = CreateView(store_.get(), env_, NfsView("/exports/a", kDefaultPolicyId));
  ASSERT_TRUE(nfs.ok()) << nfs.status().ToString();
  EXPECT_EQ(nfs->id, 1);
  EXPECT_EQ(nfs->name, "view-1");
  EXPECT_EQ(nfs->protocols, std::vector<std::string>{"NFS"});
  auto s3 = CreateView(store_.get(), env_, S3View("/buckets/bk1", "bk1"));
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  EXPECT_EQ(s3->id, 2);

  auto found = LookupBucket(store_.get(), "bk1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, 2);
  EXPECT_EQ((*found)->bucket_owner, "alice");
  EXPECT_FALSE(LookupBucket(store_.get(), "bk2")->has_value());

  ASSERT_OK(DeleteView(store_.get(), 2));
  EXPECT_FALSE(LookupBucket(store_.get(), "bk1")->has_value());
  EXPECT_EQ(DeleteView(store_.get(), 2).code(), Code::kNotFound);
  // Ids are never reused.
  auto again = CreateView(store_.get(), env_, S3View("/buckets/bk1", "bk1"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, 3);
  EXPECT_EQ(LoadViews(store_.get())->size(), 2u);
}

TEST_F(ProtocolOpsTest, RefusesBadAndDuplicateViews) {
  ASSERT_TRUE(AddUser("alice").ok());
  ASSERT_TRUE(CreateView(store_.get(), env_, S3View("/b/one", "one")).ok());
  struct Case {
    ViewRequest request;
    Code code;
    const char* field;
  };
  ViewRequest no_policy = NfsView("/x", 0);
  ViewRequest bad_policy = NfsView("/x", 99);
  ViewRequest bad_tenant = NfsView("/x", kDefaultPolicyId);
  bad_tenant.tenant_id = 5;
  ViewRequest smb = NfsView("/x", kDefaultPolicyId);
  smb.protocols = {"SMB"};
  ViewRequest s3_no_bucket = S3View("/x", "");
  ViewRequest s3_no_owner = S3View("/x", "two");
  s3_no_owner.bucket_owner = "";
  ViewRequest unknown_owner = S3View("/x", "two");
  unknown_owner.bucket_owner = "bob";
  ViewRequest bucket_without_s3 = NfsView("/x", kDefaultPolicyId);
  bucket_without_s3.bucket = "two";
  ViewRequest twice = NfsView("/x", kDefaultPolicyId);
  twice.protocols = {"NFS", "NFS"};
  ViewRequest same_name = NfsView("/x", kDefaultPolicyId);
  same_name.name = "view-1";
  for (const Case& c : std::vector<Case>{
           {NfsView("x/y", kDefaultPolicyId), Code::kInvalidArgument, "path"},
           {no_policy, Code::kInvalidArgument, "policy_id"},
           {bad_policy, Code::kInvalidArgument, "policy_id"},
           {bad_tenant, Code::kInvalidArgument, "tenant_id"},
           {smb, Code::kInvalidArgument, "protocols"},
           {twice, Code::kInvalidArgument, "protocols"},
           {s3_no_bucket, Code::kInvalidArgument, "bucket"},
           {s3_no_owner, Code::kInvalidArgument, "bucket_owner"},
           {unknown_owner, Code::kInvalidArgument, "bucket_owner"},
           {bucket_without_s3, Code::kInvalidArgument, "bucket"},
           {S3View("/x", "Bad_Name"), Code::kInvalidArgument, "bucket"},
           {S3View("/b/one", "two"), Code::kAlreadyExists, "path"},
           {S3View("/b/two", "one"), Code::kAlreadyExists, "bucket"},
           {same_name, Code::kAlreadyExists, "name"},
       }) {
    auto r = CreateView(store_.get(), env_, c.request);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_EQ(FieldOf(r.status()), c.field) << r.status().ToString();
  }
  EXPECT_EQ(LoadViews(store_.get())->size(), 1u);  // nothing half-made
}

TEST_F(ProtocolOpsTest, UpdateMovesTheBucketIndex) {
  ASSERT_TRUE(AddUser("alice").ok());
  auto v = CreateView(store_.get(), env_, S3View("/b/one", "one"));
  ASSERT_TRUE(v.ok());
  ViewRecord changed = *v;
  changed.bucket = "uno";
  changed.name = "renamed";
  auto u = Run<ViewRecord>([&](meta::Transaction& t) { return UpdateView(t, changed); });
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(LookupBucket(store_.get(), "one")->has_value());
  EXPECT_EQ((*LookupBucket(store_.get(), "uno"))->name, "renamed");
  ViewRecord nfs_only = *u;
  nfs_only.protocols = {"NFS"};
  nfs_only.bucket.clear();
  nfs_only.bucket_owner.clear();
  ASSERT_TRUE(Run<ViewRecord>([&](meta::Transaction& t) { return UpdateView(t, nfs_only); }).ok());
  EXPECT_FALSE(LookupBucket(store_.get(), "uno")->has_value());
}

TEST_F(ProtocolOpsTest, PoliciesInUseAndDefaultsAreNotDeleted) {
  ViewPolicyRecord p;
  p.name = "ro";
  p.nfs_read_write = {};
  p.nfs_read_only = {"10.0.0.0/8"};
  auto created =
      Run<ViewPolicyRecord>([&](meta::Transaction& t) { return CreateViewPolicy(t, env_, p); });
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->id, 3);
  auto dup =
      Run<ViewPolicyRecord>([&](meta::Transaction& t) { return CreateViewPolicy(t, env_, p); });
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(CreateView(store_.get(), env_, NfsView("/ro", created->id)).ok());
  auto del = [&](int64_t id) {
    return store_->RunTransaction([&](meta::Transaction& t) { return DeleteViewPolicy(t, id); });
  };
  EXPECT_EQ(del(created->id).code(), Code::kFailedPrecondition);
  EXPECT_EQ(del(kDefaultPolicyId).code(), Code::kFailedPrecondition);
  EXPECT_EQ(del(kS3DefaultPolicyId).code(), Code::kFailedPrecondition);
  ASSERT_OK(DeleteView(store_.get(), 1));
  ASSERT_OK(del(created->id));
  EXPECT_EQ(del(created->id).code(), Code::kNotFound);
}

TEST_F(ProtocolOpsTest, AccessKeysAreLookedUpAndRevoked) {
  auto alice = AddUser("alice");
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(AddUser("alice").status().code(), Code::kAlreadyExists);
  std::set<std::string> seen;
  std::string first;
  for (int i = 0; i < 3; ++i) {
    auto k = Run<AccessKeyRecord>(
        [&](meta::Transaction& t) { return CreateAccessKey(t, env_, alice->id); });
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    ASSERT_EQ(k->access_key.size(), 20u);
    ASSERT_EQ(k->secret_key.size(), 40u);
    for (char c : k->access_key) EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    EXPECT_TRUE(seen.insert(k->access_key).second);
    if (i == 0) first = k->access_key;
  }
  auto info = LookupAccessKey(store_.get(), first);
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->user.name, "alice");
  EXPECT_EQ((*info)->secret_key.size(), 40u);
  EXPECT_TRUE((*info)->enabled);

  ASSERT_OK(store_->RunTransaction(
      [&](meta::Transaction& t) { return SetAccessKeyEnabled(t, alice->id, first, false); }));
  EXPECT_FALSE((*LookupAccessKey(store_.get(), first))->enabled);
  ASSERT_OK(store_->RunTransaction(
      [&](meta::Transaction& t) { return DeleteAccessKey(t, alice->id, first); }));
  EXPECT_FALSE(LookupAccessKey(store_.get(), first)->has_value());
  Status again = store_->RunTransaction(
      [&](meta::Transaction& t) { return DeleteAccessKey(t, alice->id, first); });
  EXPECT_EQ(again.code(), Code::kNotFound);
  EXPECT_EQ(FieldOf(again), "access_key");

  // A user that owns a bucket stays; once the bucket is gone, it goes with its keys.
  auto bucket = CreateView(store_.get(), env_, S3View("/b", "bkt"));
  ASSERT_TRUE(bucket.ok());
  auto delete_alice = [&] {
    return store_->RunTransaction(
        [&](meta::Transaction& t) { return DeleteLocalUser(t, alice->id); });
  };
  EXPECT_EQ(delete_alice().code(), Code::kFailedPrecondition);
  ASSERT_OK(DeleteView(store_.get(), bucket->id));
  ASSERT_OK(delete_alice());
  EXPECT_TRUE(Run<std::vector<AccessKeyRecord>>([](meta::Transaction& t) {
                return LoadAccessKeys(t);
              })->empty());
}

TEST_F(ProtocolOpsTest, VipPoolsDoNotOverlap) {
  VipPoolRecord p = Pool("", {{"127.0.20.1", "127.0.20.4"}});
  auto created =
      Run<VipPoolRecord>([&](meta::Transaction& t) { return CreateVipPool(t, env_, p); });
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->name, "vippool-2");
  VipPoolRecord overlapping = Pool("other", {{"127.0.10.8", "127.0.10.9"}});
  auto r =
      Run<VipPoolRecord>([&](meta::Transaction& t) { return CreateVipPool(t, env_, overlapping); });
  EXPECT_EQ(FieldOf(r.status()), "ip_ranges") << r.status().ToString();
  // A pool may be changed over its own addresses.
  VipPoolRecord grown = *created;
  grown.ip_ranges = {{"127.0.20.1", "127.0.20.9"}};
  EXPECT_TRUE(
      Run<VipPoolRecord>([&](meta::Transaction& t) { return UpdateVipPool(t, grown); }).ok());
}

}  // namespace
}  // namespace dase::vms
