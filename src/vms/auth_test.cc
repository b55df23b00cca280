#include "vms/auth.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace dase::vms {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000;
constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef";

json::object Claims(int64_t exp) { return json::object{{"sub", "admin"}, {"exp", exp}}; }

// Swaps one character of `s` at `pos` for a different base64url character.
std::string Flip(std::string s, size_t pos) {
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  return s;
}

TEST(PasswordTest, RightPasswordVerifiesWrongOneDoesNot) {
  std::string hash = HashPassword(env::Env::Default(), "123456");
  EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << hash;
  EXPECT_TRUE(VerifyPassword(hash, "123456"));
  EXPECT_FALSE(VerifyPassword(hash, "1234567"));
  EXPECT_FALSE(VerifyPassword(hash, ""));
}

TEST(PasswordTest, SaltMakesHashesDiffer) {
  std::string a = HashPassword(env::Env::Default(), "same");
  std::string b = HashPassword(env::Env::Default(), "same");
  EXPECT_NE(a, b);
  EXPECT_TRUE(VerifyPassword(a, "same"));
  EXPECT_TRUE(VerifyPassword(b, "same"));
}

TEST(PasswordTest, GarbageHashesNeverVerify) {
  EXPECT_FALSE(VerifyPassword("", ""));
  EXPECT_FALSE(VerifyPassword("plaintext", "plaintext"));
  EXPECT_FALSE(VerifyPassword("$argon2id$v=19$m=19456,t=2,p=1$$", "x"));
  EXPECT_FALSE(VerifyPassword("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
  EXPECT_FALSE(VerifyPassword(std::string(10000, '$'), "x"));
}

TEST(DigestTest, Sha256AndHmacKnownAnswers) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2.
  EXPECT_EQ(Base64Encode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
  EXPECT_EQ(HmacSha256("", "").size(), 32u);
}

TEST(DigestTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(Base64Test, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(data)).value(), data);
    EXPECT_EQ(Base64Decode(Base64Encode(data)).value(), data);
    data.push_back(static_cast<char>(i * 37 + 200));
  }
}

TEST(Base64Test, KnownAnswersAndStrictness) {
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64Decode("Zm9vYg").value(), "foob");  // padding optional
  EXPECT_EQ(Base64Decode("Zm9vYg==").value(), "foob");
  EXPECT_FALSE(Base64Decode("Zm9vYg=").ok());
  EXPECT_FALSE(Base64Decode("Zm9v*g==").ok());
  EXPECT_FALSE(Base64Decode("Z").ok());
  EXPECT_FALSE(Base64Decode("Zm9vYh==").ok());  // non-zero unused bits
  EXPECT_FALSE(Base64UrlDecode("Zm9vYg==").ok());
  EXPECT_FALSE(Base64UrlDecode("+/8").ok());
}

TEST(JwtTest, RoundTrip) {
  std::string token = SignJwt(Claims(kNow + 60), kSecret);
  auto claims = VerifyJwt(token, kSecret, kNow);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->at("sub").as_string(), "admin");
  EXPECT_EQ(claims->at("exp").as_int64(), kNow + 60);
}

TEST(JwtTest, WrongSecretIsRejected) {
  std::string token = SignJwt(Claims(kNow + 60), kSecret);
  EXPECT_EQ(VerifyJwt(token, "another secret", kNow).status().code(), Code::kUnauthenticated);
}

