#include "upstream/lb/load_aware.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace ferry::upstream {

namespace {
bool all_equal(std::span<const std::uint32_t> w) {
  return std::adjacent_find(w.begin(), w.end(), std::not_equal_to<>()) == w.end();
}
}  // namespace

// --- RANDOM ------------------------------------------------------------------------------

RandomLb::RandomLb(std::span<const std::uint32_t> weights, std::uint64_t seed)
    : rng_(seed), size_(weights.size()) {
  if (all_equal(weights)) return;
  std::uint64_t total = 0;
  for (auto w : weights) cumulative_.push_back(total += w);
}

std::size_t RandomLb::pick() {
  if (cumulative_.empty()) return std::size_t(rng_.below(size_));
  auto r = rng_.below(cumulative_.back());
  return std::size_t(std::upper_bound(cumulative_.begin(), cumulative_.end(), r) - cumulative_.begin());
}

// --- LEAST_REQUEST -----------------------------------------------------------------------

LeastRequestLb::LeastRequestLb(std::span<const std::uint32_t> weights, std::span<const HostLoad> loads,
                               LeastRequestOptions options, std::uint64_t seed)
    : weights_(weights.begin(), weights.end()), loads_(loads), options_(options), rng_(seed) {
  weighted_ = !all_equal(weights);
  if (options_.choice_count < 2) options_.choice_count = 2;
  if (!weighted_) return;
  for (std::size_t i = 0; i < weights_.size(); ++i) edf_.push({now_ + 1.0 / effective_weight(i), order_++, i});
  // A seeded start, as for round robin, so that workers do not move in lock-step.
  for (auto n = seed % (weights_.size() * 4); n > 0; --n) pick({});
}

double LeastRequestLb::effective_weight(std::size_t host) const {
  double w = weights_[host];
  double bias = options_.active_request_bias;
  auto active = loads_[host].active;
  if (bias == 0 || active == 0) return w;
  if (bias == 1.0) return w / (active + 1.0);
  return w / std::pow(active + 1.0, bias);
}

std::size_t LeastRequestLb::pick(const LbContext&) {
  if (!weighted_) {
    std::size_t best = std::size_t(rng_.below(loads_.size()));
    for (std::uint32_t i = 1; i < options_.choice_count; ++i) {
      auto other = std::size_t(rng_.below(loads_.size()));
      if (loads_[other].active < loads_[best].active) best = other;
    }
    return best;
  }
  Entry e = edf_.top();
  edf_.pop();
  now_ = e.deadline;
  edf_.push({now_ + 1.0 / effective_weight(e.host), order_++, e.host});
  return e.host;
}

// --- PEAK_EWMA ---------------------------------------------------------------------------

PeakEwmaLb::PeakEwmaLb(std::span<const HostLoad> loads, PeakEwmaOptions options, std::uint64_t seed,
                       const TimeSource& time)
    : loads_(loads),
      tau_ns_(std::max<double>(1.0, double(std::chrono::duration_cast<std::chrono::nanoseconds>(options.decay).count()))),
      rng_(seed),
      time_(time) {}

double PeakEwmaLb::estimate(std::size_t host, std::int64_t now_ns) const {
  const auto& l = loads_[host];
  if (l.ewma_ns == 0 || now_ns <= l.stamp_ns) return l.ewma_ns;
  return l.ewma_ns * std::exp(-double(now_ns - l.stamp_ns) / tau_ns_);
}

double PeakEwmaLb::cost(std::size_t host, std::int64_t now_ns) const {
  const auto& l = loads_[host];
  if (l.ewma_ns == 0) return l.active == 0 ? 0.0 : kUnknownPenalty + l.active;
  // Above the load it was measured at, the latency is taken to grow in proportion (a
  // queue); below it, not to shrink (the host may serve requests in parallel).
  return estimate(host, now_ns) * std::max((l.active + 1.0) / std::max(l.load_ewma, 1.0), 1.0);
}

void PeakEwmaLb::observe(HostLoad& load, std::int64_t latency_ns, std::uint32_t started_with, std::int64_t now_ns,
                         double tau_ns) noexcept {
  double sample = double(std::max<std::int64_t>(latency_ns, 0));
  double dt = double(std::max<std::int64_t>(now_ns - load.stamp_ns, 0));
  double with = std::max(double(started_with), 1.0);
  if (load.ewma_ns == 0) {
    load.ewma_ns = std::max(sample, 1.0);  // 0 means "never sampled"
    load.load_ewma = with;
  } else {
    if (sample > load.ewma_ns) {
      load.ewma_ns = sample;
    } else {
      double keep = std::min(std::exp(-dt / tau_ns), 1 - kMinSampleWeight);
      load.ewma_ns = load.ewma_ns * keep + sample * (1 - keep);
    }
    load.load_ewma += (with - load.load_ewma) * kLoadWeight;
  }
  load.stamp_ns = std::max(load.stamp_ns, now_ns);
}

std::size_t PeakEwmaLb::pick(const LbContext&) {
  auto n = loads_.size();
  if (n == 1) return 0;
  auto a = std::size_t(rng_.below(n));
  auto b = std::size_t(rng_.below(n - 1));
  if (b >= a) ++b;  // two distinct hosts
  auto now = time_.now_ns();
  double ca = cost(a, now), cb = cost(b, now);
  if (ca != cb) return ca < cb ? a : b;
  return loads_[b].active < loads_[a].active ? b : a;
}

}  // namespace ferry::upstream
