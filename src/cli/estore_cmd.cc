// `dase estore put|get|ls|rm PATH`: the element store through a running CNode, before S3 and
// NFS exist. The CNode is found through the VMS API (an ACTIVE CNode's data_tcp_port); the
// call is the CNode's internal RPC.
#include <unistd.h>

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <iostream>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "common/asio.h"
#include "estore/service.h"
#include "rpc/client.h"
#include "rpc/methods.h"

namespace dase::cli {
namespace json = boost::json;

namespace {

Result<uint16_t> FindCnodePort(const control::Layout& layout) {
  ASSIGN_OR_RETURN(ApiClient client, ApiClient::Open(layout));
  ASSIGN_OR_RETURN(json::value nodes, client.Get("cnodes/?state=ACTIVE"));
  for (const json::value& n : nodes.as_array()) {
    const json::value* port = n.as_object().if_contains("data_tcp_port");
    if (port != nullptr && port->is_int64() && port->as_int64() > 0) {
      return static_cast<uint16_t>(port->as_int64());
    }
  }
  return Unavailable("no ACTIVE cnode");
}

Result<std::string> CallCnode(uint16_t port, rpc::Method method, std::string payload) {
  asio::io_context io(1);
  rpc::Client client(io, "127.0.0.1", port, rpc::ClientOptions{});
  Result<std::string> result = Internal("no answer");
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        result = co_await client.Call(method, payload, std::chrono::seconds(60));
        client.Close();
      },
      asio::detached);
  io.run();
  return result;
}

Result<std::string> ReadStdin() {
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0) return ErrnoStatus("read stdin", errno);
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > estore::kObjectBytesMax) return InvalidArgument("object larger than 48 MiB");
  }
}

int Fail(const dase::Status& s) {
  std::cerr << "dase estore: " << s.ToString() << "\n";
  return 1;
}

}  // namespace

int EstoreCommand(const control::Layout& layout, const std::string& verb, const std::string& path) {
  auto port = FindCnodePort(layout);
  if (!port.ok()) return Fail(port.status());
  if (verb == "put") {
    auto data = ReadStdin();
    if (!data.ok()) return Fail(data.status());
    auto r = CallCnode(*port, rpc::Method::kEstorePut, estore::EncodePutRequest(path, *data));
    if (!r.ok()) return Fail(r.status());
    return 0;
  }
  if (verb == "get") {
    auto r = CallCnode(*port, rpc::Method::kEstoreGet, estore::EncodePathRequest(path));
    if (!r.ok()) return Fail(r.status());
    std::cout.write(r->data(), static_cast<std::streamsize>(r->size()));
    std::cout.flush();
    return std::cout ? 0 : 1;
  }
  if (verb == "ls") {
    auto r = CallCnode(*port, rpc::Method::kEstoreList, estore::EncodePathRequest(path));
    if (!r.ok()) return Fail(r.status());
    auto entries = estore::DecodeListReply(*r);
    if (!entries.ok()) return Fail(entries.status());
    for (const estore::ListEntry& e : *entries) {
      bool dir = e.type == estore::FileType::kDirectory;
      std::cout << fmt::format("{:>12} {}{}\n", dir ? "-" : std::to_string(e.size), e.name,
                               dir ? "/" : "");
    }
    return 0;
  }
  auto r = CallCnode(*port, rpc::Method::kEstoreRemove, estore::EncodePathRequest(path));
  if (!r.ok()) return Fail(r.status());
  return 0;
}

}  // namespace dase::cli
