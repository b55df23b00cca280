// Read-only namespace lookups inside a caller's transaction (Namespace::ResolveIn,
// Namespace::ReadViewIn).
#include "estore/namespace.h"
#include "estore/namespace_txn.h"

namespace dase::estore {

using meta::Transaction;
using namespace internal;  // NOLINT: the building blocks of namespace operations

Result<Inode> Namespace::ResolveIn(Transaction& txn, std::string_view path, uint64_t root) {
  uint64_t ino = root;
  FileType type = FileType::kDirectory;
  for (std::string_view rest = path; !rest.empty();) {
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty()) continue;
    RETURN_IF_ERROR(ValidateName(part));
    if (type != FileType::kDirectory) {
      return InvalidArgument(std::string(part) + ": a path component is not a directory");
    }
    ASSIGN_OR_RETURN(auto entry, LoadEntry(txn, ino, part));
    if (!entry) return NotFound(std::string(path) + ": no such file or directory");
    ino = entry->ino;
    type = entry->type;
  }
  return LoadInode(txn, ino);
}

Result<Namespace::ReadView> Namespace::ReadViewIn(Transaction& txn, const Inode& inode,
                                                  uint64_t offset, uint64_t length) {
  ReadView view;
  view.inode = inode;
  ASSIGN_OR_RETURN(view.attrs, txn.Get(ObjectAttrsKey(inode.ino)));
  if (inode.type == FileType::kFile && length > 0) {
    ASSIGN_OR_RETURN(view.extents, ScanExtents(txn, inode.ino, offset, offset + length));
  }
  return view;
}

}  // namespace dase::estore
