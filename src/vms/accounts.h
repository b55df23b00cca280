// Accounts: VMS users, passwords, JWT sessions and API tokens.
//
// Security defaults: there is no fixed password. The first start creates the user "admin"
// with a random password, stores only its Argon2id hash, and writes the password to
// DIR/admin.password (mode 0600). JWT access tokens live 1 hour and refresh tokens 1 day
// (VAST's defaults); refresh tokens are known to the store only by the SHA-256 of their id.
// API tokens are 256-bit random strings stored as SHA-256 hashes, with an expiry.
//
// Thread-safety: the VMS loop thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "control/layout.h"
#include "env/env.h"
#include "meta/kv.h"
#include "vms/model.h"

namespace dase::vms {

inline constexpr int64_t kAccessTokenSeconds = 3600;
inline constexpr int64_t kRefreshTokenSeconds = 86400;
inline constexpr int64_t kApiTokenDefaultDays = 365;

struct JwtPair {
  std::string access;
  std::string refresh;
};

class Accounts {
 public:
  static Result<std::unique_ptr<Accounts>> Open(env::Env* env, meta::Store* store,
                                                const control::Layout& layout);

  // Each returns the user name, or Unauthenticated (bad credentials) / PermissionDenied
  // (a token that is invalid, expired or revoked).
  Result<std::string> CheckPassword(const std::string& user, const std::string& password);
  Result<std::string> CheckAccessToken(std::string_view jwt);
  Result<std::string> CheckApiToken(std::string_view token);

  Result<JwtPair> IssueTokens(const std::string& user, const std::string& password);
  Result<std::string> Refresh(std::string_view refresh_jwt);

  // Returns the record and the secret token, which is shown once and never stored.
  Result<std::pair<ApiTokenRecord, std::string>> CreateApiToken(const std::string& owner,
                                                                const std::string& name,
                                                                int64_t expiry_us);
  Status RevokeApiToken(const std::string& id);
  const ApiTokenRecord* FindApiToken(const std::string& id) const;
  std::vector<ApiTokenRecord> ApiTokens() const;
  bool HasUser(const std::string& name) const { return users_.count(name) > 0; }

 private:
  Accounts(env::Env* env, meta::Store* store) : env_(env), store_(store) {}
  Status Load(const control::Layout& layout);
  Status CreateAdmin(const control::Layout& layout);
  std::string SignToken(const std::string& user, const std::string& type, int64_t lifetime_s,
                        std::string* jti);

  env::Env* env_;
  meta::Store* store_;
  std::string jwt_secret_;
  std::map<std::string, UserRecord> users_;
  std::map<std::string, ApiTokenRecord> api_tokens_;  // by id
  // Argon2id is deliberately slow (tens of ms), and Basic auth sends the password on every
  // call, so a verified (user, password) digest is remembered for a minute.
  std::map<std::string, int64_t> verified_until_us_;
};

}  // namespace dase::vms
