// Whether an HTTP/1.1 upgrade may go through, as Envoy's connection manager decides it
// (HttpConnectionManagerConfig::createUpgradeFilterChain): a route's own entry for the type
// wins (refused, or allowed whatever the manager says); otherwise the manager's entry.
// Types are compared without case; a type nobody lists is refused.
//
// Thread-safety: a pure function.
#pragma once

#include <span>
#include <string_view>

#include <ferry/types.hpp>

namespace ferry::router {

bool upgrade_allowed(std::span<const UpgradeConfig> route, std::span<const UpgradeConfig> manager,
                     std::string_view type) noexcept;

}  // namespace ferry::router
