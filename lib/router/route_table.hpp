// The compiled, immutable form of a RouteConfig: virtual hosts indexed for Envoy's domain
// precedence, regexes compiled (RE2), cluster names resolved to indices. Built once on the
// control thread and shared read-only by every worker.
//
// Thread safety: immutable after build(); safe to share.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <ferry/router.hpp>

#include "router/header_mutations.hpp"
#include "router/matchers.hpp"

namespace re2 {
class RE2;
}

namespace ferry::router {

struct LevelMutations;

struct WeightedTarget {
  std::uint32_t cluster;  ///< index into the server's cluster list
  std::uint32_t weight;
  /// The weighted cluster's own header changes (the most specific level), or null.
  std::shared_ptr<const LevelMutations> mutations{};
};

/// A request_mirror_policies entry with its cluster resolved.
struct CompiledMirror {
  std::uint32_t cluster;
  std::uint32_t per_million;
  bool host_suffix;  ///< append "-shadow" to the copy's Host
};

class CompiledHashPolicy;

/// A path rewrite: the matched prefix replaced by `prefix`, or every match of `regex`
/// (in the path without the query) replaced by `substitution`.
struct PathRewrite {
  std::string prefix;
  std::shared_ptr<const re2::RE2> regex;
  std::string substitution;
  bool prefix_set = false;  ///< an empty prefix_rewrite is not "no rewrite" when set
  bool any() const noexcept { return prefix_set || regex != nullptr; }
};

struct CompiledRedirect {
  std::string scheme;  ///< empty: keep the request's
  std::string host;    ///< empty: keep the request's
  std::string port;    ///< ":8080", or empty to keep the request's
  std::string path;    ///< path_redirect (set: replaces the path)
  bool path_set = false;
  bool path_has_query = false;
  PathRewrite rewrite;
  int status = 301;
  bool strip_query = false;
};

/// Both directions of one level of header changes (route, virtual host, route config).
struct LevelMutations {
  MutationSet request;
  MutationSet response;
};

struct CompiledRetry;
class RouteIndex;

struct CompiledRoute {
  enum class Action : std::uint8_t { forward, redirect, direct_response };

  std::string name;
  PathMatch::Kind kind = PathMatch::Kind::prefix;
  std::string value;  ///< lower-cased when !case_sensitive
  bool case_sensitive = true;
  std::shared_ptr<const re2::RE2> regex;
  std::vector<HeaderMatch> headers;
  std::vector<QueryMatch> query_parameters;

  Action action = Action::forward;
  std::vector<WeightedTarget> targets;  ///< one entry for a plain cluster action; none for cluster_header
  std::uint64_t total_weight = 0;
  std::string cluster_header;  ///< lower-cased; set: the cluster is named by this request header
  std::shared_ptr<const CompiledHashPolicy> hash_policy;  ///< null: no hash
  std::vector<CompiledMirror> mirrors;
  /// per_request_buffer_limit_bytes of the route or its virtual host; 0 = the listener's.
  std::uint32_t buffer_limit = 0;
  /// typed_per_filter_config of the route merged over its virtual host's.
  FilterConfigMap filter_configs;
  Duration timeout{0};
  Duration idle_timeout{-1};
  std::optional<RouteAction::MaxStreamDuration> max_stream_duration;  ///< set: replaces the HCM's
  std::vector<UpgradeConfig> upgrade_configs;  ///< the route's own upgrade allowances
  RoutingPriority priority = RoutingPriority::default_priority;  ///< circuit breaker level
  PathRewrite rewrite;
  std::string host_rewrite_literal;
  std::string host_rewrite_header;  ///< lower-cased
  bool auto_host_rewrite = false;
  std::shared_ptr<const CompiledRedirect> redirect;
  int direct_status = 0;
  std::string direct_body;

  /// Header changes in Envoy's order (route, virtual host, route config), empty levels left
  /// out; `mutation_levels` owns what they point to.
  std::vector<const MutationSet*> request_mutations;
  std::vector<const MutationSet*> response_mutations;
  std::vector<std::shared_ptr<const LevelMutations>> mutation_levels;
  /// Anything to do to a forwarded request besides choosing the cluster.
  bool edits_request = false;
  std::shared_ptr<const CompiledRetry> retry;  ///< null: no retries

  /// The path criterion alone.
  bool matches(std::string_view path) const;
  /// Every criterion: path, header and query-parameter matchers.
  bool matches(const RequestFacts& facts) const;
  /// How much of `path` the path criterion matched (what prefix_rewrite replaces).
  std::size_t matched_length(std::string_view path) const noexcept;
  /// Picks the target for a request (index into `targets`); `random` is any uniformly
  /// distributed value. Not for cluster_header routes (no targets).
  std::size_t pick_target(std::uint64_t random) const noexcept;
  std::uint32_t pick_cluster(std::uint64_t random) const noexcept { return targets[pick_target(random)].cluster; }
  /// The per-route config of filter `name`, or null.
  const RouteFilterConfig* filter_config(std::string_view name) const noexcept {
    auto it = filter_configs.find(name);
    return it == filter_configs.end() ? nullptr : it->second.get();
  }
};

struct CompiledVirtualHost {
  std::string name;
  std::vector<CompiledRoute> routes;
  /// Finds the first match without a linear scan; null for small tables (see RouteIndex).
  std::shared_ptr<const RouteIndex> index;

  /// First route whose path criterion matches, or nullptr (ignores header and query
  /// matchers).
  const CompiledRoute* match(std::string_view path) const;
  /// First route whose criteria all match, or nullptr (through `index` when there is one).
  const CompiledRoute* match(const RequestFacts& facts) const;
  /// The same by a plain scan in configuration order: the reference `match` must agree with.
  const CompiledRoute* match_linear(const RequestFacts& facts) const;
};

class RouteTable {
 public:
  /// Compiles `config`. `cluster_index` maps cluster names to indices; an unknown name is
  /// a problem reported under `path_prefix`. Returns null when there are problems.
  static std::shared_ptr<const RouteTable> build(
      const RouteConfig& config,
      const std::unordered_map<std::string, std::uint32_t>& cluster_index,
      const std::string& path_prefix, std::vector<ConfigProblem>& problems);

  /// The virtual host for a Host header value (Envoy's precedence: exact, longest suffix
  /// wildcard, longest prefix wildcard, "*"). Matching is case-insensitive.
  const CompiledVirtualHost* find_virtual_host(std::string_view host) const;
  /// The compiled virtual hosts, in config order (for diagnostics such as the explainer).
  const std::vector<CompiledVirtualHost>& virtual_hosts() const noexcept { return vhosts_; }
  /// The index of the cluster called `name` when the table was built (cluster_header).
  std::optional<std::uint32_t> cluster_index(std::string_view name) const;

 private:
  struct Wildcard {
    std::string fix;  ///< the suffix (for "*.x") or prefix (for "x.*"), lower-cased
    std::uint32_t vhost;
  };
  std::vector<CompiledVirtualHost> vhosts_;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> exact_;
  std::vector<Wildcard> suffixes_;  ///< longest first
  std::vector<Wildcard> prefixes_;  ///< longest first
  std::int64_t default_ = -1;
  std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> clusters_;
};

}  // namespace ferry::router
