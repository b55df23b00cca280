// EstoreService: a CNode's element-store RPC methods (kEstorePut/Get/List/Remove), which the
// `dase estore` command line calls. Whole-object operations over the ObjectStore: put replaces
// a file atomically (data durable first, then one metadata transaction), get reads it back.
//
// Wire format (common/coding.h): requests and replies are documented in
// docs/formats/estore.md. Objects are limited to kObjectBytesMax here; ranged I/O arrives with
// the protocols. Thread-safety: the CNode's loop thread only.
#pragma once

#include <string>

#include "common/asio.h"
#include "estore/objects.h"
#include "rpc/server.h"

namespace dase::estore {

inline constexpr uint64_t kObjectBytesMax = 48ull << 20;
inline constexpr size_t kPathBytesMax = 4096;
inline constexpr uint32_t kListMax = 1000;

struct ListEntry {
  std::string name;
  FileType type = FileType::kFile;
  uint64_t size = 0;
};

class EstoreService {
 public:
  explicit EstoreService(ObjectStore* objects) : objects_(objects), ns_(objects->ns()) {}
  void Register(rpc::Server& server);

  awaitable<Result<uint64_t>> Put(std::string path, std::string data);
  awaitable<Result<std::string>> Get(std::string path);
  Result<std::vector<ListEntry>> List(const std::string& path);
  Status Remove(const std::string& path);

 private:
  ObjectStore* objects_;
  Namespace* ns_;
};

// Client-side encodings of the requests and replies.
std::string EncodePutRequest(std::string_view path, std::string_view data);
std::string EncodePathRequest(std::string_view path);
Result<std::vector<ListEntry>> DecodeListReply(std::string_view payload);

}  // namespace dase::estore
