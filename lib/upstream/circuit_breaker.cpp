#include "upstream/circuit_breaker.hpp"

#include <algorithm>
#include <cmath>

namespace ferry::upstream {

std::uint64_t retry_budget_limit(double budget_percent, std::uint32_t min_retry_concurrency,
                                 std::uint64_t active_requests, std::uint64_t pending_requests) noexcept {
  // Envoy (ResourceManagerImpl::RetryCountBudget::max): the share is truncated, and the
  // minimum holds even when the share is smaller.
  double share = budget_percent / 100.0 * double(active_requests + pending_requests);
  return std::max<std::uint64_t>(std::uint64_t(share), min_retry_concurrency);
}

void PriorityResources::apply(const CircuitBreakerThresholds& t) noexcept {
  connections.set_max(t.max_connections);
  pending_requests.set_max(t.max_pending_requests);
  requests.set_max(t.max_requests);
  retries.set_max(t.max_retries);
  constexpr auto relaxed = std::memory_order_relaxed;
  if (t.retry_budget) {
    budget_percent.store(t.retry_budget->budget_percent, relaxed);
    min_retry_concurrency.store(t.retry_budget->min_retry_concurrency, relaxed);
  }
  use_budget.store(t.retry_budget.has_value(), relaxed);
}

std::uint64_t PriorityResources::retry_limit() const noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  if (!use_budget.load(relaxed)) return retries.max();
  return retry_budget_limit(budget_percent.load(relaxed), min_retry_concurrency.load(relaxed), requests.count(),
                            pending_requests.count());
}

bool PriorityResources::try_acquire_retry() noexcept {
  if (retries.try_acquire(retry_limit())) return true;
  overflows.rq_retry_overflow.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void CircuitBreakers::apply(const std::vector<CircuitBreakerThresholds>& thresholds) noexcept {
  for (auto p : {RoutingPriority::default_priority, RoutingPriority::high}) {
    CircuitBreakerThresholds limits;  // Envoy's defaults when the priority has no entry
    for (const auto& t : thresholds)
      if (t.priority == p) limits = t;
    at(p).apply(limits);
  }
}

void validate_circuit_breakers(const std::vector<CircuitBreakerThresholds>& thresholds,
                               const std::string& path, std::vector<ConfigProblem>& problems) {
  bool seen[2] = {false, false};
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    const auto& t = thresholds[i];
    auto at = path + ".thresholds[" + std::to_string(i) + "]";
    auto p = static_cast<std::size_t>(t.priority);
    if (p > 1) {
      problems.push_back({at + ".priority", "must be DEFAULT or HIGH"});
      continue;
    }
    if (seen[p])
      problems.push_back({at + ".priority", std::string("a second entry for priority ") +
                                                (p == 0 ? "DEFAULT" : "HIGH")});
    seen[p] = true;
    if (t.retry_budget) {
      auto pct = t.retry_budget->budget_percent;
      if (!std::isfinite(pct) || pct < 0 || pct > 100)
        problems.push_back({at + ".retry_budget.budget_percent", "must be between 0 and 100"});
    }
  }
}

bool StreamBreaker::begin(PriorityResources& level) noexcept {
  release();
  if (!level.requests.try_acquire()) {
    // Envoy counts a max_requests overflow as upstream_rq_pending_overflow too.
    level.overflows.rq_pending_overflow.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  level_ = &level;
  return true;
}

bool StreamBreaker::allow_retry() noexcept {
  if (!level_) return true;
  if (retry_) {
    level_->retries.release();
    retry_ = false;
  }
  retry_ = level_->try_acquire_retry();
  return retry_;
}

void StreamBreaker::release() noexcept {
  if (!level_) return;
  if (retry_) level_->retries.release();
  level_->requests.release();
  level_ = nullptr;
  retry_ = false;
}

}  // namespace ferry::upstream
