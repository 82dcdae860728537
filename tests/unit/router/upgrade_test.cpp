// Whether an upgrade goes through: Envoy's table of connection-manager and route settings.
#include "router/upgrade.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace ferry;
using ferry::router::upgrade_allowed;

TEST_CASE("upgrades: the route's word wins, then the manager's, else refused", "[router][upgrade]") {
  const std::vector<UpgradeConfig> none;
  const std::vector<UpgradeConfig> on{{"websocket", true}};
  const std::vector<UpgradeConfig> off{{"websocket", false}};
  CHECK_FALSE(upgrade_allowed(none, none, "websocket"));  // nobody lists it
  CHECK(upgrade_allowed(none, on, "websocket"));          // HCM T, route default
  CHECK_FALSE(upgrade_allowed(off, on, "websocket"));     // HCM T, route F
  CHECK(upgrade_allowed(on, off, "websocket"));           // HCM F, route T
  CHECK(upgrade_allowed(on, none, "websocket"));          // route T alone
  CHECK_FALSE(upgrade_allowed(none, off, "websocket"));   // HCM F, route default
  CHECK(upgrade_allowed(none, on, "WebSocket"));          // types compare without case
  CHECK_FALSE(upgrade_allowed(on, on, "h2c"));            // another type follows its own entries
  CHECK_FALSE(upgrade_allowed(none, on, ""));
}
