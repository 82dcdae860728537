// ASCII case helpers for protocol text (header names, hosts, paths). Locale-free on purpose:
// HTTP case rules are ASCII-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ferry::detail {

inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

/// Lower-cases the ASCII letters among eight bytes at once (bytes >= 0x80 stay as they are).
inline std::uint64_t lower8(std::uint64_t x) noexcept {
  constexpr std::uint64_t k7f = 0x7F7F7F7F7F7F7F7Full, k80 = 0x8080808080808080ull;
  std::uint64_t low7 = x & k7f;
  std::uint64_t above_z = low7 + 0x2525252525252525ull;  // high bit set when > 'Z'
  std::uint64_t from_a = low7 + 0x3F3F3F3F3F3F3F3Full;   // high bit set when >= 'A'
  std::uint64_t upper = (from_a ^ above_z) & ~x & k80;
  return x | (upper >> 2);
}

/// ASCII case-insensitive equality of two equally long byte runs, eight bytes per step:
/// header names are compared on every request, so this is on the hot path.
inline bool iequals_n(const char* a, const char* b, std::size_t n) noexcept {
  auto same8 = [&](std::size_t at) {
    std::uint64_t x, y;
    std::memcpy(&x, a + at, 8);
    std::memcpy(&y, b + at, 8);
    return lower8(x) == lower8(y);
  };
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i)
      if (lower(a[i]) != lower(b[i])) return false;
    return true;
  }
  for (std::size_t i = 0; i + 8 < n; i += 8)
    if (!same8(i)) return false;
  return same8(n - 8);  // the last eight bytes, overlapping the step before when n % 8 != 0
}

/// Whether the `lowered.size()` bytes at `s` equal `lowered` (already lower-case) ignoring ASCII
/// case: only `s` is lowered, eight bytes per step.
inline bool equals_lower(const char* s, std::string_view lowered) noexcept {
  std::size_t n = lowered.size();
  const char* l = lowered.data();
  auto same8 = [&](std::size_t at) {
    std::uint64_t x, y;
    std::memcpy(&x, s + at, 8);
    std::memcpy(&y, l + at, 8);
    return lower8(x) == y;
  };
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i)
      if (lower(s[i]) != l[i]) return false;
    return true;
  }
  for (std::size_t i = 0; i + 8 < n; i += 8)
    if (!same8(i)) return false;
  return same8(n - 8);
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

}  // namespace ferry::detail
