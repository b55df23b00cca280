#include "vms/rest.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace dase::vms::rest {
namespace {

namespace json = boost::json;
using Segments = std::vector<std::string>;

constexpr std::string_view kBase = "https://10.0.0.1/api/v5/views/";

json::array Views() {
  return json::parse(R"([
    {"id": 1, "name": "view-1", "path": "/csi/vol-a", "tenant_id": 1, "enabled": true,
     "size": 1.5, "policy": {"id": 3, "name": "default"}, "protocols": ["NFS", "S3"]},
    {"id": 2, "name": "Data-Two", "path": "/data/two", "tenant_id": 2, "enabled": false,
     "policy": {"id": 4, "name": "s3_default_policy"}, "protocols": ["S3"]},
    {"id": 3, "name": "view-3", "path": "/csi/vol-b", "tenant_id": 1, "enabled": true,
     "policy": null, "protocols": []},
    "not an object"
  ])").as_array();
}

std::vector<int64_t> Ids(const json::value& list) {
  std::vector<int64_t> ids;
  for (const auto& v : list.as_array()) ids.push_back(v.as_object().at("id").as_int64());
  return ids;
}

std::vector<int64_t> Filtered(std::string_view query) {
  auto q = ParseListQuery(query);
  EXPECT_TRUE(q.ok()) << query << ": " << q.status().ToString();
  if (!q.ok()) return {};
  return Ids(ApplyList(Views(), *q, kBase));
}

TEST(ApiPathTest, AcceptsEveryPrefixWithOrWithoutTrailingSlash) {
  for (std::string prefix : {"/api", "/api/latest", "/api/v1", "/api/v5", "/api/v7"}) {
    EXPECT_EQ(ParseApiPath(prefix + "/cnodes/3/"), (Segments{"cnodes", "3"})) << prefix;
    EXPECT_EQ(ParseApiPath(prefix + "/cnodes/3"), (Segments{"cnodes", "3"})) << prefix;
    EXPECT_EQ(ParseApiPath(prefix + "/"), Segments{}) << prefix;
    EXPECT_EQ(ParseApiPath(prefix), Segments{}) << prefix;
  }
  EXPECT_EQ(ParseApiPath("/api/token/refresh"), (Segments{"token", "refresh"}));
  EXPECT_EQ(ParseApiPath("/api/v5/views/?path=/a"), (Segments{"views"}));
  EXPECT_EQ(ParseApiPath("/api/v5/cnodes/latest/"), (Segments{"cnodes", "latest"}));
}

TEST(ApiPathTest, UnknownVersionsAreResources) {
  EXPECT_EQ(ParseApiPath("/api/v8/cnodes/"), (Segments{"v8", "cnodes"}));
  EXPECT_EQ(ParseApiPath("/api/v10/"), (Segments{"v10"}));
}

TEST(ApiPathTest, DecodesSegments) {
  EXPECT_EQ(ParseApiPath("/api/v1/users/a%20b%2Fc/"), (Segments{"users", "a b/c"}));
}

TEST(ApiPathTest, RejectsNonApiAndBadPaths) {
  for (const char* path : {"", "/", "/apix/views/", "/v1/views/", "/API/views/", "/api/a//b/",
                           "/api//views", "/api/views/../users/", "/api/views/%2e%2e/",
                           "/api/views/./", "/api/x%zz/", "/api/x%4/", "/api/x%00/"}) {
    EXPECT_EQ(ParseApiPath(path), std::nullopt) << path;
  }
  std::string deep = "/api";
  for (size_t i = 0; i <= kPathSegmentsMax; ++i) deep += "/x";
  EXPECT_EQ(ParseApiPath(deep), std::nullopt);
}

TEST(ListQueryTest, ParsesFiltersFieldsAndPages) {
  auto q = ParseListQuery("name=a+b&path__contains=%2Fcsi&policy__name__icontains=DEF&fields=id"
                          "&fields=name,path&page=2&page_size=10&ordering=-id&format=json");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ASSERT_EQ(q->filters.size(), 3u);
  EXPECT_EQ(q->filters[0].field_path, Segments{"name"});
  EXPECT_EQ(q->filters[0].op, MatchOp::kExact);
  EXPECT_EQ(q->filters[0].value, "a b");
  EXPECT_EQ(q->filters[1].op, MatchOp::kContains);
  EXPECT_EQ(q->filters[1].value, "/csi");
  EXPECT_EQ(q->filters[2].field_path, (Segments{"policy", "name"}));
  EXPECT_EQ(q->filters[2].op, MatchOp::kIContains);
  EXPECT_EQ(q->fields, (Segments{"id", "name", "path"}));
  EXPECT_EQ(q->page, 2);
  EXPECT_EQ(q->page_size, 10);
  EXPECT_EQ(q->params.size(), 9u);
}

