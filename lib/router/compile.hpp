// Compiling one route's options into a CompiledRoute (regexes, rewrites, redirect, header
// changes). The options were validated before (validate_route_config), so what fails here
// is only what validation cannot know: cluster names.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/route_table.hpp"

namespace ferry::router {

bool compile_route(const RouteOptions& in, const std::unordered_map<std::string, std::uint32_t>& clusters,
                   const std::string& path, CompiledRoute& out, std::vector<ConfigProblem>& problems);

/// Null when `m` is empty, so routes skip the level at no cost.
std::shared_ptr<const LevelMutations> compile_mutations(const HeaderMutations& m);

/// Appends a level's non-empty directions to the route's lists (null is ignored).
void add_mutation_level(CompiledRoute& route, std::shared_ptr<const LevelMutations> level);

}  // namespace ferry::router
