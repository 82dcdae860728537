// Compiled header and query-parameter matchers of a route (Envoy's HeaderMatcher and
// QueryParameterMatcher). Everything that can be prepared is prepared when the route table
// is built: regexes compiled, case-insensitive strings lower-cased, pseudo-header names
// resolved, so matching a request only reads it.
//
// Thread safety: immutable after compile(); safe to share between workers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <ferry/headers.hpp>
#include <ferry/router.hpp>

namespace re2 {
class RE2;
}

namespace ferry::detail {
class Arena;
}

namespace ferry::router {

/// A compiled StringMatch.
class StringMatcher {
 public:
  /// Null (and `error` set) when the regex does not compile.
  static std::optional<StringMatcher> compile(const StringMatch& m, std::string& error);
  bool match(std::string_view v) const;

 private:
  StringMatch::Kind kind_ = StringMatch::Kind::exact;
  bool ignore_case_ = false;
  std::string value_;  ///< lower-cased when ignore_case_
  std::shared_ptr<const re2::RE2> regex_;
};

/// The request facts a header matcher reads besides the header fields.
struct RequestFacts {
  const RequestHeaders& req;
  std::string_view scheme;  ///< ":scheme"
  detail::Arena& arena;     ///< for joining repeated fields
};

/// A compiled HeaderMatcher.
class HeaderMatch {
 public:
  static std::optional<HeaderMatch> compile(const HeaderMatcher& m, std::string& error);
  bool match(const RequestFacts& facts) const;
  /// The same against a response's headers (regular fields only; pseudo-headers count as
  /// missing).
  bool match(const HeaderMap& headers, detail::Arena& arena) const;

 private:
  enum class Source : std::uint8_t { field, method, authority, path, scheme };
  std::optional<std::string_view> value_of(const RequestFacts& facts) const;
  bool match_value(std::string_view v) const;
  /// Envoy's rule for a found (or missing) value, inversion included.
  bool match_found(std::optional<std::string_view> value) const;

  Source source_ = Source::field;
  HeaderMatcher::Kind kind_ = HeaderMatcher::Kind::present;
  bool present_ = true;
  bool invert_ = false;
  bool missing_as_empty_ = false;
  std::int64_t start_ = 0;
  std::int64_t end_ = 0;
  std::string name_;
  std::optional<StringMatcher> string_;
};

/// A compiled QueryParameterMatcher.
class QueryMatch {
 public:
  static std::optional<QueryMatch> compile(const QueryParameterMatcher& m, std::string& error);
  /// `query` is what follows the '?' of the path.
  bool match(std::string_view query) const;

 private:
  std::string name_;
  std::optional<StringMatcher> string_;
};

/// The first value of parameter `name` in `query` ("" for a parameter without '='), or
/// nullopt. Names and values are compared and returned undecoded, as Envoy does.
std::optional<std::string_view> find_query_parameter(std::string_view query, std::string_view name);

/// The value of header `name` in `headers`; several fields are joined with "," into `arena`.
std::optional<std::string_view> header_value(const HeaderMap& headers, std::string_view name,
                                             detail::Arena& arena);

/// Like header_value, and also the pseudo-headers ":method", ":path", ":authority" (Host)
/// and ":scheme" (`scheme`). `name` is lower-case.
std::optional<std::string_view> request_value(const RequestHeaders& req, std::string_view name,
                                              std::string_view scheme, detail::Arena& arena);

}  // namespace ferry::router
