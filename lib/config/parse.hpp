// Readers for each part of an Envoy v3 bootstrap. Each fills ferry's option structs from
// one JSON subtree and reports what it cannot accept; cross-object rules (cluster names,
// duplicates) run afterwards in loader.cpp on the filled structs.
//
// Every list element yields an entry even when it is broken, so indices in the structs
// match indices in the document and later checks can point at the right element.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ferry/config.hpp>

#include "config/walk.hpp"

namespace ferry::config::detail {

struct ParsedCluster {
  ClusterOptions options;
  std::string canon;                        ///< canonical path of the cluster
  std::vector<std::string> endpoint_paths;  ///< per endpoint, relative to `canon`
};

struct ParsedListener {
  ListenerSpec spec;
  std::string canon;
  std::string route_config_canon;  ///< empty when no route_config was read
  std::string tracing_cluster_canon;  ///< tracing's http_uri.cluster, when set
};

struct SocketAddress {
  std::optional<std::string> address;
  std::optional<std::uint16_t> port;
  Field address_field;  ///< where the address is (or would be)
};

ParsedCluster parse_cluster(Context& ctx, const Field& f);
/// Cluster.circuit_breakers (parse_cluster_resources.cpp).
void parse_circuit_breakers(Context& ctx, const Field& f, ClusterOptions& cluster);
/// Cluster.health_checks (parse_health_check.cpp).
void parse_health_checks(Context& ctx, const Field& f, ClusterOptions& cluster);
/// Cluster.common_lb_config (healthy_panic_threshold).
void parse_common_lb_config(Context& ctx, const Field& f, ClusterOptions& cluster);
/// ClusterLoadAssignment.policy (overprovisioning_factor).
void parse_assignment_policy(Context& ctx, const Field& f, ClusterOptions& cluster);
/// The cluster's DNS fields: dns_refresh_rate, respect_dns_ttl, dns_lookup_family,
/// dns_resolvers, typed_dns_resolver_config (parse_cluster_resources.cpp).
void parse_dns_options(Context& ctx, const Object& cluster_object, ClusterOptions& cluster);
ParsedListener parse_listener(Context& ctx, const Field& f);
/// An inline RouteConfiguration.
RouteConfig parse_route_config(Context& ctx, const Field& f);
/// A list of UpgradeConfig messages (the HCM's or a route's); `not_yet` are the fields of
/// that message ferry does not implement.
std::vector<UpgradeConfig> parse_upgrade_configs(Context& ctx, const Field& f,
                                                 std::span<const std::string_view> not_yet);
/// An envoy.config.core.v3.Address holding a socket_address.
SocketAddress parse_address(Context& ctx, const Field& f);
/// type.matcher.v3.StringMatcher, config.route.v3.HeaderMatcher and core.v3.HeaderValueOption,
/// read as routes read them (parse_routes.cpp); for the built-in filters' readers. Regexes
/// are not compiled here: compile them where the matcher is used and report at `f`.
StringMatch read_string_matcher(Context& ctx, const Field& f);
HeaderMatcher read_header_matcher(Context& ctx, const Field& f);
HeaderValueOption read_header_value_option(Context& ctx, const Field& f);
/// A config.route.v3.RouteMatch (path specifier, headers, query_parameters) into a route's
/// match fields, as routes read it.
RouteOptions read_route_match(Context& ctx, const Field& f);

// TLS (parse_tls.cpp).
void parse_chain_match(Context& ctx, const Field& f, TlsServerChain& chain);
/// A filter chain's transport_socket (DownstreamTlsContext).
void parse_downstream_tls(Context& ctx, const Field& socket, TlsServerChain& chain);
/// A cluster's transport_socket (UpstreamTlsContext).
void parse_upstream_tls(Context& ctx, const Field& socket, UpstreamTlsOptions& out);
/// The HCM's forward_client_cert_details and set_current_client_cert_details.
void parse_client_cert_options(Context& ctx, const Object& hcm, HttpOptions& http);
/// The HCM's access_log list (lib/config/parse_access_log.cpp).
void parse_access_logs(Context& ctx, const Field& f, HttpOptions& http);
/// The HCM's tracing block (parse_tracing.cpp); `cluster_canon` gets the collector
/// cluster's path for the cross-object check.
void parse_tracing(Context& ctx, const Field& f, HttpOptions& http, std::string& cluster_canon);
/// Builds the contexts once (reading the files); problems at Envoy paths.
void check_listener_tls(Context& ctx, const std::string& listener_canon, const DownstreamTlsOptions& tls);
void check_cluster_tls(Context& ctx, const std::string& cluster_canon, const UpstreamTlsOptions& tls);
/// A cluster's transport_socket into cluster.tls (parse it before the protocol options).
void parse_cluster_tls(Context& ctx, const Field& socket, ClusterOptions& cluster);
/// HttpProtocolOptions.upstream_http_protocol_options: auto_sni, auto_san_validation
/// (used when the cluster has TLS).
void parse_upstream_http_protocol_options(Context& ctx, const Field& f, ClusterOptions& cluster);

}  // namespace ferry::config::detail
