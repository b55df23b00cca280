#include "rpc/server.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/log.h"
#include "rpc/server_connection.h"
#include "rpc/spawn.h"

namespace dase::rpc {
namespace {

// After an accept error such as EMFILE the next accept would fail at once; waiting a little
// keeps the loop from spinning while descriptors are exhausted.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

Status SocketStatus(const std::string& context, const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category()) return ErrnoStatus(context, ec.value());
  return IOError(context + ": " + ec.message());
}

Result<tcp::endpoint> ResolveListenEndpoint(asio::io_context& io, const std::string& host,
                                            uint16_t port) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  // A name, not an address. Listen runs at startup, so a blocking lookup is acceptable here.
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return SocketStatus("resolve " + host, ec);
  if (results.empty()) return NotFound("resolve " + host + ": no addresses");
  return results.begin()->endpoint();
}

awaitable<void> AcceptLoop(std::shared_ptr<ServerCore> core) {
  asio::steady_timer retry_timer(core->io);
  while (!core->stopped) {
    auto [ec, socket] = co_await core->acceptor.async_accept(asio::as_tuple(use_awaitable));
    if (core->stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      LOG_WARN("rpc: accept on port {}: {}", core->port, ec.message());
      retry_timer.expires_after(kAcceptRetryDelay);
      co_await retry_timer.async_wait(asio::as_tuple(use_awaitable));
      continue;
    }
    if (core->connections.size() >= core->options.max_connections) {
      LOG_WARN("rpc: port {} refuses a connection: {} connections is the limit", core->port,
               core->options.max_connections);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    boost::system::error_code ignored;
    // Requests and responses are small and latency-bound; do not let Nagle hold them back.
    socket.set_option(tcp::no_delay(true), ignored);
    const uint64_t id = core->next_connection_id++;
    auto connection = std::make_shared<ServerConnection>(core, std::move(socket), id);
    core->connections.emplace(id, connection);
    connection->Start();
  }
}

}  // namespace

Server::Server(asio::io_context& io, ServerOptions options)
    : core_(std::make_shared<ServerCore>(io, options)) {
  CHECK(options.max_connections > 0 && options.max_inflight_per_connection > 0)
      << "a zero limit would serve nothing";
  Register(Method::kPing,
           [](std::string payload) -> awaitable<Result<std::string>> { co_return payload; });
}

Server::~Server() { Stop(); }

void Server::Register(Method method, Handler handler) {
  CHECK(handler != nullptr);
  const auto [it, inserted] = core_->handlers.emplace(
      MethodId(method), std::make_shared<const Handler>(std::move(handler)));
  CHECK(inserted) << "rpc method " << MethodId(method) << " registered twice";
}

Result<uint16_t> Server::Listen(const std::string& host, uint16_t port) {
  CHECK(!core_->acceptor.is_open()) << "Listen or Adopt called twice";
  const std::string where = "rpc listen on " + host + ":" + std::to_string(port);
  ASSIGN_OR_RETURN(const tcp::endpoint endpoint, ResolveListenEndpoint(core_->io, host, port));
  tcp::acceptor& acceptor = core_->acceptor;
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  // A restarted process must be able to bind while old connections sit in TIME_WAIT.
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = acceptor.local_endpoint(ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return SocketStatus(where, ec);
  }
  core_->port = bound.port();
  return core_->port;
}

Result<uint16_t> Server::Adopt(int listening_fd) {
  CHECK(!core_->acceptor.is_open()) << "Listen or Adopt called twice";
  const std::string where = "rpc adopt fd " + std::to_string(listening_fd);
  int accepting = 0;
  socklen_t len = sizeof(accepting);
  if (::getsockopt(listening_fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0) {
    return ErrnoStatus(where, errno);
  }
  if (!accepting) return InvalidArgument(where + ": not a listening socket");
  sockaddr_storage address{};
  len = sizeof(address);
  if (::getsockname(listening_fd, reinterpret_cast<sockaddr*>(&address), &len) != 0) {
    return ErrnoStatus(where, errno);
  }
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6) {
    return InvalidArgument(where + ": not an IP socket");
  }
  // Inherited across one exec on purpose; it should not leak into this process's children.
  if (::fcntl(listening_fd, F_SETFD, FD_CLOEXEC) != 0) return ErrnoStatus(where, errno);
  boost::system::error_code ec;
  core_->acceptor.assign(address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), listening_fd, ec);
  if (ec) return SocketStatus(where, ec);
  const tcp::endpoint bound = core_->acceptor.local_endpoint(ec);
  if (ec) return SocketStatus(where, ec);
  core_->port = bound.port();
  return core_->port;
}

void Server::Start() {
  CHECK(core_->acceptor.is_open()) << "Start before a successful Listen or Adopt";
  CHECK(!core_->started) << "Start called twice";
  core_->started = true;
  Spawn(core_->io, AcceptLoop(core_), "rpc accept loop");
}

void Server::Stop() {
  if (core_->stopped) return;
  core_->stopped = true;
  boost::system::error_code ignored;
  core_->acceptor.close(ignored);
  // Close erases from the map, so close from a copy.
  std::vector<std::shared_ptr<ServerConnection>> live;
  for (auto& [id, weak] : core_->connections) {
    if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->Close(Status::Ok());
  core_->connections.clear();
}

uint16_t Server::port() const { return core_->port; }

}  // namespace dase::rpc
