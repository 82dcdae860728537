#include "cli_options.hpp"

#include <charconv>
#include <limits>
#include <string_view>
#include <vector>

namespace ferry_cli {

namespace {

bool parse_unsigned(std::string_view text, unsigned long max, unsigned long& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size() && out <= max;
}

// Walks the arguments; "--flag value" and "--flag=value" are both accepted.
class ArgReader {
 public:
  ArgReader(int argc, char** argv) : args_(argv + 1, argv + argc) {}
  bool done() const { return pos_ >= args_.size(); }

  /// Splits the next argument into a flag and an inline "=value" (if any).
  std::string_view next_flag() {
    std::string_view arg = args_[pos_++];
    inline_value_.reset();
    auto eq = arg.find('=');
    if (arg.starts_with("--") && eq != std::string_view::npos) {
      inline_value_ = arg.substr(eq + 1);
      return arg.substr(0, eq);
    }
    return arg;
  }

  /// The value of the flag just read, or nullopt when it is missing.
  std::optional<std::string_view> value() {
    if (inline_value_) return inline_value_;
    if (done()) return std::nullopt;
    return std::string_view(args_[pos_++]);
  }

 private:
  std::vector<const char*> args_;
  std::size_t pos_ = 0;
  std::optional<std::string_view> inline_value_;
};

bool takes_value(std::string_view flag) {
  for (std::string_view known : {"-c", "--config-path", "--mode", "--concurrency", "-l",
                                 "--log-level", "--drain-time-s", "--port", "--url", "--header",
                                 "-H", "--method", "--listener"})
    if (flag == known) return true;
  return false;
}

// Applies one flag that takes a value; returns an error message, empty on success.
std::string apply_value(std::string_view flag, std::string_view value, CliOptions& o) {
  unsigned long n = 0;
  if (flag == "-c" || flag == "--config-path") {
    o.config_path = value;
  } else if (flag == "--mode") {
    if (value == "serve") o.mode = Mode::serve;
    else if (value == "validate") o.mode = Mode::validate;
    else if (value == "explain") o.mode = Mode::explain;
    else return "--mode must be \"serve\", \"validate\" or \"explain\", not \"" + std::string(value) + "\"";
  } else if (flag == "--concurrency") {
    if (!parse_unsigned(value, 1024, n) || n == 0) return "--concurrency needs a number from 1 to 1024";
    o.concurrency = unsigned(n);
  } else if (flag == "-l" || flag == "--log-level") {
    if (!ferry::parse_log_level(value, o.log_level))
      return "unknown log level \"" + std::string(value) +
             "\" (trace, debug, info, warn, error, critical, off)";
  } else if (flag == "--drain-time-s") {
    if (!parse_unsigned(value, 86400, n)) return "--drain-time-s needs a number of seconds";
    o.drain_time_s = unsigned(n);
  } else if (flag == "--port") {
    if (!parse_unsigned(value, 65535, n)) return "--port needs a port number (0 to 65535)";
    o.demo_port = std::uint16_t(n);
  } else if (flag == "--url") {
    o.url = value;
  } else if (flag == "--header" || flag == "-H") {
    auto colon = value.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return std::string(flag) + " needs NAME:VALUE, not \"" + std::string(value) + "\"";
    auto v = value.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    o.headers.emplace_back(std::string(value.substr(0, colon)), std::string(v));
  } else if (flag == "--method") {
    if (value.empty()) return "--method needs a method name";
    o.method = value;
  } else if (flag == "--listener") {
    o.listener = value;
  } else {
    return "unknown flag " + std::string(flag) + " (see --help)";
  }
  return {};
}

}  // namespace

std::optional<CliOptions> parse_cli(int argc, char** argv, std::string& error) {
  CliOptions options;
  ArgReader args(argc, argv);
  while (!args.done()) {
    auto flag = args.next_flag();
    if (flag == "-h" || flag == "--help") {
      options.help = true;
      continue;
    }
    if (flag == "--version") {
      options.version = true;
      continue;
    }
    if (!takes_value(flag)) {
      error = "unknown flag " + std::string(flag) + " (see --help)";
      return std::nullopt;
    }
    auto value = args.value();
    if (!value) {
      error = std::string(flag) + " needs a value (see --help)";
      return std::nullopt;
    }
    error = apply_value(flag, *value, options);
    if (!error.empty()) return std::nullopt;
  }
  bool explain_flags = !options.url.empty() || !options.headers.empty() || !options.listener.empty();
  if (explain_flags && options.mode != Mode::explain) {
    error = "--url, --header and --listener only apply to --mode explain";
    return std::nullopt;
  }
  if (options.mode == Mode::explain && !options.help && !options.version &&
      (options.url.empty() || options.config_path.empty())) {
    error = "--mode explain needs -c FILE and --url URL";
    return std::nullopt;
  }
  if (options.demo_port && !options.config_path.empty()) {
    error = "--port only applies to the demo (without -c); the config sets listener ports";
    return std::nullopt;
  }
  return options;
}

std::string usage() {
  return R"(usage: ferry [-c FILE] [options]

Runs ferry, an embeddable L7 proxy, from an Envoy-v3-style bootstrap (JSON or YAML).
Without -c it runs a demo: two local backends behind a proxy on 127.0.0.1:8080.

  -c, --config-path FILE    bootstrap file (.json, .yaml or .yml)
      --mode MODE           serve (default); validate: only check the config and exit
                            0 when valid (warnings, e.g. routes that can never match,
                            are listed), 1 with every problem listed otherwise;
                            explain: show how one request is routed (see below)
      --concurrency N       worker threads (default: one per hardware thread)
  -l, --log-level LEVEL     trace, debug, info (default), warn, error, critical, off
      --drain-time-s N      on SIGINT/SIGTERM, let requests finish for up to N seconds
      --port N              demo only: the proxy's port (default 8080, 0 = any)
  -h, --help                this text
      --version             print the version

--mode explain -c FILE --url http://host[:port]/path?query [options]:
  prints the listener, the normalised path, the virtual host and why, each route tried
  and why it did not match, and the matching route's action (cluster, redirect, direct
  response, rewritten path and Host, header changes). Exit 0 when a route matched, 1 when
  none did (404), 2 when the request cannot be explained (bad config, URL or listener).
  -H, --header NAME:VALUE   a request header (repeatable; "host:..." replaces the URL's)
      --method METHOD       the request method (default GET)
      --listener NAME       the listener to ask (default: the first one)
)";
}

}  // namespace ferry_cli