TEST(ListQueryTest, EmptyQueryHasNothing) {
  for (const char* query : {"", "?", "&&"}) {
    auto q = ParseListQuery(query);
    ASSERT_TRUE(q.ok()) << query;
    EXPECT_TRUE(q->filters.empty());
    EXPECT_FALSE(q->page_size.has_value());
  }
}

TEST(ListQueryTest, RejectsBadPagesAndQueries) {
  for (const char* query :
       {"page=0", "page=-1", "page=x", "page=1.5", "page=", "page_size=0", "page_size=10001",
        "page_size=99999999999999999999", "page_size=1e3", "name=%zz", "a____b=1", "__x=1"}) {
    EXPECT_EQ(ParseListQuery(query).status().code(), Code::kInvalidArgument) << query;
  }
  EXPECT_TRUE(ParseListQuery("page_size=10000&page=9999999").ok());
  std::string many;
  for (size_t i = 0; i <= kQueryParamsMax; ++i) many += "a=1&";
  EXPECT_EQ(ParseListQuery(many).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseListQuery("name=a b").status().code(), Code::kInvalidArgument);  // unencoded
}

TEST(ApplyListTest, WithoutPageSizeReturnsABareArray) {
  auto q = ParseListQuery("").value();
  json::value out = ApplyList(Views(), q, kBase);
  ASSERT_TRUE(out.is_array());
  EXPECT_EQ(Ids(out), (std::vector<int64_t>{1, 2, 3}));
}

TEST(ApplyListTest, StringOperators) {
  EXPECT_EQ(Filtered("name=view-1"), (std::vector<int64_t>{1}));
  EXPECT_EQ(Filtered("name=VIEW-1"), (std::vector<int64_t>{}));
  EXPECT_EQ(Filtered("name__iexact=VIEW-1"), (std::vector<int64_t>{1}));
  EXPECT_EQ(Filtered("path__contains=vol"), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Filtered("path__startswith=/csi/"), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Filtered("path__endswith=vol-b"), (std::vector<int64_t>{3}));
  EXPECT_EQ(Filtered("name__contains=data"), (std::vector<int64_t>{}));
  EXPECT_EQ(Filtered("name__icontains=DATA"), (std::vector<int64_t>{2}));
  EXPECT_EQ(Filtered("id__in=1,3,9"), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Filtered("path__contains=vol&tenant_id=1&name=view-3"), (std::vector<int64_t>{3}));
}

TEST(ApplyListTest, NumbersAndBoolsMatchTheirCanonicalText) {
  EXPECT_EQ(Filtered("tenant_id=1"), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Filtered("tenant_id=01"), (std::vector<int64_t>{}));
  EXPECT_EQ(Filtered("id=2"), (std::vector<int64_t>{2}));
  EXPECT_EQ(Filtered("enabled=true"), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Filtered("enabled=True"), (std::vector<int64_t>{1, 3}));  // Python's spelling
  EXPECT_EQ(Filtered("enabled=false"), (std::vector<int64_t>{2}));
  EXPECT_EQ(Filtered("size=1.5"), (std::vector<int64_t>{1}));
}

