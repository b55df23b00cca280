#include "s3/listing.h"

#include <algorithm>

namespace dase::s3 {
namespace {

constexpr size_t kPageEntries = 256;

// The smallest name in a directory that can sort at or after `rest` (a key below the
// directory): its first component, cut before the first character that sorts before '/',
// because a directory "ab" sorts as "ab/", after "ab-".
std::string LowerBound(std::string_view rest) {
  std::string_view first = rest.substr(0, rest.find('/'));
  size_t cut = 0;
  while (cut < first.size() && static_cast<unsigned char>(first[cut]) >= '/') ++cut;
  return std::string(first.substr(0, cut));
}

}  // namespace

KeyWalker::KeyWalker(estore::Namespace* ns, uint64_t bucket_ino, WalkOptions options)
    : ns_(ns), options_(std::move(options)) {
  stack_.push_back(MakeFrame(bucket_ino, ""));
}

KeyWalker::Frame KeyWalker::MakeFrame(uint64_t ino, std::string path) const {
  Frame f;
  f.ino = ino;
  const std::string& prefix = options_.prefix;
  if (prefix.size() > path.size() && prefix.starts_with(path)) f.remainder = prefix.substr(path.size());
  f.read_from = LowerBound(f.remainder);
  const std::string& after = options_.start_after;
  if (after.size() > path.size() && after.starts_with(path)) {
    f.read_from = std::max(f.read_from, LowerBound(std::string_view(after).substr(path.size())));
  }
  f.path = std::move(path);
  return f;
}

Status KeyWalker::Fill(Frame& frame) {
  auto page = frame.started ? ns_->ReadDir(frame.ino, frame.last_read, kPageEntries)
                            : ns_->ReadDirFrom(frame.ino, frame.read_from, kPageEntries);
  RETURN_IF_ERROR(page.status());
  frame.started = true;
  // Names that cannot match the prefix end the directory: with a prefix below it, only names
  // starting with the prefix's first component can.
  std::string_view want = std::string_view(frame.remainder).substr(0, frame.remainder.find('/'));
  for (estore::DirEntry& e : page->entries) {
    frame.last_read = e.name;
    if (!want.empty() && !std::string_view(e.name).starts_with(want) && e.name > want) {
      frame.exhausted = true;
      return Status::Ok();
    }
    std::string sort_key = e.type == estore::FileType::kDirectory ? e.name + "/" : e.name;
    frame.held.push(Pending{std::move(sort_key), std::move(e)});
  }
  if (!page->more) frame.exhausted = true;
  return Status::Ok();
}

Result<std::optional<KeyWalker::Pending>> KeyWalker::NextEntry(Frame& frame) {
  while (true) {
    // An unread name sorts after last_read, and so does its sort key: what is held up to
    // last_read is in order.
    if (!frame.held.empty() && (frame.exhausted || frame.held.top().sort_key <= frame.last_read)) {
      Pending next = frame.held.top();
      frame.held.pop();
      return std::optional<Pending>(std::move(next));
    }
    if (frame.exhausted) return std::optional<Pending>();
    RETURN_IF_ERROR(Fill(frame));
  }
}

bool KeyWalker::KeyWanted(const std::string& key) const {
  if (!key.starts_with(options_.prefix) || key <= options_.start_after) return false;
  return options_.skip_prefix.empty() || !key.starts_with(options_.skip_prefix);
}

bool KeyWalker::DirWanted(const std::string& dir_key) const {
  if (!dir_key.starts_with(options_.prefix) && !options_.prefix.starts_with(dir_key)) return false;
  // Every key below the directory starts with dir_key: all of them are <= start_after if
  // start_after sorts after dir_key without starting with it.
  const std::string& after = options_.start_after;
  if (after > dir_key && !after.starts_with(dir_key)) return false;
  return options_.skip_prefix.empty() || !dir_key.starts_with(options_.skip_prefix);
}

std::optional<WalkItem> KeyWalker::Group(WalkItem item) {
  if (options_.delimiter.empty()) return item;
  size_t pos = item.key.find(options_.delimiter, options_.prefix.size());
  if (pos == std::string::npos) return item;
  std::string common = item.key.substr(0, pos + options_.delimiter.size());
  if (common == last_prefix_) return std::nullopt;
  last_prefix_ = common;
  return WalkItem{std::move(common), true, 0, false};
}

Result<bool> KeyWalker::DirHasContent(uint64_t ino) {
  ASSIGN_OR_RETURN(auto attrs, ns_->GetObjectAttrs(ino));
  if (attrs) return true;
  ASSIGN_OR_RETURN(estore::ReadDirPage page, ns_->ReadDir(ino, "", 1));
  return !page.entries.empty();
}

Result<std::optional<WalkItem>> KeyWalker::Next() {
  while (!stack_.empty()) {
    ASSIGN_OR_RETURN(std::optional<Pending> pending, NextEntry(stack_.back()));
    if (!pending) {
      stack_.pop_back();
      continue;
    }
    std::string key = stack_.back().path + pending->sort_key;
    uint64_t ino = pending->entry.ino;
    if (pending->entry.type != estore::FileType::kDirectory) {
      if (!KeyWanted(key)) continue;
      if (auto item = Group(WalkItem{std::move(key), false, ino, false})) return item;
      continue;
    }
    if (!DirWanted(key)) continue;
    const std::string& prefix = options_.prefix;
    if (options_.delimiter == "/" && key.size() > prefix.size() && key.starts_with(prefix)) {
      // Every key below falls into the common prefix up to the first '/' after the prefix.
      std::string common = key.substr(0, key.find('/', prefix.size()) + 1);
      if (common == last_prefix_) continue;  // given already: skip the whole directory
      if (common == key && !options_.start_after.starts_with(key)) {
        // The directory is the common prefix: no need to enter. (If the walk starts inside
        // it, it is entered: the prefix counts only if a key after the start is in it.)
        ASSIGN_OR_RETURN(bool content, DirHasContent(ino));
        if (!content) continue;
        last_prefix_ = key;
        return std::optional<WalkItem>(WalkItem{std::move(key), true, 0, false});
      }
    }
    stack_.push_back(MakeFrame(ino, key));
    // A marked directory is an object, sorting before everything in it.
    ASSIGN_OR_RETURN(auto attrs, ns_->GetObjectAttrs(ino));
    if (attrs && KeyWanted(key)) {
      if (auto item = Group(WalkItem{std::move(key), false, ino, true})) return item;
    }
  }
  return std::optional<WalkItem>();
}

}  // namespace dase::s3
