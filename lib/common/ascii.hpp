// ASCII case helpers for protocol text (header names, hosts, paths). Locale-free on purpose:
// HTTP case rules are ASCII-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ferry::detail {

inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

/// `s` without the optional whitespace (SP, HTAB) HTTP allows around list items and values.
inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Lower-cases the ASCII letters among eight bytes at once (bytes >= 0x80 stay as they are).
inline std::uint64_t lower8(std::uint64_t x) noexcept {
  constexpr std::uint64_t k7f = 0x7F7F7F7F7F7F7F7Full, k80 = 0x8080808080808080ull;
  std::uint64_t low7 = x & k7f;
  std::uint64_t above_z = low7 + 0x2525252525252525ull;  // high bit set when > 'Z'
  std::uint64_t from_a = low7 + 0x3F3F3F3F3F3F3F3Full;   // high bit set when >= 'A'
  std::uint64_t upper = (from_a ^ above_z) & ~x & k80;
  return x | (upper >> 2);
}

/// Loads the `n` bytes at `p` (4 <= n <= 8) as one word: two overlapping four-byte loads.
/// Two runs of the same length compare equal exactly when their words do.
inline std::uint64_t load4to8(const char* p, std::size_t n) noexcept {
  std::uint32_t lo, hi;
  std::memcpy(&lo, p, 4);
  std::memcpy(&hi, p + n - 4, 4);
  return lo | (std::uint64_t(hi) << 32);
}

/// Case-insensitive equality of `n` bytes at `a` and `b`, eight bytes per step; `b` is
/// lowered too unless it is known to be lower-case already (kLowerB false).
template <bool kLowerB>
[[gnu::always_inline]] inline bool ascii_iequals(const char* a, const char* b, std::size_t n) noexcept {
  auto lb = [](std::uint64_t y) { return kLowerB ? lower8(y) : y; };
  auto same8 = [&](std::size_t at) {
    std::uint64_t x, y;
    std::memcpy(&x, a + at, 8);
    std::memcpy(&y, b + at, 8);
    return lower8(x) == lb(y);
  };
  if (n < 8) {
    if (n >= 4) return lower8(load4to8(a, n)) == lb(load4to8(b, n));
    for (std::size_t i = 0; i < n; ++i)
      if (lower(a[i]) != (kLowerB ? lower(b[i]) : b[i])) return false;
    return true;
  }
  for (std::size_t i = 0; i + 8 < n; i += 8)
    if (!same8(i)) return false;
  return same8(n - 8);  // the last eight bytes, overlapping the step before when n % 8 != 0
}

/// ASCII case-insensitive equality of two equally long byte runs: header names are compared
/// on every request, so this is on the hot path.
inline bool iequals_n(const char* a, const char* b, std::size_t n) noexcept { return ascii_iequals<true>(a, b, n); }

/// Whether the `lowered.size()` bytes at `s` equal `lowered` (already lower-case) ignoring ASCII
/// case: only `s` is lowered. Always inlined: callers pass literals, whose length folds the
/// branches away.
[[gnu::always_inline]] inline bool equals_lower(const char* s, std::string_view lowered) noexcept {
  return ascii_iequals<false>(s, lowered.data(), lowered.size());
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

}  // namespace ferry::detail
