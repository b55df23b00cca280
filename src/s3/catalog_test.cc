#include "s3/catalog.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "common/testing.h"
#include "meta/sqlite_store.h"
#include "vms/protocol_ops.h"

namespace dase::s3 {
namespace {

// The catalog over a real store, changed underneath it the way the VMS (another process) does.
class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = meta::SqliteStore::Open(env_, dir_ + "/meta.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    ASSERT_OK(vms::SeedDefaults(store_.get(), env_));
    catalog_ = std::make_unique<Catalog>(store_.get(), nullptr, env_);

    vms::LocalUserRecord u;
    u.name = "alice";
    auto user = Run<vms::LocalUserRecord>(
        [&](meta::Transaction& t) { return vms::CreateLocalUser(t, env_, u); });
    ASSERT_TRUE(user.ok()) << user.status().ToString();
    user_ = *user;
    auto key = Run<vms::AccessKeyRecord>(
        [&](meta::Transaction& t) { return vms::CreateAccessKey(t, env_, user_.id); });
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    key_ = *key;
    auto view = CreatePhotosView("/photos");
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    view_ = *view;
  }
  // An S3 view for bucket "photos" owned by alice, at `path`.
  Result<vms::ViewRecord> CreatePhotosView(const std::string& path) {
    vms::ViewRequest r;
    r.path = path;
    r.policy_id = vms::kS3DefaultPolicyId;
    r.protocols = {"S3"};
    r.bucket = "photos";
    r.bucket_owner = "alice";
    return vms::CreateView(store_.get(), env_, r);
  }
  void TearDown() override {
    catalog_.reset();
    store_.reset();
  }

  template <typename T>
  Result<T> Run(const std::function<Result<T>(meta::Transaction&)>& body) {
    return vms::Transact<T>(store_.get(), body);
  }
  Status Write(const std::function<Status(meta::Transaction&)>& body) {
    return store_->RunTransaction(body);
  }
  KeyAndBucket Lookup(std::string_view bucket = "photos") {
    auto found = catalog_->LookupKeyAndBucket(key_.access_key, bucket);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    return found.ok() ? std::move(*found) : KeyAndBucket{};
  }

  env::Env* env_ = env::Env::Default();
  ::dase::testing::TempDir tmp_{"dase_s3_catalog_test"};
  const std::string dir_ = tmp_.path();
  std::unique_ptr<meta::SqliteStore> store_;
  std::unique_ptr<Catalog> catalog_;
  vms::LocalUserRecord user_;
  vms::AccessKeyRecord key_;
  vms::ViewRecord view_;
};

TEST_F(CatalogTest, RepeatedLookupsGiveTheSameAnswer) {
  for (int i = 0; i < 3; ++i) {
    KeyAndBucket found = Lookup();
    ASSERT_TRUE(found.key.has_value());
    EXPECT_EQ(found.key->secret, key_.secret_key);
    EXPECT_EQ(found.key->identity.user, "alice");
    EXPECT_FALSE(found.key->identity.superuser);
    ASSERT_TRUE(found.bucket.ok());
    ASSERT_TRUE(found.bucket->has_value());
    EXPECT_EQ((*found.bucket)->view_id, view_.id);
    EXPECT_EQ((*found.bucket)->owner, "alice");
  }
  auto missing = Lookup("nosuch");
  ASSERT_TRUE(missing.bucket.ok());
  EXPECT_FALSE(missing.bucket->has_value());
  auto unknown = catalog_->LookupKeyAndBucket("AKIDUNKNOWN", "photos");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->key.has_value());
}

TEST_F(CatalogTest, DisabledOrDeletedKeyFailsOnTheNextLookup) {
  ASSERT_TRUE(Lookup().key.has_value());
  ASSERT_TRUE(Lookup().key.has_value());
  ASSERT_OK(Write([&](meta::Transaction& t) {
    return vms::SetAccessKeyEnabled(t, user_.id, key_.access_key, false);
  }));
  EXPECT_FALSE(Lookup().key.has_value());
  ASSERT_OK(Write([&](meta::Transaction& t) {
    return vms::SetAccessKeyEnabled(t, user_.id, key_.access_key, true);
  }));
  EXPECT_TRUE(Lookup().key.has_value());
  ASSERT_OK(Write([&](meta::Transaction& t) {
    return vms::DeleteAccessKey(t, user_.id, key_.access_key);
  }));
  EXPECT_FALSE(Lookup().key.has_value());
}

TEST_F(CatalogTest, ChangedUserAndViewShowOnTheNextLookup) {
  ASSERT_FALSE(Lookup().key->identity.superuser);
  vms::LocalUserRecord changed = user_;
  changed.s3_superuser = true;
  ASSERT_TRUE(Run<vms::LocalUserRecord>([&](meta::Transaction& t) {
                return vms::UpdateLocalUser(t, changed);
              }).ok());
  EXPECT_TRUE(Lookup().key->identity.superuser);

  vms::ViewRecord nfs_only = view_;
  nfs_only.protocols = {"NFS"};
  nfs_only.bucket.clear();
  nfs_only.bucket_owner.clear();
  ASSERT_TRUE(
      Run<vms::ViewRecord>([&](meta::Transaction& t) { return vms::UpdateView(t, nfs_only); })
          .ok());
  auto after = Lookup();
  ASSERT_TRUE(after.bucket.ok());
  EXPECT_FALSE(after.bucket->has_value());

  ASSERT_OK(vms::DeleteView(store_.get(), view_.id));
  auto again = CreatePhotosView("/photos2");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto found = catalog_->FindBucket("photos");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->view_id, again->id);
  EXPECT_EQ((*found)->path, "/photos2");
  ASSERT_OK(vms::DeleteView(store_.get(), again->id));
  found = catalog_->FindBucket("photos");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_F(CatalogTest, RecordMemoIsBoundedAndWatchesItsRecords) {
  ASSERT_OK(Write([](meta::Transaction& t) {
    t.Put("test/a", "1");
    t.Put("test/b", "2");
    return Status::Ok();
  }));
  RecordMemo<int> memo(2);
  memo.Put("x", {{"test/a", "1"}}, 10);
  memo.Put("y", {{"test/b", "2"}}, 20);
  auto txn = store_->Begin();
  ASSERT_TRUE(txn.ok());
  auto x = memo.Find(**txn, "x");  // x is now the more recently used
  ASSERT_TRUE(x.ok() && x->has_value());
  EXPECT_EQ(**x, 10);
  memo.Put("z", {{"test/a", "1"}, {"test/b", "2"}}, 30);
  EXPECT_EQ(memo.size(), 2u);
  auto y = memo.Find(**txn, "y");  // evicted
  ASSERT_TRUE(y.ok());
  EXPECT_FALSE(y->has_value());
  auto z = memo.Find(**txn, "z");
  ASSERT_TRUE(z.ok() && z->has_value());
  EXPECT_EQ(**z, 30);
  txn->reset();
  ASSERT_OK(Write([](meta::Transaction& t) {
    t.Put("test/b", "3");
    return Status::Ok();
  }));
  txn = store_->Begin();
  ASSERT_TRUE(txn.ok());
  z = memo.Find(**txn, "z");  // one of its records changed
  ASSERT_TRUE(z.ok());
  EXPECT_FALSE(z->has_value());
  x = memo.Find(**txn, "x");
  ASSERT_TRUE(x.ok() && x->has_value());
}

}  // namespace
}  // namespace dase::s3
