#include "router/upgrade.hpp"

#include <ferry/headers.hpp>

namespace ferry::router {

bool upgrade_allowed(std::span<const UpgradeConfig> route, std::span<const UpgradeConfig> manager,
                     std::string_view type) noexcept {
  for (const auto& u : route)
    if (iequals(u.upgrade_type, type)) return u.enabled;
  for (const auto& u : manager)
    if (iequals(u.upgrade_type, type)) return u.enabled;
  return false;
}

}  // namespace ferry::router
