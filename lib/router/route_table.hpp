// The compiled, immutable form of a RouteConfig: virtual hosts indexed for Envoy's domain
// precedence, regexes compiled (RE2), cluster names resolved to indices. Built once on the
// control thread and shared read-only by every worker.
//
// Thread safety: immutable after build(); safe to share.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <ferry/router.hpp>

namespace re2 {
class RE2;
}

namespace ferry::router {

struct WeightedTarget {
  std::uint32_t cluster;  ///< index into the server's cluster list
  std::uint32_t weight;
};

struct CompiledRoute {
  std::string name;
  PathMatch::Kind kind = PathMatch::Kind::prefix;
  std::string value;  ///< lower-cased when !case_sensitive
  bool case_sensitive = true;
  std::shared_ptr<const re2::RE2> regex;
  std::vector<WeightedTarget> targets;  ///< one entry for a plain cluster action
  std::uint64_t total_weight = 0;
  Duration timeout{0};
  Duration idle_timeout{-1};

  bool matches(std::string_view path) const;
  /// Picks the cluster for a request; `random` is any uniformly distributed value.
  std::uint32_t pick_cluster(std::uint64_t random) const noexcept;
};

struct CompiledVirtualHost {
  std::string name;
  std::vector<CompiledRoute> routes;

  /// First route whose criteria all match, or nullptr.
  const CompiledRoute* match(std::string_view path) const;
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
};

}  // namespace ferry::router
