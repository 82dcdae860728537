// The route explainer (ferry/explain.hpp): compiles the RouteConfig with RouteTable::build,
// runs the proxy's own steps on a request built from the ExplainRequest (normalize_request,
// find_virtual_host, decide, apply_response_headers), and around them asks each route's
// compiled matchers why it did not match. What it reports as taken is what decide() took.
#include <ferry/explain.hpp>
#include "common/ascii.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "common/arena.hpp"
#include "router/decide.hpp"
#include "router/matchers.hpp"
#include "router/route_table.hpp"
#include "router/shadow.hpp"

namespace ferry {

namespace {

using detail::lower;
using detail::to_lower;

using router::CompiledRoute;



std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// --- describing matchers -----------------------------------------------------------------

std::string describe(const StringMatch& m) {
  static constexpr const char* kNames[] = {"exact", "prefix", "suffix", "contains", "safe_regex"};
  std::string out = std::string(kNames[int(m.kind)]) + " " + in_quotes(m.value);
  if (m.ignore_case && m.kind != StringMatch::Kind::safe_regex) out += " (ignore_case)";
  return out;
}

std::string describe(const HeaderMatcher& h) {
  std::string out = "header " + in_quotes(h.name) + " ";
  switch (h.kind) {
    case HeaderMatcher::Kind::string: out += describe(h.string_match); break;
    case HeaderMatcher::Kind::present: out += h.present ? "present" : "absent"; break;
    case HeaderMatcher::Kind::range:
      out += "in [" + std::to_string(h.range_start) + ", " + std::to_string(h.range_end) + ")";
      break;
  }
  if (h.invert_match) out += " (inverted)";
  if (h.treat_missing_header_as_empty) out += " (missing counts as \"\")";
  return out;
}

std::string describe(const QueryParameterMatcher& m) {
  return "query parameter " + in_quotes(m.name) + " " + (m.string_match ? describe(*m.string_match) : "present");
}

std::string describe(const RouteOptions& r) {
  std::string out = router::describe_path_match(r.match);
  for (const auto& h : r.headers) out += ", " + describe(h);
  for (const auto& q : r.query_parameters) out += ", " + describe(q);
  return out;
}

// --- why a route did not match -------------------------------------------------------------

std::vector<std::string> why_not(const CompiledRoute& cr, const RouteOptions& ro, const router::RequestFacts& facts) {
  std::vector<std::string> out;
  auto path = facts.req.path();
  // A path that does not match says it all; the other criteria are for paths that do.
  if (!cr.matches(path)) return {"path " + in_quotes(path) + " does not match"};
  // The compiled matchers are in the order of the options (compile_match keeps it).
  for (std::size_t i = 0; i < cr.headers.size() && i < ro.headers.size(); ++i) {
    if (cr.headers[i].match(facts)) continue;
    auto value = router::request_value(facts.req, to_lower(ro.headers[i].name), facts.scheme, facts.arena);
    out.push_back(describe(ro.headers[i]) + ": " + (value ? "got " + in_quotes(*value) : std::string("missing")));
  }
  auto q = path.find('?');
  auto query = q == std::string_view::npos ? std::string_view{} : path.substr(q + 1);
  for (std::size_t i = 0; i < cr.query_parameters.size() && i < ro.query_parameters.size(); ++i) {
    if (cr.query_parameters[i].match(query)) continue;
    auto value = router::find_query_parameter(query, ro.query_parameters[i].name);
    out.push_back(describe(ro.query_parameters[i]) + ": " +
                  (value ? "got " + in_quotes(*value) : std::string("missing")));
  }
  return out;
}

// Which of the chosen virtual host's domains won, in Envoy's precedence (the route table
// has already chosen the host; this only names the reason).
std::string why_virtual_host(const VirtualHostOptions& vh, std::string_view host) {
  auto key = to_lower(host);
  std::string best_suffix, best_prefix;
  bool star = false;
  for (const auto& d : vh.domains) {
    auto dom = to_lower(d);
    if (dom == key) return "exact domain " + in_quotes(d);
    if (dom == "*") {
      star = true;
    } else if (dom.front() == '*') {
      auto fix = std::string_view(dom).substr(1);
      if (key.size() > fix.size() && key.ends_with(fix) && d.size() > best_suffix.size()) best_suffix = d;
    } else if (dom.back() == '*') {
      auto fix = std::string_view(dom).substr(0, dom.size() - 1);
      if (key.size() > fix.size() && key.starts_with(fix) && d.size() > best_prefix.size()) best_prefix = d;
    }
  }
  if (!best_suffix.empty()) return "suffix wildcard " + in_quotes(best_suffix);
  if (!best_prefix.empty()) return "prefix wildcard " + in_quotes(best_prefix);
  if (star) return "default (\"*\")";
  return "chosen by the route table";
}

// --- request headers before and after -------------------------------------------------------

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields fields_of(const HeaderMap& headers) {
  Fields out;
  for (const auto& e : headers) out.emplace_back(to_lower(e.name), std::string(e.value));
  return out;
}

// Fields of `a` not in `b` (as multisets), in `a`'s order; Host is reported separately.
Fields minus(const Fields& a, Fields b) {
  Fields out;
  for (const auto& f : a) {
    if (f.first == "host") continue;
    auto it = std::find(b.begin(), b.end(), f);
    if (it != b.end()) b.erase(it);
    else out.push_back(f);
  }
  return out;
}

std::string remote_ip(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    return std::string(address.substr(1, close == std::string_view::npos ? address.size() - 1 : close - 1));
  }
  auto colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon) return std::string(address.substr(0, colon));
  return std::string(address);
}

