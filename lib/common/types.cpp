// ConfigError and LogLevel helpers (ferry/types.hpp).
#include <ferry/types.hpp>

#include <array>
#include <string_view>
#include <utility>

namespace ferry {

namespace {

// One "path: message" line per problem, so what() alone is a usable report.
std::string join_problems(const std::vector<ConfigProblem>& problems) {
  if (problems.empty()) return "invalid configuration";
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    if (!p.path.empty()) out += p.path + ": ";
    out += p.message;
  }
  return out;
}

constexpr std::array<std::pair<std::string_view, LogLevel>, 7> kLevelNames{{
    {"trace", LogLevel::trace},
    {"debug", LogLevel::debug},
    {"info", LogLevel::info},
    {"warn", LogLevel::warn},  // Envoy's name; "warning" is accepted below as well
    {"error", LogLevel::error},
    {"critical", LogLevel::critical},
    {"off", LogLevel::off},
}};

}  // namespace

ConfigError::ConfigError(std::vector<ConfigProblem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

bool parse_log_level(std::string_view name, LogLevel& out) {
  if (name == "warning") name = "warn";
  for (const auto& [level_name, level] : kLevelNames) {
    if (level_name == name) {
      out = level;
      return true;
    }
  }
  return false;
}

std::string_view to_string(LogLevel level) {
  for (const auto& [level_name, value] : kLevelNames)
    if (value == level) return level_name;
  return "unknown";
}

}  // namespace ferry
