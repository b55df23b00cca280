#include "estore/namespace.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "meta/sqlite_store.h"
#include "common/testing.h"

namespace dase::estore {
namespace {


class NamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
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
  }
  Inode Make(uint64_t dir, const std::string& name, FileType type) {
    auto r = ns_->Create(dir, name, NewNode{type, 0644, 0, 0}, CreateMode::kExclusive);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    return r.ok() ? *r : Inode{};
  }
  std::vector<std::string> Names(uint64_t dir) {
    std::vector<std::string> names;
    std::string after;
    for (;;) {
      auto page = ns_->ReadDir(dir, after, 2);  // small pages exercise the cursor
      EXPECT_TRUE(page.ok());
      for (const DirEntry& e : page->entries) names.push_back(e.name);
      if (!page->more) break;
      after = page->entries.back().name;
    }
    return names;
  }

  ::dase::testing::TempDir tmp_{"dase_estore_test"};
  const std::string dir_ = tmp_.path();
  std::unique_ptr<meta::SqliteStore> store_;
  std::unique_ptr<Namespace> ns_;
};

// MakeDirs looks in the caller's snapshot: what the snapshot holds is returned as it is there
// (even if removed since: the caller's commit must check it), what it lacks is made.
TEST_F(NamespaceTest, MakeDirsLooksInTheGivenSnapshot) {
  auto made = ns_->MakeDirs("/p/q");
  ASSERT_OK(made.status());
  auto begun = store_->Begin();
  ASSERT_OK(begun.status());
  meta::Transaction& snapshot = **begun;
  auto found = ns_->MakeDirs("p/q", 0755, kRootIno, &snapshot);
  ASSERT_OK(found.status());
  EXPECT_EQ(found->ino, made->ino);
  // Missing from the snapshot: created in transactions of their own, visible afterwards.
  auto fresh = ns_->MakeDirs("/p/r/s", 0755, kRootIno, &snapshot);
  ASSERT_OK(fresh.status());
  auto resolved = ns_->Resolve("/p/r/s");
  ASSERT_OK(resolved.status());
  EXPECT_EQ(resolved->ino, fresh->ino);
  EXPECT_EQ(resolved->type, FileType::kDirectory);
  // Removed after the snapshot was taken: the snapshot's answer still comes back...
  auto parent = ns_->Resolve("/p");
  ASSERT_OK(parent.status());
  ASSERT_OK(ns_->Rmdir(parent->ino, "q"));
  auto stale = ns_->MakeDirs("/p/q", 0755, kRootIno, &snapshot);
  ASSERT_OK(stale.status());
  EXPECT_EQ(stale->ino, made->ino);
  // ... and a commit into it fails, which is the caller's check.
  auto put = ns_->PutFile(stale->ino, "f", NewNode{}, {}, 0);
  EXPECT_EQ(put.status().code(), Code::kNotFound) << put.status().ToString();
  // Without a snapshot it is made anew.
  auto again = ns_->MakeDirs("/p/q");
  ASSERT_OK(again.status());
  EXPECT_NE(again->ino, made->ino);
}

