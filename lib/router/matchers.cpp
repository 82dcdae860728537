#include "router/matchers.hpp"
#include "common/ascii.hpp"

#include <re2/re2.h>

#include <charconv>
#include <cstring>

#include "common/arena.hpp"

namespace ferry::router {

namespace {

using detail::lower;
using detail::to_lower;



// `pattern` is already lower-cased.
bool iequal_at(std::string_view s, std::size_t at, std::string_view pattern) noexcept {
  for (std::size_t i = 0; i < pattern.size(); ++i)
    if (lower(s[at + i]) != pattern[i]) return false;
  return true;
}

bool icontains(std::string_view s, std::string_view pattern) noexcept {
  if (pattern.size() > s.size()) return false;
  for (std::size_t at = 0; at + pattern.size() <= s.size(); ++at)
    if (iequal_at(s, at, pattern)) return true;
  return false;
}

}  // namespace

std::optional<StringMatcher> StringMatcher::compile(const StringMatch& m, std::string& error) {
  StringMatcher out;
  out.kind_ = m.kind;
  out.ignore_case_ = m.ignore_case && m.kind != StringMatch::Kind::safe_regex;
  out.value_ = out.ignore_case_ ? to_lower(m.value) : m.value;
  if (m.kind == StringMatch::Kind::safe_regex) {
    auto re = std::make_shared<re2::RE2>(m.value, re2::RE2::Quiet);
    if (!re->ok()) {
      error = "invalid regex \"" + m.value + "\": " + re->error();
      return std::nullopt;
    }
    out.regex_ = std::move(re);
  }
  return out;
}

bool StringMatcher::match(std::string_view v) const {
  const std::string_view p = value_;
  switch (kind_) {
    case StringMatch::Kind::exact:
      return v.size() == p.size() && (ignore_case_ ? iequal_at(v, 0, p) : v == p);
    case StringMatch::Kind::prefix:
      return v.size() >= p.size() && (ignore_case_ ? iequal_at(v, 0, p) : v.substr(0, p.size()) == p);
    case StringMatch::Kind::suffix: {
      if (v.size() < p.size()) return false;
      auto at = v.size() - p.size();
      return ignore_case_ ? iequal_at(v, at, p) : v.substr(at) == p;
    }
    case StringMatch::Kind::contains:
      return ignore_case_ ? icontains(v, p) : v.find(p) != std::string_view::npos;
    case StringMatch::Kind::safe_regex:
      return re2::RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *regex_);
  }
  return false;
}

std::optional<HeaderMatch> HeaderMatch::compile(const HeaderMatcher& m, std::string& error) {
  HeaderMatch out;
  out.name_ = to_lower(m.name);
  if (out.name_ == ":method") out.source_ = Source::method;
  else if (out.name_ == ":authority") out.source_ = Source::authority;
  else if (out.name_ == ":path") out.source_ = Source::path;
  else if (out.name_ == ":scheme") out.source_ = Source::scheme;
  out.kind_ = m.kind;
  out.present_ = m.present;
  out.invert_ = m.invert_match;
  out.missing_as_empty_ = m.treat_missing_header_as_empty;
  out.start_ = m.range_start;
  out.end_ = m.range_end;
  if (m.kind == HeaderMatcher::Kind::string) {
    out.string_ = StringMatcher::compile(m.string_match, error);
    if (!out.string_) return std::nullopt;
  }
  return out;
}

std::optional<std::string_view> HeaderMatch::value_of(const RequestFacts& facts) const {
  switch (source_) {
    case Source::method: return facts.req.method();
    case Source::path: return facts.req.path();
    case Source::scheme: return facts.scheme;
    case Source::authority:
    case Source::field: break;
  }
  // ":authority" is the Host field in HTTP/1.1.
  return header_value(facts.req, source_ == Source::authority ? std::string_view("host") : name_,
                      facts.arena);
}

bool HeaderMatch::match_value(std::string_view v) const {
  switch (kind_) {
    case HeaderMatcher::Kind::present: return present_;
    case HeaderMatcher::Kind::string: return string_->match(v);
    case HeaderMatcher::Kind::range: {
      // Like absl::SimpleAtoi: the whole value is one (optionally signed) integer, spaces
      // around it allowed.
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      if (v.size() > 1 && v.front() == '+' && v[1] != '-') v.remove_prefix(1);
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      return ec == std::errc() && end == v.data() + v.size() && !v.empty() && n >= start_ && n < end_;
    }
  }
  return false;
}

// Envoy's HeaderUtility::matchHeaders: a missing header only satisfies a present_match
// (false, or true when inverted) unless it is to be treated as "".
bool HeaderMatch::match(const RequestFacts& facts) const { return match_found(value_of(facts)); }

bool HeaderMatch::match(const HeaderMap& headers, detail::Arena& arena) const {
  return match_found(source_ == Source::field ? header_value(headers, name_, arena) : std::nullopt);
}

bool HeaderMatch::match_found(std::optional<std::string_view> value) const {
  if (!value && !missing_as_empty_) {
    bool is_present = kind_ == HeaderMatcher::Kind::present;
    return invert_ ? is_present && present_ : is_present && !present_;
  }
  return match_value(value.value_or(std::string_view{})) != invert_;
}

std::optional<QueryMatch> QueryMatch::compile(const QueryParameterMatcher& m, std::string& error) {
  QueryMatch out;
  out.name_ = m.name;
  if (m.string_match) {
    out.string_ = StringMatcher::compile(*m.string_match, error);
    if (!out.string_) return std::nullopt;
  }
  return out;
}

bool QueryMatch::match(std::string_view query) const {
  auto v = find_query_parameter(query, name_);
  if (!v) return false;
  return !string_ || string_->match(*v);
}

std::optional<std::string_view> find_query_parameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto param = query.substr(0, amp);
    auto eq = param.find('=');
    if (param.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> header_value(const HeaderMap& headers, std::string_view name,
                                             detail::Arena& arena) {
  const HeaderEntry* first = nullptr;
  std::size_t count = 0, total = 0;
  for (const auto& e : headers) {
    if (!iequals(e.name, name)) continue;
    if (!first) first = &e;
    ++count;
    total += e.value.size();
  }
  if (!first) return std::nullopt;
  if (count == 1) return first->value;
  char* out = arena.allocate(total + count - 1);
  std::size_t n = 0;
  bool first_value = true;
  for (const auto& e : headers) {
    if (!iequals(e.name, name)) continue;
    if (!first_value) out[n++] = ',';
    first_value = false;
    if (!e.value.empty()) std::memcpy(out + n, e.value.data(), e.value.size());
    n += e.value.size();
  }
  return std::string_view(out, n);
}

std::optional<std::string_view> request_value(const RequestHeaders& req, std::string_view name,
                                              std::string_view scheme, detail::Arena& arena) {
  if (!name.empty() && name.front() == ':') {
    if (name == ":method") return req.method();
    if (name == ":path") return req.path();
    if (name == ":scheme") return scheme;
    if (name != ":authority") return std::nullopt;
    name = "host";
  }
  return header_value(req, name, arena);
}

}  // namespace ferry::router
