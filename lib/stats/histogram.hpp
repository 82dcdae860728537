// Histogram layout and bucket arithmetic.
//
// Values are kept as integers in thousandths of the unit ("raw": microseconds for a
// millisecond histogram). A histogram is a run of kHistogramSlots slots:
//   [0] count, [1] sum of raw values,
//   [2, 2 + kPromIntervals): how many values fell in each interval of Envoy's default
//       Prometheus buckets (<= 0.5 ms, <= 1 ms, ..., <= 3600000 ms, above), exact,
//   [kLogBase, kLogBase + kLogBuckets): log-linear buckets, 16 per power of two (each at
//       most 1/16 = 6.25% of its lower bound wide), for quantiles.
// Recording is four slot increments plus a few shifts and compares.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace ferry::stats {

inline constexpr std::array<double, 19> kBucketBoundsMs = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};
/// The same bounds in raw units (thousandths).
inline constexpr std::array<std::uint64_t, 19> kBucketBoundsRaw = {
    500, 1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
    10000000, 30000000, 60000000, 300000000, 600000000, 1800000000, 3600000000};

constexpr std::uint32_t kPromIntervals = 20;  // 19 bounds + above the last
constexpr unsigned kSubBits = 4;              // 16 sub-buckets per power of two
constexpr unsigned kMaxExponent = 47;         // raw values >= 2^48 share the last bucket
constexpr std::uint32_t kLogBuckets = (kMaxExponent - kSubBits + 1) * (1u << kSubBits) + (1u << kSubBits);
constexpr std::uint32_t kLogBase = 2 + kPromIntervals;
constexpr std::uint32_t kHistogramSlots = kLogBase + kLogBuckets;

/// Log-linear bucket of a raw value: values below 32 have their own bucket; above, the
/// exponent and the next four bits pick it.
constexpr std::uint32_t log_bucket(std::uint64_t v) noexcept {
  if (v < (1u << kSubBits)) return std::uint32_t(v);
  unsigned e = 63u - unsigned(std::countl_zero(v));
  if (e > kMaxExponent) return kLogBuckets - 1;
  return (e - kSubBits + 1) * (1u << kSubBits) + std::uint32_t((v >> (e - kSubBits)) & ((1u << kSubBits) - 1));
}

/// [lower, upper) of a log-linear bucket, in raw units.
constexpr void log_bucket_range(std::uint32_t i, double& lower, double& upper) noexcept {
  if (i < (1u << kSubBits)) {
    lower = i;
    upper = i + 1.0;
    return;
  }
  unsigned e = i / (1u << kSubBits) + kSubBits - 1;
  std::uint64_t m = i % (1u << kSubBits);
  std::uint64_t width = std::uint64_t(1) << (e - kSubBits);
  lower = double(((1u << kSubBits) + m) * width);
  upper = lower + double(width);
}

/// Interval of Envoy's default buckets a raw value falls in (values are mostly small, so a
/// scan from the bottom ends after a step or two).
constexpr std::uint32_t prom_interval(std::uint64_t v) noexcept {
  std::uint32_t i = 0;
  while (i < kBucketBoundsRaw.size() && v > kBucketBoundsRaw[i]) ++i;
  return i;
}

}  // namespace ferry::stats
