// The fluent Router builder (ferry/router.hpp). Builders hold indices, not pointers into
// the vectors, so adding more hosts or routes never invalidates an earlier builder.
#include <ferry/router.hpp>

#include <utility>

namespace ferry {

RouteOptions& RouteBuilder::options() {
  return router_->config().virtual_hosts[vhost_].routes[route_];
}

RouteBuilder& RouteBuilder::to(std::string cluster) {
  auto& action = options().action;
  action.cluster = std::move(cluster);
  action.weighted_clusters.clear();  // the two are a oneof: the last call wins
  return *this;
}

RouteBuilder& RouteBuilder::weighted(std::vector<WeightedCluster> clusters) {
  auto& action = options().action;
  action.weighted_clusters = std::move(clusters);
  action.cluster.clear();
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

VirtualHostBuilder Router::virtual_host(std::string domain) {
  VirtualHostOptions vhost;
  vhost.name = domain;  // Envoy requires a name; the first domain is a readable default
  vhost.domains.push_back(std::move(domain));
  config_.virtual_hosts.push_back(std::move(vhost));
  return VirtualHostBuilder(*this, config_.virtual_hosts.size() - 1);
}

}  // namespace ferry
