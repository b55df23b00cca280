#include "s3/service.h"

#include <fmt/format.h>

#include <algorithm>

#include <boost/beast/http/field.hpp>

#include "common/log.h"
#include "s3/canonical.h"
#include "s3/http_util.h"
#include "xml/xml.h"

namespace dase::s3 {
namespace bhttp = boost::beast::http;

S3Error MalformedXml() {
  return {400, "MalformedXML",
          "The XML you provided was not well-formed or did not validate against our published "
          "schema"};
}

std::string S3Request::Header(std::string_view name) const {
  auto it = http->find(name);
  return it == http->end() ? std::string() : std::string(it->value());
}

S3Service::S3Service(env::Env* env, estore::ObjectStore* objects, meta::Store* store,
                     S3Options options)
    : env_(env), objects_(objects), ns_(objects->ns()), store_(store),
      options_(std::move(options)), catalog_(store, objects->ns(), env) {}

http::Response S3Service::Error(const S3Request& r, const S3Error& e) const {
  xml::XmlWriter w;
  w.Open("Error");
  w.Element("Code", e.code);
  w.Element("Message", e.message);
  if (!r.resource.empty()) {
    // A key XML cannot carry (a control character) goes percent-encoded.
    w.Element("Resource", xml::IsXmlText(r.resource) ? r.resource
                                                     : UriEncode(r.resource, SlashEncoding::kKeep));
  }
  w.Element("RequestId", r.request_id);
  w.Close();
  http::Response reply = XmlReply(e.status, w.Finish());
  if (r.http != nullptr && r.http->method() == bhttp::verb::head) reply.body().clear();
  return reply;
}

http::Response S3Service::ErrorFrom(const S3Request& r, const Status& s,
                                    std::string_view not_found_code) const {
  switch (s.code()) {
    case Code::kNotFound:
      return Error(r, {404, std::string(not_found_code), std::string(s.message())});
    case Code::kInvalidArgument: return Error(r, {400, "InvalidArgument", std::string(s.message())});
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
      return Error(r, {409, "OperationAborted", std::string(s.message())});
    case Code::kNoSpace:
    case Code::kResourceExhausted:
      return Error(r, {507, "InsufficientStorage", std::string(s.message())});
    case Code::kUnavailable:
    case Code::kAborted:
    case Code::kTimeout:
      return Error(r, {503, "ServiceUnavailable", std::string(s.message())});
    default:
      LOG_WARN("s3 {}: {}", r.resource, s.ToString());
      return Error(r, {500, "InternalError", "We encountered an internal error. Please try again."});
  }
}

std::optional<S3Error> S3Service::Route(http::Request& request, S3Request& out) {
  out.http = &request;
  out.request_id = fmt::format("{:016X}", (env_->NowMicros() << 12) ^ ++request_counter_);
  std::string_view target = request.target();
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  std::string_view raw_query = q == std::string_view::npos ? "" : target.substr(q + 1);
  if (raw_path.empty() || raw_path.front() != '/') {
    return S3Error{400, "InvalidURI", "Couldn't parse the specified URI."};
  }
  auto path = PercentDecode(raw_path, PlusDecoding::kLiteral);
  if (!path.ok()) return S3Error{400, "InvalidURI", "Couldn't parse the specified URI."};
  auto query = ParseQuery(raw_query);
  if (!query.ok()) return S3Error{400, "InvalidURI", "Couldn't parse the query string."};
  for (QueryParam& p : *query) out.query.emplace(std::move(p.name), std::move(p.value));

  std::string host = HostWithoutPort(out.Header("host"));
  std::optional<std::string> vhost_bucket;
  bool is_domain = std::find(options_.domains.begin(), options_.domains.end(), host) !=
                   options_.domains.end();
  for (const std::string& domain : options_.domains) {
    if (is_domain) break;  // "s3.localhost" itself is path-style, not bucket "s3" of localhost
    if (host.size() > domain.size() + 1 && host.ends_with(domain) &&
        host[host.size() - domain.size() - 1] == '.') {
      vhost_bucket = host.substr(0, host.size() - domain.size() - 1);
      break;
    }
  }
  std::string_view rest = std::string_view(*path).substr(1);
  if (vhost_bucket) {
    out.bucket = *vhost_bucket;
    out.key = std::string(rest);
  } else {
    size_t slash = rest.find('/');
    out.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) out.key = std::string(rest.substr(slash + 1));
  }
  out.resource = "/" + out.bucket + (out.key.empty() ? "" : "/" + out.key);
  if (out.key.size() > kKeyBytesMax) {
    return S3Error{400, "KeyTooLongError", "Your key is too long."};
  }
  return std::nullopt;
}

awaitable<http::Response> S3Service::Handle(http::Request& request, const http::PeerInfo&) {
  S3Request r;
  std::optional<S3Error> error = Route(request, r);
  if (!error) error = Authenticate(r);
  http::Response reply;
  if (error) {
    reply = Error(r, *error);
  } else {
    reply = co_await Dispatch(r);
  }
  reply.set("x-amz-request-id", r.request_id);
  reply.set(bhttp::field::server, "dase");
  const int64_t now_s = env_->NowMicros() / 1000000;
  if (now_s != date_second_) {  // formatted once a second
    date_second_ = now_s;
    date_ = HttpDate(now_s * 1000000);
  }
  reply.set(bhttp::field::date, date_);
  co_return reply;
}

