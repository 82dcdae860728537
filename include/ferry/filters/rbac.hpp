// Envoy's envoy.filters.http.rbac from code: allow or deny a request by policies of
// permissions (what is asked: path, headers, port) and principals (who asks: client IP,
// mTLS identity, headers, JWT claims through dynamic metadata).
//
// A request matches a policy when any of its permissions and any of its principals match.
// ALLOW lets a request through when some policy matches, DENY when none does, LOG always
// lets it through (and counts whether a policy matched). A denied request gets 403
// "RBAC: access denied". Shadow rules are evaluated, logged and counted, never enforced.
// Policies are evaluated in name order (Envoy's map order); the first match decides.
//
// Thread safety: configure on one thread; the factory and the per-route config are then
// shared by all workers (compiled matchers are immutable; stats are per worker).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ferry/filter_chain.hpp>
#include <ferry/router.hpp>
#include <ferry/stats.hpp>

namespace ferry::filters {

inline constexpr std::string_view kRbacFilterName = "envoy.filters.http.rbac";

/// Envoy's type.matcher.v3.ValueMatcher over a JSON value of dynamic metadata.
struct RbacValueMatch {
  enum class Kind : std::uint8_t {
    null_value,  ///< the value is JSON null
    string,      ///< a string matching `string_match`
    bool_value,  ///< a boolean equal to `bool_match`
    number,      ///< a number equal to `number` (double_match.exact)
    present,     ///< any value is there
    list_one_of  ///< a list with an element matching `one_of[0]`
  };
  Kind kind = Kind::present;
  StringMatch string_match{};
  bool bool_match = false;
  double number = 0;
  std::vector<RbacValueMatch> one_of{};
};

/// Envoy's type.matcher.v3.MetadataMatcher over StreamContext::dynamic_metadata: the value
/// stored under (filter, path[0]) is JSON; path[1..] walk into its objects.
struct RbacMetadataMatch {
  std::string filter{};
  std::vector<std::string> path{};
  RbacValueMatch value{};
  bool invert = false;
};

/// Envoy's config.rbac.v3.Permission (the cases ferry has).
struct RbacPermission {
  enum class Kind : std::uint8_t {
    any, header, url_path, destination_port, destination_ip, metadata, and_rules, or_rules, not_rule
  };
  Kind kind = Kind::any;
  HeaderMatcher header{};             ///< Kind::header (pseudo-headers too: ":method", ":path")
  StringMatch url_path{};             ///< Kind::url_path: the path without its query
  std::uint32_t port = 0;             ///< Kind::destination_port
  std::string cidr{};                 ///< Kind::destination_ip, "10.0.0.0/8"
  RbacMetadataMatch metadata{};       ///< Kind::metadata
  std::vector<RbacPermission> rules{};  ///< and_rules / or_rules; not_rule: rules[0]
};

/// Envoy's config.rbac.v3.Principal (the cases ferry has).
struct RbacPrincipal {
  enum class Kind : std::uint8_t {
    any, authenticated, direct_remote_ip, remote_ip, header, url_path, metadata, and_ids, or_ids, not_id
  };
  Kind kind = Kind::any;
  /// Kind::authenticated: matched against the peer certificate's URI SANs, then DNS SANs,
  /// then subject; unset matches any verified client certificate.
  std::optional<StringMatch> principal_name{};
  std::string cidr{};  ///< direct_remote_ip (the connection's peer) / remote_ip (Envoy's
                       ///< remote address: the last x-forwarded-for entry, else the peer)
  HeaderMatcher header{};
  StringMatch url_path{};
  RbacMetadataMatch metadata{};
  std::vector<RbacPrincipal> ids{};  ///< and_ids / or_ids; not_id: ids[0]
};

struct RbacPolicy {
  std::vector<RbacPermission> permissions{};
  std::vector<RbacPrincipal> principals{};
};

/// Envoy's config.rbac.v3.RBAC.
struct RbacRules {
  enum class Action : std::uint8_t { allow, deny, log };
  Action action = Action::allow;
  std::map<std::string, RbacPolicy> policies{};
};

struct RbacConfig {
  /// Enforced rules; absent: nothing is enforced. Present with no policy: ALLOW denies all.
  std::optional<RbacRules> rules{};
  std::string rules_stat_prefix{};
  /// Shadow rules: evaluated, logged (debug) and counted, never enforced.
  std::optional<RbacRules> shadow_rules{};
  std::string shadow_rules_stat_prefix{};
  /// Counters http.<stat_prefix>.rbac.<rules_stat_prefix>{allowed,denied,logged,not_logged}
  /// and http.<stat_prefix>.rbac.<shadow_rules_stat_prefix>{shadow_allowed,shadow_denied},
  /// where stat_prefix is the HTTP connection manager's. Null (as from Envoy config): the
  /// Server's store under the listener's HCM stat_prefix, registered on the first stream;
  /// set: this store under `stat_prefix` below.
  Stats* stats = nullptr;
  std::string stat_prefix = "ingress_http";  ///< used only with `stats`
};

/// The listener-level filter. Throws ConfigError (bad regex or CIDR, empty sets).
FilterFactory rbac_filter(const RbacConfig& config);

/// Envoy's RBACPerRoute for typed_per_filter_config["envoy.filters.http.rbac"]: its rules
/// replace the listener's for that route; `rbac` absent (or without rules and shadow
/// rules) disables the filter there. Stats go to the listener filter's counters.
std::shared_ptr<const RouteFilterConfig> rbac_route_config(const std::optional<RbacConfig>& rbac);

/// Problems of `config` (empty when valid), paths relative to the config.
std::vector<ConfigProblem> check_rbac(const RbacConfig& config);

}  // namespace ferry::filters
