// Namespace operations that change or list existing entries, and the extent map.
#include "estore/namespace.h"
#include "estore/namespace_txn.h"

namespace dase::estore {

using namespace internal;  // NOLINT: the building blocks of this file

Result<Inode> Namespace::SetAttr(uint64_t ino, const SetAttrs& attrs) {
  if (attrs.size && *attrs.size > kFileBytesMax) return InvalidArgument("size beyond 16 TiB");
  Inode result;
  RETURN_IF_ERROR(store_->RunTransaction([&](Transaction& txn) -> Status {
    ASSIGN_OR_RETURN(Inode inode, LoadInode(txn, ino));
    if (attrs.mode) inode.mode = *attrs.mode & 07777;
    if (attrs.uid) inode.uid = *attrs.uid;
    if (attrs.gid) inode.gid = *attrs.gid;
    int64_t now = env_->NowMicros();
    if (attrs.size) {
      if (inode.type != FileType::kFile) return InvalidArgument("cannot set the size of a directory");
      if (*attrs.size < inode.size) {
        RETURN_IF_ERROR(CutExtents(txn, ino, *attrs.size, kFileBytesMax).status());
      }
      txn.Delete(ObjectAttrsKey(ino));
      inode.size = *attrs.size;
      inode.mtime_us = now;
    }
    if (attrs.mtime_us) inode.mtime_us = *attrs.mtime_us;
    inode.ctime_us = now;
    inode.change++;
    StoreInode(txn, inode);
    result = inode;
    return Status::Ok();
  }));
  return result;
}

namespace {

// Removes the entry `name` of `dir`, which must be of `type`, dropping its inode.
Status RemoveEntry(Transaction& txn, uint64_t dir, std::string_view name, FileType type,
                   int64_t now, std::vector<Extent>* displaced) {
  ASSIGN_OR_RETURN(Inode parent, LoadDir(txn, dir));
  ASSIGN_OR_RETURN(auto entry, LoadEntry(txn, dir, name));
  if (!entry) return NotFound(std::string(name) + ": no such file or directory");
  ASSIGN_OR_RETURN(Inode inode, LoadInode(txn, entry->ino));
  if (type == FileType::kFile && inode.type == FileType::kDirectory) {
    return InvalidArgument(std::string(name) + " is a directory");
  }
  if (type == FileType::kDirectory) {
    if (inode.type != FileType::kDirectory) {
      return InvalidArgument(std::string(name) + " is not a directory");
    }
    ASSIGN_OR_RETURN(bool empty, DirIsEmpty(txn, inode.ino));
    if (!empty) return FailedPrecondition(std::string(name) + ": directory not empty");
    parent.nlink--;
  }
  txn.Delete(DirEntryKey(dir, name));
  RETURN_IF_ERROR(DropInode(txn, inode, displaced));
  Touch(parent, now);
  StoreInode(txn, parent);
  return Status::Ok();
}

}  // namespace

Status Namespace::Unlink(uint64_t dir, std::string_view name, std::vector<Extent>* displaced) {
  RETURN_IF_ERROR(ValidateName(name));
  return store_->RunTransaction([&](Transaction& txn) {
    if (displaced != nullptr) displaced->clear();
    return RemoveEntry(txn, dir, name, FileType::kFile, env_->NowMicros(), displaced);
  });
}

Status Namespace::Rmdir(uint64_t dir, std::string_view name) {
  RETURN_IF_ERROR(ValidateName(name));
  return store_->RunTransaction([&](Transaction& txn) {
    return RemoveEntry(txn, dir, name, FileType::kDirectory, env_->NowMicros(), nullptr);
  });
}

Status Namespace::RemoveTree(Transaction& txn, uint64_t dir, std::string_view name,
                             std::vector<Extent>* displaced) {
  RETURN_IF_ERROR(ValidateName(name));
  ASSIGN_OR_RETURN(auto entry, LoadEntry(txn, dir, name));
  if (!entry) return NotFound(std::string(name) + ": no such file or directory");
  if (entry->type == FileType::kDirectory) {
    std::string prefix = DirPrefix(entry->ino);
    ASSIGN_OR_RETURN(auto rows, txn.Scan(prefix, meta::PrefixEnd(prefix), kReadDirMax + 1));
    if (rows.size() > kReadDirMax) return ResourceExhausted("tree too large to remove at once");
    for (const auto& kv : rows) {
      RETURN_IF_ERROR(RemoveTree(txn, entry->ino, std::string_view(kv.key).substr(prefix.size()),
                                 displaced));
    }
  }
  return RemoveEntry(txn, dir, name, entry->type, env_->NowMicros(), displaced);
}

Status Namespace::Rename(uint64_t from_dir, std::string_view from_name, uint64_t to_dir,
                         std::string_view to_name, std::vector<Extent>* displaced) {
  RETURN_IF_ERROR(ValidateName(from_name));
  RETURN_IF_ERROR(ValidateName(to_name));
  return store_->RunTransaction([&](Transaction& txn) -> Status {
    if (displaced != nullptr) displaced->clear();
    int64_t now = env_->NowMicros();
    RETURN_IF_ERROR(LoadDir(txn, from_dir).status());
    RETURN_IF_ERROR(LoadDir(txn, to_dir).status());
    ASSIGN_OR_RETURN(auto source, LoadEntry(txn, from_dir, from_name));
    if (!source) return NotFound(std::string(from_name) + ": no such file or directory");
    ASSIGN_OR_RETURN(auto target, LoadEntry(txn, to_dir, to_name));
    if (target && target->ino == source->ino) return Status::Ok();
    bool moving_dir = source->type == FileType::kDirectory;
    if (moving_dir) {
      ASSIGN_OR_RETURN(bool into_itself, IsAncestor(txn, source->ino, to_dir));
      if (into_itself) return InvalidArgument("cannot move a directory into itself");
    }
    if (target) {
      bool target_dir = target->type == FileType::kDirectory;
      if (moving_dir && !target_dir) return InvalidArgument(std::string(to_name) + " is not a directory");
      if (!moving_dir && target_dir) return InvalidArgument(std::string(to_name) + " is a directory");
      RETURN_IF_ERROR(RemoveEntry(txn, to_dir, to_name, target->type, now, displaced));
    }
    txn.Delete(DirEntryKey(from_dir, from_name));
    txn.Put(DirEntryKey(to_dir, to_name),
            EncodeDirEntry(DirEntry{std::string(to_name), source->ino, source->type}));
    ASSIGN_OR_RETURN(Inode moved, LoadInode(txn, source->ino));
    moved.ctime_us = now;
    moved.change++;
    if (moving_dir) moved.parent = to_dir;
    StoreInode(txn, moved);
    // Parents reload after RemoveEntry may have changed them; directory moves shift nlink.
    ASSIGN_OR_RETURN(Inode from_parent, LoadDir(txn, from_dir));
    if (moving_dir) from_parent.nlink--;
    Touch(from_parent, now);
    StoreInode(txn, from_parent);
    ASSIGN_OR_RETURN(Inode to_parent, LoadDir(txn, to_dir));
    if (moving_dir) to_parent.nlink++;
    Touch(to_parent, now);
    StoreInode(txn, to_parent);
    return Status::Ok();
  });
}

namespace {

Result<ReadDirPage> ReadDirAt(meta::Store* store, uint64_t dir, const std::string& begin,
                              size_t max) {
  max = std::clamp<size_t>(max, 1, kReadDirMax);
  ASSIGN_OR_RETURN(auto txn, store->Begin());
  RETURN_IF_ERROR(LoadDir(*txn, dir).status());
  std::string prefix = DirPrefix(dir);
  ASSIGN_OR_RETURN(auto rows, txn->Scan(begin, meta::PrefixEnd(prefix), max + 1));
  ReadDirPage page;
  page.more = rows.size() > max;
  if (page.more) rows.pop_back();
  for (const auto& kv : rows) {
    ASSIGN_OR_RETURN(DirEntry e,
                     DecodeDirEntry(std::string_view(kv.key).substr(prefix.size()), kv.value));
    page.entries.push_back(std::move(e));
  }
  return page;
}

}  // namespace

Result<ReadDirPage> Namespace::ReadDir(uint64_t dir, std::string_view after, size_t max) {
  std::string begin = after.empty() ? DirPrefix(dir) : meta::KeySuccessor(DirEntryKey(dir, after));
  return ReadDirAt(store_, dir, begin, max);
}

Result<ReadDirPage> Namespace::ReadDirFrom(uint64_t dir, std::string_view from, size_t max) {
  return ReadDirAt(store_, dir, DirEntryKey(dir, from), max);
}

Result<std::optional<std::string>> Namespace::GetObjectAttrs(uint64_t ino) {
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  return txn->Get(ObjectAttrsKey(ino));
}

Status Namespace::SetObjectAttrs(uint64_t ino, const std::optional<std::string>& attrs) {
  return store_->RunTransaction([&](Transaction& txn) -> Status {
    RETURN_IF_ERROR(LoadInode(txn, ino).status());
    if (attrs) {
      PutObjectAttrs(txn, ino, *attrs);
    } else {
      txn.Delete(ObjectAttrsKey(ino));
    }
    return Status::Ok();
  });
}

void Namespace::PutObjectAttrs(meta::Transaction& txn, uint64_t ino, std::string_view attrs) {
  txn.Put(ObjectAttrsKey(ino), std::string(attrs));
}

Result<Namespace::ReadView> Namespace::ReadViewOf(uint64_t ino, uint64_t offset, uint64_t length) {
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  ASSIGN_OR_RETURN(Inode inode, LoadInode(*txn, ino));
  return ReadViewIn(*txn, inode, offset, length);
}

Result<std::vector<Extent>> Namespace::Extents(uint64_t ino, uint64_t offset, uint64_t length) {
  ASSIGN_OR_RETURN(auto txn, store_->Begin());
  return ScanExtents(*txn, ino, offset, offset + length);
}

Result<WriteResult> Namespace::CommitWrite(uint64_t ino, uint64_t offset, uint64_t length,
                                           std::string_view location, const CommitHook& hook) {
  if (length == 0 || length > kExtentBytesMax) return InvalidArgument("extent length out of range");
  if (offset > kFileBytesMax - length) return InvalidArgument("write beyond 16 TiB");
  if (location.empty() || location.size() > kLocationBytesMax) {
    return InvalidArgument("bad extent location");
  }
  WriteResult result;
  RETURN_IF_ERROR(store_->RunTransaction([&](Transaction& txn) -> Status {
    ASSIGN_OR_RETURN(Inode inode, LoadInode(txn, ino));
    if (inode.type != FileType::kFile) return InvalidArgument("not a file");
    ASSIGN_OR_RETURN(result.displaced, CutExtents(txn, ino, offset, offset + length));
    txn.Delete(ObjectAttrsKey(ino));
    Extent e{offset, length, std::string(location), 0};
    txn.Put(ExtentKey(ino, offset), EncodeExtent(e));
    inode.size = std::max(inode.size, offset + length);
    Touch(inode, env_->NowMicros());
    StoreInode(txn, inode);
    result.inode = inode;
    if (hook) RETURN_IF_ERROR(hook(txn, inode));
    return Status::Ok();
  }));
  return result;
}

namespace {

Status CheckContents(const std::vector<Extent>& extents, uint64_t size) {
  if (size > kFileBytesMax) return InvalidArgument("size beyond 16 TiB");
  uint64_t end = 0;
  for (const Extent& e : extents) {
    if (e.length == 0 || e.length > kExtentBytesMax || e.offset < end ||
        e.offset + e.length > size || e.location.empty() ||
        e.location.size() > kLocationBytesMax) {
      return InvalidArgument("extents must be ordered, disjoint, within the size and non-empty");
    }
    end = e.offset + e.length;
  }
  return Status::Ok();
}

// Inside a transaction: the file's extents become `extents` and its size `size`.
Result<std::vector<Extent>> SetContents(Transaction& txn, Inode& inode,
                                        const std::vector<Extent>& extents, uint64_t size,
                                        int64_t now) {
  if (inode.type != FileType::kFile) return InvalidArgument("not a file");
  ASSIGN_OR_RETURN(std::vector<Extent> displaced, CutExtents(txn, inode.ino, 0, kFileBytesMax));
  txn.Delete(ObjectAttrsKey(inode.ino));
  for (const Extent& e : extents) txn.Put(ExtentKey(inode.ino, e.offset), EncodeExtent(e));
  inode.size = size;
  Touch(inode, now);
  StoreInode(txn, inode);
  return displaced;
}

}  // namespace

Result<WriteResult> Namespace::ReplaceContents(uint64_t ino, const std::vector<Extent>& extents,
                                               uint64_t size, const CommitHook& hook) {
  RETURN_IF_ERROR(CheckContents(extents, size));
  WriteResult result;
  RETURN_IF_ERROR(store_->RunTransaction([&](Transaction& txn) -> Status {
    ASSIGN_OR_RETURN(result.inode, LoadInode(txn, ino));
    ASSIGN_OR_RETURN(result.displaced,
                     SetContents(txn, result.inode, extents, size, env_->NowMicros()));
    if (hook) RETURN_IF_ERROR(hook(txn, result.inode));
    return Status::Ok();
  }));
  return result;
}

Result<WriteResult> Namespace::PutFile(uint64_t dir, std::string_view name, const NewNode& node,
                                       const std::vector<Extent>& extents, uint64_t size,
                                       const CommitHook& hook) {
  ASSIGN_OR_RETURN(auto op, PreparePutFile(dir, name, node, extents, size, hook));
  Status committed = store_->RunTransaction(op->body);
  return FinishPutFile(*op, committed);
}

Result<std::shared_ptr<Namespace::PutFileOp>> Namespace::PreparePutFile(
    uint64_t dir, std::string_view name, const NewNode& node, std::vector<Extent> extents,
    uint64_t size, CommitHook hook) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(CheckContents(extents, size));
  auto op = std::make_shared<PutFileOp>();
  ASSIGN_OR_RETURN(op->ino, AllocateInode());
  PutFileOp* self = op.get();  // the body lives in *op, so it never outlives it
  op->body = [this, self, dir, name = std::string(name), node, extents = std::move(extents), size,
              hook = std::move(hook)](Transaction& txn) -> Status {
    self->used = false;
    int64_t now = env_->NowMicros();
    ASSIGN_OR_RETURN(Inode parent, LoadDir(txn, dir));
    ASSIGN_OR_RETURN(auto existing, LoadEntry(txn, dir, name));
    if (existing) {
      if (existing->type != FileType::kFile) return AlreadyExists(name + " is a directory");
      ASSIGN_OR_RETURN(self->result.inode, LoadInode(txn, existing->ino));
    } else {
      NewNode file = node;
      file.type = FileType::kFile;
      self->result.inode = LinkNewInode(txn, parent, name, self->ino, file, now);
      self->used = true;
    }
    ASSIGN_OR_RETURN(self->result.displaced, SetContents(txn, self->result.inode, extents, size, now));
    if (hook) RETURN_IF_ERROR(hook(txn, self->result.inode));
    return Status::Ok();
  };
  return op;
}

Result<WriteResult> Namespace::FinishPutFile(const PutFileOp& op, const Status& committed) {
  bool used = committed.ok() && op.used;
  // Not consumed: hand the number out again, unless others were reserved since.
  if (!used && next_ino_ == op.ino + 1) next_ino_ = op.ino;
  RETURN_IF_ERROR(committed);
  return op.result;
}

}  // namespace dase::estore
