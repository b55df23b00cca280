#include "estore/namespace.h"

#include <algorithm>

#include "estore/keys.h"
#include "estore/namespace_txn.h"

namespace dase::estore {

using meta::Transaction;
using namespace internal;  // NOLINT: the building blocks of this file
constexpr uint64_t kInodeBatch = 1024;

Result<std::unique_ptr<Namespace>> Namespace::Open(meta::Store* store, env::Env* env) {
  std::unique_ptr<Namespace> ns(new Namespace(store, env));
  RETURN_IF_ERROR(ns->CreateRoot());
  return ns;
}

Status Namespace::CreateRoot() {
  return store_->RunTransaction([&](Transaction& txn) -> Status {
    for (uint64_t ino : {kRootIno, kSystemRootIno}) {
      ASSIGN_OR_RETURN(auto root, txn.Get(InodeKey(ino)));
      if (root) continue;
      Inode r;
      r.ino = ino;
      r.type = FileType::kDirectory;
      r.mode = 0755;
      r.nlink = 2;
      r.parent = ino;
      Touch(r, env_->NowMicros());
      StoreInode(txn, r);
    }
    ASSIGN_OR_RETURN(auto next, txn.Get(kNextInodeKey));
    if (!next) {
      std::string first;
      AppendBigEndian64(&first, kRootIno + 1);
      txn.Put(kNextInodeKey, first);
    }
    return Status::Ok();
  });
}

Result<uint64_t> Namespace::AllocateInode() {
  if (next_ino_ < ino_limit_) return next_ino_++;
  // Reserve a batch in one small transaction, so creates on different CNodes do not all
  // conflict on one counter. A crash wastes at most one batch of numbers.
  uint64_t first = 0;
  RETURN_IF_ERROR(store_->RunTransaction([&](Transaction& txn) -> Status {
    ASSIGN_OR_RETURN(auto raw, txn.Get(kNextInodeKey));
    if (!raw || raw->size() != 8) return Corruption("inode counter missing or malformed");
    first = ReadBigEndian64(*raw);
    std::string next;
    AppendBigEndian64(&next, first + kInodeBatch);
    txn.Put(kNextInodeKey, next);
    return Status::Ok();
  }));
  next_ino_ = first + 1;
  ino_limit_ = first + kInodeBatch;
  return first;
}

Result<Inode> Namespace::GetAttr(uint64_t ino) {
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  return LoadInode(*txn, ino);
}

Result<Inode> Namespace::Lookup(uint64_t dir, std::string_view name) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  RETURN_IF_ERROR(LoadDir(*txn, dir).status());
  ASSIGN_OR_RETURN(auto entry, LoadEntry(*txn, dir, name));
  if (!entry) return NotFound(std::string(name) + ": no such file or directory");
  return LoadInode(*txn, entry->ino);
}

Result<Inode> Namespace::Resolve(std::string_view path, uint64_t root) {
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  return ResolveIn(*txn, path, root);
}

Result<Inode> Namespace::Create(uint64_t dir, std::string_view name, const NewNode& node,
                                CreateMode mode) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(uint64_t ino, AllocateInode());
  Inode result;
  bool used = false;
  RETURN_IF_ERROR(store_->RunTransaction([&](Transaction& txn) -> Status {
    used = false;
    ASSIGN_OR_RETURN(Inode parent, LoadDir(txn, dir));
    ASSIGN_OR_RETURN(auto existing, LoadEntry(txn, dir, name));
    if (existing) {
      if (mode == CreateMode::kExclusive || existing->type != node.type) {
        return AlreadyExists(std::string(name) + " exists");
      }
      ASSIGN_OR_RETURN(result, LoadInode(txn, existing->ino));
      return Status::Ok();
    }
    int64_t now = env_->NowMicros();
    result = LinkNewInode(txn, parent, name, ino, node, now);
    used = true;
    return Status::Ok();
  }));
  // Not consumed (the name existed): it was the last number handed out, so hand it out again.
  if (!used) next_ino_ = ino;
  return result;
}

Result<Inode> Namespace::MakeDirs(std::string_view path, uint32_t mode, uint64_t root,
                                  meta::Transaction* look_in) {
  // Usually every directory exists already: one read finds out.
  auto existing = look_in ? ResolveIn(*look_in, path, root) : Resolve(path, root);
  if (existing.ok() && existing->type == FileType::kDirectory) return existing;
  ASSIGN_OR_RETURN(Inode current, GetAttr(root));
  for (std::string_view part : SplitPath(path)) {
    ASSIGN_OR_RETURN(current, Create(current.ino, part, NewNode{FileType::kDirectory, mode, 0, 0},
                                     CreateMode::kOpenExisting));
  }
  return current;
}

}  // namespace dase::estore
