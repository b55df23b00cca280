// Fetch: a blocking HTTP/1.1 client for the CLI and tests, over plain TCP or TLS.
//
// Each call opens one connection, sends one request and reads one response, all on a private
// io_context, bounded by the request's timeout. With TLS the server certificate is verified
// against `ca_cert_path` (a pinned CA, e.g. dase's own self-signed certificate) or the system
// store, and its subjectAltNames must name `host` (IP or DNS name).
//
// Thread-safety: Fetch may be called from any thread, but it blocks that thread: never call it
// from a thread that runs a dase io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "env/env.h"

namespace dase::http {

enum class Scheme { kHttp, kHttps };
enum class TlsVerify {
  kVerifyPeer,  // certificate chain and host name
  kNone,        // accept any certificate (what most VAST clients do; `curl -k`)
};

struct FetchRequest {
  std::string method = "GET";
  std::string host;  // IP literal or DNS name; also the Host header and the name verified
  uint16_t port = 0;
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::steady_clock::duration timeout = std::chrono::seconds(30);
  Scheme scheme = Scheme::kHttp;
  TlsVerify verify = TlsVerify::kVerifyPeer;
  std::string ca_cert_path;  // PEM; empty uses the system trust store
  uint64_t response_body_limit_bytes = 64 * 1024 * 1024;
  env::Env* env = nullptr;  // reads ca_cert_path; nullptr means env::Env::Default()
};

struct ClientResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; repeats joined with ", "
  std::string body;
};

// Errors: InvalidArgument (bad request or CA file), Unavailable (connect or I/O failed),
// Unauthenticated (the server's certificate did not verify), Timeout.
Result<ClientResponse> Fetch(const FetchRequest& request);

}  // namespace dase::http
