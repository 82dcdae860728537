// A fast per-worker PRNG (xoshiro256**) for load balancing choices, weighted clusters and
// request ids. Not for cryptography.
//
// Thread safety: one instance per thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>

#include "common/hex.hpp"

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
  // 32 random hex digits (two hex16), then RFC 4122's version digit and variant digit; the
  // variant keeps two of the random bits of the digit it replaces, so no digit is correlated
  // with another. ~60 instructions where a byte loop took ~240 (one id per request).
  char h[32];
  hex16(next(), h);
  hex16(next(), h + 16);
  h[12] = '4';  // version 4
  char v = h[16];
  h[16] = "89ab"[(v <= '9' ? v - '0' : v - 'a' + 10) & 3];  // variant 10xx
  std::memcpy(out, h, 8);
  out[8] = '-';
  std::memcpy(out + 9, h + 8, 4);
  out[13] = '-';
  std::memcpy(out + 14, h + 12, 4);
  out[18] = '-';
  std::memcpy(out + 19, h + 16, 4);
  out[23] = '-';
  std::memcpy(out + 24, h + 20, 12);
}

}  // namespace ferry::detail
