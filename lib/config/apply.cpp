// apply(): hands a loaded Bootstrap to a Server through the same calls host code uses.
#include <ferry/config.hpp>
#include <ferry/server.hpp>

namespace ferry::config {

void apply(const Bootstrap& bootstrap, Server& server) {
  // Clusters first: add_listener checks route targets against the known clusters.
  for (const auto& cluster : bootstrap.clusters) server.add_cluster(cluster);
  for (const auto& spec : bootstrap.listeners) {
    FilterChain chain;
    for (const auto& factory : spec.filters) chain.add_factory(factory);
    server.add_listener(Listener{spec.options, std::move(chain.terminate(Router{spec.routes}))});
  }
  if (bootstrap.admin) {
    auto admin = *bootstrap.admin;
    if (admin.config_dump.empty() && !bootstrap.json.empty())
      admin.config_dump = R"({"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump","bootstrap":)" +
                          bootstrap.json + "}]}";
    server.enable_admin(std::move(admin));
  }
}

}  // namespace ferry::config
