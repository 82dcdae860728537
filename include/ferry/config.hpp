// Loading an Envoy-v3-shaped bootstrap (JSON or YAML) into ferry's typed options.
//
// The loader knows the config format; the rest of ferry only knows the option structs.
// Loading gathers every problem with its path (e.g.
// `static_resources.clusters[1].load_assignment.endpoints[0]: unknown field "lb_endpoint"`)
// and yields no Bootstrap at all when there is one.
//
// Thread safety: pure functions of their input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/admin.hpp>
#include <ferry/cluster.hpp>
#include <ferry/listener.hpp>
#include <ferry/router.hpp>
#include <ferry/types.hpp>

namespace ferry {
class Server;
}

namespace ferry::config {

enum class Format { automatic, json, yaml };

/// One listener from static_resources.listeners.
struct ListenerSpec {
  ListenerOptions options{};
  RouteConfig routes{};
  /// The HCM's http_filters before the router (built-in filters), in order.
  std::vector<FilterFactory> filters{};
};

struct Bootstrap {
  std::vector<ClusterOptions> clusters{};
  std::vector<ListenerSpec> listeners{};
  /// `admin` with an address: the admin endpoint (apply() enables it).
  std::optional<AdminOptions> admin{};
  /// The loaded document as JSON (also from YAML), for the admin endpoint's /config_dump.
  std::string json{};
};

struct LoadResult {
  std::optional<Bootstrap> bootstrap{};   ///< set only when problems is empty
  std::vector<ConfigProblem> problems{};  ///< every problem found
  /// Things that are valid but probably not meant (routes that can never match), found
  /// only when there are no problems. They do not stop ok().
  std::vector<ConfigProblem> warnings{};
  bool ok() const noexcept { return problems.empty() && bootstrap.has_value(); }
};

/// Parses and validates `text`. Format::automatic looks at the first non-blank character.
LoadResult load_string(std::string_view text, Format format = Format::automatic);
/// Reads `path`; the extension (.json, .yaml, .yml) picks the format, else the content.
LoadResult load_file(const std::string& path);

/// Adds the bootstrap's clusters and listeners to `server` (before start()), and enables
/// its admin endpoint when the bootstrap has one.
void apply(const Bootstrap& bootstrap, Server& server);

}  // namespace ferry::config
