#include "vms/accounts.h"

#include <fmt/format.h>

#include "common/log.h"
#include "vms/auth.h"
#include "vms/records.h"

namespace dase::vms {
namespace json = boost::json;

namespace {
constexpr int64_t kVerifiedCacheMicros = 60 * 1000000LL;
constexpr size_t kVerifiedCacheMax = 1024;
constexpr size_t kApiTokensMax = 10000;
constexpr char kAdmin[] = "admin";
}  // namespace

Result<std::unique_ptr<Accounts>> Accounts::Open(env::Env* env, meta::Store* store,
                                                 const control::Layout& layout) {
  std::unique_ptr<Accounts> accounts(new Accounts(env, store));
  RETURN_IF_ERROR(accounts->Load(layout));
  return accounts;
}

Status Accounts::Load(const control::Layout& layout) {
  ASSIGN_OR_RETURN(auto secret, LoadKey(store_, kJwtSecretKey));
  ASSIGN_OR_RETURN(auto users, LoadPrefix(store_, "vms/user/"));
  for (const auto& kv : users) {
    ASSIGN_OR_RETURN(UserRecord u, DecodeText<UserRecord>(kv.value));
    users_[u.name] = u;
  }
  ASSIGN_OR_RETURN(auto tokens, LoadPrefix(store_, "vms/apitoken/"));
  for (const auto& kv : tokens) {
    ASSIGN_OR_RETURN(ApiTokenRecord t, DecodeText<ApiTokenRecord>(kv.value));
    api_tokens_[t.id] = t;
  }
  if (secret && users_.count(kAdmin)) {
    jwt_secret_ = *secret;
    return Status::Ok();
  }
  return CreateAdmin(layout);
}

Status Accounts::CreateAdmin(const control::Layout& layout) {
  std::string password = Base64UrlEncode(env::RandomString(env_, 18));
  jwt_secret_ = Base64UrlEncode(env::RandomString(env_, 32));
  UserRecord admin{1, kAdmin, HashPassword(env_, password), env_->NowMicros()};
  // The password file is written before the hash is committed: if we crash in between, the
  // next start makes a new password and overwrites the file, so the two never disagree.
  RETURN_IF_ERROR(env::WriteFileAtomic(env_, layout.AdminPassword(), password + "\n", 0600));
  RETURN_IF_ERROR(SaveKeys(store_, {{UserKey(kAdmin), EncodeText(admin)},
                                    {kJwtSecretKey, jwt_secret_}}));
  users_[kAdmin] = admin;
  LOG_INFO("created user admin; its password is in {}", layout.AdminPassword());
  return Status::Ok();
}

Result<std::string> Accounts::CheckPassword(const std::string& user, const std::string& password) {
  std::string digest = Sha256Hex(user + '\0' + password);
  int64_t now = env_->MonotonicMicros();
  if (auto it = verified_until_us_.find(digest); it != verified_until_us_.end()) {
    if (it->second > now && users_.count(user)) return user;
    verified_until_us_.erase(it);
  }
  auto it = users_.find(user);
  // Same error for an unknown user and a wrong password.
  if (it == users_.end() || !VerifyPassword(it->second.password_hash, password)) {
    return Unauthenticated("Invalid username/password.");
  }
  if (verified_until_us_.size() >= kVerifiedCacheMax) verified_until_us_.clear();
  verified_until_us_[digest] = now + kVerifiedCacheMicros;
  return user;
}

std::string Accounts::SignToken(const std::string& user, const std::string& type,
                                int64_t lifetime_s, std::string* jti) {
  int64_t now_s = env_->NowMicros() / 1000000;
  *jti = env::RandomHex(env_, 16);
  json::object claims{{"token_type", type}, {"username", user}, {"iat", now_s},
                      {"exp", now_s + lifetime_s}, {"jti", *jti}};
  return SignJwt(claims, jwt_secret_);
}

Result<JwtPair> Accounts::IssueTokens(const std::string& user, const std::string& password) {
  RETURN_IF_ERROR(CheckPassword(user, password).status());
  std::string access_jti, refresh_jti;
  JwtPair pair{SignToken(user, "access", kAccessTokenSeconds, &access_jti),
               SignToken(user, "refresh", kRefreshTokenSeconds, &refresh_jti)};
  int64_t expiry_us = env_->NowMicros() + kRefreshTokenSeconds * 1000000;
  json::object record{{"user", user}, {"expiry_us", expiry_us}};
  RETURN_IF_ERROR(SaveKeys(store_, {{RefreshKey(Sha256Hex(refresh_jti)), json::serialize(record)}}));
  return pair;
}

namespace {

// Verifies signature, expiry and type; returns the claims.
Result<json::object> CheckJwt(std::string_view token, const std::string& secret, int64_t now_s,
                              std::string_view type) {
  auto claims = VerifyJwt(token, secret, now_s);
  if (!claims.ok()) return PermissionDenied("Token is invalid or expired");
  const json::value* t = claims->if_contains("token_type");
  const json::value* u = claims->if_contains("username");
  if (t == nullptr || !t->is_string() || t->get_string() != type || u == nullptr ||
      !u->is_string()) {
    return PermissionDenied("Token is invalid or expired");
  }
  return claims;
}

}  // namespace

Result<std::string> Accounts::CheckAccessToken(std::string_view jwt) {
  ASSIGN_OR_RETURN(json::object claims,
                   CheckJwt(jwt, jwt_secret_, env_->NowMicros() / 1000000, "access"));
  std::string user(claims.at("username").get_string());
  if (!users_.count(user)) return PermissionDenied("Token is invalid or expired");
  return user;
}

Result<std::string> Accounts::Refresh(std::string_view refresh_jwt) {
  ASSIGN_OR_RETURN(json::object claims,
                   CheckJwt(refresh_jwt, jwt_secret_, env_->NowMicros() / 1000000, "refresh"));
  const json::value* jti = claims.if_contains("jti");
  if (jti == nullptr || !jti->is_string()) return PermissionDenied("Token is invalid or expired");
  ASSIGN_OR_RETURN(auto known, LoadKey(store_, RefreshKey(Sha256Hex(jti->get_string()))));
  std::string user(claims.at("username").get_string());
  if (!known || !users_.count(user)) return PermissionDenied("Token is invalid or expired");
  std::string access_jti;
  return SignToken(user, "access", kAccessTokenSeconds, &access_jti);
}

Result<std::string> Accounts::CheckApiToken(std::string_view token) {
  std::string digest = Sha256Hex(token);
  int64_t now = env_->NowMicros();
  for (auto& [id, t] : api_tokens_) {
    if (!ConstantTimeEquals(t.token_sha256, digest)) continue;
    if (t.revoked || (t.expiry_us > 0 && t.expiry_us <= now) || !users_.count(t.owner)) {
      return PermissionDenied("Token is invalid or expired");
    }
    t.last_used_us = now;  // kept in memory; persisted with the next change of the token
    return t.owner;
  }
  return PermissionDenied("Token is invalid or expired");
}

Result<std::pair<ApiTokenRecord, std::string>> Accounts::CreateApiToken(const std::string& owner,
                                                                        const std::string& name,
                                                                        int64_t expiry_us) {
  if (!users_.count(owner)) return InvalidArgument("owner: no user named " + owner);
  if (api_tokens_.size() >= kApiTokensMax) return ResourceExhausted("too many API tokens");
  int64_t now = env_->NowMicros();
  if (expiry_us == 0) expiry_us = now + kApiTokenDefaultDays * 86400 * 1000000LL;
  if (expiry_us <= now) return InvalidArgument("expiry_date: must be in the future");
  std::string secret = Base64UrlEncode(env::RandomString(env_, 32));
  ApiTokenRecord t;
  t.id = env::RandomHex(env_, 4);
  while (api_tokens_.count(t.id)) t.id = env::RandomHex(env_, 4);
  t.name = name.empty() ? "token-" + t.id : name;
  t.owner = owner;
  t.token_sha256 = Sha256Hex(secret);
  t.created_us = now;
  t.expiry_us = expiry_us;
  RETURN_IF_ERROR(SaveKeys(store_, {{ApiTokenKey(t.id), EncodeText(t)}}));
  api_tokens_[t.id] = t;
  return std::make_pair(t, secret);
}

Status Accounts::RevokeApiToken(const std::string& id) {
  auto it = api_tokens_.find(id);
  if (it == api_tokens_.end()) return NotFound("Not found.");
  ApiTokenRecord t = it->second;
  if (!t.revoked) {
    t.revoked = true;
    t.revocation_us = env_->NowMicros();
  }
  RETURN_IF_ERROR(SaveKeys(store_, {{ApiTokenKey(id), EncodeText(t)}}));
  it->second = t;
  return Status::Ok();
}

const ApiTokenRecord* Accounts::FindApiToken(const std::string& id) const {
  auto it = api_tokens_.find(id);
  return it == api_tokens_.end() ? nullptr : &it->second;
}

std::vector<ApiTokenRecord> Accounts::ApiTokens() const {
  std::vector<ApiTokenRecord> out;
  for (const auto& [id, t] : api_tokens_) out.push_back(t);
  return out;
}

}  // namespace dase::vms
