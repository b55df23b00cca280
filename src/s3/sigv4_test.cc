#include "s3/sigv4.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/testing.h"
#include "s3/checksum.h"
#include "s3/signing_key_cache.h"

namespace dase::s3 {
namespace {

// The credentials and time of AWS's published SigV4 examples for S3
// (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html and
// sigv4-query-string-auth.html).
constexpr std::string_view kAkid = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr int64_t kExampleTime = 1369353600;  // 2013-05-24T00:00:00Z
constexpr std::string_view kHost = "examplebucket.s3.amazonaws.com";

const Credentials kCreds{std::string(kAkid), std::string(kSecret)};

SecretLookup Keys() {
  return [](std::string_view akid) -> Result<std::string> {
    if (akid == kAkid) return std::string(kSecret);
    return NotFound("no key " + std::string(akid));
  };
}

std::string SignatureOf(const SignedRequest& signed_request) {
  for (const auto& [name, value] : signed_request.headers) {
    if (name == "Authorization") return value.substr(value.rfind('=') + 1);
  }
  return "";
}

SigV4Request WithSigned(SigV4Request r, const SignedRequest& s) {
  r.headers.insert(r.headers.end(), s.headers.begin(), s.headers.end());
  return r;
}

// Signs `r` at `t` and returns it with the headers added.
SigV4Request SignedAt(const SigV4Request& r, int64_t t,
                      std::string_view payload = kEmptySha256Hex) {
  Result<SignedRequest> s = SignRequest(r, kCreds, "us-east-1", t, payload);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return WithSigned(r, *s);
}

AuthErrorKind KindOf(const AuthResult<VerifiedRequest>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? AuthErrorKind::kInternal : r.error().kind;
}

void SetHeader(SigV4Request& r, std::string_view name, std::string value) {
  for (auto& [n, v] : r.headers) {
    if (EqualsIgnoreCaseAscii(n, name)) {
      v = std::move(value);
      return;
    }
  }
  r.headers.emplace_back(std::string(name), std::move(value));
}

void RemoveHeader(SigV4Request& r, std::string_view name) {
  std::erase_if(r.headers, [&](const Header& h) { return EqualsIgnoreCaseAscii(h.first, name); });
}

SigV4Request GetObjectExample() {
  return {"GET", "/test.txt", "", {{"Host", std::string(kHost)}, {"Range", "bytes=0-9"}}};
}

TEST(AwsExamplesTest, GetObject) {
  Result<SignedRequest> s =
      SignRequest(GetObjectExample(), kCreds, "us-east-1", kExampleTime, kEmptySha256Hex);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->headers.size(), 3u);
  EXPECT_EQ(s->headers[0], Header("x-amz-date", "20130524T000000Z"));
  EXPECT_EQ(s->headers[1], Header("x-amz-content-sha256", std::string(kEmptySha256Hex)));
  EXPECT_EQ(s->headers[2].second,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s->signing.scope, "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(s->signing.timestamp, "20130524T000000Z");
}

// A signer that keeps the day's signing key produces the same signatures, deriving it once.
TEST(AwsExamplesTest, GetObjectWithACachedSigningKey) {
  const Result<SignedRequest> plain =
      SignRequest(GetObjectExample(), kCreds, "us-east-1", kExampleTime, kEmptySha256Hex);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  SigningKeyCache keys(4);
  for (int i = 0; i < 2; ++i) {
    Result<SignedRequest> s = SignRequest(GetObjectExample(), kCreds, "us-east-1", kExampleTime,
                                          kEmptySha256Hex, &keys);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->headers, plain->headers);
  }
  EXPECT_EQ(keys.misses(), 1u);
  EXPECT_EQ(keys.hits(), 1u);
}

TEST(AwsExamplesTest, VerifyGetObjectAsPublished) {
  // The request exactly as the documentation shows it (no spaces after the commas).
  SigV4Request r = GetObjectExample();
  r.headers.emplace_back(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  r.headers.emplace_back("x-amz-content-sha256", std::string(kEmptySha256Hex));
  r.headers.emplace_back("x-amz-date", "20130524T000000Z");
  AuthResult<VerifiedRequest> v = VerifyRequest(r, Keys(), kExampleTime + 60);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->method, AuthMethod::kHeader);
  EXPECT_EQ(v->access_key_id, kAkid);
  EXPECT_EQ(v->region, "us-east-1");
  EXPECT_EQ(v->time_s, kExampleTime);
  EXPECT_EQ(v->payload_mode, PayloadMode::kSha256);
  EXPECT_EQ(v->payload_sha256, kEmptySha256Hex);
  EXPECT_EQ(v->signing.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(v->signing.scope, "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(v->signing.timestamp, "20130524T000000Z");
  EXPECT_EQ(v->signing.signing_key, DeriveSigningKey(kSecret, "20130524", "us-east-1"));
  EXPECT_TRUE(VerifyPayloadSha256(*v, "").ok());
  EXPECT_EQ(VerifyPayloadSha256(*v, "x").error().kind, AuthErrorKind::kPayloadHashMismatch);
}

TEST(AwsExamplesTest, PutObjectWithDateHeaderAndEscapedKey) {
  const std::string body = "Welcome to Amazon S3.";
  const std::string hash = HexEncode(Sha256(body));
  ASSERT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Request r{"PUT",
                 "/test%24file.text",
                 "",
                 {{"Host", std::string(kHost)},
                  {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"}}};
  Result<SignedRequest> s = SignRequest(r, kCreds, "us-east-1", kExampleTime, hash);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(SignatureOf(*s), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_NE(s->headers[2].second.find(
                "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"),
            std::string::npos);

  SigV4Request sent = WithSigned(r, *s);
  AuthResult<VerifiedRequest> v = VerifyRequest(sent, Keys(), kExampleTime);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(VerifyPayloadSha256(*v, body).ok());
  EXPECT_EQ(VerifyPayloadSha256(*v, "Welcome to Amazon S3!").error().kind,
            AuthErrorKind::kPayloadHashMismatch);
  EXPECT_TRUE(VerifyPayloadDigest(*v, Sha256(body)).ok());

  // A client that sends the '$' raw but signed it encoded is still accepted.
  sent.path = "/test$file.text";
  EXPECT_TRUE(VerifyRequest(sent, Keys(), kExampleTime).ok());
  // ...but not one whose key differs.
  sent.path = "/test$file.txt";
  EXPECT_EQ(KindOf(VerifyRequest(sent, Keys(), kExampleTime)),
            AuthErrorKind::kSignatureDoesNotMatch);
}

TEST(AwsExamplesTest, BucketRequestsWithQueries) {
  SigV4Request lifecycle{"GET", "/", "lifecycle", {{"Host", std::string(kHost)}}};
  Result<SignedRequest> s =
      SignRequest(lifecycle, kCreds, "us-east-1", kExampleTime, kEmptySha256Hex);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(SignatureOf(*s), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  EXPECT_TRUE(VerifyRequest(WithSigned(lifecycle, *s), Keys(), kExampleTime).ok());

  SigV4Request list{"GET", "/", "max-keys=2&prefix=J", {{"Host", std::string(kHost)}}};
  s = SignRequest(list, kCreds, "us-east-1", kExampleTime, kEmptySha256Hex);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(SignatureOf(*s), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  // Parameter order does not matter.
  SigV4Request reordered = WithSigned(list, *s);
  reordered.query = "prefix=J&max-keys=2";
  EXPECT_TRUE(VerifyRequest(reordered, Keys(), kExampleTime).ok());
}

TEST(AwsExamplesTest, PresignedGetObject) {
  SigV4Request r{"GET", "/test.txt", "", {{"Host", std::string(kHost)}}};
  Result<std::string> q = PresignQuery(r, kCreds, "us-east-1", kExampleTime, 86400);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(*q,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  r.query = *q;
  AuthResult<VerifiedRequest> v = VerifyRequest(r, Keys(), kExampleTime + 3600);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->method, AuthMethod::kPresigned);
  EXPECT_EQ(v->payload_mode, PayloadMode::kUnsigned);
  EXPECT_EQ(v->signing.signature,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(AwsExamplesTest, StreamingSeedSignatures) {
  // sigv4-streaming.html and sigv4-streaming-trailers.html: the seed signatures.
  SigV4Request r{"PUT",
                 "/examplebucket/chunkObject.txt",
                 "",
                 {{"Host", "s3.amazonaws.com"},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                  {"Content-Encoding", "aws-chunked"},
                  {"x-amz-decoded-content-length", "66560"},
                  {"Content-Length", "66824"}}};
  Result<SignedRequest> s =
      SignRequest(r, kCreds, "us-east-1", kExampleTime, kStreamingSignedPayload);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->signing.signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");

  RemoveHeader(r, "Content-Length");
  r.headers.emplace_back("x-amz-trailer", "x-amz-checksum-crc32c");
  s = SignRequest(r, kCreds, "us-east-1", kExampleTime, kStreamingSignedPayloadTrailer);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->signing.signature,
            "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
  AuthResult<VerifiedRequest> v = VerifyRequest(WithSigned(r, *s), Keys(), kExampleTime);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->payload_mode, PayloadMode::kStreamingSignedTrailer);
}

// Requests boto3 1.43.11 signed (captured before sending; the Host header is the one its
// HTTP layer adds), with access key AKIDEXAMPLE and secret "secret/key+example".
constexpr int64_t kBoto3Time = 1795535985;  // 2026-11-24T15:59:45Z

SecretLookup Boto3Keys() {
  return [](std::string_view akid) -> Result<std::string> {
    if (akid == "AKIDEXAMPLE") return std::string("secret/key+example");
    return NotFound("no key " + std::string(akid));
  };
}

TEST(Boto3Test, ListObjectsV2) {
  const SigV4Request r{
      "GET",
      "/bkt",
      "list-type=2&prefix=dir%2Fa%20b&max-keys=5&encoding-type=url",
      {{"Host", "127.0.0.1:9000"},
       {"User-Agent", "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux"},
       {"X-Amz-Date", "20261124T155945Z"},
       {"X-Amz-Content-SHA256", std::string(kEmptySha256Hex)},
       {"Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
        "Signature=5c8697f2e75f2e83d9fab8ca9d7052fbc3e15c5660a89e2a61acf7c9b9d1f926"},
       {"amz-sdk-invocation-id", "e8862bab-ab56-430d-aeea-04975b3d8d93"},
       {"amz-sdk-request", "attempt=1"}}};
  AuthResult<VerifiedRequest> v = VerifyRequest(r, Boto3Keys(), kBoto3Time + 1);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->access_key_id, "AKIDEXAMPLE");
  EXPECT_TRUE(VerifyPayloadSha256(*v, "").ok());
}

TEST(Boto3Test, PresignedGetObject) {
  const SigV4Request r{
      "GET",
      "/bkt/dir/hello%20world%2B%281%29.txt",
      "X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=AKIDEXAMPLE%2F20261124%2Fus-east-1%2Fs3%2Faws4_request"
      "&X-Amz-Date=20261124T155945Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
      "&X-Amz-Signature=11239e255f8a08801e927daa3a98fb81551f51f3bbcbf2ddea107d43b8f47b90",
      {{"Host", "127.0.0.1:9000"}}};
  EXPECT_TRUE(VerifyRequest(r, Boto3Keys(), kBoto3Time + 3600).ok());
  EXPECT_EQ(KindOf(VerifyRequest(r, Boto3Keys(), kBoto3Time + 3601)), AuthErrorKind::kExpired);
  // Our presigner produces the same URL.
  SigV4Request unsigned_request = r;
  unsigned_request.query.clear();
  EXPECT_EQ(PresignQuery(unsigned_request, {"AKIDEXAMPLE", "secret/key+example"}, "us-east-1",
                         kBoto3Time, 3600)
                .value(),
            r.query);
}

TEST(SigV4Test, EquivalentFormsStillVerify) {
  SigV4Request r = SignedAt({"GET",
                             "/bucket/a%20b",
                             "list-type=2&prefix=a%2Fb",
                             {{"Host", "localhost:9000"}, {"X-Amz-Meta-Note", "  two   spaces "}}},
                            kExampleTime);
  ASSERT_TRUE(VerifyRequest(r, Keys(), kExampleTime).ok());

  SigV4Request variant = r;
  for (auto& [name, value] : variant.headers) name = ToLowerAscii(name);  // header name case
  std::reverse(variant.headers.begin(), variant.headers.end());           // header order
  SetHeader(variant, "x-amz-meta-note", "two spaces");                    // whitespace
  variant.query = "prefix=a%2fb&list-type=2";                             // order, hex case
  EXPECT_TRUE(VerifyRequest(variant, Keys(), kExampleTime).ok());

  // The Authorization header's separators vary between clients.
  std::string auth = *CanonicalHeader(r.headers, "authorization");
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {", ", ","},
           {", ", " , "},
           {", ", ",  "},
           {"AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256   "}}) {
    SigV4Request spaced = r;
    std::string a = auth;
    for (size_t p = a.find(from); p != std::string::npos; p = a.find(from, p + to.size())) {
      a.replace(p, from.size(), to);
    }
    SetHeader(spaced, "Authorization", a);
    AuthResult<VerifiedRequest> v = VerifyRequest(spaced, Keys(), kExampleTime);
    EXPECT_TRUE(v.ok()) << a << ": " << (v.ok() ? "" : v.error().message);
  }
}

TEST(SigV4Test, DuplicateHeadersAreJoinedWithCommas) {
  const std::vector<Header> h = {{"X-A", " a   b "}, {"x-b", "z"}, {"x-a", "c"}};
  EXPECT_EQ(CanonicalHeader(h, "x-a"), "a b,c");
  EXPECT_EQ(CanonicalHeader(h, "x-c"), std::nullopt);
  SigV4Request r =
      SignedAt({"GET", "/b/k", "", {{"Host", "h"}, {"X-Amz-Meta-A", "1"}, {"x-amz-meta-a", "2"}}},
               kExampleTime);
  EXPECT_TRUE(VerifyRequest(r, Keys(), kExampleTime).ok());
  std::swap(r.headers[1].second, r.headers[2].second);  // the order of the values is signed
  EXPECT_EQ(KindOf(VerifyRequest(r, Keys(), kExampleTime)), AuthErrorKind::kSignatureDoesNotMatch);
}

TEST(SigV4Test, RandomRequestsRoundTripAndTamperingIsCaught) {
  std::mt19937_64 rng(dase::testing::TestSeed());
  const std::string alphabet = "abcXYZ019-_.~ !$&'()*+,;=:@/%?#\xc3\xa9";
  const auto random_text = [&](size_t max) {
    std::string s;
    for (size_t n = rng() % max; n > 0; --n) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  for (int round = 0; round < 300; ++round) {
    SigV4Request r;
    r.method = round % 2 ? "PUT" : "GET";
    r.path = "/bucket/" + UriEncode(random_text(20), SlashEncoding::kKeep);
    for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
      if (!r.query.empty()) r.query += "&";
      r.query += UriEncode(random_text(6) + "k", SlashEncoding::kEncode) + "=" +
                 UriEncode(random_text(10), SlashEncoding::kEncode);
    }
    r.headers = {{"Host", "h.example:8080"}};
    for (int i = static_cast<int>(rng() % 3); i > 0; --i) {
      r.headers.emplace_back("X-Amz-Meta-K" + std::to_string(i), "v" + random_text(10) + "v");
    }
    const int64_t t = kExampleTime + static_cast<int64_t>(rng() % 1'000'000'000);
    const SigV4Request signed_request = SignedAt(r, t);
    AuthResult<VerifiedRequest> v = VerifyRequest(signed_request, Keys(), t);
    ASSERT_TRUE(v.ok()) << "round " << round << ": " << v.error().message << " path=" << r.path
                        << " query=" << r.query;

    // One changed byte anywhere that is signed must be refused.
    SigV4Request bad = signed_request;
    switch (rng() % 4) {
      case 0: bad.method[0] = bad.method[0] == 'G' ? 'P' : 'G'; break;
      case 1: bad.path.back() = bad.path.back() == 'x' ? 'y' : 'x'; break;
      case 2: bad.query += bad.query.empty() ? "x=1" : "1"; break;
      case 3: bad.headers[0].second += "1"; break;
    }
    EXPECT_FALSE(VerifyRequest(bad, Keys(), t).ok()) << "round " << round;
  }
}

TEST(SigV4Test, ClockSkewBoundaries) {
  const SigV4Request r = SignedAt(GetObjectExample(), kExampleTime);
  EXPECT_TRUE(VerifyRequest(r, Keys(), kExampleTime + 900).ok());
  EXPECT_TRUE(VerifyRequest(r, Keys(), kExampleTime - 900).ok());
  EXPECT_EQ(KindOf(VerifyRequest(r, Keys(), kExampleTime + 901)),
            AuthErrorKind::kRequestTimeTooSkewed);
  EXPECT_EQ(KindOf(VerifyRequest(r, Keys(), kExampleTime - 901)),
            AuthErrorKind::kRequestTimeTooSkewed);
  VerifyOptions lax;
  lax.clock_skew_max_s = 3600;
  EXPECT_TRUE(VerifyRequest(r, Keys(), kExampleTime + 3600, lax).ok());
}

TEST(SigV4Test, MalformedAuthorizationHeaders) {
  const SigV4Request good = SignedAt(GetObjectExample(), kExampleTime);
  const std::string auth = *CanonicalHeader(good.headers, "authorization");
  const std::string sig = auth.substr(auth.rfind('=') + 1);
  const std::string cred = "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
  const std::string sh = "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date";
  const std::string pre = "AWS4-HMAC-SHA256 ";
  for (const std::string& bad : std::vector<std::string>{
           pre + cred + ", " + sh,                                   // no Signature
           pre + sh + ", Signature=" + sig,                          // no Credential
           pre + cred + ", Signature=" + sig,                        // no SignedHeaders
           pre + cred + ", " + sh + ", Signature=" + sig.substr(1),  // 63 digits
           pre + cred + ", " + sh + ", Signature=" + sig + "0",      // 65 digits
           pre + cred + ", " + sh + ", Signature=" + std::string(64, 'g'),
           pre + cred + ", " + cred + ", " + sh + ", Signature=" + sig,  // twice
           pre + cred + ", " + sh + ", Signature=" + sig + ", Extra=1",
           pre + cred + ", " + sh + ", Signature",
           pre + "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, " + sh +
               ", Signature=" + sig,
           pre + "Credential=/20130524/us-east-1/s3/aws4_request, " + sh + ", Signature=" + sig,
           pre + "Credential=AKIAIOSFODNN7EXAMPLE/2013052/us-east-1/s3/aws4_request, " + sh +
               ", Signature=" + sig,
           pre + "Credential=AKIAIOSFODNN7EXAMPLE/20130524//s3/aws4_request, " + sh +
               ", Signature=" + sig,
           pre + "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/aws4_request, " + sh +
               ", Signature=" + sig,
           pre + "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws5_request, " + sh +
               ", Signature=" + sig,
           pre + "Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request, " + sh +
               ", Signature=" + sig,  // not x-amz-date's day
           pre + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig,
           pre + cred + ", SignedHeaders=host;host;x-amz-date, Signature=" + sig,
           pre + cred + ", SignedHeaders=, Signature=" + sig,
           "AWS4-HMAC-SHA256",
           pre + std::string(kAuthorizationBytesMax, ' ') + cred + ", " + sh + ", Signature=" + sig,
       }) {
    SigV4Request r = good;
    SetHeader(r, "Authorization", bad);
    AuthResult<VerifiedRequest> v = VerifyRequest(r, Keys(), kExampleTime);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.error().kind, AuthErrorKind::kMalformed) << bad << ": " << v.error().message;
    EXPECT_EQ(v.error().method, AuthMethod::kHeader);
  }
}

TEST(SigV4Test, OtherSchemesAndMissingAuth) {
  SigV4Request r = GetObjectExample();
  EXPECT_EQ(KindOf(VerifyRequest(r, Keys(), kExampleTime)), AuthErrorKind::kMissing);
  for (std::string scheme : {"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "Bearer abc",
                             "AWS4-ECDSA-P256-SHA256 Credential=x", ""}) {
    SetHeader(r, "Authorization", scheme);
    EXPECT_EQ(KindOf(VerifyRequest(r, Keys(), kExampleTime)), AuthErrorKind::kInvalidRequest)
        << scheme;
  }
  SigV4Request v2{"GET", "/k", "AWSAccessKeyId=A&Expires=1&Signature=x", {{"Host", "h"}}};
  EXPECT_EQ(KindOf(VerifyRequest(v2, Keys(), kExampleTime)), AuthErrorKind::kInvalidRequest);

  // Header and query auth together.
  SigV4Request both = SignedAt(GetObjectExample(), kExampleTime);
  both.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
  EXPECT_EQ(KindOf(VerifyRequest(both, Keys(), kExampleTime)), AuthErrorKind::kInvalidRequest);
  // Two Authorization headers.
  SigV4Request twice = SignedAt(GetObjectExample(), kExampleTime);
  twice.headers.push_back(twice.headers.back());
  EXPECT_EQ(KindOf(VerifyRequest(twice, Keys(), kExampleTime)), AuthErrorKind::kMalformed);
  // A malformed query.
  SigV4Request query = SignedAt(GetObjectExample(), kExampleTime);
  query.query = "prefix=100%";
  EXPECT_EQ(KindOf(VerifyRequest(query, Keys(), kExampleTime)), AuthErrorKind::kInvalidRequest);
}

TEST(SigV4Test, KeyLookupOutcomes) {
  const SigV4Request r = SignedAt(GetObjectExample(), kExampleTime);
  SecretLookup unknown = [](std::string_view) -> Result<std::string> { return NotFound("no"); };
  EXPECT_EQ(KindOf(VerifyRequest(r, unknown, kExampleTime)), AuthErrorKind::kInvalidAccessKeyId);
  SecretLookup down = [](std::string_view) -> Result<std::string> { return Unavailable("meta"); };
  AuthResult<VerifiedRequest> v = VerifyRequest(r, down, kExampleTime);
  EXPECT_EQ(KindOf(v), AuthErrorKind::kInternal);
  EXPECT_EQ(v.error().ToStatus().code(), Code::kInternal);
  SecretLookup other = [](std::string_view) -> Result<std::string> { return std::string("other"); };
  EXPECT_EQ(KindOf(VerifyRequest(r, other, kExampleTime)), AuthErrorKind::kSignatureDoesNotMatch);
}

TEST(SigV4Test, RequiredHeaders) {
  const SigV4Request good = SignedAt(GetObjectExample(), kExampleTime);
  const std::string auth = *CanonicalHeader(good.headers, "authorization");
  const auto with_signed = [&](std::string_view list) {
    SigV4Request r = good;
    std::string a = auth;
    const size_t b = a.find("SignedHeaders=") + 14;
    a.replace(b, a.find(',', b) - b, list);
    SetHeader(r, "Authorization", a);
    return r;
  };
  EXPECT_EQ(KindOf(VerifyRequest(with_signed("range;x-amz-content-sha256;x-amz-date"), Keys(),
                                 kExampleTime)),
            AuthErrorKind::kAccessDenied);  // host unsigned
  EXPECT_EQ(
      KindOf(VerifyRequest(with_signed("host;range;x-amz-content-sha256"), Keys(), kExampleTime)),
      AuthErrorKind::kAccessDenied);  // x-amz-date unsigned (and x-amz-* unsigned)
  EXPECT_EQ(
      KindOf(VerifyRequest(with_signed("host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-a"),
                           Keys(), kExampleTime)),
      AuthErrorKind::kSignatureDoesNotMatch);  // signed but absent

  SigV4Request no_date = good;
  RemoveHeader(no_date, "x-amz-date");
  EXPECT_EQ(KindOf(VerifyRequest(no_date, Keys(), kExampleTime)), AuthErrorKind::kAccessDenied);
  SigV4Request bad_date = good;
  SetHeader(bad_date, "x-amz-date", "2013-05-24T00:00:00Z");
  EXPECT_EQ(KindOf(VerifyRequest(bad_date, Keys(), kExampleTime)), AuthErrorKind::kAccessDenied);

  SigV4Request no_sha = good;
  RemoveHeader(no_sha, "x-amz-content-sha256");
  EXPECT_EQ(KindOf(VerifyRequest(no_sha, Keys(), kExampleTime)), AuthErrorKind::kInvalidRequest);
  SigV4Request bad_sha = good;
  SetHeader(bad_sha, "x-amz-content-sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD");
  EXPECT_EQ(KindOf(VerifyRequest(bad_sha, Keys(), kExampleTime)), AuthErrorKind::kInvalidRequest);

  // x-amz-* headers must be signed, unless the server allows otherwise.
  SigV4Request extra = good;
  extra.headers.emplace_back("x-amz-copy-source", "/other/key");
  AuthResult<VerifiedRequest> v = VerifyRequest(extra, Keys(), kExampleTime);
  EXPECT_EQ(KindOf(v), AuthErrorKind::kAccessDenied);
  EXPECT_NE(v.error().message.find("x-amz-copy-source"), std::string::npos);
  VerifyOptions allow;
  allow.unsigned_amz_headers = UnsignedAmzHeaders::kAllow;
  EXPECT_TRUE(VerifyRequest(extra, Keys(), kExampleTime, allow).ok());
  // Other unsigned headers are fine.
  SigV4Request agent = good;
  agent.headers.emplace_back("User-Agent", "aws-cli/2");
  EXPECT_TRUE(VerifyRequest(agent, Keys(), kExampleTime).ok());
}

TEST(SigV4Test, PayloadModes) {
  for (PayloadMode mode :
       {PayloadMode::kUnsigned, PayloadMode::kStreamingSigned, PayloadMode::kStreamingSignedTrailer,
        PayloadMode::kStreamingUnsignedTrailer}) {
    EXPECT_EQ(ParsePayloadMode(PayloadModeLiteral(mode)).value(), mode);
    const SigV4Request r = SignedAt(GetObjectExample(), kExampleTime, PayloadModeLiteral(mode));
    AuthResult<VerifiedRequest> v = VerifyRequest(r, Keys(), kExampleTime);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->payload_mode, mode);
    EXPECT_TRUE(VerifyPayloadSha256(*v, "anything").ok());
  }
  EXPECT_EQ(ParsePayloadMode(std::string(64, 'A')).value(), PayloadMode::kSha256);
  EXPECT_FALSE(ParsePayloadMode(std::string(63, 'a')).ok());
  EXPECT_FALSE(ParsePayloadMode("unsigned-payload").ok());
  EXPECT_FALSE(SignRequest(GetObjectExample(), kCreds, "us-east-1", kExampleTime, "nope").ok());
}

TEST(PresignTest, ExpiryBoundaries) {
  SigV4Request r{"PUT", "/b/k", "partNumber=1&uploadId=abc", {{"Host", "h"}}};
  r.query = PresignQuery(r, kCreds, "eu-west-1", kExampleTime, 600).value();
  EXPECT_TRUE(VerifyRequest(r, Keys(), kExampleTime).ok());
  EXPECT_TRUE(VerifyRequest(r, Keys(), kExampleTime + 600).ok());
  EXPECT_EQ(KindOf(VerifyRequest(r, Keys(), kExampleTime + 601)), AuthErrorKind::kExpired);
  EXPECT_TRUE(VerifyRequest(r, Keys(), kExampleTime - 900).ok());
  EXPECT_EQ(KindOf(VerifyRequest(r, Keys(), kExampleTime - 901)), AuthErrorKind::kAccessDenied);

  SigV4Request week{"GET", "/b/k", "", {{"Host", "h"}}};
  week.query = PresignQuery(week, kCreds, "us-east-1", kExampleTime, 604800).value();
  EXPECT_TRUE(VerifyRequest(week, Keys(), kExampleTime + 604800).ok());
  EXPECT_EQ(KindOf(VerifyRequest(week, Keys(), kExampleTime + 604801)), AuthErrorKind::kExpired);
  EXPECT_FALSE(PresignQuery(week, kCreds, "us-east-1", kExampleTime, 604801).ok());
  EXPECT_FALSE(PresignQuery(week, kCreds, "us-east-1", kExampleTime, 0).ok());
}

TEST(PresignTest, TamperingAndMalformedParameters) {
  SigV4Request base{"GET", "/b/k", "versionId=3", {{"Host", "h"}}};
  const std::string q = PresignQuery(base, kCreds, "us-east-1", kExampleTime, 3600).value();
  base.query = q;
  ASSERT_TRUE(VerifyRequest(base, Keys(), kExampleTime).ok());

  const auto replace = [&](std::string_view from, std::string_view to) {
    SigV4Request r = base;
    const size_t p = r.query.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    r.query.replace(p, from.size(), to);
    return r;
  };
  const auto kind = [&](const SigV4Request& r) {
    return KindOf(VerifyRequest(r, Keys(), kExampleTime));
  };
  EXPECT_EQ(kind(replace("versionId=3", "versionId=4")), AuthErrorKind::kSignatureDoesNotMatch);
  EXPECT_EQ(kind(replace("X-Amz-Expires=3600", "X-Amz-Expires=3601")),
            AuthErrorKind::kSignatureDoesNotMatch);
  EXPECT_EQ(kind(replace("X-Amz-Expires=3600", "X-Amz-Expires=0")), AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Expires=3600", "X-Amz-Expires=604801")), AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Expires=3600", "X-Amz-Expires=soon")), AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Expires=3600", "X-Amz-Expires=-1")), AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Expires=3600&", "")), AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA512")),
            AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130524")),
            AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130524T000001Z")),
            AuthErrorKind::kSignatureDoesNotMatch);
  EXPECT_EQ(kind(replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=")),
            AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("X-Amz-Signature=", "X-Amz-Signature=0")), AuthErrorKind::kMalformed);
  EXPECT_EQ(kind(replace("versionId=3", "X-Amz-Date=20130524T000000Z")), AuthErrorKind::kMalformed);

  SigV4Request other_host = base;
  SetHeader(other_host, "Host", "evil");
  EXPECT_EQ(KindOf(VerifyRequest(other_host, Keys(), kExampleTime)),
            AuthErrorKind::kSignatureDoesNotMatch);
  SigV4Request other_method = base;
  other_method.method = "DELETE";
  EXPECT_EQ(KindOf(VerifyRequest(other_method, Keys(), kExampleTime)),
            AuthErrorKind::kSignatureDoesNotMatch);
}

TEST(CanonicalTest, QueryString) {
  EXPECT_EQ(CanonicalQueryString("").value(), "");
  EXPECT_EQ(CanonicalQueryString("acl").value(), "acl=");
  EXPECT_EQ(CanonicalQueryString("b=2&a=1&a=0").value(), "a=0&a=1&b=2");
  EXPECT_EQ(CanonicalQueryString("k=a+b").value(), "k=a%20b");  // '+' is a space
  EXPECT_EQ(CanonicalQueryString("k=a%2Bb").value(), "k=a%2Bb");
  EXPECT_EQ(CanonicalQueryString("k=%2f%7e~").value(), "k=%2F~~");
  EXPECT_EQ(CanonicalQueryString("a=1&&b=").value(), "a=1&b=");
  EXPECT_EQ(CanonicalQueryString("x=/%3F=").value(), "x=%2F%3F%3D");
  EXPECT_FALSE(CanonicalQueryString("k=%zz").ok());
  EXPECT_FALSE(CanonicalQueryString("k=%2").ok());
  std::string many;
  for (size_t i = 0; i <= kQueryParamsMax; ++i) many += "a=1&";
  EXPECT_FALSE(CanonicalQueryString(many).ok());
}

TEST(CanonicalTest, UriEncode) {
  EXPECT_EQ(UriEncode("a b/c~-_.", SlashEncoding::kKeep), "a%20b/c~-_.");
  EXPECT_EQ(UriEncode("a b/c", SlashEncoding::kEncode), "a%20b%2Fc");
  EXPECT_EQ(UriEncode("\xe2\x82\xac$", SlashEncoding::kKeep), "%E2%82%AC%24");
  EXPECT_EQ(PercentDecode("a+b%2Fc", PlusDecoding::kLiteral).value(), "a+b/c");
  EXPECT_EQ(PercentDecode("a+b", PlusDecoding::kSpace).value(), "a b");
}

TEST(CanonicalTest, Dates) {
  EXPECT_EQ(FormatAmzDate(kExampleTime), "20130524T000000Z");
  EXPECT_EQ(FormatAmzDate(0), "19700101T000000Z");
  EXPECT_EQ(ParseAmzDate("20130524T000000Z").value(), kExampleTime);
  EXPECT_EQ(ParseAmzDate("20000229T235959Z").value(), 951868799);
  EXPECT_EQ(ParseHttpDate("Fri, 24 May 2013 00:00:00 GMT").value(), kExampleTime);
  for (std::string_view bad : {"20130524T000000", "2013-05-24T00:00:00Z", "20130230T000000Z",
                               "19000229T000000Z", "20130524T240000Z", "20130524T006000Z",
                               "20131324T000000Z", "2013052AT000000Z", "20130524t000000Z", ""}) {
    EXPECT_FALSE(ParseAmzDate(bad).ok()) << bad;
  }
  for (std::string_view bad : {"Fri, 24 May 2013 00:00:00 UTC", "Fri, 24 Mai 2013 00:00:00 GMT",
                               "Fry, 24 May 2013 00:00:00 GMT", "Friday, 24-May-13 00:00:00 GMT",
                               "Fri, 31 Jun 2013 00:00:00 GMT"}) {
    EXPECT_FALSE(ParseHttpDate(bad).ok()) << bad;
  }
  std::mt19937_64 rng(dase::testing::TestSeed());
  for (int i = 0; i < 1000; ++i) {
    const int64_t t = static_cast<int64_t>(rng() % 253402300800);  // years 1970..9999
    EXPECT_EQ(ParseAmzDate(FormatAmzDate(t)).value(), t);
  }
}

TEST(CanonicalTest, SigningKeyAndHmac) {
  // AWS's signing-key example (IAM, 20120215).
  EXPECT_EQ(HexEncode(DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                       "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231 test case 6 (a key longer than the block), then case 2 again: each call uses its
  // own key, whatever came before.
  EXPECT_EQ(HexEncode(HmacSha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // The empty key is a key (not "the previous one").
  EXPECT_EQ(HexEncode(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(SigningKeyCacheTest, HitIsTheFreshDerivation) {
  SigningKeyCache cache(8);
  const std::string fresh = DeriveSigningKey(kSecret, "20130524", "us-east-1", "s3");
  EXPECT_EQ(cache.KeyFor(kAkid, kSecret, "20130524", "us-east-1", "s3"), fresh);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.KeyFor(kAkid, kSecret, "20130524", "us-east-1", "s3"), fresh);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SigningKeyCacheTest, AnotherDateRegionServiceOrSecretMisses) {
  SigningKeyCache cache(8);
  (void)cache.KeyFor(kAkid, kSecret, "20130524", "us-east-1", "s3");
  EXPECT_EQ(cache.KeyFor(kAkid, kSecret, "20130525", "us-east-1", "s3"),
            DeriveSigningKey(kSecret, "20130525", "us-east-1", "s3"));
  EXPECT_EQ(cache.KeyFor(kAkid, kSecret, "20130524", "eu-west-1", "s3"),
            DeriveSigningKey(kSecret, "20130524", "eu-west-1", "s3"));
  EXPECT_EQ(cache.KeyFor(kAkid, kSecret, "20130524", "us-east-1", "iam"),
            DeriveSigningKey(kSecret, "20130524", "us-east-1", "iam"));
  EXPECT_EQ(cache.KeyFor("AKIDOTHER", kSecret, "20130524", "us-east-1", "s3"),
            DeriveSigningKey(kSecret, "20130524", "us-east-1", "s3"));
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.size(), 5u);
  // The same access key with a new secret: derived from the new one, replacing the entry.
  EXPECT_EQ(cache.KeyFor(kAkid, "new secret", "20130524", "us-east-1", "s3"),
            DeriveSigningKey("new secret", "20130524", "us-east-1", "s3"));
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.size(), 5u);
  EXPECT_EQ(cache.KeyFor(kAkid, "new secret", "20130524", "us-east-1", "s3"),
            DeriveSigningKey("new secret", "20130524", "us-east-1", "s3"));
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(SigningKeyCacheTest, BoundedLeastRecentlyUsedGoesFirst) {
  SigningKeyCache cache(3);
  for (int day = 1; day <= 3; ++day) {
    (void)cache.KeyFor(kAkid, kSecret, "2013052" + std::to_string(day), "us-east-1", "s3");
  }
  (void)cache.KeyFor(kAkid, kSecret, "20130521", "us-east-1", "s3");  // day 1 used again
  EXPECT_EQ(cache.hits(), 1u);
  for (int day = 4; day <= 9; ++day) {
    (void)cache.KeyFor(kAkid, kSecret, "2013052" + std::to_string(day), "us-east-1", "s3");
    EXPECT_LE(cache.size(), 3u);
  }
  EXPECT_EQ(cache.size(), 3u);
  const uint64_t hits = cache.hits();
  (void)cache.KeyFor(kAkid, kSecret, "20130529", "us-east-1", "s3");  // the newest stays
  EXPECT_EQ(cache.hits(), hits + 1);
  (void)cache.KeyFor(kAkid, kSecret, "20130521", "us-east-1", "s3");  // evicted long ago
  EXPECT_EQ(cache.hits(), hits + 1);
}

TEST(SigningKeyCacheTest, VerifyStillLooksTheSecretUpEveryTime) {
  SigningKeyCache cache(8);
  VerifyOptions options;
  options.signing_keys = &cache;
  const SigV4Request r = SignedAt(GetObjectExample(), kExampleTime);
  int lookups = 0;
  std::optional<std::string> secret = std::string(kSecret);
  SecretLookup lookup = [&](std::string_view) -> Result<std::string> {
    ++lookups;
    if (!secret) return NotFound("revoked");
    return *secret;
  };
  for (int i = 0; i < 2; ++i) {
    AuthResult<VerifiedRequest> v = VerifyRequest(r, lookup, kExampleTime, options);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(v->signing.signing_key, DeriveSigningKey(kSecret, "20130524", "us-east-1"));
  }
  EXPECT_EQ(lookups, 2);
  EXPECT_EQ(cache.hits(), 1u);
  // A rotated secret: the key cached from the old one is not used.
  secret = "rotated";
  EXPECT_EQ(KindOf(VerifyRequest(r, lookup, kExampleTime, options)),
            AuthErrorKind::kSignatureDoesNotMatch);
  // A revoked key fails at once, whatever the cache holds.
  secret.reset();
  EXPECT_EQ(KindOf(VerifyRequest(r, lookup, kExampleTime, options)),
            AuthErrorKind::kInvalidAccessKeyId);
  EXPECT_EQ(lookups, 4);
  // A tampered request still fails with a cached key.
  secret = std::string(kSecret);
  SigV4Request tampered = r;
  SetHeader(tampered, "Range", "bytes=0-10");
  EXPECT_EQ(KindOf(VerifyRequest(tampered, lookup, kExampleTime, options)),
            AuthErrorKind::kSignatureDoesNotMatch);
}

TEST(SignerTest, RefusesIncompleteRequests) {
  SigV4Request no_host{"GET", "/", "", {}};
  EXPECT_FALSE(SignRequest(no_host, kCreds, "us-east-1", kExampleTime, kEmptySha256Hex).ok());
  EXPECT_FALSE(PresignQuery(no_host, kCreds, "us-east-1", kExampleTime, 60).ok());
  SigV4Request dated{"GET", "/", "", {{"Host", "h"}, {"X-Amz-Date", "20130524T000000Z"}}};
  EXPECT_FALSE(SignRequest(dated, kCreds, "us-east-1", kExampleTime, kEmptySha256Hex).ok());
  SigV4Request presigned{"GET", "/", "X-Amz-Date=1", {{"Host", "h"}}};
  EXPECT_FALSE(PresignQuery(presigned, kCreds, "us-east-1", kExampleTime, 60).ok());
  EXPECT_FALSE(SignRequest(GetObjectExample(), kCreds, "", kExampleTime, kEmptySha256Hex).ok());
  EXPECT_FALSE(SignRequest(GetObjectExample(), kCreds, "a/b", kExampleTime, kEmptySha256Hex).ok());
}

}  // namespace
}  // namespace dase::s3