awaitable<http::Response> S3Service::Dispatch(S3Request& r) {
  using bhttp::verb;
  verb method = r.http->method();
  // Only GetObject and PutObject read in Authenticate's snapshot; never across a wait.
  if (!KeepsSnapshot(r)) r.snapshot.reset();
  if (r.bucket.empty()) {
    if (method == verb::get) co_return ListBuckets(r);
    co_return Error(r, {405, "MethodNotAllowed",
                        "The specified method is not allowed against this resource."});
  }
  if (r.key.empty() && method == verb::put) co_return CreateBucket(r);
  // Authenticate read the bucket with the access key (one transaction for both).
  Result<std::optional<Bucket>> found =
      r.bucket_record ? std::move(*r.bucket_record) : catalog_.FindBucket(r.bucket);
  if (!found.ok()) co_return ErrorFrom(r, found.status(), "NoSuchBucket");
  if (!*found) {
    co_return Error(r, {404, "NoSuchBucket", "The specified bucket does not exist"});
  }
  const Bucket& b = **found;
  if (!Catalog::MayAccess(r.identity, b)) {
    co_return Error(r, {403, "AccessDenied", "Access Denied"});
  }
  if (r.key.empty()) {
    switch (method) {
      case verb::head: co_return XmlReply(200, "");
      case verb::delete_: co_return DeleteBucket(r, b);
      case verb::post:
        if (r.HasQuery("delete")) co_return co_await DeleteObjects(r, b);
        break;
      case verb::get:
        if (r.HasQuery("uploads")) co_return ListUploads(r, b);
        if (r.HasQuery("location")) {
          xml::XmlWriter w;
          w.Open("LocationConstraint", {{"xmlns", xml::kS3Namespace}});
          w.Close();
          co_return XmlReply(200, w.Finish());
        }
        if (r.HasQuery("versioning")) {
          xml::XmlWriter w;
          w.Open("VersioningConfiguration", {{"xmlns", xml::kS3Namespace}});
          w.Close();
          co_return XmlReply(200, w.Finish());
        }
        if (r.HasQuery("acl") || r.HasQuery("policy") || r.HasQuery("lifecycle") ||
            r.HasQuery("cors") || r.HasQuery("tagging") || r.HasQuery("website")) {
          co_return Error(r, {501, "NotImplemented",
                              "A header or query you provided implies functionality that is not "
                              "implemented."});
        }
        co_return ListObjects(r, b);
      default: break;
    }
    co_return Error(r, {405, "MethodNotAllowed",
                        "The specified method is not allowed against this resource."});
  }
  bool upload = r.HasQuery("uploadId");
  switch (method) {
    case verb::put: {
      bool copy = !r.Header("x-amz-copy-source").empty();
      if (upload || r.HasQuery("partNumber")) co_return co_await UploadPart(r, b, copy);
      if (copy) co_return co_await CopyObject(r, b);
      co_return co_await PutObject(r, b);
    }
    case verb::get:
      if (upload) co_return ListParts(r, b);
      co_return co_await GetObject(r, b, false);
    case verb::head: co_return co_await GetObject(r, b, true);
    case verb::delete_:
      if (upload) co_return AbortUpload(r, b);
      co_return DeleteObject(r, b);
    case verb::post:
      if (r.HasQuery("uploads")) co_return CreateUpload(r, b);
      if (upload) co_return co_await CompleteUpload(r, b);
      break;
    default: break;
  }
  co_return Error(r, {405, "MethodNotAllowed",
                      "The specified method is not allowed against this resource."});
}

void S3Listeners::Update(const std::vector<std::string>& vips) {
  for (auto it = servers_.begin(); it != servers_.end();) {
    if (std::find(vips.begin(), vips.end(), it->first) == vips.end()) {
      LOG_INFO("s3: no longer serving {}:{}", it->first, port_);
      it = servers_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& vip : vips) {
    if (servers_.count(vip) > 0) continue;
    http::ServerOptions options;
    options.body_limit_bytes = kPutBytesMax + (kPutBytesMax >> 4);  // aws-chunked framing
    options.header_limit_bytes = 16 * 1024;
    options.max_connections = 512;
    auto server = std::make_unique<http::Server>(
        executor_, options,
        [service = service_](http::Request& request, const http::PeerInfo& peer) {
          return service->Handle(request, peer);
        });
    auto bound = server->Listen(vip, port_);
    if (!bound.ok()) {
      LOG_WARN("s3: cannot listen on {}:{} yet: {}", vip, port_, bound.status().ToString());
      continue;
    }
    server->Start();
    LOG_INFO("s3: serving {}:{}", vip, port_);
    servers_.emplace(vip, std::move(server));
  }
}

std::vector<std::string> S3Listeners::Serving() const {
  std::vector<std::string> out;
  for (const auto& [vip, server] : servers_) out.push_back(vip);
  return out;
}

}  // namespace dase::s3
