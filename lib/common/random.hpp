// A fast per-worker PRNG (xoshiro256**) for load balancing choices, weighted clusters and
// request ids. Not for cryptography.
//
// Thread safety: one instance per thread.
#pragma once

#include <cstdint>
#include <cstring>
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
  unsigned char bytes[16];
  std::uint64_t hi = next(), lo = next();
  std::memcpy(bytes, &hi, 8);
  std::memcpy(bytes + 8, &lo, 8);
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char* o = out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hex[bytes[i] >> 4];
    *o++ = hex[bytes[i] & 0x0F];
  }
}

}  // namespace ferry::detail
