// Basic vocabulary types shared by the public API.
//
// Thread safety: plain value types; no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry {

/// Every timeout in ferry is a Duration; zero means "disabled" (Envoy's convention for 0s).
using Duration = std::chrono::milliseconds;

/// One problem found while checking configuration: where (a dotted path such as
/// `static_resources.clusters[1].connect_timeout`, or a code-API path such as
/// `listeners[0].routes...`) and what is wrong.
struct ConfigProblem {
  std::string path{};
  std::string message{};
};

/// Thrown by control-plane calls (Server::add_*, start) when configuration is invalid.
/// Carries every problem found, not only the first. The data path never throws.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<ConfigProblem> problems);
  const std::vector<ConfigProblem>& problems() const noexcept { return problems_; }

 private:
  std::vector<ConfigProblem> problems_;
};

/// Envoy's RoutingPriority: a route's requests count against its cluster's circuit
/// breakers of this priority.
enum class RoutingPriority : std::uint8_t { default_priority = 0, high = 1 };

/// Envoy's UpgradeConfig: an HTTP/1.1 upgrade (e.g. "websocket", compared without case) that
/// the connection manager or a route allows (`enabled`) or, on a route, refuses.
struct UpgradeConfig {
  std::string upgrade_type{};
  bool enabled = true;
};

/// Severity of ferry's own diagnostic log lines.
enum class LogLevel { trace, debug, info, warn, error, critical, off };

/// Parses "trace".."off" (Envoy's -l names); returns false on an unknown name.
bool parse_log_level(std::string_view name, LogLevel& out);
std::string_view to_string(LogLevel level);

}  // namespace ferry
