#include "router/decide.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <initializer_list>

#include <ferry/filter.hpp>

#include "common/arena.hpp"
#include "router/hash_policy.hpp"
#include "router/path_normalize.hpp"

namespace ferry::router {

namespace {

constexpr std::string_view kDirectResponse = "direct_response";

std::string_view concat(detail::Arena& arena, std::initializer_list<std::string_view> parts) {
  return arena.concat(parts);
}

std::string_view query_of(std::string_view path) {  // "?..." or ""
  auto q = path.find('?');
  return q == std::string_view::npos ? std::string_view{} : path.substr(q);
}

// --- HCM step ---------------------------------------------------------------------------

// Envoy's HeaderUtility::getPortStart: the last ':' unless it is inside "[v6]".
std::size_t port_start(std::string_view host) {
  auto colon = host.rfind(':');
  if (colon == std::string_view::npos) return colon;
  auto bracket = host.rfind(']');
  if (bracket != std::string_view::npos && bracket > colon) return std::string_view::npos;
  return colon;
}

// Envoy's HeaderUtility::stripTrailingHostDot.
void strip_trailing_host_dot(RequestHeaders& req, detail::Arena& arena) {
  for (auto& e : req.entries()) {
    if (!iequals(e.name, "host")) continue;
    auto at = port_start(e.value);
    auto name_end = at == std::string_view::npos ? e.value.size() : at;
    if (name_end == 0 || e.value[name_end - 1] != '.') return;
    char* out = arena.allocate(e.value.size() - 1);
    std::memcpy(out, e.value.data(), name_end - 1);
    std::memcpy(out + name_end - 1, e.value.data() + name_end, e.value.size() - name_end);
    e.value = std::string_view(out, e.value.size() - 1);
    return;
  }
}

void strip_host_port(const HttpOptions& http, RequestHeaders& req, const Downstream& down) {
  for (auto& e : req.entries()) {
    if (!iequals(e.name, "host")) continue;
    auto at = port_start(e.value);
    if (at == std::string_view::npos) return;
    auto port = e.value.substr(at + 1);
    std::uint32_t number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size()) return;  // not a port
    if (http.strip_any_host_port || number == down.listener_port) e.value = e.value.substr(0, at);
    return;
  }
}

// Runs one length-preserving-or-shrinking transformation into the arena.
template <class Fn>
std::string_view transform(std::string_view path, detail::Arena& arena, Fn fn) {
  char* out = arena.allocate(path.size());
  return {out, fn(path, out)};
}

// --- rewrites ---------------------------------------------------------------------------

// RE2::GlobalReplace into a caller buffer: measures when `out` is null, writes otherwise.
std::size_t replace_all(const re2::RE2& re, std::string_view rewrite, std::string_view text, char* out) {
  constexpr int kMaxGroups = 10;
  re2::StringPiece groups[kMaxGroups];
  int ngroups = std::min(1 + re2::RE2::MaxSubmatch(re2::StringPiece(rewrite.data(), rewrite.size())), kMaxGroups);
  std::size_t n = 0;
  auto emit = [&](const char* p, std::size_t len) {
    if (out && len) std::memcpy(out + n, p, len);
    n += len;
  };
  re2::StringPiece input(text.data(), text.size());
  std::size_t pos = 0;
  const char* last_end = nullptr;
  while (pos <= text.size() &&
         re.Match(input, pos, text.size(), re2::RE2::UNANCHORED, groups, ngroups)) {
    std::size_t start = std::size_t(groups[0].data() - text.data());
    emit(text.data() + pos, start - pos);
    if (groups[0].empty() && groups[0].data() == last_end) {
      // No empty match right where the previous match ended: step over one character.
      if (start < text.size()) emit(text.data() + start, 1);
      pos = start + 1;
      continue;
    }
    for (std::size_t i = 0; i < rewrite.size(); ++i) {
      char c = rewrite[i];
      if (c != '\\' || i + 1 == rewrite.size()) {
        emit(&c, 1);
        continue;
      }
      char d = rewrite[++i];
      if (d >= '0' && d <= '9') emit(groups[d - '0'].data(), groups[d - '0'].size());
      else emit(&d, 1);  // "\\"
    }
    pos = start + groups[0].size();
    last_end = text.data() + pos;
  }
  if (pos < text.size()) emit(text.data() + pos, text.size() - pos);
  return n;
}

// The path after `rw`: the matched prefix replaced, or the regex substitution applied to
// the path without its query (the query is kept).
std::string_view rewrite_path(const PathRewrite& rw, std::size_t matched, std::string_view path,
                              detail::Arena& arena) {
  if (rw.prefix_set || !rw.regex) return concat(arena, {rw.prefix, path.substr(std::min(matched, path.size()))});
  auto q = path.find('?');
  auto just_path = path.substr(0, q);
  auto query = q == std::string_view::npos ? std::string_view{} : path.substr(q);
  auto len = replace_all(*rw.regex, rw.substitution, just_path, nullptr);
  char* out = arena.allocate(len + query.size());
  replace_all(*rw.regex, rw.substitution, just_path, out);
  if (!query.empty()) std::memcpy(out + len, query.data(), query.size());
  return {out, len + query.size()};
}

void set_path(RequestHeaders& req, std::string_view path) {
  req.set_request_line(req.method(), path, req.version());
}

// Envoy's RouteEntryImplBase::finalizeRequestHeaders: header changes (most specific level
// first), then the Host rewrite, then the path rewrite.
void finalize_forward(const CompiledRoute& route, const LevelMutations* target, RequestHeaders& req,
                      const Downstream& down, detail::Arena& arena) {
  FormatContext ctx{req, down, arena};
  if (target) target->request.apply(req, ctx);
  for (const auto* m : route.request_mutations) m->apply(req, ctx);
  if (!route.host_rewrite_literal.empty()) {
    set_header_view(req, "host", route.host_rewrite_literal);
  } else if (!route.host_rewrite_header.empty()) {
    auto v = req.get(route.host_rewrite_header);
    if (!v.empty()) set_header_view(req, "host", v);
  }
  if (route.rewrite.any()) {
    auto original = req.path();
    set_path(req, rewrite_path(route.rewrite, route.matched_length(original), original, arena));
    set_header_view(req, "x-envoy-original-path", original);
  }
}

// --- redirects --------------------------------------------------------------------------

// Envoy's Utility::processRequestHost: drop the request's port when a new port is given, or
// when the scheme changes and the port was the old scheme's default.
std::string_view redirect_host(std::string_view host, std::string_view request_scheme,
                               std::string_view new_scheme, std::string_view new_port) {
  if (host.empty()) return host;
  std::size_t end;
  if (host.front() == '[') {
    end = host.rfind("]:");
    if (end != std::string_view::npos) ++end;
  } else {
    end = host.rfind(':');
  }
  if (end == std::string_view::npos) return host;
  auto port = host.substr(end);
  bool remove = !new_port.empty();
  if (new_scheme != request_scheme)
    remove = remove || (request_scheme == "https" && port == ":443") || (request_scheme == "http" && port == ":80");
  return remove ? host.substr(0, end) : host;
}

// Envoy's Utility::newUri, with `r` null for a direct response's Location.
std::string_view new_uri(const CompiledRedirect* r, std::string_view path, const RequestHeaders& req,
                         const Downstream& down, detail::Arena& arena) {
  std::string_view scheme = r && !r->scheme.empty() ? std::string_view(r->scheme) : down.scheme;
  std::string_view port = r ? std::string_view(r->port) : std::string_view{};
  std::string_view host = r && !r->host.empty() ? std::string_view(r->host)
                                                : redirect_host(req.authority(), down.scheme, scheme, port);
  bool path_query = r && r->path_has_query;
  if (r && r->path_set) path = path_query ? std::string_view(r->path) : concat(arena, {r->path, query_of(path)});
  if (path.empty() || path.front() != '/') path = concat(arena, {"/", path});
  if (r && r->strip_query && !path_query) path = path.substr(0, path.find('?'));
  return concat(arena, {scheme, "://", host, port, path});
}

Decision redirect(const CompiledRoute& route, RequestHeaders& req, const Downstream& down, detail::Arena& arena) {
  const auto& r = *route.redirect;
  auto path = req.path();
  if (r.rewrite.any()) path = rewrite_path(r.rewrite, route.matched_length(path), path, arena);
  Decision d;
  d.route = &route;
  d.status = r.status;
  d.details = kDirectResponse;
  d.location = new_uri(&r, path, req, down, arena);
  return d;
}

Decision direct_response(const CompiledRoute& route, RequestHeaders& req, const Downstream& down,
                         detail::Arena& arena) {
  Decision d;
  d.route = &route;
  d.status = route.direct_status;
  d.body = route.direct_body;
  d.details = kDirectResponse;
  // Envoy gives 201 and 3xx direct responses a Location: the request's own URL.
  if (d.status == 201 || (d.status >= 300 && d.status < 400))
    d.location = new_uri(nullptr, req.path(), req, down, arena);
  return d;
}

}  // namespace

