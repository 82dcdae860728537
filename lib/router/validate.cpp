// validate_route_config: the shape rules of a RouteConfig, in one place, for both the
// code API and the config loader (Envoy's rules: route_components.proto and
// source/common/router/config_impl.cc).
#include "router/validate.hpp"
#include "common/ascii.hpp"
#include "common/token.hpp"

#include "router/validate_parts.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <unordered_map>

namespace ferry::router {

namespace {

using detail::to_lower;

// Where the fields of a route live, relative to the route, in each path style.
struct FieldNames {
  std::string_view action;
  std::string_view cluster;
  std::string_view weighted_clusters;
  std::string_view timeout;
};

constexpr FieldNames kCodeNames{"action", "action.cluster", "action.weighted_clusters",
                                "action.timeout"};
constexpr FieldNames kEnvoyNames{"route", "route.cluster", "route.weighted_clusters.clusters",
                                 "route.timeout"};

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string indexed(std::string_view name, std::size_t i) {
  return std::string(name) + "[" + std::to_string(i) + "]";
}


// The field holding a match's value: code names the member, Envoy names the oneof case.
std::string_view match_field(const PathMatch& m, PathStyle style) {
  if (style == PathStyle::code) return "match.value";
  switch (m.kind) {
    case PathMatch::Kind::prefix: return "match.prefix";
    case PathMatch::Kind::path: return "match.path";
    case PathMatch::Kind::safe_regex: return "match.safe_regex.regex";
    case PathMatch::Kind::path_separated_prefix: return "match.path_separated_prefix";
  }
  return "match";
}

class Checker {
 public:
  Checker(const std::vector<std::string>* clusters, PathStyle style,
          std::vector<ConfigProblem>& problems)
      : clusters_(clusters),
        style_(style),
        names_(style == PathStyle::code ? kCodeNames : kEnvoyNames),
        problems_(problems),
        sink_{style, problems} {}

  void route_config(const RouteConfig& config, const std::string& path) {
    max_body_ = config.max_direct_response_body_size_bytes;
    checks::mutations(config.header_mutations, path, sink_);
  }

  void virtual_host(const VirtualHostOptions& vh, std::size_t v, const std::string& path) {
    if (!vh.name.empty()) {
      auto [it, fresh] = vhost_names_.emplace(vh.name, v);
      if (!fresh)
        add(path + ".name", "duplicate virtual host name " + in_quotes(vh.name) + " (also " +
                                indexed("virtual_hosts", it->second) + ")");
    }
    if (vh.domains.empty()) add(path + ".domains", "a virtual host needs at least one domain");
    for (std::size_t d = 0; d < vh.domains.size(); ++d)
      domain(vh.domains[d], v, path + "." + indexed("domains", d));
    for (std::size_t r = 0; r < vh.routes.size(); ++r)
      route(vh.routes[r], path + "." + indexed("routes", r));
    checks::mutations(vh.header_mutations, path, sink_);
  }

 private:
  void add(std::string path, std::string message) {
    problems_.push_back({std::move(path), std::move(message)});
  }

  // Domains are unique across the whole RouteConfig, compared case-insensitively, so that
  // host lookup is unambiguous (Envoy rejects the config otherwise).
  void domain(const std::string& name, std::size_t v, const std::string& path) {
    if (name.empty()) return add(path, "a domain must not be empty");
    auto [it, fresh] = domain_owner_.emplace(to_lower(name), v);
    if (fresh) return;
    if (it->second == v)
      add(path, "duplicate domain " + in_quotes(name));
    else if (name == "*")
      add(path, "only one virtual host may use the \"*\" domain (" +
                    indexed("virtual_hosts", it->second) + " already does)");
    else
      add(path, "duplicate domain " + in_quotes(name) + " (already in " +
                    indexed("virtual_hosts", it->second) + ")");
  }

  void route(const RouteOptions& r, const std::string& path) {
    match(r.match, path + "." + std::string(match_field(r.match, style_)));
    checks::header_matchers(r.headers, path, sink_);
    checks::query_matchers(r.query_parameters, path, sink_);
    // route (a forwarding action), redirect and direct_response are a oneof.
    int answers = int(r.redirect.has_value()) + int(r.direct_response.has_value());
    bool forwards = !r.action.cluster.empty() || !r.action.weighted_clusters.empty() ||
                    !r.action.cluster_header.empty();
    if (answers > 1 || (answers == 1 && forwards))
      add(path, style_ == PathStyle::code
                    ? "a route takes exactly one of a cluster action, \"redirect\" and \"direct_response\""
                    : "a route takes exactly one of \"route\", \"redirect\" and \"direct_response\"");
    if (answers == 0) action(r.action, path);
    if (r.redirect) checks::redirect(*r.redirect, path, sink_);
    if (r.direct_response) checks::direct_response(*r.direct_response, max_body_, path, sink_);
    checks::mutations(r.header_mutations, path, sink_);
  }

  void match(const PathMatch& m, const std::string& path) {
    if (m.kind == PathMatch::Kind::safe_regex) {
      re2::RE2 re(m.value, re2::RE2::Quiet);
      if (!re.ok()) add(path, "invalid regex " + in_quotes(m.value) + ": " + re.error());
    } else if (m.kind == PathMatch::Kind::path_separated_prefix) {
      // Envoy's rule (pattern ^[^?#]+[^?#/]$): the separator is implied, so no trailing '/'.
      bool bad = m.value.size() < 2 || m.value.back() == '/' ||
                 m.value.find_first_of("?#") != std::string::npos;
      if (bad)
        add(path, "invalid path_separated_prefix " + in_quotes(m.value) +
                      ": it must not be \"/\" alone, end with \"/\" or contain \"?\" or \"#\"");
    }
  }

