// REST conventions of the VMS (VAST) API, independent of any resource: which paths are API
// paths, Django-style list filters and projection, DRF-style pagination envelopes and error
// bodies.
//
// Clients reach the same handlers through "/api/", "/api/latest/" and "/api/v1/" … "/api/v7/",
// with or without a trailing slash. A collection GET without page_size answers a bare JSON
// array; with page_size it answers {count, next, previous, results}, next/previous being
// absolute URLs or null.
//
// Thread-safety: free functions and value types without shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/result.h"
#include "http/server.h"

namespace dase::vms::rest {

inline constexpr int64_t kPageSizeMax = 10000;
inline constexpr size_t kQueryParamsMax = 64;
inline constexpr size_t kPathSegmentsMax = 16;

// "/api/v5/cnodes/3/" → {"cnodes", "3"}; "/api/" → {}. Segments are percent-decoded. nullopt
// for paths outside /api, empty middle segments ("a//b"), "." or "..", bad escapes, or more than
// kPathSegmentsMax segments. A query string ("?…"), if present, is ignored.
std::optional<std::vector<std::string>> ParseApiPath(std::string_view target_path);

enum class MatchOp {
  kExact,        // name=x
  kIExact,       // name__iexact=x
  kContains,     // name__contains=x
  kIContains,    // name__icontains=x (ASCII case-insensitive)
  kStartsWith,   // name__startswith=x
  kEndsWith,     // name__endswith=x
  kIn,           // name__in=a,b,c (exact match of any)
};

struct Filter {
  std::vector<std::string> field_path;  // "policy__name" → {"policy", "name"}
  MatchOp op = MatchOp::kExact;
  std::string value;
};

struct ListQuery {
  std::vector<Filter> filters;
  std::vector<std::string> fields;  // projection; empty means every field
  std::optional<int64_t> page;
  std::optional<int64_t> page_size;
  // Every decoded parameter in order, to rebuild next/previous URLs.
  std::vector<std::pair<std::string, std::string>> params;
};

// Parses a query string (without '?'). Reserved parameters (page, page_size, fields, ordering,
// format) are not filters. InvalidArgument for bad escapes, more than kQueryParamsMax
// parameters, or a page/page_size that is not an integer in [1, kPageSizeMax] (page: >= 1).
Result<ListQuery> ParseListQuery(std::string_view query);

// True if `object` passes every filter. A filter on a field the object lacks does not match.
bool Matches(const boost::json::object& object, const std::vector<Filter>& filters);

// `object` reduced to `fields` (in that order, missing ones skipped); all of it if `fields` is
// empty.
boost::json::object Project(const boost::json::object& object,
                            const std::vector<std::string>& fields);

// Filters, projects and (with page_size) paginates a collection. `absolute_base_url_with_path`
// is the URL of the collection as the client reached it ("https://10.0.0.1/api/v5/views/"); a
// non-object element of `objects` is skipped.
boost::json::value ApplyList(const boost::json::array& objects, const ListQuery& query,
                             std::string_view absolute_base_url_with_path);

// Response builders. Every body is JSON with Content-Type application/json, except NoContent.
http::Response JsonResponse(unsigned status, const boost::json::value& body);
// {"detail": "..."} (DRF's shape for 401/403/404 and other non-field errors).
http::Response DetailError(unsigned status, std::string_view detail);
// {"field": ["message", ...], ...} (DRF's validation errors); repeated fields collect messages.
http::Response FieldErrors(unsigned status,
                           const std::vector<std::pair<std::string, std::string>>& errors);
// 204 with an empty body (DELETE).
http::Response NoContent();

}  // namespace dase::vms::rest
