// Upstream cluster options (Envoy's Cluster, the STATIC subset built so far), active health
// checks, and the host status the server reports.
//
// Thread safety: plain values; build on one thread, then hand to Server::add_cluster (or
// update_cluster / update_endpoints while the server runs).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <ferry/tls.hpp>
#include <ferry/types.hpp>

namespace ferry {

/// One upstream address. `address` is a numeric IPv4 or IPv6 literal.
struct Endpoint {
  std::string address{};
  std::uint16_t port = 0;
  std::uint32_t weight = 1;  ///< load_balancing_weight, >= 1
  /// LocalityLbEndpoints.priority: 0 is the highest. Traffic spills to the next priority as
  /// the healthy share of a level drops below 100% / overprovisioning factor (1.4).
  std::uint32_t priority = 0;
};

/// A half-open range of HTTP statuses [start, end) (Envoy's type.v3.Int64Range).
struct StatusRange {
  std::int64_t start = 200;
  std::int64_t end = 201;
};

/// HealthCheck.http_health_check: healthy when the response status is expected.
struct HttpHealthCheck {
  std::string path{};    ///< required, e.g. "/healthz"
  std::string host{};    ///< Host header; empty = the cluster's name (as Envoy)
  std::string method{};  ///< empty = GET
  std::vector<StatusRange> expected_statuses{};  ///< empty = 200 only
};

/// HealthCheck.tcp_health_check: connect, optionally send bytes and expect some back.
/// Without `send` the check is connect-only. Each `receive` block must be found in the
/// response in order, not necessarily contiguous (Envoy's fuzzy matching).
struct TcpHealthCheck {
  std::string send{};                  ///< raw bytes (the config's hex `text`, decoded)
  std::vector<std::string> receive{};  ///< raw bytes per block
};

/// One active health check (Envoy's config.core.v3.HealthCheck subset).
struct HealthCheckOptions {
  Duration timeout{};   ///< required, > 0
  Duration interval{};  ///< required, > 0
  Duration interval_jitter{0};              ///< a random 0..jitter added to each interval
  std::uint32_t interval_jitter_percent = 0;  ///< a random 0..interval x percent/100 added
  std::uint32_t unhealthy_threshold = 0;  ///< required, >= 1: consecutive failures to eject
  std::uint32_t healthy_threshold = 0;    ///< required, >= 1: consecutive passes to return
  /// Interval while the cluster has never carried traffic (Envoy's default 60 s).
  Duration no_traffic_interval{std::chrono::seconds(60)};
  std::variant<HttpHealthCheck, TcpHealthCheck> check{};
};

/// Health flags of a host (Envoy's Host::HealthFlag subset), as bits of HostStatus::flags.
enum HostHealthFlag : std::uint32_t {
  failed_active_hc = 1,     ///< the active health check says unhealthy (or has not passed yet)
  pending_active_hc = 2,    ///< not checked yet (always together with failed_active_hc)
  failed_outlier_check = 4  ///< ejected by outlier detection
};

/// One host of a cluster as the server sees it now (Server::cluster_hosts).
struct HostStatus {
  std::string address{};  ///< "ip:port" ("[ip6]:port")
  std::uint32_t weight = 1;
  std::uint32_t priority = 0;
  std::uint32_t flags = 0;  ///< HostHealthFlag bits
  bool healthy() const noexcept { return (flags & (failed_active_hc | failed_outlier_check)) == 0; }
};

enum class LbPolicy {
  round_robin,    ///< Envoy's ROUND_ROBIN: plain rotation, or EDF when weights differ
  least_request,  ///< LEAST_REQUEST: power of d choices, or EDF on weight/(active+1)^bias
  random,         ///< RANDOM: uniform, weighted by load_balancing_weight
  ring_hash,      ///< RING_HASH: ketama ring on xxHash64 of "address_i"; random without a hash
  maglev,         ///< MAGLEV: Maglev lookup table (prime size); random without a hash
  /// ferry's own, not an Envoy value: power of two choices on cost = peak EWMA of observed
  /// latency, scaled up by the requests in flight above the load it was measured at (Finagle
  /// and Linkerd multiply by active requests + 1; see PeakEwmaOptions). Weights are ignored.
  peak_ewma,
};

/// least_request_lb_config.
struct LeastRequestOptions {
  std::uint32_t choice_count = 2;    ///< hosts sampled per pick when weights are equal, >= 2
  double active_request_bias = 1.0;  ///< exponent on (active + 1) when weights differ, >= 0
};

/// ring_hash_lb_config (hash_function XX_HASH only).
struct RingHashOptions {
  std::uint64_t minimum_ring_size = 1024;     ///< >= 1, <= maximum_ring_size
  std::uint64_t maximum_ring_size = 8388608;  ///< <= 8M
};

/// maglev_lb_config.
struct MaglevOptions {
  std::uint64_t table_size = 65537;  ///< must be prime and <= 5000011
};

/// Options of LbPolicy::peak_ewma. Per worker and host: a latency estimate (a sample above
/// it replaces it at once; lower ones are averaged in, each weighing 1 - exp(-dt/decay) and
/// at least 1/16, so a busy host forgets one hiccup after ~16-32 contradicting samples) and
/// the average number of requests in flight when the samples started (last ~8 samples). A
/// host's cost = estimate x max(1, (active + 1) / that average): more load than measured
/// costs more in proportion, as in Finagle; the load already measured is not counted
/// twice. A never-sampled host gets one request until it answers (Finagle's penalty).
struct PeakEwmaOptions {
  /// Decay constant tau of the latency average: a sample older by dt weighs exp(-dt/tau).
  /// 10 s (Finagle's and Linkerd's default) forgets a slow spell of a lightly used host
  /// within tens of seconds; an idle host's estimate also decays towards 0, so a host that
  /// recovered is probed again (a 10x slower idle one about every 23 s) instead of being
  /// starved forever. Shorter values (0.1-1 s) did not change the 10x test's figures.
  Duration decay{std::chrono::seconds(10)};
};

/// outlier_detection (Envoy's OutlierDetection): passive health. Hosts whose responses fail
/// are ejected from load balancing for base_ejection_time x (times ejected, decaying while
/// healthy), capped by max_ejection_time. Consecutive-failure ejections happen as the Nth
/// failure is seen; success rate and failure percentage are judged every `interval` over
/// the requests of the last interval. Percentages are 0..100; `enforcing_*` is the chance a
/// detected outlier is really ejected (0 = detect and count only).
struct OutlierDetectionOptions {
  std::uint32_t consecutive_5xx = 5;
  std::uint32_t consecutive_gateway_failure = 5;  ///< 502, 503, 504 (and local errors unsplit)
  /// Counted only with split_external_local_origin_errors (connect failures, timeouts, resets).
  std::uint32_t consecutive_local_origin_failure = 5;
  Duration interval{std::chrono::seconds(10)};             ///< > 0
  Duration base_ejection_time{std::chrono::seconds(30)};   ///< > 0
  /// Cap of the ejection time; unset = max(300 s, base_ejection_time). >= base_ejection_time.
  std::optional<Duration> max_ejection_time{};
  Duration max_ejection_time_jitter{0};  ///< a random 0..jitter added to each ejection
  std::uint32_t max_ejection_percent = 10;
  /// One host may be ejected even when max_ejection_percent allows none (fewer than 10 hosts
  /// at 10%). ferry defaults to true (Envoy's documented rule before 1.31); Envoy 1.31+
  /// added the field with false.
  bool always_eject_one_host = true;
  /// Local-origin errors (connect failure, timeout, reset) get their own counters instead
  /// of counting as 503/504 responses.
  bool split_external_local_origin_errors = false;
  std::uint32_t enforcing_consecutive_5xx = 100;
  std::uint32_t enforcing_consecutive_gateway_failure = 0;
  std::uint32_t enforcing_consecutive_local_origin_failure = 100;
  std::uint32_t enforcing_success_rate = 100;
  std::uint32_t enforcing_local_origin_success_rate = 100;
  std::uint32_t success_rate_minimum_hosts = 5;
  std::uint32_t success_rate_request_volume = 100;
  std::uint32_t success_rate_stdev_factor = 1900;  ///< thousandths: 1900 = 1.9 stdev
  std::uint32_t failure_percentage_threshold = 85;
  std::uint32_t enforcing_failure_percentage = 0;
  std::uint32_t enforcing_failure_percentage_local_origin = 0;
  std::uint32_t failure_percentage_minimum_hosts = 5;
  std::uint32_t failure_percentage_request_volume = 50;
  /// A passing active health check returns an ejected host at once.
  bool successful_active_health_check_uneject_host = true;

