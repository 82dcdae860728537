// The fluent Router builder (ferry/router.hpp). Builders hold indices, not pointers into
// the vectors, so adding more hosts or routes never invalidates an earlier builder.
#include <ferry/router.hpp>

#include <utility>

namespace ferry {

RouteOptions& RouteBuilder::options() {
  return router_->config().virtual_hosts[vhost_].routes[route_];
}

// route / redirect / direct_response are a oneof, like cluster / weighted_clusters: the
// last call wins.
RouteBuilder& RouteBuilder::to(std::string cluster) {
  auto& o = options();
  o.action.cluster = std::move(cluster);
  o.action.weighted_clusters.clear();
  o.action.cluster_header.clear();
  o.redirect.reset();
  o.direct_response.reset();
  return *this;
}

RouteBuilder& RouteBuilder::weighted(std::vector<WeightedCluster> clusters) {
  auto& o = options();
  o.action.weighted_clusters = std::move(clusters);
  o.action.cluster.clear();
  o.action.cluster_header.clear();
  o.redirect.reset();
  o.direct_response.reset();
  return *this;
}

RouteBuilder& RouteBuilder::to_cluster_from_header(std::string name) {
  auto& o = options();
  o.action.cluster_header = std::move(name);
  o.action.cluster.clear();
  o.action.weighted_clusters.clear();
  o.redirect.reset();
  o.direct_response.reset();
  return *this;
}

RouteBuilder& RouteBuilder::hash(HashPolicy policy) {
  options().action.hash_policy.push_back(std::move(policy));
  return *this;
}

RouteBuilder& RouteBuilder::mirror(MirrorPolicy policy) {
  options().action.request_mirror_policies.push_back(std::move(policy));
  return *this;
}

RouteBuilder& RouteBuilder::filter_config(std::string filter_name, std::shared_ptr<const RouteFilterConfig> config) {
  options().typed_per_filter_config[std::move(filter_name)] = std::move(config);
  return *this;
}

RouteBuilder& RouteBuilder::redirect(RedirectAction r) {
  auto& o = options();
  o.action.cluster.clear();
  o.action.weighted_clusters.clear();
  o.direct_response.reset();
  o.redirect = std::move(r);
  return *this;
}

RouteBuilder& RouteBuilder::direct_response(int status, std::string body) {
  auto& o = options();
  o.action.cluster.clear();
  o.action.weighted_clusters.clear();
  o.redirect.reset();
  o.direct_response = DirectResponse{status, std::move(body)};
  return *this;
}

RouteBuilder& RouteBuilder::header(HeaderMatcher m) {
  options().headers.push_back(std::move(m));
  return *this;
}

RouteBuilder& RouteBuilder::query_parameter(std::string name, std::optional<StringMatch> m) {
  options().query_parameters.push_back({std::move(name), std::move(m)});
  return *this;
}

RouteBuilder& RouteBuilder::prefix_rewrite(std::string p) {
  options().action.prefix_rewrite = std::move(p);
  return *this;
}

RouteBuilder& RouteBuilder::regex_rewrite(std::string pattern, std::string substitution) {
  options().action.regex_rewrite = RegexRewrite{std::move(pattern), std::move(substitution)};
  return *this;
}

RouteBuilder& RouteBuilder::host_rewrite(std::string literal) {
  options().action.host_rewrite_literal = std::move(literal);
  return *this;
}

RouteBuilder& RouteBuilder::host_rewrite_header(std::string name) {
  options().action.host_rewrite_header = std::move(name);
  return *this;
}

RouteBuilder& RouteBuilder::auto_host_rewrite() {
  options().action.auto_host_rewrite = true;
  return *this;
}

RouteBuilder& RouteBuilder::request_header_to_add(std::string key, std::string value,
                                                  HeaderValueOption::AppendAction a) {
  options().header_mutations.request_headers_to_add.push_back({std::move(key), std::move(value), a});
  return *this;
}

RouteBuilder& RouteBuilder::request_header_to_remove(std::string name) {
  options().header_mutations.request_headers_to_remove.push_back(std::move(name));
  return *this;
}

RouteBuilder& RouteBuilder::response_header_to_add(std::string key, std::string value,
                                                   HeaderValueOption::AppendAction a) {
  options().header_mutations.response_headers_to_add.push_back({std::move(key), std::move(value), a});
  return *this;
}

RouteBuilder& RouteBuilder::response_header_to_remove(std::string name) {
  options().header_mutations.response_headers_to_remove.push_back(std::move(name));
  return *this;
}

RouteBuilder& RouteBuilder::timeout(Duration d) {
  options().action.timeout = d;
  return *this;
}

RouteBuilder& RouteBuilder::idle_timeout(Duration d) {
  options().action.idle_timeout = d;
  return *this;
}

RouteBuilder& RouteBuilder::upgrade(std::string type, bool enabled) {
  options().action.upgrade_configs.push_back({std::move(type), enabled});
  return *this;
}

RouteBuilder& RouteBuilder::max_stream_duration(RouteAction::MaxStreamDuration d) {
  options().action.max_stream_duration = d;
  return *this;
}

RouteBuilder& RouteBuilder::retries(RetryPolicy policy) {
  options().action.retry_policy = std::move(policy);
  return *this;
}

RouteBuilder& RouteBuilder::priority(RoutingPriority p) {
  options().action.priority = p;
  return *this;
}

RouteBuilder& RouteBuilder::name(std::string n) {
  options().name = std::move(n);
  return *this;
}

RouteBuilder VirtualHostBuilder::route(PathMatch match) {
  auto& routes = router_->config().virtual_hosts[vhost_].routes;
  RouteOptions route;
  route.match = std::move(match);
  routes.push_back(std::move(route));
  return RouteBuilder(*router_, vhost_, routes.size() - 1);
}

VirtualHostBuilder& VirtualHostBuilder::domain(std::string d) {
  router_->config().virtual_hosts[vhost_].domains.push_back(std::move(d));
  return *this;
}

HeaderMutations& VirtualHostBuilder::header_mutations() {
  return router_->config().virtual_hosts[vhost_].header_mutations;
}

VirtualHostBuilder& VirtualHostBuilder::filter_config(std::string filter_name,
                                                      std::shared_ptr<const RouteFilterConfig> config) {
  router_->config().virtual_hosts[vhost_].typed_per_filter_config[std::move(filter_name)] = std::move(config);
  return *this;
}

VirtualHostBuilder Router::virtual_host(std::string domain) {
  VirtualHostOptions vhost;
  vhost.name = domain;  // Envoy requires a name; the first domain is a readable default
  vhost.domains.push_back(std::move(domain));
  config_.virtual_hosts.push_back(std::move(vhost));
  return VirtualHostBuilder(*this, config_.virtual_hosts.size() - 1);
}

}  // namespace ferry
