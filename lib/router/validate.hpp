// Route configuration checks shared by the code API and the config loader.
//
// The same RouteConfig can come from code (paths name the C++ members, e.g.
// `listeners[0].virtual_hosts[0].routes[1].action.cluster`) or from an Envoy bootstrap
// (paths name the Envoy fields, e.g. `...routes[1].route.cluster`); PathStyle picks which.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <ferry/router.hpp>

namespace ferry::router {

enum class PathStyle { code, envoy };

/// `prefix.rest`, or `rest` when the prefix is empty.
std::string join_path(const std::string& prefix, std::string_view rest);

void validate_route_config(const RouteConfig& config, const std::vector<std::string>* clusters,
                           const std::string& path_prefix, PathStyle style,
                           std::vector<ConfigProblem>& problems);

}  // namespace ferry::router