// An S3 GET resolves and reads a file inside the snapshot its access key was read in.
TEST_F(NamespaceTest, ResolveInAndReadViewInReadOneSnapshot) {
  auto dir = ns_->MakeDirs("/a/b");
  ASSERT_OK(dir.status());
  std::vector<Extent> extents{Extent{0, 10, "loc-1", 0}, Extent{10, 5, "loc-2", 3}};
  auto put = ns_->PutFile(dir->ino, "f", NewNode{}, extents, 15);
  ASSERT_OK(put.status());
  ASSERT_OK(ns_->SetObjectAttrs(put->inode.ino, std::string("attrs")));
  auto begun = store_->Begin();
  ASSERT_OK(begun.status());
  meta::Transaction& txn = **begun;

  for (std::string_view path : {"/a/b/f", "a//b/f/"}) {
    auto found = Namespace::ResolveIn(txn, path);
    ASSERT_OK(found.status());
    EXPECT_EQ(found->ino, put->inode.ino) << path;
    EXPECT_EQ(found->size, 15u) << path;
  }
  EXPECT_EQ(Namespace::ResolveIn(txn, "/")->ino, kRootIno);
  EXPECT_EQ(Namespace::ResolveIn(txn, "/a/b")->ino, dir->ino);
  EXPECT_EQ(Namespace::ResolveIn(txn, "b/f", ns_->Resolve("/a")->ino)->ino, put->inode.ino);
  EXPECT_EQ(Namespace::ResolveIn(txn, "/a/missing").status().code(), Code::kNotFound);
  EXPECT_EQ(Namespace::ResolveIn(txn, "/a/b/f/g").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Namespace::ResolveIn(txn, "/a/../b").status().code(), Code::kInvalidArgument);

  auto view = Namespace::ReadViewIn(txn, put->inode, 11, 2);  // inside the second extent
  ASSERT_OK(view.status());
  ASSERT_EQ(view->extents.size(), 1u);
  EXPECT_EQ(view->extents[0].location, "loc-2");
  EXPECT_EQ(view->attrs, std::optional<std::string>("attrs"));
  EXPECT_TRUE(Namespace::ReadViewIn(txn, put->inode, 0, 0)->extents.empty());

  // An overwrite after the snapshot was taken is not seen in it; a new lookup sees it.
  ASSERT_OK(ns_->PutFile(dir->ino, "f", NewNode{}, {Extent{0, 4, "loc-3", 0}}, 4).status());
  auto old = Namespace::ReadViewIn(txn, *Namespace::ResolveIn(txn, "/a/b/f"), 0, 15);
  ASSERT_OK(old.status());
  EXPECT_EQ(old->inode.size, 15u);
  EXPECT_EQ(old->extents.size(), 2u);
  EXPECT_EQ(old->attrs, std::optional<std::string>("attrs"));
  auto now = ns_->ReadViewOf(ns_->Resolve("/a/b/f")->ino, 0, 15);
  ASSERT_OK(now.status());
  EXPECT_EQ(now->inode.size, 4u);
  ASSERT_EQ(now->extents.size(), 1u);
  EXPECT_EQ(now->extents[0].location, "loc-3");
}

TEST_F(NamespaceTest, CreateLookupResolveAndList) {
  Inode a = Make(kRootIno, "a", FileType::kDirectory);
  Inode f = Make(a.ino, "f", FileType::kFile);
  EXPECT_EQ(ns_->Lookup(a.ino, "f")->ino, f.ino);
  EXPECT_EQ(ns_->Resolve("/a/f")->ino, f.ino);
  EXPECT_EQ(ns_->Resolve("a//f/")->ino, f.ino);
  EXPECT_EQ(ns_->Resolve("/")->ino, kRootIno);
  EXPECT_EQ(ns_->Resolve("/a/missing").status().code(), Code::kNotFound);
  EXPECT_EQ(ns_->Resolve("/a/f/x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ns_->Create(a.ino, "f", NewNode{}, CreateMode::kExclusive).status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(ns_->Create(a.ino, "f", NewNode{}, CreateMode::kOpenExisting)->ino, f.ino);
  for (const char* n : {"c", "b", "\xff", "a0"}) Make(a.ino, n, FileType::kFile);
  EXPECT_EQ(Names(a.ino), (std::vector<std::string>{"a0", "b", "c", "f", "\xff"}));
  EXPECT_EQ(ns_->GetAttr(kRootIno)->nlink, 3u);
}

TEST_F(NamespaceTest, BadNamesAreRefused) {
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("nul\0x", 5), std::string(256, 'x')}) {
    EXPECT_EQ(ns_->Create(kRootIno, bad, NewNode{}, CreateMode::kExclusive).status().code(),
              Code::kInvalidArgument);
  }
  EXPECT_TRUE(ns_->Create(kRootIno, std::string(255, 'x'), NewNode{}, CreateMode::kExclusive).ok());
}

