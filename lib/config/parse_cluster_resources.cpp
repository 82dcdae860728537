// A cluster's circuit_breakers and its DNS discovery fields (type STRICT_DNS / LOGICAL_DNS,
// dns_refresh_rate, respect_dns_ttl, dns_lookup_family, dns_resolvers,
// typed_dns_resolver_config) → ClusterOptions. Called from parse_cluster().
#include <cmath>
#include <limits>

#include "config/parse.hpp"
#include "upstream/validate.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

constexpr std::string_view kBreakersFields[] = {"thresholds"};
constexpr std::string_view kBreakersNotYet[] = {"per_host_thresholds"};
constexpr std::string_view kThresholdsFields[] = {"priority", "max_connections", "max_pending_requests",
                                                  "max_requests", "max_retries", "retry_budget"};
constexpr std::string_view kThresholdsNotYet[] = {"track_remaining", "max_connection_pools"};
constexpr std::string_view kBudgetFields[] = {"budget_percent", "min_retry_concurrency"};
constexpr EnumValue kPriorities[] = {{"DEFAULT", 0, true}, {"HIGH", 1, true}};

constexpr EnumValue kLookupFamilies[] = {{"AUTO", 0, true},
                                         {"V4_ONLY", 1, true},
                                         {"V6_ONLY", 2, true},
                                         {"V4_PREFERRED", 3, true},
                                         {"ALL", 4, true}};
constexpr std::string_view kCaresName = "envoy.network.dns_resolver.cares";
constexpr std::string_view kCaresType =
    "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig";
constexpr std::string_view kTypedExtensionFields[] = {"name", "typed_config"};
constexpr std::string_view kCaresFields[] = {"@type", "resolvers"};
constexpr std::string_view kCaresNotYet[] = {
    "use_resolvers_as_fallback", "filter_unroutable_families", "dns_resolver_options",
    "udp_max_queries", "query_timeout_seconds", "query_tries", "rotate_nameservers",
    "edns0_max_payload_size", "max_udp_channel_duration", "reinit_channel_on_timeout"};

// False when the entry's priority is unreadable.
bool parse_thresholds(Context& ctx, const Field& f, std::vector<CircuitBreakerThresholds>& out) {
  auto& t = out.emplace_back();
  Object o(ctx, f, {kThresholdsFields, kThresholdsNotYet});
  if (!o.ok()) return false;
  auto p = read_enum(ctx, o.get("priority"), kPriorities);
  if (p) t.priority = *p == "HIGH" ? RoutingPriority::high : RoutingPriority::default_priority;
  set_if(read_uint(ctx, o.get("max_connections"), 0, kMaxU32), t.max_connections);
  set_if(read_uint(ctx, o.get("max_pending_requests"), 0, kMaxU32), t.max_pending_requests);
  set_if(read_uint(ctx, o.get("max_requests"), 0, kMaxU32), t.max_requests);
  set_if(read_uint(ctx, o.get("max_retries"), 0, kMaxU32), t.max_retries);
  if (Field budget = o.get("retry_budget")) {
    Object b(ctx, budget, {kBudgetFields});
    if (!b.ok()) return p || !o.get("priority");
    auto& rb = t.retry_budget.emplace();
    if (Field pct = b.get("budget_percent")) set_if(read_percent(ctx, pct), rb.budget_percent);
    set_if(read_uint(ctx, b.get("min_retry_concurrency"), 0, kMaxU32), rb.min_retry_concurrency);
  }
  return p || !o.get("priority");
}

void parse_resolver_addresses(Context& ctx, const Field& list, std::vector<DnsResolverAddress>& out) {
  for_each(ctx, list, [&](const Field& item) {
    auto a = parse_address(ctx, item);
    if (!a.address) return;
    if (!upstream::is_ip_literal(*a.address))
      return ctx.problem(a.address_field, in_quotes(*a.address) + " is not an IPv4 or IPv6 address");
    DnsResolverAddress r{*a.address, 53};
    if (a.port && *a.port != 0) r.port = *a.port;
    out.push_back(r);
  });
}

// config.core.v3.TypedExtensionConfig holding a CaresDnsResolverConfig.
void parse_typed_dns_resolver(Context& ctx, const Field& f, DnsOptions& dns) {
  Object o(ctx, f, {kTypedExtensionFields});
  if (!o.ok()) return;
  if (auto name = read_string(ctx, o.get("name")); name && *name != kCaresName)
    ctx.problem(o.get("name"), in_quotes(*name) + ": only " + in_quotes(kCaresName) + " is supported");
  Object cares(ctx, o.required("typed_config"), {kCaresFields, kCaresNotYet});
  if (!cares.ok()) return;
  check_type_url(ctx, cares, kCaresType);
  parse_resolver_addresses(ctx, cares.get("resolvers"), dns.resolvers);
}

}  // namespace

void parse_circuit_breakers(Context& ctx, const Field& f, ClusterOptions& cluster) {
  if (!f) return;
  Object o(ctx, f, {kBreakersFields, kBreakersNotYet});
  if (!o.ok()) return;
  // Two entries for one priority are reported by validate_cluster (Envoy would silently
  // use one of them), unless a priority was unreadable: then that would be noise.
  bool priorities_ok = true;
  for_each(ctx, o.get("thresholds"), [&](const Field& item) {
    priorities_ok = parse_thresholds(ctx, item, cluster.circuit_breakers) && priorities_ok;
  });
  if (!priorities_ok)
    for (std::size_t i = 0; i < cluster.circuit_breakers.size(); ++i)
      ctx.suppress(f.canon + ".thresholds[" + std::to_string(i) + "].priority");
}

void parse_dns_options(Context& ctx, const Object& cluster_object, ClusterOptions& cluster) {
  auto& dns = cluster.dns;
  if (Field rate = cluster_object.get("dns_refresh_rate")) {
    // Envoy: gt 1ms.
    if (auto d = read_duration(ctx, rate)) {
      if (d->count() <= 1)
        ctx.problem(rate, "must be greater than 1ms");
      else
        dns.refresh_rate = *d;
    }
  }
  set_if(read_bool(ctx, cluster_object.get("respect_dns_ttl")), dns.respect_dns_ttl);
  if (auto family = read_enum(ctx, cluster_object.get("dns_lookup_family"), kLookupFamilies)) {
    if (*family == "V4_ONLY") dns.lookup_family = DnsLookupFamily::v4_only;
    else if (*family == "V6_ONLY") dns.lookup_family = DnsLookupFamily::v6_only;
    else if (*family == "V4_PREFERRED") dns.lookup_family = DnsLookupFamily::v4_preferred;
    else if (*family == "ALL") dns.lookup_family = DnsLookupFamily::all;
    else dns.lookup_family = DnsLookupFamily::auto_;
  }
  Field typed = cluster_object.get("typed_dns_resolver_config");
  Field legacy = cluster_object.get("dns_resolvers");
  if (typed && legacy)
    ctx.problem(legacy, "set either dns_resolvers or typed_dns_resolver_config, not both");
  if (typed) parse_typed_dns_resolver(ctx, typed, dns);
  else parse_resolver_addresses(ctx, legacy, dns.resolvers);
}

}  // namespace ferry::config::detail
