#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/asio.h"
#include "http/tls.h"

namespace dase::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using SslStream = beast::ssl_stream<beast::tcp_stream>;
using Request = bhttp::request<bhttp::string_body>;

namespace {

constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr uint32_t kResponseHeaderLimitBytes = 64 * 1024;
constexpr size_t kHostBytesMax = 255;

using Clock = std::chrono::steady_clock;

Status IoError(std::string_view what, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout) return Timeout(std::string(what) + ": timed out");
  return Unavailable(std::string(what) + ": " + ec.message());
}

std::string HostHeader(const FetchRequest& r) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(r.host, ec);
  std::string host = (!ec && address.is_v6()) ? "[" + r.host + "]" : r.host;
  return host + ":" + std::to_string(r.port);
}

Result<Request> BuildRequest(const FetchRequest& r) {
  bhttp::verb verb = bhttp::string_to_verb(r.method);
  if (verb == bhttp::verb::unknown) return InvalidArgument("unknown HTTP method " + r.method);
  if (r.target.empty() || r.target[0] != '/') {
    return InvalidArgument("request target must start with '/': " + r.target);
  }
  Request req{verb, r.target, 11};
  req.set(bhttp::field::host, HostHeader(r));
  req.set(bhttp::field::user_agent, "dase");
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.body() = r.body;
  req.keep_alive(false);
  try {
    req.prepare_payload();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("request: ") + e.what());
  }
  return req;
}

Result<std::unique_ptr<asio::ssl::context>> MakeClientContext(const FetchRequest& r) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (r.verify == TlsVerify::kNone) {
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
    return ctx;
  }
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  if (r.ca_cert_path.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return Unavailable("system trust store: " + ec.message());
    return ctx;
  }
  env::Env* env = r.env != nullptr ? r.env : env::Env::Default();
  ASSIGN_OR_RETURN(std::string pem, env::ReadFile(env, r.ca_cert_path));
  ctx->add_certificate_authority(asio::buffer(pem), ec);
  if (ec) return InvalidArgument(r.ca_cert_path + ": " + ec.message());
  return ctx;
}

// Names the peer the certificate must match, and sends SNI for DNS names.
Status PrepareTls(SslStream& stream, const FetchRequest& r) {
  if (r.verify == TlsVerify::kNone) return Status::Ok();
  X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  boost::system::error_code ec;
  asio::ip::make_address(r.host, ec);
  if (!ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, r.host.c_str()) != 1) {
      return InvalidArgument("bad IP address " + r.host + ": " + DrainOpenSslErrors());
    }
    return Status::Ok();
  }
  if (X509_VERIFY_PARAM_set1_host(param, r.host.c_str(), r.host.size()) != 1 ||
      SSL_set_tlsext_host_name(stream.native_handle(), r.host.c_str()) != 1) {
    return InvalidArgument("bad host name " + r.host + ": " + DrainOpenSslErrors());
  }
  return Status::Ok();
}

ClientResponse ToClientResponse(const bhttp::response<bhttp::string_body>& res) {
  ClientResponse out;
  out.status = res.result_int();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string& value = out.headers[name];
    if (!value.empty()) value += ", ";
    value += std::string(field.value());
  }
  out.body = res.body();
  return out;
}

template <typename Stream>
awaitable<Result<ClientResponse>> Exchange(Stream& stream, Request& req, const FetchRequest& r,
                                           Clock::time_point deadline) {
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_at(deadline);
  auto [write_ec, written] = co_await bhttp::async_write(stream, req, kTuple);
  if (write_ec) co_return IoError("send request", write_ec);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kResponseHeaderLimitBytes);
  parser.body_limit(r.response_body_limit_bytes);
  if (req.method() == bhttp::verb::head) parser.skip(true);
  tcp.expires_at(deadline);
  auto [read_ec, read] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
  if (read_ec) co_return IoError("read response", read_ec);
  tcp.close();
  co_return ToClientResponse(parser.get());
}

Status HandshakeError(SslStream& stream, const boost::system::error_code& ec) {
  long verify = SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    return Unauthenticated(std::string("server certificate rejected: ") +
                           X509_verify_cert_error_string(verify));
  }
  return IoError("TLS handshake", ec);
}

awaitable<Result<tcp::resolver::results_type>> Resolve(const FetchRequest& r,
                                                       Clock::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  asio::steady_timer timer(executor, deadline);
  auto outcome = co_await (resolver.async_resolve(r.host, std::to_string(r.port), kTuple) ||
                           timer.async_wait(kTuple));
  if (outcome.index() == 1) co_return Timeout("resolve " + r.host + ": timed out");
  auto [ec, results] = std::get<0>(std::move(outcome));
  if (ec) co_return Unavailable("resolve " + r.host + ": " + ec.message());
  co_return results;
}

awaitable<Result<ClientResponse>> FetchOnLoop(const FetchRequest& r, Request& req,
                                              asio::ssl::context* tls) {
  Clock::time_point deadline = Clock::now() + r.timeout;
  CO_ASSIGN_OR_RETURN(auto endpoints, co_await Resolve(r, deadline));
  beast::tcp_stream tcp(co_await asio::this_coro::executor);
  tcp.expires_at(deadline);
  auto [connect_ec, endpoint] = co_await tcp.async_connect(endpoints, kTuple);
  if (connect_ec) co_return IoError(fmt::format("connect {}:{}", r.host, r.port), connect_ec);
  if (tls == nullptr) co_return co_await Exchange(tcp, req, r, deadline);
  SslStream stream(std::move(tcp), *tls);
  CO_RETURN_IF_ERROR(PrepareTls(stream, r));
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [hs_ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hs_ec) co_return HandshakeError(stream, hs_ec);
  co_return co_await Exchange(stream, req, r, deadline);
}

}  // namespace

Result<ClientResponse> Fetch(const FetchRequest& request) {
  if (request.host.empty() || request.host.size() > kHostBytesMax) {
    return InvalidArgument("bad host '" + request.host + "'");
  }
  ASSIGN_OR_RETURN(Request req, BuildRequest(request));
  try {
    std::unique_ptr<asio::ssl::context> tls;
    if (request.scheme == Scheme::kHttps) {
      ASSIGN_OR_RETURN(tls, MakeClientContext(request));
    }
    asio::io_context io;
    std::optional<Result<ClientResponse>> out;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> { out.emplace(co_await FetchOnLoop(request, req, tls.get())); },
        [&](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            out.emplace(Internal(std::string("fetch: ") + ex.what()));
          }
        });
    io.run();
    if (!out) return Internal("fetch did not complete");
    return std::move(*out);
  } catch (const std::exception& e) {
    return Internal(std::string("fetch: ") + e.what());
  }
}

}  // namespace dase::http