TEST_F(NamespaceTest, RmdirOnlyEmptyAndUnlinkOnlyFiles) {
  Inode d = Make(kRootIno, "d", FileType::kDirectory);
  Make(d.ino, "f", FileType::kFile);
  EXPECT_EQ(ns_->Rmdir(kRootIno, "d").code(), Code::kFailedPrecondition);
  EXPECT_EQ(ns_->Unlink(kRootIno, "d").code(), Code::kInvalidArgument);
  EXPECT_EQ(ns_->Rmdir(d.ino, "f").code(), Code::kInvalidArgument);
  ASSERT_TRUE(ns_->Unlink(d.ino, "f").ok());
  ASSERT_TRUE(ns_->Rmdir(kRootIno, "d").ok());
  EXPECT_EQ(ns_->GetAttr(d.ino).status().code(), Code::kNotFound);
  EXPECT_EQ(ns_->GetAttr(kRootIno)->nlink, 2u);
}

TEST_F(NamespaceTest, RenameFollowsPosix) {
  Inode a = Make(kRootIno, "a", FileType::kDirectory);
  Inode b = Make(a.ino, "b", FileType::kDirectory);
  Inode f = Make(kRootIno, "f", FileType::kFile);
  Inode g = Make(kRootIno, "g", FileType::kFile);
  EXPECT_EQ(ns_->Rename(kRootIno, "a", b.ino, "x").code(), Code::kInvalidArgument);  // into itself
  EXPECT_EQ(ns_->Rename(kRootIno, "f", kRootIno, "a").code(), Code::kInvalidArgument);
  ASSERT_TRUE(ns_->Rename(kRootIno, "f", kRootIno, "g").ok());  // replaces g
  EXPECT_EQ(ns_->GetAttr(g.ino).status().code(), Code::kNotFound);
  EXPECT_EQ(ns_->Resolve("/g")->ino, f.ino);
  ASSERT_TRUE(ns_->Rename(a.ino, "b", kRootIno, "b2").ok());
  EXPECT_EQ(ns_->GetAttr(b.ino)->parent, kRootIno);
  EXPECT_EQ(ns_->GetAttr(a.ino)->nlink, 2u);
  EXPECT_EQ(ns_->GetAttr(kRootIno)->nlink, 4u);
  Make(kRootIno, "full", FileType::kDirectory);
  Make(ns_->Resolve("/full")->ino, "x", FileType::kFile);
  EXPECT_EQ(ns_->Rename(kRootIno, "b2", kRootIno, "full").code(), Code::kFailedPrecondition);
  ASSERT_TRUE(ns_->Rename(kRootIno, "b2", kRootIno, "a").ok());  // replaces empty a
  EXPECT_EQ(ns_->GetAttr(a.ino).status().code(), Code::kNotFound);
}

// Writes random extents and compares the extent map with a byte-level model: each byte of the
// file must come from the latest write that covered it.
TEST_F(NamespaceTest, ExtentMapMatchesAByteModel) {
  uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  Inode f = Make(kRootIno, "f", FileType::kFile);
  constexpr uint64_t kSize = 4096;
  std::vector<int> model(kSize, -1);  // which write produced each byte (-1: hole)
  uint64_t size = 0;
  for (int w = 0; w < 200; ++w) {
    uint64_t off = rng() % kSize;
    uint64_t len = 1 + rng() % std::min<uint64_t>(kSize - off, 300);
    if (rng() % 10 == 0) {  // truncate sometimes
      uint64_t new_size = rng() % kSize;
      SetAttrs truncate;
      truncate.size = new_size;
      ASSERT_TRUE(ns_->SetAttr(f.ino, truncate).ok());
      for (uint64_t i = new_size; i < kSize; ++i) model[i] = -1;
      size = new_size;
      continue;
    }
    auto r = ns_->CommitWrite(f.ino, off, len, "w" + std::to_string(w));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    uint64_t displaced = 0;
    for (const Extent& e : r->displaced) displaced += e.length;
    uint64_t covered = 0;
    for (uint64_t i = off; i < off + len; ++i) covered += model[i] >= 0 ? 1 : 0;
    EXPECT_EQ(displaced, covered) << "write " << w;
    for (uint64_t i = off; i < off + len; ++i) model[i] = w;
    size = std::max(size, off + len);
    EXPECT_EQ(r->inode.size, size);
  }
  auto extents = ns_->Extents(f.ino, 0, kSize);
  ASSERT_TRUE(extents.ok());
  std::vector<int> seen(kSize, -1);
  uint64_t last_end = 0;
  for (const Extent& e : *extents) {
    EXPECT_GE(e.offset, last_end) << "extents overlap";
    last_end = e.offset + e.length;
    int w = std::stoi(e.location.substr(1));
    for (uint64_t i = 0; i < e.length; ++i) seen[e.offset + i] = w;
  }
  EXPECT_EQ(seen, model);
  EXPECT_EQ(ns_->GetAttr(f.ino)->size, size);
  ASSERT_TRUE(ns_->Unlink(kRootIno, "f").ok());
  EXPECT_TRUE(ns_->Extents(f.ino, 0, kSize)->empty());
}