Decision normalize_request(const HttpOptions& http, RequestHeaders& req, const Downstream& down,
                           detail::Arena& arena) {
  if (http.strip_trailing_host_dot) strip_trailing_host_dot(req, arena);
  if (http.strip_any_host_port || http.strip_matching_host_port) strip_host_port(http, req, down);
  using Action = HttpOptions::EscapedSlashesAction;
  Decision d;
  auto path = req.path();
  bool redirect_to_unescaped = false;
  if (http.path_with_escaped_slashes_action != Action::keep_unchanged && has_escaped_slash(path)) {
    if (http.path_with_escaped_slashes_action == Action::reject_request) {
      d.status = 400;
      d.body = "bad request";
      d.details = "path_normalization_failed";
      return d;
    }
    bool found = false;
    path = transform(path, arena, [&](std::string_view in, char* out) { return unescape_slashes(in, out, found); });
    redirect_to_unescaped = http.path_with_escaped_slashes_action == Action::unescape_and_redirect;
  }
  if (http.normalize_path && may_have_dot_segments(path)) path = transform(path, arena, remove_dot_segments);
  if (http.merge_slashes && has_double_slash(path)) path = transform(path, arena, merge_slashes);
  if (path.data() != req.path().data()) set_path(req, path);
  if (redirect_to_unescaped) {
    // Envoy answers with the bare path as Location.
    d.status = 307;
    d.location = path;
    d.details = "path_normalization_redirect";
  }
  return d;
}

