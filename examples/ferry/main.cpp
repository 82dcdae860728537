// `ferry`: runs the proxy from an Envoy-v3-style bootstrap, checks one (--mode validate),
// explains how it routes one request (--mode explain), or, without -c, runs a
// self-contained demo. All config knowledge lives in the library
// (ferry/config.hpp); this file only wires flags, signals and exit codes.
#include <cstdio>
#include <iostream>
#include <exception>
#include <string>
#include <vector>

#include <ferry/config.hpp>
#include <ferry/explain.hpp>
#include <ferry/ferry.hpp>

#include "allocator.hpp"
#include "cli_options.hpp"
#include "demo_backend.hpp"
#include "signal_watcher.hpp"

namespace {

using ferry_cli::CliOptions;

void print_problems(const std::vector<ferry::ConfigProblem>& problems) {
  for (const auto& p : problems) {
    if (p.path.empty())
      std::cerr << p.message << '\n';
    else
      std::cerr << p.path << ": " << p.message << '\n';
  }
}

void print_warnings(const std::vector<ferry::ConfigProblem>& warnings) {
  for (const auto& w : warnings) std::cerr << "warning: " << w.path << ": " << w.message << '\n';
}

ferry::ServerOptions server_options(const CliOptions& cli) {
  ferry::ServerOptions options;
  options.workers = cli.concurrency;
  options.log_level = cli.log_level;
  if (cli.drain_time_s) options.drain_timeout = std::chrono::seconds(*cli.drain_time_s);
  return options;
}

// Binds and starts; false (after saying why) on a config or bind error.
bool start(ferry::Server& server) {
  try {
    server.start();
    return true;
  } catch (const ferry::ConfigError& e) {
    print_problems(e.problems());
  } catch (const std::exception& e) {  // std::system_error for bind failures, and anything else
    std::cerr << "ferry: cannot start: " << e.what() << '\n';
  }
  return false;
}

// Blocks until a signal has stopped the server. The first SIGINT/SIGTERM drains
// gracefully; a second one stops at once.
int wait_for_signal(ferry::Server& server) {
  ferry_cli::SignalWatcher watcher([&server](int count) {
    if (count == 1) {
      std::cerr << "ferry: draining; press Ctrl-C again to stop at once\n";
      server.stop();
    } else {
      server.abort();
    }
  });
  server.wait();
  return 0;
}

// The flags as the admin endpoint's /server_info shows them (command_line_options).
std::vector<std::pair<std::string, std::string>> command_line_options(const CliOptions& cli) {
  std::vector<std::pair<std::string, std::string>> out{
      {"config_path", cli.config_path},
      {"concurrency", std::to_string(cli.concurrency)},
      {"log_level", std::string(ferry::to_string(cli.log_level))},
      {"mode", cli.mode == ferry_cli::Mode::validate ? "Validate" : "Serve"}};
  if (cli.drain_time_s) out.emplace_back("drain_time", std::to_string(*cli.drain_time_s) + "s");
  return out;
}

// Loads the bootstrap and hands it to `server`; false (after printing why) when invalid.
bool load_into(const CliOptions& cli, ferry::Server& server) {
  const std::string& path = cli.config_path;
  auto result = ferry::config::load_file(path);
  if (!result.ok()) {
    print_problems(result.problems);
    return false;
  }
  print_warnings(result.warnings);
  if (result.bootstrap->admin) result.bootstrap->admin->command_line_options = command_line_options(cli);
  try {
    // The library checks again (e.g. when building route tables); report those the same way.
    ferry::config::apply(*result.bootstrap, server);
  } catch (const ferry::ConfigError& e) {
    print_problems(e.problems());
    return false;
  }
  return true;
}

int validate(const CliOptions& cli) {
  ferry::Server server(server_options(cli));  // built, never started: nothing binds
  if (!load_into(cli, server)) {
    std::cerr << "configuration '" << cli.config_path << "' is invalid\n";
    return 1;
  }
  std::cout << "configuration '" << cli.config_path << "' OK\n";
  return 0;
}

// Exit codes: 0 a route matched, 1 none did, 2 the request cannot be explained.
int explain(const CliOptions& cli) {
  std::string error;
  auto request = ferry::ExplainRequest::from_url(cli.url, error);
  if (!request) {
    std::cerr << "ferry: --url: " << error << '\n';
    return 2;
  }
  auto result = ferry::config::load_file(cli.config_path);
  if (!result.ok()) {
    print_problems(result.problems);
    std::cerr << "configuration '" << cli.config_path << "' is invalid\n";
    return 2;
  }
  print_warnings(result.warnings);
  const auto& listeners = result.bootstrap->listeners;
  const ferry::config::ListenerSpec* spec = nullptr;
  std::size_t index = 0;
  for (std::size_t i = 0; i < listeners.size() && !spec; ++i)
    if (cli.listener.empty() || listeners[i].options.name == cli.listener) spec = &listeners[(index = i)];
  if (!spec) {
    std::cerr << "ferry: " << (cli.listener.empty() ? "the configuration has no listener"
                                                     : "no listener named \"" + cli.listener + "\"");
    if (!listeners.empty()) {
      std::cerr << " (listeners:";
      for (const auto& l : listeners) std::cerr << " \"" << l.options.name << '"';
      std::cerr << ')';
    }
    std::cerr << '\n';
    return 2;
  }
  request->method = cli.method;
  request->headers = cli.headers;
  request->listener_port = spec->options.port;
  try {
    auto ex = ferry::explain_route(spec->routes, spec->options.http, *request);
    std::cout << "listener: [" << index << ']';
    if (!spec->options.name.empty()) std::cout << " \"" << spec->options.name << '"';
    std::cout << " on " << spec->options.address << ':' << spec->options.port << '\n' << ex.to_string();
    return ex.matched() ? 0 : 1;
  } catch (const ferry::ConfigError& e) {
    print_problems(e.problems());
    return 2;
  }
}

int serve(const CliOptions& cli) {
  ferry::Server server(server_options(cli));
  if (!load_into(cli, server) || !start(server)) return 1;
  return wait_for_signal(server);
}

void print_demo_help(std::uint16_t port) {
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::cout << "ferry demo: 127.0.0.1:" << port
            << " splits / between backend-a and backend-b, 3:1.\n"
            << "Try:\n"
            << "  curl -s " << url << "\n"
            << "  for i in $(seq 100); do curl -s " << url << "; done | sort | uniq -c\n"
            << "Stop with Ctrl-C.\n"
            << std::flush;
}

int demo(const CliOptions& cli) {
  ferry_cli::DemoBackend a("backend-a");
  ferry_cli::DemoBackend b("backend-b");
  ferry::Server server(server_options(cli));
  server.add_cluster({.name = a.name(), .endpoints = {{"127.0.0.1", a.port()}}});
  server.add_cluster({.name = b.name(), .endpoints = {{"127.0.0.1", b.port()}}});
  ferry::Router router;
  router.virtual_host("*").route(ferry::match::prefix("/")).weighted({{a.name(), 3}, {b.name(), 1}});
  ferry::ListenerOptions listener;
  listener.name = "demo";
  listener.address = "127.0.0.1";
  listener.port = cli.demo_port.value_or(8080);
  server.add_listener(ferry::Listener{listener, ferry::FilterChain{}.terminate(std::move(router))});
  std::cout << "backends: " << a.name() << " on 127.0.0.1:" << a.port() << ", " << b.name()
            << " on 127.0.0.1:" << b.port() << '\n';
  if (!start(server)) {
    std::cerr << "ferry: is the port taken? pick another with --port\n";
    return 1;
  }
  print_demo_help(server.listener_port());
  return wait_for_signal(server);
}

}  // namespace

int main(int argc, char** argv) {
  ferry_cli::tune_allocator();
  ferry_cli::block_stop_signals();  // before any thread exists, so all inherit the mask
  std::string error;
  auto cli = ferry_cli::parse_cli(argc, argv, error);
  if (!cli) {
    std::cerr << "ferry: " << error << '\n';
    return 1;
  }
  if (cli->help) {
    std::cout << ferry_cli::usage();
    return 0;
  }
  if (cli->version) {
    std::cout << "ferry version " << ferry::version() << '\n';
    return 0;
  }
  if (cli->mode == ferry_cli::Mode::validate) {
    if (cli->config_path.empty()) {
      std::cerr << "ferry: --mode validate needs -c FILE\n";
      return 1;
    }
    return validate(*cli);
  }
  if (cli->mode == ferry_cli::Mode::explain) return explain(*cli);
  try {
    return cli->config_path.empty() ? demo(*cli) : serve(*cli);
  } catch (const std::exception& e) {  // e.g. a demo backend that cannot open its socket
    std::cerr << "ferry: " << e.what() << '\n';
    return 1;
  }
}
