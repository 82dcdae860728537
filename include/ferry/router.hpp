// Route configuration (Envoy's RouteConfiguration) and a builder for it.
//
// The option structs are the one typed model: the code builder below and the JSON/YAML
// loader (ferry/config.hpp) both produce them. The Server compiles them into an immutable
// route table (regexes compiled, cluster names resolved) when it starts.
//
// Thread safety: plain values; build on one thread, then hand over.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ferry/types.hpp>

namespace ferry {

/// How a route matches the request path (Envoy's path specifier oneof).
struct PathMatch {
  enum class Kind {
    prefix,                 ///< path (query included) starts with `value`
    path,                   ///< path without the query equals `value`
    safe_regex,             ///< RE2 full match of the path without the query
    path_separated_prefix,  ///< `value` followed by '/', '?' or the end
  };
  Kind kind = Kind::prefix;
  std::string value = "/";
  bool case_sensitive = true;  ///< ignored by safe_regex (use (?i))
};

namespace match {
inline PathMatch prefix(std::string p) { return {PathMatch::Kind::prefix, std::move(p), true}; }
inline PathMatch path(std::string p) { return {PathMatch::Kind::path, std::move(p), true}; }
inline PathMatch regex(std::string re) { return {PathMatch::Kind::safe_regex, std::move(re), true}; }
inline PathMatch path_separated_prefix(std::string p) {
  return {PathMatch::Kind::path_separated_prefix, std::move(p), true};
}
}  // namespace match

struct WeightedCluster {
  std::string name{};
  std::uint32_t weight = 1;
};

/// A route's forwarding action (Envoy's RouteAction, the subset built so far).
struct RouteAction {
  std::string cluster{};                     ///< set exactly one of cluster / weighted_clusters
  std::vector<WeightedCluster> weighted_clusters{};
  Duration timeout{std::chrono::seconds(15)};  ///< whole upstream response; 0 disables
  Duration idle_timeout{-1};                   ///< stream idle override; negative = inherit
};

struct RouteOptions {
  std::string name{};
  PathMatch match{};
  RouteAction action{};
};

struct VirtualHostOptions {
  std::string name{};
  std::vector<std::string> domains{};  ///< exact, "*.suffix", "prefix.*" or "*"
  std::vector<RouteOptions> routes{};  ///< first match wins
};

struct RouteConfig {
  std::string name{};
  std::vector<VirtualHostOptions> virtual_hosts{};
};

/// Checks a RouteConfig on its own (domains, regexes, weights, one action per route) and
/// against `clusters` when non-null. Problems are reported with paths under `path_prefix`.
void validate_route_config(const RouteConfig& config, const std::vector<std::string>* clusters,
                           const std::string& path_prefix, std::vector<ConfigProblem>& problems);

class Router;

/// Fluent handle on one route of a Router (stays valid while the Router lives).
class RouteBuilder {
 public:
  RouteBuilder(Router& router, std::size_t vhost, std::size_t route)
      : router_(&router), vhost_(vhost), route_(route) {}
  RouteBuilder& to(std::string cluster);
  RouteBuilder& weighted(std::vector<WeightedCluster> clusters);
  RouteBuilder& timeout(Duration d);
  RouteBuilder& idle_timeout(Duration d);
  RouteBuilder& name(std::string n);
  RouteOptions& options();

 private:
  Router* router_;
  std::size_t vhost_;
  std::size_t route_;
};

/// Fluent handle on one virtual host of a Router.
class VirtualHostBuilder {
 public:
  VirtualHostBuilder(Router& router, std::size_t vhost) : router_(&router), vhost_(vhost) {}
  /// Appends a route (routes are tried in the order they were added).
  RouteBuilder route(PathMatch match);
  VirtualHostBuilder& domain(std::string d);

 private:
  Router* router_;
  std::size_t vhost_;
};

/// Builds a RouteConfig in code:
/// `router.virtual_host("api.example.com").route(match::prefix("/v1/")).to("api");`
class Router {
 public:
  Router() = default;
  explicit Router(RouteConfig config) : config_(std::move(config)) {}

  /// Adds a virtual host answering `domain` (more with VirtualHostBuilder::domain).
  VirtualHostBuilder virtual_host(std::string domain);
  const RouteConfig& config() const noexcept { return config_; }
  RouteConfig& config() noexcept { return config_; }

 private:
  RouteConfig config_;
};

}  // namespace ferry