std::string host_options(const HttpOptions& http) {
  std::string out = http.strip_trailing_host_dot ? "strip_trailing_host_dot" : "";
  if (http.strip_any_host_port || http.strip_matching_host_port)
    out += std::string(out.empty() ? "" : ", ") +
           (http.strip_any_host_port ? "strip_any_host_port" : "strip_matching_host_port");
  return out;
}

std::string normalization_options(const HttpOptions& http) {
  using A = HttpOptions::EscapedSlashesAction;
  std::vector<std::string> on;
  switch (http.path_with_escaped_slashes_action) {
    case A::keep_unchanged: break;
    case A::reject_request: on.push_back("path_with_escaped_slashes_action REJECT_REQUEST"); break;
    case A::unescape_and_redirect: on.push_back("path_with_escaped_slashes_action UNESCAPE_AND_REDIRECT"); break;
    case A::unescape_and_forward: on.push_back("path_with_escaped_slashes_action UNESCAPE_AND_FORWARD"); break;
  }
  if (http.normalize_path) on.push_back("normalize_path");
  if (http.merge_slashes) on.push_back("merge_slashes");
  std::string out;
  for (const auto& s : on) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The clusters the routes name. The explainer does not know the server's cluster list, so a
// cluster_header route is taken to name an existing cluster: the header's value is added.
std::unordered_map<std::string, std::uint32_t> cluster_index(const RouteConfig& config, const ExplainRequest& request,
                                                             std::vector<std::string>& names) {
  std::unordered_map<std::string, std::uint32_t> index;
  auto add = [&](const std::string& name) {
    if (index.emplace(name, std::uint32_t(names.size())).second) names.push_back(name);
  };
  for (const auto& vh : config.virtual_hosts)
    for (const auto& r : vh.routes) {
      if (!r.action.cluster.empty()) add(r.action.cluster);
      for (const auto& w : r.action.weighted_clusters) add(w.name);
      for (const auto& m : r.action.request_mirror_policies) add(m.cluster);
      if (r.action.cluster_header.empty()) continue;
      for (const auto& [k, v] : request.headers)
        if (iequals(k, r.action.cluster_header) && !v.empty()) add(v);
    }
  return index;
}

void forward(const CompiledRoute& cr, const RouteOptions& ro, const std::vector<std::string>& names,
             const RequestHeaders& req, const std::string& host_before, Explanation& ex) {
  ex.action = Explanation::Action::forward;
  ex.weighted = !ro.action.weighted_clusters.empty();
  for (const auto& t : cr.targets) ex.clusters.push_back({names[t.cluster], t.weight});
  if (!cr.cluster_header.empty()) {
    ex.clusters.push_back({std::string(req.get(cr.cluster_header)), 1});
    ex.notes.push_back("the cluster is named by request header " + in_quotes(ro.action.cluster_header) +
                       " (cluster_header)");
  }
  ex.upstream_path = std::string(req.path());
  ex.upstream_host = std::string(req.authority());
  if (cr.rewrite.any()) {
    if (cr.rewrite.prefix_set || !cr.rewrite.regex)
      ex.path_rewrite = "prefix_rewrite " + in_quotes(ro.action.prefix_rewrite) + " replaced " +
                        in_quotes(ex.path.substr(0, std::min(cr.matched_length(ex.path), ex.path.size())));
    else
      ex.path_rewrite = "regex_rewrite " + in_quotes(ro.action.regex_rewrite->pattern) + " -> " +
                        in_quotes(ro.action.regex_rewrite->substitution);
  }
  if (!ro.action.host_rewrite_literal.empty())
    ex.host_rewrite = "host_rewrite_literal";
  else if (!ro.action.host_rewrite_header.empty())
    ex.host_rewrite = ex.upstream_host == host_before && !req.has(cr.host_rewrite_header)
                          ? "host_rewrite_header " + in_quotes(ro.action.host_rewrite_header) + ": not in the request, Host kept"
                          : "host_rewrite_header " + in_quotes(ro.action.host_rewrite_header);
  ex.auto_host_rewrite = ro.action.auto_host_rewrite;
}

}  // namespace

