// Shadowed routes (ferry/explain.hpp's find_shadowed_routes) as warnings, with paths spelled
// by the caller: the config loader maps canonical paths to the user's spelling.
//
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <ferry/explain.hpp>

namespace ferry::router {

/// `prefix "/"`, `path "/x", case-insensitive`, `safe_regex "..."`.
std::string describe_path_match(const PathMatch& m);

/// Does an earlier route matching `earlier` (and nothing else) match every request whose
/// path matches `later`? True only when sure.
bool path_match_covers(const PathMatch& earlier, const PathMatch& later);

/// One warning per shadowed route; `spell` maps a canonical path to the one to print.
std::vector<ConfigProblem> shadow_warnings(const RouteConfig& config, const std::string& path_prefix,
                                           const std::function<std::string(const std::string&)>& spell);

}  // namespace ferry::router
