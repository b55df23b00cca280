#include "estore/service.h"

#include <fmt/format.h>

#include "common/coding.h"
#include "common/log.h"
#include "rpc/methods.h"

namespace dase::estore {
namespace {

// "a/b/c" → ("a/b", "c"), refusing empty and invalid components.
Result<std::pair<std::string, std::string>> SplitParent(std::string_view path) {
  if (path.empty() || path.size() > kPathBytesMax) return InvalidArgument("path length out of range");
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return InvalidArgument("the root is not a file");
  size_t slash = path.rfind('/');
  std::string parent(slash == std::string_view::npos ? "" : path.substr(0, slash));
  std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
  RETURN_IF_ERROR(ValidateName(name));
  return std::make_pair(parent, name);
}

Result<std::string> DecodePath(std::string_view payload) {
  Reader r(payload);
  ASSIGN_OR_RETURN(std::string path, r.GetString(kPathBytesMax));
  RETURN_IF_ERROR(r.ExpectEnd());
  return path;
}

}  // namespace

std::string EncodePutRequest(std::string_view path, std::string_view data) {
  Writer w;
  w.PutString(path);
  w.PutString(data);
  return std::move(w).Release();
}

std::string EncodePathRequest(std::string_view path) {
  Writer w;
  w.PutString(path);
  return std::move(w).Release();
}

Result<std::vector<ListEntry>> DecodeListReply(std::string_view payload) {
  Reader r(payload);
  ASSIGN_OR_RETURN(uint64_t count, r.GetVarint64());
  if (count > kListMax) return Corruption("list reply too long");
  std::vector<ListEntry> entries;
  for (uint64_t i = 0; i < count; ++i) {
    ListEntry e;
    ASSIGN_OR_RETURN(e.name, r.GetString(kNameBytesMax));
    ASSIGN_OR_RETURN(uint8_t type, r.GetU8());
    e.type = type == static_cast<uint8_t>(FileType::kDirectory) ? FileType::kDirectory
                                                                 : FileType::kFile;
    ASSIGN_OR_RETURN(e.size, r.GetVarint64());
    entries.push_back(std::move(e));
  }
  RETURN_IF_ERROR(r.ExpectEnd());
  return entries;
}

awaitable<Result<uint64_t>> EstoreService::Put(std::string path, std::string data) {
  if (data.size() > kObjectBytesMax) co_return InvalidArgument("object larger than 48 MiB");
  CO_ASSIGN_OR_RETURN(auto parts, SplitParent(path));
  CO_ASSIGN_OR_RETURN(Inode dir, ns_->MakeDirs(parts.first));
  PutOptions options;  // named locals: see common/asio.h
  CO_ASSIGN_OR_RETURN(WriteResult written,
                      co_await objects_->Put(dir.ino, parts.second, std::move(data), options));
  co_return written.inode.size;
}

awaitable<Result<std::string>> EstoreService::Get(std::string path) {
  CO_ASSIGN_OR_RETURN(Inode inode, ns_->Resolve(path));
  if (inode.type != FileType::kFile) co_return InvalidArgument(path + " is a directory");
  if (inode.size > kObjectBytesMax) co_return InvalidArgument("object larger than 48 MiB");
  CO_ASSIGN_OR_RETURN(ReadResult read, co_await objects_->Read(inode.ino, 0, kObjectBytesMax));
  if (read.inode.size > kObjectBytesMax) co_return InvalidArgument("object larger than 48 MiB");
  co_return std::move(read.data);
}

Result<std::vector<ListEntry>> EstoreService::List(const std::string& path) {
  ASSIGN_OR_RETURN(Inode dir, ns_->Resolve(path));
  if (dir.type != FileType::kDirectory) return InvalidArgument(path + " is not a directory");
  ASSIGN_OR_RETURN(ReadDirPage page, ns_->ReadDir(dir.ino, "", kListMax));
  std::vector<ListEntry> out;
  for (const DirEntry& e : page.entries) {
    ASSIGN_OR_RETURN(Inode child, ns_->GetAttr(e.ino));
    out.push_back(ListEntry{e.name, e.type, child.size});
  }
  return out;
}

Status EstoreService::Remove(const std::string& path) {
  ASSIGN_OR_RETURN(auto parts, SplitParent(path));
  ASSIGN_OR_RETURN(Inode dir, ns_->Resolve(parts.first));
  ASSIGN_OR_RETURN(Inode target, ns_->Lookup(dir.ino, parts.second));
  if (target.type == FileType::kDirectory) return ns_->Rmdir(dir.ino, parts.second);
  return objects_->Unlink(dir.ino, parts.second);
}

void EstoreService::Register(rpc::Server& server) {
  server.Register(rpc::Method::kEstorePut, [this](std::string payload) -> awaitable<Result<std::string>> {
    Reader r(payload);
    CO_ASSIGN_OR_RETURN(std::string path, r.GetString(kPathBytesMax));
    CO_ASSIGN_OR_RETURN(std::string data, r.GetString(kObjectBytesMax));
    CO_RETURN_IF_ERROR(r.ExpectEnd());
    CO_ASSIGN_OR_RETURN(uint64_t size, co_await Put(std::move(path), std::move(data)));
    Writer w;
    w.PutVarint64(size);
    co_return std::move(w).Release();
  });
  server.Register(rpc::Method::kEstoreGet, [this](std::string payload) -> awaitable<Result<std::string>> {
    CO_ASSIGN_OR_RETURN(std::string path, DecodePath(payload));
    co_return co_await Get(std::move(path));
  });
  server.Register(rpc::Method::kEstoreList, [this](std::string payload) -> awaitable<Result<std::string>> {
    CO_ASSIGN_OR_RETURN(std::string path, DecodePath(payload));
    CO_ASSIGN_OR_RETURN(std::vector<ListEntry> entries, List(path));
    Writer w;
    w.PutVarint64(entries.size());
    for (const ListEntry& e : entries) {
      w.PutString(e.name);
      w.PutU8(static_cast<uint8_t>(e.type));
      w.PutVarint64(e.size);
    }
    co_return std::move(w).Release();
  });
  server.Register(rpc::Method::kEstoreRemove, [this](std::string payload) -> awaitable<Result<std::string>> {
    CO_ASSIGN_OR_RETURN(std::string path, DecodePath(payload));
    CO_RETURN_IF_ERROR(Remove(path));
    co_return std::string();
  });
}

}  // namespace dase::estore
