// JSON encoding of plain structs described with BOOST_DESCRIBE_STRUCT (and enums that provide
// Boost.JSON tag_invoke conversions). One codec for the control-plane messages and the VMS's
// stored records: every described field is written, and decoding requires every field with
// the right type (integers must fit their type), so a peer's or a file's mistake is caught at
// the edge as a Status. Header-only; thread-safe (pure functions).
#pragma once

#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dase {

template <typename T>
std::string EncodeJson(const T& value) {
  return boost::json::serialize(boost::json::value_from(value));
}

// `what` names the thing decoded in the error ("stored record", "hello message").
template <typename T>
Result<T> DecodeJsonValue(const boost::json::value& v, std::string_view what) {
  auto r = boost::json::try_value_to<T>(v);
  if (r.has_error()) {
    return InvalidArgument(std::string(what) + " does not decode: " + r.error().message());
  }
  return std::move(r.value());
}

template <typename T>
Result<T> DecodeJson(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return InvalidArgument(std::string(what) + " is not JSON: " + ec.message());
  return DecodeJsonValue<T>(v, what);
}

}  // namespace dase
