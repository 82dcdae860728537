// Command-line flags of the `ferry` CLI, named after Envoy's (`-c`, `--mode`, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ferry/types.hpp>

namespace ferry_cli {

enum class Mode { serve, validate, explain };

struct CliOptions {
  std::string config_path;  ///< empty: run the embedded demo
  Mode mode = Mode::serve;
  unsigned concurrency = 0;  ///< 0: one worker per hardware thread, like Envoy
  ferry::LogLevel log_level = ferry::LogLevel::info;
  std::optional<unsigned> drain_time_s;   ///< unset: the library default
  std::optional<std::uint16_t> demo_port;  ///< demo only; unset: 8080
  // --mode explain
  std::string url;                                          ///< --url
  std::vector<std::pair<std::string, std::string>> headers;  ///< --header k:v (repeatable)
  std::string method = "GET";                               ///< --method
  std::string listener;                                     ///< --listener; empty: the first
  bool help = false;
  bool version = false;
};

/// Parses argv; on a bad flag returns nullopt after setting `error`.
std::optional<CliOptions> parse_cli(int argc, char** argv, std::string& error);
std::string usage();

}  // namespace ferry_cli
