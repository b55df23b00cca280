// Building blocks of namespace operations, each acting inside one metadata transaction.
// Internal to src/estore.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estore/keys.h"
#include "estore/namespace.h"

namespace dase::estore::internal {

using meta::Transaction;


inline Result<Inode> LoadInode(Transaction& txn, uint64_t ino) {
  ASSIGN_OR_RETURN(auto bytes, txn.Get(InodeKey(ino)));
  if (!bytes) return NotFound("no inode " + std::to_string(ino));
  return DecodeInode(*bytes);
}

inline Result<Inode> LoadDir(Transaction& txn, uint64_t ino) {
  ASSIGN_OR_RETURN(Inode inode, LoadInode(txn, ino));
  if (inode.type != FileType::kDirectory) {
    return InvalidArgument("inode " + std::to_string(ino) + " is not a directory");
  }
  return inode;
}

inline void StoreInode(Transaction& txn, const Inode& inode) {
  txn.Put(InodeKey(inode.ino), EncodeInode(inode));
}

inline Result<std::optional<DirEntry>> LoadEntry(Transaction& txn, uint64_t dir, std::string_view name) {
  ASSIGN_OR_RETURN(auto bytes, txn.Get(DirEntryKey(dir, name)));
  if (!bytes) return std::optional<DirEntry>();
  ASSIGN_OR_RETURN(DirEntry e, DecodeDirEntry(name, *bytes));
  return std::optional<DirEntry>(std::move(e));
}

inline Result<bool> DirIsEmpty(Transaction& txn, uint64_t dir) {
  std::string prefix = DirPrefix(dir);
  ASSIGN_OR_RETURN(auto first, txn.Scan(prefix, meta::PrefixEnd(prefix), 1));
  return first.empty();
}

inline void Touch(Inode& inode, int64_t now_us) {
  inode.mtime_us = now_us;
  inode.ctime_us = now_us;
  inode.change++;
}

// Extents overlapping [offset, end), in offset order.
inline Result<std::vector<Extent>> ScanExtents(Transaction& txn, uint64_t ino, uint64_t offset,
                                        uint64_t end) {
  uint64_t from = offset > kExtentBytesMax ? offset - kExtentBytesMax : 0;
  ASSIGN_OR_RETURN(auto rows, txn.Scan(ExtentKey(ino, from), ExtentKey(ino, end), kReadDirMax));
  std::vector<Extent> out;
  size_t prefix = ExtentPrefix(ino).size();
  for (const auto& kv : rows) {
    ASSIGN_OR_RETURN(Extent e, DecodeExtent(ReadBigEndian64(std::string_view(kv.key).substr(prefix)),
                                            kv.value));
    if (e.offset + e.length > offset) out.push_back(std::move(e));
  }
  return out;
}

// Removes [offset, end) from the file's extents, keeping what lies outside; returns the
// removed pieces.
inline Result<std::vector<Extent>> CutExtents(Transaction& txn, uint64_t ino, uint64_t offset,
                                       uint64_t end) {
  ASSIGN_OR_RETURN(auto overlapping, ScanExtents(txn, ino, offset, end));
  std::vector<Extent> removed;
  for (const Extent& e : overlapping) {
    uint64_t e_end = e.offset + e.length;
    txn.Delete(ExtentKey(ino, e.offset));
    if (e.offset < offset) {
      Extent left{e.offset, offset - e.offset, e.location, e.location_offset};
      txn.Put(ExtentKey(ino, left.offset), EncodeExtent(left));
    }
    if (e_end > end) {
      Extent right{end, e_end - end, e.location, e.location_offset + (end - e.offset)};
      txn.Put(ExtentKey(ino, right.offset), EncodeExtent(right));
    }
    uint64_t cut_start = std::max(e.offset, offset);
    uint64_t cut_end = std::min(e_end, end);
    removed.push_back(
        Extent{cut_start, cut_end - cut_start, e.location, e.location_offset + (cut_start - e.offset)});
  }
  return removed;
}

// Deletes an inode whose last link is gone, with all its extents (appended to `displaced`).
inline Status DropInode(Transaction& txn, const Inode& inode, std::vector<Extent>* displaced) {
  txn.Delete(InodeKey(inode.ino));
  txn.Delete(ObjectAttrsKey(inode.ino));
  if (inode.type == FileType::kFile) {
    ASSIGN_OR_RETURN(auto removed, CutExtents(txn, inode.ino, 0, kFileBytesMax));
    if (displaced != nullptr) displaced->insert(displaced->end(), removed.begin(), removed.end());
  }
  return Status::Ok();
}

// True if `ancestor` is `dir` or one of its ancestors.
inline Result<bool> IsAncestor(Transaction& txn, uint64_t ancestor, uint64_t dir) {
  for (int depth = 0; depth < 4096; ++depth) {
    if (dir == ancestor) return true;
    if (dir == kRootIno || dir == kSystemRootIno) return false;
    ASSIGN_OR_RETURN(Inode d, LoadDir(txn, dir));
    dir = d.parent;
  }
  return Corruption("directory tree deeper than 4096 levels (a cycle?)");
}

inline std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}


// Creates inode `ino` for `node` and links it as `name` in `parent` (whose record is updated).
inline Inode LinkNewInode(Transaction& txn, Inode& parent, std::string_view name, uint64_t ino,
                          const NewNode& node, int64_t now) {
  bool dir = node.type == FileType::kDirectory;
  Inode inode;
  inode.ino = ino;
  inode.type = node.type;
  inode.mode = node.mode & 07777;
  inode.uid = node.uid;
  inode.gid = node.gid;
  inode.nlink = dir ? 2 : 1;
  inode.parent = dir ? parent.ino : 0;
  Touch(inode, now);
  StoreInode(txn, inode);
  txn.Put(DirEntryKey(parent.ino, name), EncodeDirEntry(DirEntry{std::string(name), ino, node.type}));
  if (dir) parent.nlink++;
  Touch(parent, now);
  StoreInode(txn, parent);
  return inode;
}

}  // namespace dase::estore::internal