std::optional<ExplainRequest> ExplainRequest::from_url(std::string_view url, std::string& error) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    error = "the URL must look like http://host[:port]/path?query";
    return std::nullopt;
  }
  ExplainRequest out;
  out.scheme = to_lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    error = "the URL's scheme must be http or https, not " + in_quotes(url.substr(0, sep));
    return std::nullopt;
  }
  auto rest = url.substr(sep + 3);
  auto end = rest.find_first_of("/?#");
  out.authority = std::string(rest.substr(0, end));
  if (out.authority.empty() || out.authority.find('@') != std::string::npos ||
      out.authority.find_first_of(" \t") != std::string::npos) {
    error = "the URL needs a host (and no user info): " + in_quotes(url);
    return std::nullopt;
  }
  auto target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  target = target.substr(0, target.find('#'));  // a fragment is never sent
  if (target.find_first_of(" \t\r\n") != std::string_view::npos) {
    error = "the URL's path must not contain spaces (percent-encode them)";
    return std::nullopt;
  }
  out.path = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  return out;
}

Explanation explain_route(const RouteConfig& config, const HttpOptions& http, const ExplainRequest& request) {
  std::vector<std::string> names;
  auto index = cluster_index(config, request, names);
  std::vector<ConfigProblem> problems;
  auto table = router::RouteTable::build(config, index, "", problems);
  if (!table) throw ConfigError(std::move(problems));

  detail::Arena arena(4096);
  RequestHeaders req(&arena);
  req.set_request_line(arena.copy(request.method), arena.copy(request.path), 11);
  std::string authority = request.authority;
  for (const auto& [k, v] : request.headers)
    if (iequals(k, "host")) authority = v;
  if (!authority.empty()) req.add("host", authority);
  for (const auto& [k, v] : request.headers)
    if (!iequals(k, "host")) req.add(k, v);
  auto ip = remote_ip(request.remote_address);
  router::Downstream down{request.remote_address, ip, request.listener_port, request.scheme};

  Explanation ex;
  ex.method = request.method;
  ex.original_path = request.path;
  ex.original_host = authority;

  // 1. The HCM's normalisation, as the session runs it before filters and routing.
  auto normalized = router::normalize_request(http, req, down, arena);
  ex.path = std::string(req.path());
  ex.host = std::string(req.authority());
  if (ex.host != ex.original_host)
    ex.notes.push_back("Host " + in_quotes(ex.original_host) + " -> " + in_quotes(ex.host) + " (" +
                       host_options(http) + ")");
  if (ex.path != ex.original_path)
    ex.notes.push_back("path " + in_quotes(ex.original_path) + " -> " + in_quotes(ex.path) + " (" +
                       normalization_options(http) + ")");
  if (!normalized.forward()) {
    ex.status = normalized.status;
    ex.location = std::string(normalized.location);
    ex.body = std::string(normalized.body);
    ex.notes.push_back(normalized.status == 400
                           ? "the path holds an escaped slash and path_with_escaped_slashes_action is REJECT_REQUEST"
                           : "the path held escaped slashes; path_with_escaped_slashes_action is UNESCAPE_AND_REDIRECT");
    return ex;
  }

  // 2. The virtual host, then each route in order.
  const auto* vh = table->find_virtual_host(req.authority());
  std::optional<std::size_t> linear;
  if (vh) {
    auto v = std::size_t(vh - table->virtual_hosts().data());
    const auto& vopt = config.virtual_hosts[v];
    ex.virtual_host = v;
    ex.virtual_host_name = vopt.name;
    ex.virtual_host_why = why_virtual_host(vopt, req.authority());
    router::RequestFacts facts{req, down.scheme, arena};
    for (std::size_t i = 0; i < vh->routes.size(); ++i) {
      RouteCheck check;
      check.index = i;
      check.name = vopt.routes[i].name;
      check.match = describe(vopt.routes[i]);
      check.matched = vh->routes[i].matches(facts);
      if (!check.matched) check.why_not = why_not(vh->routes[i], vopt.routes[i], facts);
      ex.routes.push_back(std::move(check));
      if (ex.routes.back().matched) {
        linear = i;
        break;
      }
    }
  }

  // 3. The router's decision, exactly as the proxy takes it.
  auto before = fields_of(req);
  std::string host_before(req.authority());
  auto decision = router::decide(*table, req, down, arena);
  if (!decision.route) {
    ex.status = decision.status;
    ex.body = std::string(decision.body);
    if (linear) ex.notes.push_back("internal: route [" + std::to_string(*linear) + "] matched but the router took none");
    return ex;
  }
  auto chosen = std::size_t(decision.route - vh->routes.data());
  if (!linear || *linear != chosen)
    ex.notes.push_back("internal: the router took route [" + std::to_string(chosen) + "], not the first match listed");
  const auto& ropt = config.virtual_hosts[*ex.virtual_host].routes[chosen];
  const auto& cr = *decision.route;
  ex.route = chosen;
  ex.route_name = ropt.name;
  switch (cr.action) {
    case CompiledRoute::Action::redirect:
      ex.action = Explanation::Action::redirect;
      break;
    case CompiledRoute::Action::direct_response:
      ex.action = Explanation::Action::direct_response;
      ex.body = std::string(decision.body);
      break;
    case CompiledRoute::Action::forward:
      forward(cr, ropt, names, req, host_before, ex);
      break;
  }
  ex.status = decision.status;
  ex.location = std::string(decision.location);
  if (ex.action == Explanation::Action::forward) {
    auto after = fields_of(req);
    ex.request_headers_added = minus(after, before);
    ex.request_headers_removed = minus(before, after);
  }
  ResponseHeaders resp(&arena);
  router::apply_response_headers(decision, resp, req, down, arena);
  for (auto& f : fields_of(resp))
    if (f.first != "location") ex.response_headers_added.push_back(std::move(f));
  for (const auto* level : {&ropt.header_mutations, &config.virtual_hosts[*ex.virtual_host].header_mutations,
                            &config.header_mutations})
    for (const auto& name : level->response_headers_to_remove) ex.response_headers_removed.push_back(name);
  return ex;
}