  bool operator==(const OutlierDetectionOptions&) const = default;
};

/// circuit_breakers.thresholds[].retry_budget: the retries allowed at once are
/// budget_percent of the cluster's active + pending requests, at least min_retry_concurrency.
struct RetryBudget {
  double budget_percent = 20.0;  ///< 0..100
  std::uint32_t min_retry_concurrency = 3;
};

/// circuit_breakers.thresholds[]: limits of one priority, shared by all workers. Overflow
/// of connections queues requests (up to max_pending_requests); overflow of pending
/// requests or requests answers 503 with flag UO and `x-envoy-overloaded: true`; a retry
/// over the limit is not made (the last response goes to the client).
struct CircuitBreakerThresholds {
  RoutingPriority priority = RoutingPriority::default_priority;
  std::uint32_t max_connections = 1024;
  std::uint32_t max_pending_requests = 1024;  ///< requests waiting for a connection
  std::uint32_t max_requests = 1024;          ///< requests in flight
  std::uint32_t max_retries = 3;              ///< retries in progress at once
  std::optional<RetryBudget> retry_budget{};  ///< replaces max_retries when set
};

/// How a cluster finds its hosts (Envoy's Cluster.type).
enum class ClusterType : std::uint8_t {
  static_,      ///< STATIC: endpoint addresses are IP literals
  strict_dns,   ///< STRICT_DNS: every address an endpoint's name resolves to is a host
  logical_dns,  ///< LOGICAL_DNS: one endpoint, one host; new connections go to the first
                ///< address of the latest answer
};

/// Envoy's dns_lookup_family.
enum class DnsLookupFamily : std::uint8_t {
  auto_,         ///< AUTO: IPv6 addresses, or IPv4 when there are none
  v4_only,       ///< V4_ONLY
  v6_only,       ///< V6_ONLY
  v4_preferred,  ///< V4_PREFERRED: IPv4 addresses, or IPv6 when there are none
  all,           ///< ALL: both families
};

/// A DNS server to ask (Envoy's typed_dns_resolver_config resolvers / dns_resolvers).
struct DnsResolverAddress {
  std::string address{};  ///< numeric IPv4 or IPv6
  std::uint16_t port = 53;
};

/// Resolution of STRICT_DNS and LOGICAL_DNS clusters. Names are resolved with c-ares on the
/// server's control thread, never on a worker.
struct DnsOptions {
  Duration refresh_rate{std::chrono::milliseconds(5000)};  ///< dns_refresh_rate, > 0
  /// respect_dns_ttl: the next refresh comes after the answer's smallest TTL instead of
  /// refresh_rate (refresh_rate when the TTL is 0 or there was no answer), as in Envoy.
  bool respect_dns_ttl = false;
  DnsLookupFamily lookup_family = DnsLookupFamily::auto_;
  /// Empty: the system's resolvers (/etc/resolv.conf).
  std::vector<DnsResolverAddress> resolvers{};
};

struct ClusterOptions {
  std::string name{};
  /// STRICT_DNS / LOGICAL_DNS: endpoint addresses are host names (or IP literals), and
  /// `dns` says how they are resolved.
  ClusterType type = ClusterType::static_;
  DnsOptions dns{};
  std::vector<Endpoint> endpoints{};
  LbPolicy lb_policy = LbPolicy::round_robin;
  LeastRequestOptions least_request{};  ///< used by LbPolicy::least_request
  RingHashOptions ring_hash{};          ///< used by LbPolicy::ring_hash
  MaglevOptions maglev{};               ///< used by LbPolicy::maglev
  PeakEwmaOptions peak_ewma{};          ///< used by LbPolicy::peak_ewma
  Duration connect_timeout{std::chrono::seconds(5)};
  /// Upstream connection idle timeout (HttpProtocolOptions.common_http_protocol_options).
  Duration idle_timeout{std::chrono::hours(1)};
  /// Close an upstream connection after this many requests; 0 = unlimited.
  std::uint32_t max_requests_per_connection = 0;
  /// Idle connections kept per host per worker; more are closed when released.
  std::uint32_t max_idle_connections_per_host = 1024;
  /// Active health checks (at most one so far). With one, every host starts unhealthy
  /// until its first check passes, as in Envoy.
  std::vector<HealthCheckOptions> health_checks{};
  /// common_lb_config.healthy_panic_threshold, percent (0 disables panic).
  double healthy_panic_threshold = 50.0;
  /// Overprovisioning factor of priority spill-over, percent (Envoy's default 140).
  std::uint32_t overprovisioning_factor = 140;
  /// Passive outlier detection; unset = off (as in Envoy without an outlier_detection block).
  std::optional<OutlierDetectionOptions> outlier_detection{};
  /// circuit_breakers.thresholds: at most one entry per priority; a priority without one
  /// gets Envoy's defaults (1024 connections, 1024 pending, 1024 requests, 3 retries).
  std::vector<CircuitBreakerThresholds> circuit_breakers{};
  /// transport_socket envoy.transport_sockets.tls (UpstreamTlsContext); unset = plain TCP.
  /// Its files are read when the cluster is added; a failed handshake answers 503 (UF).
  std::optional<UpstreamTlsOptions> tls{};
};

/// Checks one cluster on its own; problems are reported under `path_prefix`.
void validate_cluster(const ClusterOptions& cluster, const std::string& path_prefix,
                      std::vector<ConfigProblem>& problems);

}  // namespace ferry