  void action(const RouteAction& a, const std::string& route_path) {
    auto at = [&](std::string_view field) { return route_path + "." + std::string(field); };
    bool has_cluster = !a.cluster.empty();
    bool has_weighted = !a.weighted_clusters.empty();
    bool has_header = !a.cluster_header.empty();
    int targets = int(has_cluster) + int(has_weighted) + int(has_header);
    if (targets > 1)
      add(at(names_.action), std::string(has_cluster && has_weighted
                                             ? "\"cluster\" and \"weighted_clusters\" are both set"
                                             : "more than one of \"cluster\", \"weighted_clusters\" and "
                                               "\"cluster_header\" is set") +
                                 "; a route takes exactly one");
    else if (targets == 0)
      add(at(names_.action), "a route needs a \"cluster\", \"weighted_clusters\" or \"cluster_header\"");
    if (has_cluster) cluster_ref(a.cluster, at(names_.cluster));
    if (has_weighted) weighted(a.weighted_clusters, at(names_.weighted_clusters));
    if (has_header && !detail::is_token(a.cluster_header))
      add(at(style_ == PathStyle::code ? "action.cluster_header" : "route.cluster_header"),
          in_quotes(a.cluster_header) + " is not a valid header name");
    hash_policies(a.hash_policy, at(style_ == PathStyle::code ? "action.hash_policy" : "route.hash_policy"));
    mirrors(a.request_mirror_policies,
            at(style_ == PathStyle::code ? "action.request_mirror_policies" : "route.request_mirror_policies"));
    if (a.timeout.count() < 0) add(at(names_.timeout), "a timeout must not be negative");
    checks::forward_rewrites(a, route_path, sink_);
  }

  void weighted(const std::vector<WeightedCluster>& list, const std::string& path) {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto item = path + "[" + std::to_string(i) + "]";
      if (list[i].name.empty())
        add(item + ".name", "a cluster name must not be empty");
      else
        cluster_ref(list[i].name, item + ".name");
      if (list[i].weight < 1) add(item + ".weight", "a weight must be at least 1");
      total += list[i].weight;
      checks::mutations(list[i].header_mutations, item, sink_);
    }
    // The router draws a 32-bit point in [0, total).
    if (total > std::numeric_limits<std::uint32_t>::max())
      add(path, "the weights add up to " + std::to_string(total) + ", more than 4294967295");
  }

  void hash_policies(const std::vector<HashPolicy>& list, const std::string& path) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto& h = list[i];
      auto item = path + "[" + std::to_string(i) + "]";
      if (h.kind == HashPolicy::Kind::source_ip) continue;
      std::string_view field = h.kind == HashPolicy::Kind::header   ? "header.header_name"
                               : h.kind == HashPolicy::Kind::cookie ? "cookie.name"
                                                                    : "query_parameter.name";
      if (h.name.empty())
        add(item + "." + std::string(style_ == PathStyle::code ? "name" : field), "a name is required");
      if (h.ttl && h.ttl->count() < 0)
        add(item + "." + std::string(style_ == PathStyle::code ? "ttl" : "cookie.ttl"), "a ttl must not be negative");
    }
  }

  void mirrors(const std::vector<MirrorPolicy>& list, const std::string& path) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto item = path + "[" + std::to_string(i) + "]";
      if (list[i].cluster.empty()) add(item + ".cluster", "a mirror needs a cluster");
      else cluster_ref(list[i].cluster, item + ".cluster");
      if (list[i].per_million > 1000000)
        add(item + "." + std::string(style_ == PathStyle::code ? "per_million" : "runtime_fraction"),
            "the fraction is more than 100%");
    }
  }

  void cluster_ref(const std::string& name, const std::string& path) {
    if (!clusters_) return;
    if (std::find(clusters_->begin(), clusters_->end(), name) == clusters_->end())
      add(path, "unknown cluster " + in_quotes(name));
  }

  const std::vector<std::string>* clusters_;
  PathStyle style_;
  FieldNames names_;
  std::vector<ConfigProblem>& problems_;
  checks::Sink sink_;
  std::uint32_t max_body_ = 4096;
  std::unordered_map<std::string, std::size_t> domain_owner_;  // lower-cased domain → vhost
  std::unordered_map<std::string, std::size_t> vhost_names_;
};

}  // namespace

std::string join_path(const std::string& prefix, std::string_view rest) {
  if (prefix.empty()) return std::string(rest);
  return prefix + "." + std::string(rest);
}

void validate_route_config(const RouteConfig& config, const std::vector<std::string>* clusters,
                           const std::string& path_prefix, PathStyle style,
                           std::vector<ConfigProblem>& problems) {
  Checker check(clusters, style, problems);
  check.route_config(config, path_prefix);
  for (std::size_t v = 0; v < config.virtual_hosts.size(); ++v)
    check.virtual_host(config.virtual_hosts[v], v, join_path(path_prefix, indexed("virtual_hosts", v)));
}

}  // namespace ferry::router

namespace ferry {

void validate_route_config(const RouteConfig& config, const std::vector<std::string>* clusters,
                           const std::string& path_prefix, std::vector<ConfigProblem>& problems) {
  router::validate_route_config(config, clusters, path_prefix, router::PathStyle::code, problems);
}

}  // namespace ferry
