#include "router/retry.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace ferry::router {

namespace {
struct Name {
  std::string_view name;
  std::uint32_t bit;
};
constexpr Name kNames[] = {
    {"5xx", CompiledRetry::k5xx},
    {"gateway-error", CompiledRetry::kGatewayError},
    {"reset", CompiledRetry::kReset},
    {"connect-failure", CompiledRetry::kConnectFailure},
    {"retriable-4xx", CompiledRetry::kRetriable4xx},
    {"retriable-status-codes", CompiledRetry::kRetriableStatusCodes},
    {"retriable-headers", CompiledRetry::kRetriableHeaders},
    {"refused-stream", CompiledRetry::kRefusedStream},
};
}  // namespace

bool apply_retry_headers(const CompiledRetry* route, std::string_view retry_on, std::string_view max_retries,
                         CompiledRetry& out) {
  if (retry_on.empty() && max_retries.empty()) return false;
  std::uint32_t extra = 0;
  while (!retry_on.empty()) {
    auto comma = retry_on.find(',');
    auto token = retry_on.substr(0, comma);
    retry_on = comma == std::string_view::npos ? std::string_view{} : retry_on.substr(comma + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    for (const auto& n : kNames)
      if (n.name == token) extra |= n.bit;
  }
  std::uint32_t count = 0;
  bool has_count = false;
  if (!max_retries.empty()) {
    auto [end, ec] = std::from_chars(max_retries.data(), max_retries.data() + max_retries.size(), count);
    has_count = ec == std::errc() && end == max_retries.data() + max_retries.size();
  }
  if (!route && extra == 0) return false;  // nothing to retry on
  if (!has_count && extra == 0) return false;
  out = route ? *route : CompiledRetry{};
  out.on |= extra;
  if (has_count) out.num_retries = count;
  return true;
}

bool CompiledRetry::retries(AttemptFailure failure, int status) const noexcept {
  switch (failure) {
    // Envoy counts a connect failure and a reset as "5xx" too (no response at all), and a
    // connect failure as a gateway error (it answers 503 for it).
    case AttemptFailure::connect_failure:
      return on & (k5xx | kGatewayError | kConnectFailure | kReset);
    case AttemptFailure::reset:
      return on & (k5xx | kReset);
    case AttemptFailure::timeout:
      return on & (k5xx | kGatewayError);
    case AttemptFailure::status:
      if ((on & k5xx) && status >= 500) return true;
      if ((on & kGatewayError) && (status == 502 || status == 503 || status == 504)) return true;
      if ((on & kRetriable4xx) && status == 409) return true;
      return (on & kRetriableStatusCodes) &&
             std::find(retriable_status_codes.begin(), retriable_status_codes.end(),
                       std::uint32_t(status)) != retriable_status_codes.end();
  }
  return false;
}

bool CompiledRetry::retries_headers(const HeaderMap& response, detail::Arena& arena) const {
  if (!(on & kRetriableHeaders)) return false;
  for (const auto& m : retriable_headers)
    if (m.match(response, arena)) return true;
  return false;
}

std::shared_ptr<const CompiledRetry> compile_retry(const RetryPolicy& policy, const std::string& path,
                                                   std::vector<ConfigProblem>& problems) {
  auto out = std::make_shared<CompiledRetry>();
  for (std::size_t i = 0; i < policy.retry_on.size(); ++i) {
    auto it = std::find_if(std::begin(kNames), std::end(kNames),
                           [&](const Name& n) { return n.name == policy.retry_on[i]; });
    if (it == std::end(kNames)) {
      problems.push_back({path + ".retry_on[" + std::to_string(i) + "]",
                          "unknown or not yet supported retry condition \"" + policy.retry_on[i] + "\""});
      continue;
    }
    out->on |= it->bit;
  }
  if (policy.base_interval.count() <= 0)
    problems.push_back({path + ".retry_back_off.base_interval", "must be greater than 0"});
  out->num_retries = policy.num_retries;
  out->per_try_timeout = policy.per_try_timeout;
  out->base_interval = policy.base_interval;
  out->max_interval = policy.max_interval.count() > 0 ? policy.max_interval : policy.base_interval * 10;
  if (out->max_interval < out->base_interval)
    problems.push_back({path + ".retry_back_off.max_interval", "must not be below base_interval"});
  out->retriable_status_codes = policy.retriable_status_codes;
  for (std::size_t i = 0; i < policy.retriable_headers.size(); ++i) {
    std::string error;
    if (auto m = HeaderMatch::compile(policy.retriable_headers[i], error)) out->retriable_headers.push_back(std::move(*m));
    else problems.push_back({path + ".retriable_headers[" + std::to_string(i) + "]", error});
  }
  out->avoid_previous_hosts = policy.avoid_previous_hosts;
  out->retry_non_idempotent = policy.retry_non_idempotent;
  out->host_selection_retry_max_attempts = std::max<std::uint32_t>(1, policy.host_selection_retry_max_attempts);
  return out;
}

Duration backoff_delay(std::uint32_t retry, Duration base, Duration max, std::uint64_t random) noexcept {
  std::int64_t factor = retry >= 31 ? std::int64_t(1) << 31 : (std::int64_t(1) << retry) - 1;
  std::int64_t ceiling = std::min<std::int64_t>(factor * base.count(), max.count());
  if (ceiling <= 0) return Duration{0};
  return Duration{std::int64_t(random % std::uint64_t(ceiling))};
}

bool known_retry_condition(std::string_view name) noexcept {
  return std::any_of(std::begin(kNames), std::end(kNames), [&](const Name& n) { return n.name == name; });
}

bool is_idempotent(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

}  // namespace ferry::router