TEST(JwtTest, TamperedPayloadIsRejected) {
  std::string token = SignJwt(Claims(kNow + 60), kSecret);
  size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string forged_payload = Base64UrlEncode(R"({"sub":"root","exp":9999999999})");
  std::string forged = token.substr(0, dot1 + 1) + forged_payload + token.substr(dot2);
  EXPECT_EQ(VerifyJwt(forged, kSecret, kNow).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(VerifyJwt(Flip(token, dot1 + 3), kSecret, kNow).status().code(),
            Code::kUnauthenticated);
}

TEST(JwtTest, TamperedSignatureIsRejected) {
  std::string token = SignJwt(Claims(kNow + 60), kSecret);
  for (size_t pos = token.rfind('.') + 1; pos < token.size(); ++pos) {
    EXPECT_FALSE(VerifyJwt(Flip(token, pos), kSecret, kNow).ok()) << "position " << pos;
  }
  EXPECT_FALSE(VerifyJwt(token.substr(0, token.size() - 1), kSecret, kNow).ok());
  EXPECT_FALSE(VerifyJwt(token + "A", kSecret, kNow).ok());
}

TEST(JwtTest, AlgNoneAndOtherAlgorithmsAreRejected) {
  std::string payload = Base64UrlEncode(json::serialize(Claims(kNow + 60)));
  for (const char* header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"HS512"})",
                             R"({"alg":"RS256"})", R"({"typ":"JWT"})", R"({"alg":256})"}) {
    std::string unsigned_token = Base64UrlEncode(header) + "." + payload + ".";
    EXPECT_EQ(VerifyJwt(unsigned_token, kSecret, kNow).status().code(), Code::kUnauthenticated)
        << header;
    // Even a correct HS256 MAC does not rescue a header that names another algorithm.
    std::string input = Base64UrlEncode(header) + "." + payload;
    std::string signed_token = input + "." + Base64UrlEncode(HmacSha256(kSecret, input));
    EXPECT_EQ(VerifyJwt(signed_token, kSecret, kNow).status().code(), Code::kUnauthenticated)
        << header;
  }
}

TEST(JwtTest, ExpiryIsRequiredAndChecked) {
  EXPECT_FALSE(VerifyJwt(SignJwt(Claims(kNow), kSecret), kSecret, kNow).ok());
  EXPECT_FALSE(VerifyJwt(SignJwt(Claims(kNow - 1), kSecret), kSecret, kNow).ok());
  EXPECT_TRUE(VerifyJwt(SignJwt(Claims(kNow + 1), kSecret), kSecret, kNow).ok());
  EXPECT_FALSE(VerifyJwt(SignJwt(json::object{{"sub", "a"}}, kSecret), kSecret, kNow).ok());
  EXPECT_FALSE(
      VerifyJwt(SignJwt(json::object{{"exp", "tomorrow"}}, kSecret), kSecret, kNow).ok());
  EXPECT_TRUE(VerifyJwt(SignJwt(json::object{{"exp", kNow + 1.5}}, kSecret), kSecret, kNow).ok());
  EXPECT_FALSE(VerifyJwt(SignJwt(json::object{{"exp", kNow + 0.5}}, kSecret), kSecret, kNow).ok());
  json::object early = Claims(kNow + 60);
  early["nbf"] = kNow + 10;
  EXPECT_FALSE(VerifyJwt(SignJwt(early, kSecret), kSecret, kNow).ok());
  EXPECT_TRUE(VerifyJwt(SignJwt(early, kSecret), kSecret, kNow + 10).ok());
}

TEST(JwtTest, GarbageIsRejectedNotCrashed) {
  std::string valid = SignJwt(Claims(kNow + 60), kSecret);
  std::string payload = Base64UrlEncode(json::serialize(Claims(kNow + 60)));
  std::string header = Base64UrlEncode(R"({"alg":"HS256"})");
  for (std::string token :
       {std::string(), std::string("."), std::string(".."), std::string("..."),
        std::string("a.b.c"), std::string("not a token"), valid + "." + valid,
        std::string(20000, 'A'), std::string("eyJ.eyJ.abc"),
        Base64UrlEncode("[1,2]") + "." + payload + ".",
        header + "." + Base64UrlEncode("[]") + ".",
        header + "." + Base64UrlEncode("{\"exp\":") + ".",
        std::string("\xff\xfe.\x00\x01.\x80", 7)}) {
    auto result = VerifyJwt(token, kSecret, kNow);
    EXPECT_EQ(result.status().code(), Code::kUnauthenticated) << token;
  }
}

TEST(BasicAuthTest, Parses) {
  auto creds = ParseBasicAuth("Basic " + Base64Encode("admin:123:456"));
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(creds->first, "admin");
  EXPECT_EQ(creds->second, "123:456");
  creds = ParseBasicAuth("  basic   " + Base64Encode("u:") + " ");
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->first, "u");
  EXPECT_EQ(creds->second, "");
}

TEST(BasicAuthTest, RejectsMalformed) {
  for (std::string header :
       {std::string(), std::string("Basic"), std::string("Basic "), "Bearer " + Base64Encode("a:b"),
        std::string("Basic !!!notbase64"), "Basic " + Base64Encode("no-colon"),
        "Basic " + std::string(10000, 'A')}) {
    EXPECT_EQ(ParseBasicAuth(header).status().code(), Code::kUnauthenticated) << header;
  }
}

}  // namespace
}  // namespace dase::vms
