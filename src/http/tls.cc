#include "http/tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <span>

#include "common/log.h"

namespace dase::http {
namespace {

template <auto kFree>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;

constexpr size_t kSerialBytes = 16;
constexpr size_t kMaxDnsNameBytes = 253;

Status SslError(std::string_view what) {
  return Internal(std::string(what) + ": " + DrainOpenSslErrors());
}

bool IsValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > kMaxDnsNameBytes) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '*';
    if (!ok) return false;
  }
  return true;
}

Status PushName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (name == nullptr) {
    ASN1_STRING_free(value);
    return SslError("GENERAL_NAME_new");
  }
  GENERAL_NAME_set0_value(name, type, value);
  if (sk_GENERAL_NAME_push(names, name) == 0) {
    GENERAL_NAME_free(name);
    return SslError("sk_GENERAL_NAME_push");
  }
  return Status::Ok();
}

Result<NamesPtr> MakeSans(const std::vector<std::string>& ip_sans,
                          const std::vector<std::string>& dns_sans) {
  NamesPtr names(GENERAL_NAMES_new());
  if (!names) return SslError("GENERAL_NAMES_new");
  for (const std::string& ip : ip_sans) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr) {
      DrainOpenSslErrors();
      return InvalidArgument("not an IP address for a certificate: '" + ip + "'");
    }
    RETURN_IF_ERROR(PushName(names.get(), GEN_IPADD, octets));
  }
  for (const std::string& dns : dns_sans) {
    if (!IsValidDnsName(dns)) {
      return InvalidArgument("not a DNS name for a certificate: '" + dns + "'");
    }
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (text == nullptr || ASN1_STRING_set(text, dns.data(), static_cast<int>(dns.size())) == 0) {
      ASN1_IA5STRING_free(text);
      return SslError("ASN1_STRING_set");
    }
    RETURN_IF_ERROR(PushName(names.get(), GEN_DNS, text));
  }
  return names;
}

Status SetSerial(env::Env* env, X509* cert) {
  unsigned char bytes[kSerialBytes];
  env->RandomBytes(std::span<char>(reinterpret_cast<char*>(bytes), sizeof(bytes)));
  bytes[0] = (bytes[0] & 0x7f) | 0x40;  // positive, non-zero, and exactly kSerialBytes long
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return SslError("certificate serial");
  }
  return Status::Ok();
}

Status SetNameAndValidity(env::Env* env, X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const auto* cn = reinterpret_cast<const unsigned char*>("dase");
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) == 0 ||
      X509_set_issuer_name(cert, name) == 0) {
    return SslError("certificate name");
  }
  time_t now = static_cast<time_t>(env->NowMicros() / 1'000'000);
  // An hour of slack for clients whose clocks run behind ours.
  if (ASN1_TIME_set(X509_getm_notBefore(cert), now - 3600) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), now + kCertValidityDays * 86400) == nullptr) {
    return SslError("certificate validity");
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) == 0) {
    return SslError(std::string("certificate extension ") + OBJ_nid2sn(nid));
  }
  return Status::Ok();
}

Status AddExtensions(X509* cert, const std::vector<std::string>& ip_sans,
                     const std::vector<std::string>& dns_sans) {
  // CA:TRUE lets a client pin this very certificate as its trust anchor.
  RETURN_IF_ERROR(AddExtension(cert, NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(
      AddExtension(cert, NID_key_usage, "critical,digitalSignature,keyCertSign"));
  RETURN_IF_ERROR(AddExtension(cert, NID_ext_key_usage, "serverAuth,clientAuth"));
  RETURN_IF_ERROR(AddExtension(cert, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExtension(cert, NID_authority_key_identifier, "keyid:always"));
  if (ip_sans.empty() && dns_sans.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(NamesPtr names, MakeSans(ip_sans, dns_sans));
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return SslError("certificate subjectAltName");
  }
  return Status::Ok();
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return SslError("PEM encoding");
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return SslError("PEM_write_bio_PrivateKey");
  }
  return BioContents(bio.get());
}

Result<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return SslError("PEM_write_bio_X509");
  return BioContents(bio.get());
}

Result<X509Ptr> MakeCert(env::Env* env, EVP_PKEY* key, const std::vector<std::string>& ip_sans,
                         const std::vector<std::string>& dns_sans) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return SslError("X509_new");
  }
  RETURN_IF_ERROR(SetSerial(env, cert.get()));
  RETURN_IF_ERROR(SetNameAndValidity(env, cert.get()));
  RETURN_IF_ERROR(AddExtensions(cert.get(), ip_sans, dns_sans));
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return SslError("X509_sign");
  return cert;
}

}  // namespace

std::string DrainOpenSslErrors() {
  std::string out;
  while (unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status EnsureSelfSignedCert(env::Env* env, const std::string& cert_path,
                            const std::string& key_path, const std::vector<std::string>& ip_sans,
                            const std::vector<std::string>& dns_sans) {
  if (env::Exists(env, cert_path) && env::Exists(env, key_path)) return Status::Ok();
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return SslError("EC P-256 key generation");
  ASSIGN_OR_RETURN(X509Ptr cert, MakeCert(env, key.get(), ip_sans, dns_sans));
  ASSIGN_OR_RETURN(std::string key_pem, KeyPem(key.get()));
  ASSIGN_OR_RETURN(std::string cert_pem, CertPem(cert.get()));
  // The key first: a crash between the writes leaves no certificate, so the next start makes a
  // fresh pair instead of keeping a certificate without its key.
  RETURN_IF_ERROR(env::WriteFileAtomic(env, key_path, key_pem, 0600));
  ASSIGN_OR_RETURN(env::FileInfo info, env->Stat(key_path));
  if ((info.mode & 077) != 0) {
    return FailedPrecondition(fmt::format("{} is readable by others (mode {:o})", key_path,
                                          info.mode));
  }
  RETURN_IF_ERROR(env::WriteFileAtomic(env, cert_path, cert_pem, 0644));
  LOG_INFO("created self-signed TLS certificate {}", cert_path);
  return Status::Ok();
}

Result<std::shared_ptr<asio::ssl::context>> MakeServerTlsContext(env::Env* env,
                                                                 const std::string& cert_path,
                                                                 const std::string& key_path) {
  ASSIGN_OR_RETURN(std::string cert_pem, env::ReadFile(env, cert_path));
  ASSIGN_OR_RETURN(std::string key_pem, env::ReadFile(env, key_path));
  std::shared_ptr<asio::ssl::context> ctx;
  try {
    ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  } catch (const std::exception& e) {
    return Internal(std::string("TLS context: ") + e.what());
  }
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return SslError("SSL_CTX_set_min_proto_version");
  }
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::single_dh_use |
                       asio::ssl::context::no_compression,
                   ec);
  if (ec) return Internal("TLS options: " + ec.message());
  ctx->use_certificate_chain(asio::buffer(cert_pem), ec);
  if (ec) return InvalidArgument(cert_path + ": " + ec.message());
  ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem, ec);
  if (ec) return InvalidArgument(key_path + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return InvalidArgument(key_path + " does not match " + cert_path);
  }
  return ctx;
}

}  // namespace dase::http
