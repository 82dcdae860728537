// A fast per-worker PRNG (xoshiro256**) for load balancing choices, weighted clusters and
// request ids. Not for cryptography.
//
// Thread safety: one instance per thread.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace ferry::detail {

class Random {
 public:
  Random() {
    std::random_device rd;
    for (auto& s : s_) s = (std::uint64_t(rd()) << 32) ^ rd();
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Writes a random (version 4) UUID, 36 characters, into `out`.
  void uuid4(char out[36]) noexcept;

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

inline void Random::uuid4(char out[36]) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  std::uint64_t hi = next(), lo = next();
  hi = (hi & ~0xF000ull) | 0x4000ull;                 // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // RFC 4122 variant
  int pos = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out[pos++] = '-';
    std::uint64_t word = i < 16 ? hi : lo;
    int shift = (15 - (i % 16)) * 4;
    out[pos++] = hex[(word >> shift) & 0xF];
  }
}

}  // namespace ferry::detail
