// Namespace: the element store's one tree of directories and files, kept in the shared
// metadata store (meta::Store) so that every CNode process sees the same namespace.
//
// Every operation is one metadata transaction (retried on conflict), so a crash leaves either
// all of an operation or none of it; concurrent CNodes conflict only when they touch the same
// records. File data is described by extents that point at data the data layer stored first
// (DESIGN.md §3a: the metadata commit is the point of truth). Unlinking or overwriting drops
// extents; the space they pointed at is found unreferenced and reclaimed by the data layer.
//
// Thread-safety: one Namespace per thread (its meta::Store is single-threaded); several
// processes may share the metadata store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "env/env.h"
#include "estore/records.h"
#include "meta/kv.h"

namespace dase::estore {

// An extent may be at most this long; reads scan back this far for an overlapping extent.
inline constexpr uint64_t kExtentBytesMax = 64ull << 20;
inline constexpr uint64_t kFileBytesMax = 1ull << 44;  // 16 TiB
inline constexpr size_t kReadDirMax = 10000;

enum class CreateMode { kExclusive, kOpenExisting };

struct NewNode {
  FileType type = FileType::kFile;
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct SetAttrs {
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;  // truncate or extend (a hole)
  std::optional<int64_t> mtime_us;
};

struct ReadDirPage {
  std::vector<DirEntry> entries;  // in byte order of names
  bool more = false;              // another page follows after entries.back().name
};

// Work of the data layer done inside a namespace transaction, given the file written.
using CommitHook = std::function<Status(meta::Transaction&, const Inode&)>;

// What a committed write displaced: extents (or parts of them) no longer referenced.
struct WriteResult {
  Inode inode;
  std::vector<Extent> displaced;
};

class Namespace {
 public:
  // Creates the root directory (inode 1) if the store has none.
  static Result<std::unique_ptr<Namespace>> Open(meta::Store* store, env::Env* env);

  meta::Store* store() { return store_; }

  Result<Inode> GetAttr(uint64_t ino);
  Result<Inode> Lookup(uint64_t dir, std::string_view name);
  // Resolves "/a/b/c" (or "a/b/c") from `root`; "" and "/" are `root` itself.
  Result<Inode> Resolve(std::string_view path, uint64_t root = kRootIno);
  Result<Inode> Create(uint64_t dir, std::string_view name, const NewNode& node, CreateMode mode);
  // Creates every missing directory of `path` under `root` (like mkdir -p); a file in the way
  // is an error. Whether all exist already is looked up in `look_in` if given (a snapshot the
  // caller holds anyway), else in a read transaction of its own; a directory found there is
  // returned even if removed since, so the caller's commit into it must check it still exists
  // (PutFile does). Each directory made is a transaction of its own.
  Result<Inode> MakeDirs(std::string_view path, uint32_t mode = 0755, uint64_t root = kRootIno,
                         meta::Transaction* look_in = nullptr);
  Result<Inode> SetAttr(uint64_t ino, const SetAttrs& attrs);
  // Files only. The extents the file had go to `displaced`, if given.
  Status Unlink(uint64_t dir, std::string_view name, std::vector<Extent>* displaced = nullptr);
  Status Rmdir(uint64_t dir, std::string_view name);   // empty directories only
  // Inside `txn`: removes `name` from `dir` and, if it is a directory, everything under it
  // (meant for small trees: every entry is loaded). Removed files' extents go to `displaced`.
  Status RemoveTree(meta::Transaction& txn, uint64_t dir, std::string_view name,
                    std::vector<Extent>* displaced);
  // POSIX rename: replaces a file, or an empty directory by a directory; never moves a
  // directory under itself. The extents of a replaced file go to `displaced`, if given.
  Status Rename(uint64_t from_dir, std::string_view from_name, uint64_t to_dir,
                std::string_view to_name, std::vector<Extent>* displaced = nullptr);
  // Entries with names after `after` (empty: from the start), at most `max`.
  Result<ReadDirPage> ReadDir(uint64_t dir, std::string_view after, size_t max);
  // The same from the first name >= `from`.
  Result<ReadDirPage> ReadDirFrom(uint64_t dir, std::string_view from, size_t max);

