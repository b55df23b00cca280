// KeyWalker: the keys of a bucket in S3's order, over the element store's directory tree.
//
// A bucket is a view: object key "a/b/c" is the file c in directory a/b under the view's
// directory. S3 lists keys in byte order of the whole key, which is not the order of a
// depth-first walk by name: "a-b" < "a/x" < "a0", while the names sort "a" < "a-b" < "a0". So a
// directory "a" takes its place among its siblings as "a/", and the walker reads each directory
// in name order while holding back entries until nothing unread can sort before them.
//
// Directories are objects only when they carry a marker (a key ending in "/" that was put);
// other directories just hold keys. With delimiter "/" a directory below the prefix is one
// common prefix and is not entered; any other delimiter groups keys as strings.
//
// Not thread-safe; the CNode's loop thread. Each directory page is one metadata read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "common/result.h"
#include "estore/namespace.h"

namespace dase::s3 {

struct WalkOptions {
  std::string prefix;
  std::string start_after;  // keys <= this are skipped
  // Keys starting with this are skipped (resuming after a common prefix); empty for none.
  std::string skip_prefix;
  std::string delimiter;
};

struct WalkItem {
  std::string key;         // the key, or the common prefix
  bool common_prefix = false;
  uint64_t ino = 0;        // objects: the file or marked directory
  bool directory = false;  // a directory marker object
};

class KeyWalker {
 public:
  KeyWalker(estore::Namespace* ns, uint64_t bucket_ino, WalkOptions options);

  // The next key or common prefix; nullopt at the end.
  Result<std::optional<WalkItem>> Next();

 private:
  struct Pending {
    std::string sort_key;  // name, or name + "/" for a directory
    estore::DirEntry entry;
    bool operator>(const Pending& other) const { return sort_key > other.sort_key; }
  };
  struct Frame {
    uint64_t ino = 0;
    std::string path;       // key prefix of everything in it ("" or "a/b/")
    std::string remainder;  // the part of options.prefix below path ("" if none)
    std::string read_from;  // first name to read (inclusive) while nothing is read
    std::string last_read;
    bool started = false;
    bool exhausted = false;
    std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> held;
  };

  Frame MakeFrame(uint64_t ino, std::string path) const;
  Status Fill(Frame& frame);
  // The next entry of the top frame in key order, reading pages as needed.
  Result<std::optional<Pending>> NextEntry(Frame& frame);
  // Whether a directory key may hold keys the walk wants.
  bool DirWanted(const std::string& dir_key) const;
  bool KeyWanted(const std::string& key) const;
  // Applies the delimiter to an object key: the key itself, or a new common prefix, or
  // nothing (a prefix already given).
  std::optional<WalkItem> Group(WalkItem item);
  Result<bool> DirHasContent(uint64_t ino);

  estore::Namespace* ns_;
  WalkOptions options_;
  std::vector<Frame> stack_;
  std::string last_prefix_;  // the last common prefix given
};

}  // namespace dase::s3