Decision decide(const RouteTable& table, RequestHeaders& req, const Downstream& down, detail::Arena& arena,
                std::uint64_t random) {
  const auto* vhost = table.find_virtual_host(req.authority());
  const auto* route = vhost ? vhost->match(RequestFacts{req, down.scheme, arena}) : nullptr;
  if (!route) {
    Decision d;
    d.status = 404;
    d.body = "route not found";
    d.details = "route_not_found";
    d.flags = kNoRouteFound;
    return d;
  }
  switch (route->action) {
    case CompiledRoute::Action::redirect: return redirect(*route, req, down, arena);
    case CompiledRoute::Action::direct_response: return direct_response(*route, req, down, arena);
    case CompiledRoute::Action::forward: break;
  }
  Decision d;
  d.route = route;
  if (!route->cluster_header.empty()) {
    auto index = table.cluster_index(req.get(route->cluster_header));
    if (!index) {
      // Envoy's cluster_not_found_response_code default: 503 with flag NC and no body.
      d.status = 503;
      d.details = "cluster_not_found";
      d.flags = kNoClusterFound;
      return d;
    }
    d.cluster = *index;
  } else {
    auto t = route->pick_target(random);
    d.cluster = route->targets[t].cluster;
    d.target_mutations = route->targets[t].mutations.get();
  }
  if (route->hash_policy) d.hash = route->hash_policy->compute(req, down, arena, d.set_cookie);
  if (route->edits_request) finalize_forward(*route, d.target_mutations, req, down, arena);
  return d;
}

void apply_response_headers(const Decision& decision, ResponseHeaders& resp, const RequestHeaders& req,
                            const Downstream& down, detail::Arena& arena) {
  if (!decision.location.empty()) resp.append_view("location", decision.location);
  if (!decision.set_cookie.empty()) resp.append_view("set-cookie", decision.set_cookie);
  bool target = decision.target_mutations && !decision.target_mutations->response.empty();
  if (!decision.route || (decision.route->response_mutations.empty() && !target)) return;
  FormatContext ctx{req, down, arena};
  if (target) decision.target_mutations->response.apply(resp, ctx);
  for (const auto* m : decision.route->response_mutations) m->apply(resp, ctx);
}

void apply_auto_host_rewrite(const CompiledRoute& route, RequestHeaders& req, std::string_view hostname) {
  if (route.auto_host_rewrite && !hostname.empty()) set_header_view(req, "host", hostname);
}

}  // namespace ferry::router
