#include "router/validate_parts.hpp"

#include <re2/re2.h>

#include "router/header_mutations.hpp"

namespace ferry::router::checks {

namespace {

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string indexed(std::string_view name, std::size_t i) {
  return std::string(name) + "[" + std::to_string(i) + "]";
}

std::string_view envoy_string_field(StringMatch::Kind k) {
  switch (k) {
    case StringMatch::Kind::exact: return "exact";
    case StringMatch::Kind::prefix: return "prefix";
    case StringMatch::Kind::suffix: return "suffix";
    case StringMatch::Kind::contains: return "contains";
    case StringMatch::Kind::safe_regex: return "safe_regex.regex";
  }
  return "exact";
}

void check_regex(const std::string& pattern, const std::string& path, Sink& sink) {
  re2::RE2 re(pattern, re2::RE2::Quiet);
  if (!re.ok()) sink.add(path, "invalid regex " + in_quotes(pattern) + ": " + re.error());
}

// `base` is the object holding "string_match".
void string_match(const StringMatch& m, const std::string& base, Sink& sink) {
  auto path = sink.at(base, "string_match.value", "string_match." + std::string(envoy_string_field(m.kind)));
  if (m.kind == StringMatch::Kind::safe_regex) return check_regex(m.value, path, sink);
  // Envoy's rule (min_len 1): an empty prefix, suffix or substring would match anything.
  if (m.kind != StringMatch::Kind::exact && m.value.empty()) sink.add(path, "must not be empty");
}

void regex_rewrite(const RegexRewrite& rw, const std::string& base, Sink& sink) {
  auto pattern_path = sink.at(base, "regex_rewrite.pattern", "regex_rewrite.pattern.regex");
  re2::RE2 re(rw.pattern, re2::RE2::Quiet);
  if (!re.ok()) return sink.add(pattern_path, "invalid regex " + in_quotes(rw.pattern) + ": " + re.error());
  std::string error;
  if (!re.CheckRewriteString(re2::StringPiece(rw.substitution), &error))
    sink.add(join_path(base, "regex_rewrite.substitution"), "invalid substitution " + in_quotes(rw.substitution) + ": " + error);
}

bool has_control(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void header_adds(const std::vector<HeaderValueOption>& list, const std::string& base, Sink& sink) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto item = base + "[" + std::to_string(i) + "]";
    const auto& h = list[i];
    if (auto why = mutation_name_problem(h.key); !why.empty())
      sink.add(sink.at(item, "key", "header.key"), std::string(why) + " (" + in_quotes(h.key) + ")");
    auto value_path = sink.at(item, "value", "header.value");
    if (has_control(h.value)) {
      sink.add(value_path, "a header value must not contain CR, LF or NUL");
      continue;
    }
    ValueFormat format;
    std::string error;
    if (!ValueFormat::compile(h.value, format, error)) sink.add(value_path, error);
  }
}

void header_removes(const std::vector<std::string>& list, const std::string& base, Sink& sink) {
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto why = mutation_name_problem(list[i]); !why.empty())
      sink.add(base + "[" + std::to_string(i) + "]", std::string(why) + " (" + in_quotes(list[i]) + ")");
}

}  // namespace

void header_matchers(const std::vector<HeaderMatcher>& list, const std::string& route_path, Sink& sink) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto base = sink.at(route_path, indexed("headers", i), indexed("match.headers", i));
    const auto& h = list[i];
    if (h.name.empty()) sink.add(join_path(base, "name"), "a header matcher needs a name");
    if (h.kind == HeaderMatcher::Kind::string) string_match(h.string_match, base, sink);
  }
}

void query_matchers(const std::vector<QueryParameterMatcher>& list, const std::string& route_path, Sink& sink) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto base = sink.at(route_path, indexed("query_parameters", i), indexed("match.query_parameters", i));
    if (list[i].name.empty()) sink.add(join_path(base, "name"), "a query parameter matcher needs a name");
    if (list[i].string_match) string_match(*list[i].string_match, base, sink);
  }
}

void forward_rewrites(const RouteAction& a, const std::string& route_path, Sink& sink) {
  auto action = sink.at(route_path, "action", "route");
  if (!a.prefix_rewrite.empty() && a.regex_rewrite)
    sink.add(action, "\"prefix_rewrite\" and \"regex_rewrite\" are both set; a route takes at most one");
  if (a.regex_rewrite) regex_rewrite(*a.regex_rewrite, action, sink);
  int hosts = int(!a.host_rewrite_literal.empty()) + int(!a.host_rewrite_header.empty()) + int(a.auto_host_rewrite);
  if (hosts > 1)
    sink.add(action, "only one of \"host_rewrite_literal\", \"host_rewrite_header\" and \"auto_host_rewrite\" "
                     "may be set");
}

void redirect(const RedirectAction& r, const std::string& route_path, Sink& sink) {
  auto base = join_path(route_path, "redirect");
  if (r.https_redirect && !r.scheme_redirect.empty())
    sink.add(base, "\"https_redirect\" and \"scheme_redirect\" are both set; a redirect takes at most one");
  int paths = int(!r.path_redirect.empty()) + int(!r.prefix_rewrite.empty()) + int(r.regex_rewrite.has_value());
  if (paths > 1)
    sink.add(base, "only one of \"path_redirect\", \"prefix_rewrite\" and \"regex_rewrite\" may be set");
  if (r.regex_rewrite) regex_rewrite(*r.regex_rewrite, base, sink);
  if (r.port_redirect > 65535)
    sink.add(join_path(base, "port_redirect"), std::to_string(r.port_redirect) + " is not a port (1..65535)");
  int c = r.response_code;
  if (c != 301 && c != 302 && c != 303 && c != 307 && c != 308)
    sink.add(join_path(base, "response_code"), std::to_string(c) + " is not a redirect code (301, 302, 303, 307 or 308)");
  for (std::string_view s : {std::string_view(r.host_redirect), std::string_view(r.path_redirect),
                             std::string_view(r.scheme_redirect), std::string_view(r.prefix_rewrite)})
    if (has_control(s) || s.find(' ') != std::string_view::npos)
      sink.add(base, in_quotes(s) + " cannot be part of a Location (spaces or control characters)");
}

void direct_response(const DirectResponse& d, std::uint32_t max_body, const std::string& route_path, Sink& sink) {
  auto base = join_path(route_path, "direct_response");
  if (d.status < 200 || d.status > 599)
    sink.add(join_path(base, "status"), std::to_string(d.status) + " is out of range 200..599");
  if (d.body.size() > max_body)
    sink.add(join_path(base, "body"), "the body is " + std::to_string(d.body.size()) +
                                          " bytes, more than max_direct_response_body_size_bytes (" +
                                          std::to_string(max_body) + ")");
}

void mutations(const HeaderMutations& m, const std::string& owner_path, Sink& sink) {
  auto base = [&](std::string_view field) {
    return sink.at(owner_path, "header_mutations." + std::string(field), field);
  };
  header_adds(m.request_headers_to_add, base("request_headers_to_add"), sink);
  header_removes(m.request_headers_to_remove, base("request_headers_to_remove"), sink);
  header_adds(m.response_headers_to_add, base("response_headers_to_add"), sink);
  header_removes(m.response_headers_to_remove, base("response_headers_to_remove"), sink);
}

}  // namespace ferry::router::checks
