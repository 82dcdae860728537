// YAML → JSON, so one walker checks both formats (Envoy converts YAML the same way).
#pragma once

#include <string_view>

#include "config/walk.hpp"

namespace ferry::config::detail {

/// Parses one YAML document into the JSON value it denotes. Quoted scalars stay strings;
/// plain scalars become numbers, booleans or null when they read as such (YAML 1.2 core
/// schema), otherwise strings. Merge keys (`<<: *anchor`) are applied.
/// Throws YAML::Exception (with a line/column mark) on malformed input.
Json parse_yaml(std::string_view text);

}  // namespace ferry::config::detail