// Random namespace operations against a model of paths; the namespace must agree at the end.
TEST_F(NamespaceTest, RandomOperationsMatchAModel) {
  uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  std::map<std::string, FileType> model;  // "/a/b" → type
  const char* names[] = {"a", "b", "c"};
  auto random_dir = [&]() {
    std::vector<std::string> dirs{""};
    for (auto& [p, t] : model) {
      if (t == FileType::kDirectory) dirs.push_back(p);
    }
    return dirs[rng() % dirs.size()];
  };
  for (int op = 0; op < 300; ++op) {
    std::string parent = random_dir();
    std::string path = parent + "/" + names[rng() % 3];
    uint64_t dir = ns_->Resolve(parent)->ino;
    std::string name = path.substr(parent.size() + 1);
    bool exists = model.count(path) > 0;
    switch (rng() % 4) {
      case 0:
      case 1: {
        FileType type = rng() % 2 ? FileType::kFile : FileType::kDirectory;
        auto r = ns_->Create(dir, name, NewNode{type, 0644, 0, 0}, CreateMode::kExclusive);
        EXPECT_EQ(r.ok(), !exists) << path;
        if (!exists) model[path] = type;
        break;
      }
      case 2: {
        bool has_children = model.lower_bound(path + "/") != model.end() &&
                            model.lower_bound(path + "/")->first.rfind(path + "/", 0) == 0;
        Status s = exists && model[path] == FileType::kDirectory ? ns_->Rmdir(dir, name)
                                                                 : ns_->Unlink(dir, name);
        EXPECT_EQ(s.ok(), exists && !has_children) << path << " " << s.ToString();
        if (s.ok()) model.erase(path);
        break;
      }
      case 3: {
        std::string to_parent = random_dir();
        std::string to = to_parent + "/" + names[rng() % 3];
        Status s = ns_->Rename(dir, name, ns_->Resolve(to_parent)->ino, to.substr(to_parent.size() + 1));
        if (!s.ok()) break;  // the model only follows successful renames
        ASSERT_TRUE(exists) << "rename of a missing " << path << " succeeded";
        if (to == path) break;  // renaming onto itself changes nothing
        std::map<std::string, FileType> next;
        for (auto& [p, t] : model) {
          if (p == to || p.rfind(to + "/", 0) == 0) continue;  // replaced target
          if (p == path || p.rfind(path + "/", 0) == 0) {
            next[to + p.substr(path.size())] = t;
          } else {
            next[p] = t;
          }
        }
        model = std::move(next);
        break;
      }
    }
  }
  for (auto& [p, t] : model) {
    auto r = ns_->Resolve(p);
    ASSERT_TRUE(r.ok()) << p << ": " << r.status().ToString();
    EXPECT_EQ(r->type, t) << p;
  }
  size_t listed = 0;
  std::vector<std::pair<std::string, uint64_t>> stack{{"", kRootIno}};
  while (!stack.empty()) {
    auto [path, ino] = stack.back();
    stack.pop_back();
    for (const std::string& n : Names(ino)) {
      ++listed;
      auto child = ns_->Lookup(ino, n);
      ASSERT_TRUE(model.count(path + "/" + n)) << "unexpected " << path << "/" << n;
      if (child->type == FileType::kDirectory) stack.push_back({path + "/" + n, child->ino});
    }
  }
  EXPECT_EQ(listed, model.size());
}

}  // namespace
}  // namespace dase::estore
