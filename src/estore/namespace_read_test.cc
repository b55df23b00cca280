// Namespace::ResolveIn and Namespace::ReadViewIn: the reads of one snapshot answer as Resolve
// and ReadViewOf do.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "estore/namespace.h"
#include "meta/sqlite_store.h"

namespace dase::estore {
namespace {

class NamespaceReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dase_ns_read_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = meta::SqliteStore::Open(env::Env::Default(), dir_ + "/meta.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto ns = Namespace::Open(store_.get(), env::Env::Default());
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ns_ = std::move(*ns);
  }
  void TearDown() override {
    ns_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<meta::Transaction> Snapshot() {
    auto txn = store_->Begin();
    EXPECT_TRUE(txn.ok());
    return std::move(txn).value();
  }

  std::string dir_;
  std::unique_ptr<meta::SqliteStore> store_;
  std::unique_ptr<Namespace> ns_;
};

TEST_F(NamespaceReadTest, ResolveInAnswersAsResolve) {
  auto dir = ns_->MakeDirs("/a/b");
  ASSERT_TRUE(dir.ok());
  std::vector<Extent> extents{Extent{0, 10, "loc-1", 0}, Extent{10, 5, "loc-2", 3}};
  auto put = ns_->PutFile(dir->ino, "f", NewNode{}, extents, 15);
  ASSERT_TRUE(put.ok()) << put.status().ToString();

  for (std::string_view path : {"", "/", "/a", "a/b", "/a/b/f", "a//b/f/"}) {
    auto expected = ns_->Resolve(path);
    auto txn = Snapshot();
    auto got = Namespace::ResolveIn(*txn, path);
    ASSERT_TRUE(expected.ok() && got.ok()) << path;
    EXPECT_EQ(got->ino, expected->ino) << path;
    EXPECT_EQ(got->type, expected->type) << path;
    EXPECT_EQ(got->change, expected->change) << path;
  }
  auto txn = Snapshot();
  EXPECT_EQ(Namespace::ResolveIn(*txn, "/a/missing").status().code(), Code::kNotFound);
  EXPECT_EQ(Namespace::ResolveIn(*txn, "/a/b/f/g").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Namespace::ResolveIn(*txn, "/a/../b").status().code(), Code::kInvalidArgument);
  auto from_dir = Namespace::ResolveIn(*txn, "b/f", ns_->Resolve("/a")->ino);
  ASSERT_TRUE(from_dir.ok());
  EXPECT_EQ(from_dir->ino, put->inode.ino);
}

TEST_F(NamespaceReadTest, ReadViewInAnswersAsReadViewOf) {
  std::vector<Extent> extents{Extent{0, 10, "loc-1", 0}, Extent{10, 5, "loc-2", 3}};
  auto put = ns_->PutFile(kRootIno, "f", NewNode{}, extents, 15);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(ns_->SetObjectAttrs(put->inode.ino, std::string("attrs")).ok());
  auto txn = Snapshot();
  auto inode = Namespace::ResolveIn(*txn, "/f");
  ASSERT_TRUE(inode.ok());
  for (auto [offset, length] : {std::pair<uint64_t, uint64_t>{0, 15}, {11, 2}, {0, 0}, {3, 9}}) {
    auto expected = ns_->ReadViewOf(inode->ino, offset, length);
    auto got = Namespace::ReadViewIn(*txn, *inode, offset, length);
    ASSERT_TRUE(expected.ok() && got.ok());
    EXPECT_EQ(got->attrs, expected->attrs);
    ASSERT_EQ(got->extents.size(), expected->extents.size()) << offset << "+" << length;
    for (size_t i = 0; i < got->extents.size(); ++i) {
      EXPECT_EQ(got->extents[i].offset, expected->extents[i].offset);
      EXPECT_EQ(got->extents[i].location, expected->extents[i].location);
    }
  }
  // The snapshot stays as it was when read: a later overwrite is not seen in it.
  std::vector<Extent> replaced{Extent{0, 4, "loc-3", 0}};
  ASSERT_TRUE(ns_->PutFile(kRootIno, "f", NewNode{}, replaced, 4).ok());
  auto old = Namespace::ReadViewIn(*txn, *inode, 0, 15);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->extents.size(), 2u);
  EXPECT_EQ(old->attrs, std::optional<std::string>("attrs"));
}

}  // namespace
}  // namespace dase::estore
