// Retry policies compiled for the data path: conditions as bits, the back-off schedule,
// and the decisions the session asks for after each failed attempt.
//
// Thread safety: CompiledRetry is immutable and shared by workers; the functions are pure.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ferry/router.hpp>

#include "router/matchers.hpp"

namespace ferry::router {

/// What went wrong with one attempt.
enum class AttemptFailure : std::uint8_t {
  connect_failure,  ///< nothing reached the upstream
  reset,            ///< the upstream closed or reset before response headers
  timeout,          ///< the per-try timeout passed before response headers
  status,           ///< response headers arrived with a status (see the status argument)
};

struct CompiledRetry {
  enum On : std::uint32_t {
    k5xx = 1u << 0,
    kGatewayError = 1u << 1,
    kReset = 1u << 2,
    kConnectFailure = 1u << 3,
    kRetriable4xx = 1u << 4,
    kRetriableStatusCodes = 1u << 5,
    kRetriableHeaders = 1u << 6,
    kRefusedStream = 1u << 7,  ///< HTTP/2 only: never fires on HTTP/1.1
  };
  std::uint32_t on = 0;
  std::uint32_t num_retries = 1;
  Duration per_try_timeout{0};
  Duration base_interval{25};
  Duration max_interval{250};
  std::vector<std::uint32_t> retriable_status_codes;
  std::vector<HeaderMatch> retriable_headers;
  bool avoid_previous_hosts = false;
  std::uint32_t host_selection_retry_max_attempts = 1;
  bool retry_non_idempotent = false;

  /// Whether the policy retries this failure (before counting attempts).
  bool retries(AttemptFailure failure, int status = 0) const noexcept;
  /// "retriable-headers": whether the response headers ask for a retry.
  bool retries_headers(const HeaderMap& response, detail::Arena& arena) const;
};

/// Compiles `policy`; unknown retry_on names are problems under `path` (".retry_on[i]").
std::shared_ptr<const CompiledRetry> compile_retry(const RetryPolicy& policy, const std::string& path,
                                                   std::vector<ConfigProblem>& problems);

/// Envoy's fully jittered exponential back-off before retry number `retry` (1 for the first
/// retry): uniform in [0, min((2^retry - 1) x base, max)). `random` is any uniform value.
Duration backoff_delay(std::uint32_t retry, Duration base, Duration max, std::uint64_t random) noexcept;

/// Envoy's request headers x-envoy-retry-on (conditions ORed with the route's) and
/// x-envoy-max-retries (replaces num_retries) over the route's policy `route` (may be null:
/// the headers alone then make a policy with Envoy's defaults). Only for internal clients.
/// Unknown conditions are ignored, like Envoy. False when the headers change nothing.
bool apply_retry_headers(const CompiledRetry* route, std::string_view retry_on, std::string_view max_retries,
                         CompiledRetry& out);

/// Whether `name` is a retry_on condition ferry implements.
bool known_retry_condition(std::string_view name) noexcept;

/// Methods whose repetition is harmless (RFC 9110 9.2.2).
bool is_idempotent(std::string_view method) noexcept;

}  // namespace ferry::router