std::string Explanation::to_string() const {
  std::ostringstream out;
  out << "request: " << method << ' ' << original_path << " (Host: " << original_host << ")\n";
  for (const auto& n : notes) out << "normalised: " << n << '\n';
  if (!matched() && !virtual_host && status != 0 && status != 404) {
    out << "result: answered " << status << " by path normalisation before routing";
    if (!location.empty()) out << " (Location: " << location << ')';
    out << "; no route is consulted\n";
    return out.str();
  }
  out << "path: " << path << '\n';
  if (!virtual_host) {
    out << "virtual host: none matches Host " << in_quotes(host) << '\n';
    out << "result: no route matched: " << status << " route not found\n";
    return out.str();
  }
  out << "virtual host: [" << *virtual_host << ']';
  if (!virtual_host_name.empty()) out << ' ' << in_quotes(virtual_host_name);
  out << " via " << virtual_host_why << '\n';
  for (const auto& r : routes) {
    out << "  route [" << r.index << ']';
    if (!r.name.empty()) out << ' ' << in_quotes(r.name);
    out << " (" << r.match << "): ";
    if (r.matched) {
      out << "MATCH\n";
      continue;
    }
    out << "no match: ";
    for (std::size_t i = 0; i < r.why_not.size(); ++i) out << (i ? "; " : "") << r.why_not[i];
    out << '\n';
  }
  if (!matched()) {
    out << "result: no route matched: " << status << " route not found\n";
    return out.str();
  }
  switch (action) {
    case Action::forward:
      if (weighted) {
        std::uint64_t total = 0;
        for (const auto& c : clusters) total += c.weight;
        out << "action: forward to weighted clusters:";
        for (const auto& c : clusters) {
          out << ' ' << in_quotes(c.name) << " weight " << c.weight;
          if (total) out << " (" << (c.weight * 1000 / total) / 10.0 << "%)";
          out << (&c == &clusters.back() ? "" : ",");
        }
        out << '\n';
      } else {
        out << "action: forward to cluster " << in_quotes(clusters.empty() ? "" : clusters.front().name) << '\n';
      }
      out << "upstream path: " << upstream_path;
      if (!path_rewrite.empty()) out << " (" << path_rewrite << ')';
      out << '\n';
      out << "upstream Host: " << upstream_host;
      if (!host_rewrite.empty()) out << " (" << host_rewrite << ')';
      out << '\n';
      if (auto_host_rewrite) out << "auto_host_rewrite: Host becomes the chosen endpoint's hostname, if it has one\n";
      break;
    case Action::redirect:
      out << "action: redirect " << status << " to " << location << '\n';
      break;
    case Action::direct_response:
      out << "action: direct response " << status;
      if (!body.empty()) out << " with a " << body.size() << "-byte body";
      if (!location.empty()) out << " (Location: " << location << ')';
      out << '\n';
      break;
    case Action::none:
      break;
  }
  for (const auto& [k, v] : request_headers_added) out << "request header added: " << k << ": " << v << '\n';
  for (const auto& [k, v] : request_headers_removed) out << "request header removed: " << k << ": " << v << '\n';
  for (const auto& [k, v] : response_headers_added) out << "response header added: " << k << ": " << v << '\n';
  for (const auto& n : response_headers_removed) out << "response header removed: " << n << '\n';
  out << "result: route [" << *route << ']';
  if (!route_name.empty()) out << ' ' << in_quotes(route_name);
  out << " matched\n";
  return out.str();
}

}  // namespace ferry