  // Object attributes: an opaque value the protocols keep with a file or directory (an S3
  // object's ETag, content type, user metadata). They go with the inode, and any change of its
  // contents other than PutFile's (which may set new ones in its hook) drops them.
  Result<std::optional<std::string>> GetObjectAttrs(uint64_t ino);
  // Sets (or with nullopt drops) the attributes of an existing inode, in one transaction.
  Status SetObjectAttrs(uint64_t ino, const std::optional<std::string>& attrs);
  // Inside a transaction, e.g. a CommitHook.
  static void PutObjectAttrs(meta::Transaction& txn, uint64_t ino, std::string_view attrs);

  // One consistent view of a file for reading: its inode, attributes and the extents
  // overlapping [offset, offset + length), read in one transaction.
  struct ReadView {
    Inode inode;
    std::optional<std::string> attrs;
    std::vector<Extent> extents;
  };
  Result<ReadView> ReadViewOf(uint64_t ino, uint64_t offset, uint64_t length);

  // Reads inside a caller's transaction, for readers that take several things from one
  // snapshot (an S3 GET: access key, bucket, object and extents in one read transaction).
  //
  // Resolve in `txn`. The directories on the way are known from their entries (an entry
  // records its inode's type), so only the last component's inode is loaded; `root` must be a
  // directory. Errors as Resolve's (a path through a file is InvalidArgument).
  static Result<Inode> ResolveIn(meta::Transaction& txn, std::string_view path,
                                 uint64_t root = kRootIno);
  // ReadViewOf in `txn`, for `inode` as read in `txn`.
  static Result<ReadView> ReadViewIn(meta::Transaction& txn, const Inode& inode,
                                     uint64_t offset, uint64_t length);

  // The extents overlapping [offset, offset + length), in offset order.
  Result<std::vector<Extent>> Extents(uint64_t ino, uint64_t offset, uint64_t length);
  // Records that [offset, offset + length) of the file now lives at `location` (already
  // durable), extending the size if needed, in one transaction.
  Result<WriteResult> CommitWrite(uint64_t ino, uint64_t offset, uint64_t length,
                                  std::string_view location, const CommitHook& hook = {});
  // Replaces the whole content of a file by `extents` (already durable) and sets its size, in
  // one transaction: a reader sees the old content or the new, never a mix.
  Result<WriteResult> ReplaceContents(uint64_t ino, const std::vector<Extent>& extents,
                                      uint64_t size, const CommitHook& hook = {});
  // Creates the file `name` in `dir` if missing and sets its whole content, in one transaction:
  // a failed or interrupted put leaves nothing visible, and readers see old or new content.
  //
  // For the three writes above and below, `hook` runs inside the transaction after the file is
  // set, to commit the data layer's records of the new extents (buffer index, stripe members)
  // with them.
  Result<WriteResult> PutFile(uint64_t dir, std::string_view name, const NewNode& node,
                              const std::vector<Extent>& extents, uint64_t size,
                              const CommitHook& hook = {});

  // PutFile in parts, for callers that commit through a CommitBatcher: Prepare checks the
  // arguments and reserves an inode number; the op's `body` runs in a transaction (maybe
  // several times); Finish gives PutFile's result from how the commit went.
  struct PutFileOp {
    std::function<Status(meta::Transaction&)> body;
    uint64_t ino = 0;
    bool used = false;  // the reserved inode number became the file
    WriteResult result;
  };
  Result<std::shared_ptr<PutFileOp>> PreparePutFile(uint64_t dir, std::string_view name,
                                                    const NewNode& node,
                                                    std::vector<Extent> extents, uint64_t size,
                                                    CommitHook hook);
  Result<WriteResult> FinishPutFile(const PutFileOp& op, const Status& committed);

 private:
  Namespace(meta::Store* store, env::Env* env) : store_(store), env_(env) {}
  Result<uint64_t> AllocateInode();
  Status CreateRoot();

  meta::Store* store_;
  env::Env* env_;
  uint64_t next_ino_ = 0;   // inode numbers [next_ino_, ino_limit_) are reserved for us
  uint64_t ino_limit_ = 0;
};

}  // namespace dase::estore
