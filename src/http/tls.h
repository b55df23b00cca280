// TLS material for dase's HTTPS endpoints: a self-signed certificate made on first start, and
// the server-side OpenSSL context that serves it.
//
// The certificate is its own CA (basicConstraints CA:TRUE), so a client can pin the very file
// the server presents (`dase ... --ca-cert`), or skip verification as VAST clients usually do.
//
// Thread-safety: free functions with no shared state; a returned context is immutable once made
// and may be shared by any number of connections on one io_context.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/asio.h"
#include "common/result.h"
#include "common/status.h"
#include "env/env.h"

#include <boost/asio/ssl/context.hpp>

namespace dase::http {

// Certificates are valid for ten years from creation.
inline constexpr int64_t kCertValidityDays = 3650;

// Keeps `cert_path` and `key_path` if both exist; otherwise writes a new EC P-256 key (mode
// 0600) and a self-signed X.509 v3 certificate (CN=dase, the given subjectAltNames) atomically.
// `ip_sans` must be literal IPv4/IPv6 addresses and `dns_sans` plain host names, else
// InvalidArgument.
Status EnsureSelfSignedCert(env::Env* env, const std::string& cert_path,
                            const std::string& key_path, const std::vector<std::string>& ip_sans,
                            const std::vector<std::string>& dns_sans);

// A TLS 1.2+ server context with the certificate chain and key read (through `env`) from PEM
// files.
Result<std::shared_ptr<asio::ssl::context>> MakeServerTlsContext(env::Env* env,
                                                                 const std::string& cert_path,
                                                                 const std::string& key_path);

// The last OpenSSL errors on this thread as text (the error queue is drained).
std::string DrainOpenSslErrors();

}  // namespace dase::http
