// Readers for each part of an Envoy v3 bootstrap. Each fills ferry's option structs from
// one JSON subtree and reports what it cannot accept; cross-object rules (cluster names,
// duplicates) run afterwards in loader.cpp on the filled structs.
//
// Every list element yields an entry even when it is broken, so indices in the structs
// match indices in the document and later checks can point at the right element.
#pragma once

#include <cstdint>
#include <optional>
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
};

struct SocketAddress {
  std::optional<std::string> address;
  std::optional<std::uint16_t> port;
  Field address_field;  ///< where the address is (or would be)
};

ParsedCluster parse_cluster(Context& ctx, const Field& f);
ParsedListener parse_listener(Context& ctx, const Field& f);
/// An inline RouteConfiguration.
RouteConfig parse_route_config(Context& ctx, const Field& f);
/// An envoy.config.core.v3.Address holding a socket_address.
SocketAddress parse_address(Context& ctx, const Field& f);

}  // namespace ferry::config::detail