TEST(ApplyListTest, NestedFieldsAndMissingFields) {
  EXPECT_EQ(Filtered("policy__name=default"), (std::vector<int64_t>{1}));
  EXPECT_EQ(Filtered("policy__id=4"), (std::vector<int64_t>{2}));
  EXPECT_EQ(Filtered("policy__name__contains=default"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Filtered("policy__name__startswith=s3"), (std::vector<int64_t>{2}));
  EXPECT_EQ(Filtered("nosuchfield=1"), (std::vector<int64_t>{}));
  EXPECT_EQ(Filtered("policy__nosuch=1"), (std::vector<int64_t>{}));
  EXPECT_EQ(Filtered("name__nosuch=view-1"), (std::vector<int64_t>{}));
}

TEST(ApplyListTest, ContainsOnAListMeansMembership) {
  EXPECT_EQ(Filtered("protocols__contains=S3"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Filtered("protocols__contains=NF"), (std::vector<int64_t>{}));
  EXPECT_EQ(Filtered("protocols__icontains=nfs"), (std::vector<int64_t>{1}));
}

TEST(ApplyListTest, ProjectsFields) {
  auto q = ParseListQuery("fields=id&fields=name&fields=missing&tenant_id=2").value();
  json::value out = ApplyList(Views(), q, kBase);
  EXPECT_EQ(json::serialize(out), R"([{"id":2,"name":"Data-Two"}])");
  json::object one = Views()[0].as_object();
  EXPECT_EQ(json::serialize(Project(one, {"path", "id"})), R"({"path":"/csi/vol-a","id":1})");
  EXPECT_EQ(Project(one, {}), one);
}

TEST(ApplyListTest, PaginatesWithAbsoluteLinks) {
  auto first = ApplyList(Views(), ParseListQuery("page_size=2&path__contains=/").value(), kBase);
  ASSERT_TRUE(first.is_object());
  const json::object& p1 = first.as_object();
  EXPECT_EQ(p1.at("count").as_uint64(), 3u);
  EXPECT_EQ(Ids(p1.at("results")), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(p1.at("previous").is_null());
  EXPECT_EQ(p1.at("next").as_string(),
            "https://10.0.0.1/api/v5/views/?page_size=2&path__contains=/&page=2");

  auto q2 = ParseListQuery("page_size=2&path__contains=/&page=2").value();
  const json::object p2 = ApplyList(Views(), q2, kBase).as_object();
  EXPECT_EQ(Ids(p2.at("results")), (std::vector<int64_t>{3}));
  EXPECT_TRUE(p2.at("next").is_null());
  // As in DRF, the first page's link has no page parameter.
  EXPECT_EQ(p2.at("previous").as_string(),
            "https://10.0.0.1/api/v5/views/?page_size=2&path__contains=/");
}

TEST(ApplyListTest, PaginationEdges) {
  auto one_page = ApplyList(Views(), ParseListQuery("page_size=10").value(), kBase).as_object();
  EXPECT_EQ(one_page.at("count").as_uint64(), 3u);
  EXPECT_TRUE(one_page.at("next").is_null());
  EXPECT_TRUE(one_page.at("previous").is_null());

  auto middle = ApplyList(Views(), ParseListQuery("page_size=1&page=2").value(), kBase).as_object();
  EXPECT_EQ(Ids(middle.at("results")), (std::vector<int64_t>{2}));
  EXPECT_EQ(middle.at("next").as_string(), "https://10.0.0.1/api/v5/views/?page_size=1&page=3");
  EXPECT_EQ(middle.at("previous").as_string(), "https://10.0.0.1/api/v5/views/?page_size=1");

  auto beyond =
      ApplyList(Views(), ParseListQuery("page_size=2&page=9223372036854775807").value(), kBase)
          .as_object();
  EXPECT_EQ(beyond.at("count").as_uint64(), 3u);
  EXPECT_TRUE(beyond.at("results").as_array().empty());
  EXPECT_TRUE(beyond.at("next").is_null());

  auto empty = ApplyList(json::array{}, ParseListQuery("page_size=5").value(), kBase).as_object();
  EXPECT_EQ(empty.at("count").as_uint64(), 0u);
  EXPECT_TRUE(empty.at("next").is_null());
  EXPECT_TRUE(empty.at("previous").is_null());
}

TEST(ApplyListTest, LinksReencodeValues) {
  auto q = ParseListQuery("page_size=1&name__contains=a+b%26c").value();
  EXPECT_EQ(q.filters[0].value, "a b&c");
  json::array objects{json::object{{"id", 1}, {"name", "xa b&c"}},
                      json::object{{"id", 2}, {"name", "a b&cy"}}};
  auto out = ApplyList(objects, q, kBase).as_object();
  std::string next(out.at("next").as_string());
  auto next_query = ParseListQuery(next.substr(next.find('?') + 1)).value();
  EXPECT_EQ(next_query.filters[0].value, "a b&c");
  EXPECT_EQ(next_query.page, 2);
}

TEST(ResponseTest, JsonDetailAndFieldErrors) {
  http::Response ok = JsonResponse(201, json::object{{"id", 7}});
  EXPECT_EQ(ok.result_int(), 201u);
  EXPECT_EQ(ok[boost::beast::http::field::content_type], "application/json");
  EXPECT_EQ(ok.body(), R"({"id":7})");
  EXPECT_EQ(ok[boost::beast::http::field::content_length], "8");

  http::Response missing = DetailError(404, "Not found.");
  EXPECT_EQ(missing.result_int(), 404u);
  EXPECT_EQ(missing.body(), R"({"detail":"Not found."})");

  http::Response invalid = FieldErrors(
      400, {{"name", "This field must be unique."}, {"path", "This field is required."},
            {"name", "Too long."}});
  EXPECT_EQ(invalid.result_int(), 400u);
  EXPECT_EQ(json::parse(invalid.body()),
            json::parse(R"({"name":["This field must be unique.","Too long."],
                            "path":["This field is required."]})"));
}

TEST(ResponseTest, NoContentIsEmpty) {
  http::Response none = NoContent();
  EXPECT_EQ(none.result_int(), 204u);
  EXPECT_TRUE(none.body().empty());
}

}  // namespace
}  // namespace dase::vms::rest
