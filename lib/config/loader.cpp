// load_string / load_file: text → JSON → option structs → cross-checks (ferry/config.hpp).
#include <ferry/config.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "config/parse.hpp"
#include "config/yaml.hpp"
#include "router/shadow.hpp"
#include "router/validate.hpp"
#include "upstream/validate.hpp"

namespace ferry::config {

namespace {

using namespace detail;

constexpr std::string_view kBootstrapFields[] = {"node", "static_resources", "admin"};
constexpr std::string_view kBootstrapNotYet[] = {
    "dynamic_resources", "cluster_manager", "hds_config", "flags_path", "stats_sinks",
    "stats_config", "stats_flush_interval", "stats_flush_on_admin", "watchdog", "watchdogs",
    "tracing", "layered_runtime", "overload_manager", "enable_dispatcher_stats", "header_prefix",
    "stats_server_version_override", "use_tcp_for_dns_lookups", "dns_resolution_config",
    "typed_dns_resolver_config", "bootstrap_extensions", "fatal_actions", "config_sources",
    "default_config_source", "default_socket_interface", "certificate_provider_instances",
    "inline_headers", "perf_tracing_file_path", "default_regex_engine", "xds_delegate_extension",
    "xds_config_tracker_extension", "listener_manager", "application_log_config",
    "grpc_async_client_manager_config", "memory_allocator_manager", "node_context_params"};
constexpr std::string_view kNodeFields[] = {"id", "cluster"};
constexpr std::string_view kNodeNotYet[] = {
    "metadata", "dynamic_parameters", "locality", "user_agent_name", "user_agent_version",
    "user_agent_build_version", "extensions", "client_features", "listening_addresses"};
constexpr std::string_view kStaticFields[] = {"listeners", "clusters"};
constexpr std::string_view kStaticNotYet[] = {"secrets"};

constexpr std::string_view kAdminFields[] = {"address"};
constexpr std::string_view kAdminNotYet[] = {"access_log", "access_log_path", "profile_path", "socket_options",
                                             "ignore_global_conn_limit"};

struct Parsed {
  std::vector<ParsedCluster> clusters;
  std::vector<ParsedListener> listeners;
  std::optional<AdminOptions> admin;
};

// admin: the admin endpoint listens only when an address is given (as in Envoy).
std::optional<AdminOptions> parse_admin(Context& ctx, const Field& f) {
  Object o(ctx, f, {kAdminFields, kAdminNotYet});
  Field address_field = o.ok() ? o.get("address") : Field{};
  if (!address_field) return std::nullopt;
  auto address = parse_address(ctx, address_field);
  if (address.address && !upstream::is_ip_literal(*address.address)) {
    ctx.problem(address.address_field,
                in_quotes(*address.address) + " is not an IPv4 or IPv6 address (e.g. \"127.0.0.1\")");
    return std::nullopt;
  }
  AdminOptions admin;
  if (address.address) admin.address = *address.address;
  if (address.port) admin.port = *address.port;
  return admin;
}

Parsed parse_bootstrap(Context& ctx, const Json& root) {
  Parsed out;
  Object o(ctx, Field{&root, "", ""}, {kBootstrapFields, kBootstrapNotYet});
  if (!o.ok()) return out;
  Object node(ctx, o.get("node"), {kNodeFields, kNodeNotYet});
  read_string(ctx, node.get("id"));  // accepted for compatibility; ferry has no xDS node
  read_string(ctx, node.get("cluster"));
  Object resources(ctx, o.required("static_resources"), {kStaticFields, kStaticNotYet});
  for_each(ctx, resources.get("clusters"),
           [&](const Field& f) { out.clusters.push_back(parse_cluster(ctx, f)); });
  for_each(ctx, resources.get("listeners"),
           [&](const Field& f) { out.listeners.push_back(parse_listener(ctx, f)); });
  if (Field admin = o.get("admin")) out.admin = parse_admin(ctx, admin);
  return out;
}

// Rules across objects, plus the shared cluster/route validators. Paths are canonical
// here; Context::add_checked maps them to the user's spelling.
std::vector<ConfigProblem> cross_check(const Parsed& parsed, const Context& ctx) {
  std::vector<ConfigProblem> problems;
  std::vector<std::string> cluster_names;
  std::unordered_map<std::string, std::string> seen;  // name (or address) → its path
  for (const auto& c : parsed.clusters) {
    upstream::validate_cluster(c.options, c.canon, &c.endpoint_paths, problems);
    cluster_names.push_back(c.options.name);
    if (c.options.name.empty()) continue;
    auto [it, fresh] = seen.emplace("cluster " + c.options.name, c.canon);
    if (!fresh)
      problems.push_back({c.canon + ".name",
                          "duplicate cluster name " + in_quotes(c.options.name) + " (also " + it->second + ")"});
  }
  for (const auto& l : parsed.listeners) {
    const auto& opt = l.spec.options;
    if (!opt.name.empty()) {
      auto [it, fresh] = seen.emplace("listener " + opt.name, l.canon);
      if (!fresh)
        problems.push_back({l.canon + ".name", "duplicate listener name " + in_quotes(opt.name) +
                                                   " (also " + it->second + ")"});
    }
    // Two listeners on one address:port would fail at bind time; say so now.
    auto where = opt.address + ":" + std::to_string(opt.port);
    if (opt.port != 0) {
      auto [it, fresh] = seen.emplace("address " + where, l.canon);
      if (!fresh)
        problems.push_back({l.canon + ".address", "address " + where + " is already used by " + it->second});
    }
    if (const auto& t = opt.http.tracing; t && !t->collector_cluster.empty() &&
                                          std::find(cluster_names.begin(), cluster_names.end(), t->collector_cluster) ==
                                              cluster_names.end())
      problems.push_back({l.tracing_cluster_canon, "unknown cluster " + in_quotes(t->collector_cluster)});
    if (!l.route_config_canon.empty())
      router::validate_route_config(l.spec.routes, &cluster_names, l.route_config_canon,
                                    router::PathStyle::envoy, problems);
  }
  // Clusters named by built-in HTTP filters (Context::cluster_ref).
  for (const auto& [canon, name] : ctx.cluster_refs())
    if (std::find(cluster_names.begin(), cluster_names.end(), name) == cluster_names.end())
      problems.push_back({canon, "unknown cluster " + in_quotes(name)});
  return problems;
}

// Syntax errors come back as one problem with no path (the position is in the message).
std::optional<Json> parse_text(std::string_view text, Format format, Context& ctx) {
  if (format == Format::automatic) {
    auto first = text.find_first_not_of(" \t\r\n");
    format = first != std::string_view::npos && text[first] == '{' ? Format::json : Format::yaml;
  }
  Field root{nullptr, "", ""};
  try {
    if (format == Format::json) return Json::parse(text);
    return parse_yaml(text);
  } catch (const Json::parse_error& e) {
    // what() starts with "[json.exception.parse_error.101] "; the rest is the useful part.
    std::string what = e.what();
    auto cut = what.find("] ");
    ctx.problem(root, "invalid JSON: " + (cut == std::string::npos ? what : what.substr(cut + 2)));
  } catch (const YAML::Exception& e) {
    ctx.problem(root, "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                          std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return std::nullopt;
}

Format format_of(const std::string& path) {
  auto ends_with = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
  };
  if (ends_with(".json")) return Format::json;
  if (ends_with(".yaml") || ends_with(".yml")) return Format::yaml;
  return Format::automatic;
}

}  // namespace

LoadResult load_string(std::string_view text, Format format) {
  Context ctx;
  LoadResult result;
  auto root = parse_text(text, format, ctx);
  if (!root) {
    result.problems = ctx.take();
    return result;
  }
  if (root->is_null()) {
    ctx.problem(Field{nullptr, "", ""}, "the configuration is empty");
    result.problems = ctx.take();
    return result;
  }
  Parsed parsed = parse_bootstrap(ctx, *root);
  ctx.add_checked(cross_check(parsed, ctx));
  result.problems = ctx.take();
  if (!result.problems.empty()) return result;
  // Warnings (the config stays valid): routes that can never match.
  for (const auto& l : parsed.listeners)
    if (!l.route_config_canon.empty())
      for (auto& w : router::shadow_warnings(l.spec.routes, l.route_config_canon,
                                             [&ctx](const std::string& canon) { return ctx.spelled(canon); }))
        result.warnings.push_back(std::move(w));
  Bootstrap bootstrap;
  for (auto& c : parsed.clusters) bootstrap.clusters.push_back(std::move(c.options));
  for (auto& l : parsed.listeners) bootstrap.listeners.push_back(std::move(l.spec));
  bootstrap.admin = std::move(parsed.admin);
  bootstrap.json = root->dump();  // YAML too: what the admin endpoint's /config_dump shows
  result.bootstrap = std::move(bootstrap);
  return result;
}

LoadResult load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.problems.push_back({path, std::string("cannot open the file: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_string(text.str(), format_of(path));
}

}  // namespace ferry::config
