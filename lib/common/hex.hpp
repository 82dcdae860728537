// Sixteen lower-case hex digits from 64 bits without a loop per digit, for ids made per
// request (x-request-id, trace and span ids).
//
// The nibbles are spread into bytes, then '0' or 'a' - 10 is added to each (SSE2: one
// register for all sixteen; otherwise SWAR, eight at a time). The digit order is not the
// bits' order: callers use it for random bits only.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ferry::detail {

#if defined(__SSE2__)
inline void hex16(std::uint64_t v, char* out) noexcept {
  const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(v));
  const __m128i low4 = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(bytes, low4);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
  const __m128i nibbles = _mm_unpacklo_epi8(hi, lo);
  const __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')), letters));
}
/// Thirty-two digits from 128 bits (a trace id): hex16 twice, sharing one register's work.
inline void hex32(std::uint64_t a, std::uint64_t b, char* out) noexcept {
  const __m128i bytes = _mm_set_epi64x(static_cast<long long>(b), static_cast<long long>(a));
  const __m128i low4 = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(bytes, low4);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4);
  const __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0'), gap = _mm_set1_epi8('a' - '0' - 10);
  auto put = [&](__m128i nibbles, char* to) {
    const __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(nibbles, nine), gap);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to), _mm_add_epi8(_mm_add_epi8(nibbles, zero), letters));
  };
  put(_mm_unpacklo_epi8(hi, lo), out);       // a's digits, as hex16(a) writes them
  put(_mm_unpackhi_epi8(hi, lo), out + 16);  // b's
}
#else
inline void hex8(std::uint32_t v, char* out) noexcept {
  std::uint64_t x = v;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0Full;
  std::uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;  // 1 where > 9
  x += 0x3030303030303030ull + letters * ('a' - '0' - 10);
  std::memcpy(out, &x, 8);
}
inline void hex16(std::uint64_t v, char* out) noexcept {
  hex8(std::uint32_t(v), out);
  hex8(std::uint32_t(v >> 32), out + 8);
}
inline void hex32(std::uint64_t a, std::uint64_t b, char* out) noexcept {
  hex16(a, out);
  hex16(b, out + 16);
}
#endif

}  // namespace ferry::detail
