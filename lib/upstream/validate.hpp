// Cluster checks shared by the code API and the config loader.
//
// From code, ClusterOptions::endpoints is a flat list and paths name the C++ members
// (`clusters[0].endpoints[2].port`). From an Envoy bootstrap the same endpoint sits at
// `load_assignment.endpoints[i].lb_endpoints[j]`; the loader passes those locations so the
// problems point at what the user wrote.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <ferry/cluster.hpp>

namespace ferry::upstream {

/// True for a numeric IPv4 or IPv6 address ("10.0.0.1", "::1"), the only form STATIC
/// clusters and listeners take (no DNS on the control path yet).
bool is_ip_literal(std::string_view address);

/// `envoy_endpoint_paths`, when non-null, holds one path per endpoint relative to
/// `path_prefix` (e.g. "load_assignment.endpoints[0].lb_endpoints[1]") and switches every
/// path to Envoy's field names.
void validate_cluster(const ClusterOptions& cluster, const std::string& path_prefix,
                      const std::vector<std::string>* envoy_endpoint_paths,
                      std::vector<ConfigProblem>& problems);

}  // namespace ferry::upstream
