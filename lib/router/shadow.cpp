// Shadowed routes: a later route that an earlier one of the same virtual host always wins
// over. Only what is certain is reported, so a warning is never wrong:
//
// - the earlier route has no header or query-parameter matchers (with them it may decline
//   a request the later route then takes); the later route's own matchers only narrow it,
//   so they do not matter;
// - the earlier route is a prefix, path or path_separated_prefix match; regexes are not
//   compared, except that prefix "/" covers a later regex that cannot match "*" (the only
//   routed path not starting with '/');
// - case: a case-insensitive earlier value (or a case-sensitive one without ASCII letters,
//   which then means the same) covers any later value that starts with it ignoring case; a
//   case-sensitive earlier value with letters covers only case-sensitive later values.
//
// The matching rules compared are CompiledRoute::matches (route_table.cpp): prefix tests
// the path with its query, path the path without it, path_separated_prefix the value
// followed by '/', '?', '#' or the end.
#include "router/shadow.hpp"
#include "common/ascii.hpp"

#include <re2/re2.h>

#include <string_view>

#include "router/validate.hpp"

namespace ferry::router {

namespace {

using detail::lower;

using Kind = PathMatch::Kind;


bool has_letters(std::string_view s) noexcept {
  for (char c : s)
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return false;
}

// The router only sees origin-form paths ("/...") and the asterisk form "*" (the codec
// rejects anything else), so prefix "/" matches every path except "*".
bool regex_may_match_asterisk(const std::string& pattern) {
  re2::RE2 re(pattern, re2::RE2::Quiet);
  return !re.ok() || re2::RE2::FullMatch("*", re);
}

// Whether `s` starts with `p`, ignoring ASCII case when `fold`.
bool starts_with(std::string_view s, std::string_view p, bool fold) noexcept {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (fold ? lower(s[i]) != lower(p[i]) : s[i] != p[i]) return false;
  return true;
}

// Whether every path matching `later` starts with the earlier `value` under its case rule.
// An earlier value compared without case (or with no letters to compare) is implied when the
// later value starts with it ignoring case; otherwise both must be case-sensitive.
bool value_implies(std::string_view value, bool case_sensitive, const PathMatch& later) {
  bool folds = !case_sensitive || !has_letters(value);
  if (folds) return starts_with(later.value, value, true);
  return later.case_sensitive && starts_with(later.value, value, false);
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::prefix: return "prefix";
    case Kind::path: return "path";
    case Kind::safe_regex: return "safe_regex";
    case Kind::path_separated_prefix: return "path_separated_prefix";
  }
  return "match";
}

}  // namespace

std::string describe_path_match(const PathMatch& m) {
  auto out = kind_name(m.kind) + " " + in_quotes(m.value);
  if (!m.case_sensitive && m.kind != Kind::safe_regex) out += ", case-insensitive";
  return out;
}

bool path_match_covers(const PathMatch& earlier, const PathMatch& later) {
  if (earlier.kind == Kind::safe_regex) return false;
  if (later.kind == Kind::safe_regex) {
    // Regexes are not compared, except with a prefix that every routed path has.
    if (earlier.kind != Kind::prefix) return false;
    return earlier.value.empty() || (earlier.value == "/" && !regex_may_match_asterisk(later.value));
  }
  // A path value holding '?' or '#' never matches (the query is cut off first); leave such
  // oddities alone rather than call them shadowed.
  if (later.kind == Kind::path && later.value.find_first_of("?#") != std::string::npos) return false;
  const std::string_view e = earlier.value;
  switch (earlier.kind) {
    case Kind::prefix:
      // Every later kind matches only paths that start with its value.
      return value_implies(e, earlier.case_sensitive, later);
    case Kind::path:
      // Only the very same path (its query is ignored by both).
      if (later.kind != Kind::path || later.value.size() != e.size()) return false;
      return value_implies(e, earlier.case_sensitive, later);
    case Kind::path_separated_prefix: {
      if (e.empty() || !value_implies(e, earlier.case_sensitive, later)) return false;
      // The later value must continue with a separator, or (for path and
      // path_separated_prefix, whose matches end or continue with '/', '?' or '#' right
      // after the value) end exactly there.
      if (later.value.size() == e.size()) return later.kind != Kind::prefix;
      char next = later.value[e.size()];
      if (next == '/') return true;
      return later.kind == Kind::prefix && (next == '?' || next == '#');
    }
    case Kind::safe_regex:
      break;
  }
  return false;
}

}  // namespace ferry::router

namespace ferry {

std::vector<ShadowedRoute> find_shadowed_routes(const RouteConfig& config) {
  std::vector<ShadowedRoute> out;
  for (std::size_t v = 0; v < config.virtual_hosts.size(); ++v) {
    const auto& routes = config.virtual_hosts[v].routes;
    for (std::size_t r = 1; r < routes.size(); ++r) {
      for (std::size_t e = 0; e < r; ++e) {
        const auto& earlier = routes[e];
        if (!earlier.headers.empty() || !earlier.query_parameters.empty()) continue;
        if (!router::path_match_covers(earlier.match, routes[r].match)) continue;
        out.push_back({v, r, e, router::describe_path_match(earlier.match)});
        break;
      }
    }
  }
  return out;
}

std::vector<ConfigProblem> route_config_warnings(const RouteConfig& config, const std::string& path_prefix) {
  return router::shadow_warnings(config, path_prefix, [](const std::string& p) { return p; });
}

}  // namespace ferry

namespace ferry::router {

std::vector<ConfigProblem> shadow_warnings(const RouteConfig& config, const std::string& path_prefix,
                                           const std::function<std::string(const std::string&)>& spell) {
  auto route_path = [&](std::size_t v, std::size_t r) {
    return spell(join_path(path_prefix, "virtual_hosts[" + std::to_string(v) + "].routes[" + std::to_string(r) + "]"));
  };
  std::vector<ConfigProblem> out;
  for (const auto& s : find_shadowed_routes(config)) {
    const auto& earlier = config.virtual_hosts[s.virtual_host].routes[s.shadowed_by];
    std::string what = earlier.name.empty() ? s.earlier_match : "route " + in_quotes(earlier.name) + ", " + s.earlier_match;
    out.push_back({route_path(s.virtual_host, s.route),
                   "never matches: shadowed by " + route_path(s.virtual_host, s.shadowed_by) + " (" + what + ")"});
  }
  return out;
}

}  // namespace ferry::router
