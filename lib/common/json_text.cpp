// JSON string content: see json_text.hpp.
#include "common/json_text.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ferry::detail {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b <= 0xDF ? 2 : 0;
  if (n == 0 || b > 0xF4 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  auto b1 = static_cast<unsigned char>(s[i + 1]);
  if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 > 0x9F) || (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 > 0x8F))
    return 0;  // overlong, surrogate, or beyond U+10FFFF
  return n;
}

#if defined(__SSE2__)
// Bit i set where byte i needs work. As signed bytes, everything >= 0x80 is negative, so
// one "less than 0x20" finds control characters and non-ASCII alike.
inline unsigned special_mask(__m128i v) noexcept {
  __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                           _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
  return unsigned(_mm_movemask_epi8(m));
}

inline __m128i load32(const char* p) noexcept {
  std::uint32_t x;
  std::memcpy(&x, p, 4);
  return _mm_cvtsi32_si128(int(x));
}
#endif

// The plain run at the start of `s` (json_plain_prefix), inlined into the encoders.
[[gnu::always_inline]] inline std::size_t plain_prefix(std::string_view s) noexcept {
  const char* p = s.data();
  const std::size_t n = s.size();
#if defined(__SSE2__)
  if (n >= 16) {
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16)
      if (unsigned m = special_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))))
        return i + unsigned(__builtin_ctz(m));
    if (i == n) return n;
    // The rest: one block ending at n (its first bytes were found plain already).
    unsigned m = special_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16)));
    return m ? n - 16 + unsigned(__builtin_ctz(m)) : n;
  }
  if (n >= 8) {  // the first eight and the last eight bytes (overlapping) in one register
    __m128i v = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)),
                                   _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + n - 8)));
    unsigned m = special_mask(v);
    if (m & 0xFF) return unsigned(__builtin_ctz(m));
    return m ? n - 16 + unsigned(__builtin_ctz(m)) : n;  // bit k >= 8 is byte n - 16 + k
  }
  if (n >= 4) {  // the same with four and four; the register's upper eight bytes are unused
    unsigned m = special_mask(_mm_unpacklo_epi32(load32(p), load32(p + n - 4))) & 0xFF;
    if (m & 0xF) return unsigned(__builtin_ctz(m));
    return m ? n - 8 + unsigned(__builtin_ctz(m)) : n;  // bit k >= 4 is byte n - 8 + k
  }
#endif
  for (std::size_t i = 0; i < n; ++i) {
    auto u = static_cast<unsigned char>(p[i]);
    if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\') return i;
  }
  return n;
}

// memcpy for the short runs of keys and values (most are under 32 bytes) without a call: two
// overlapping loads and stores cover any length in a power-of-two range.
inline void copy_short(char* d, const char* s, std::size_t n) noexcept {
  auto two = [&]<std::size_t W>(std::integral_constant<std::size_t, W>) {
    char a[W], b[W];
    std::memcpy(a, s, W);
    std::memcpy(b, s + n - W, W);
    std::memcpy(d, a, W);
    std::memcpy(d + n - W, b, W);
  };
  if (n > 32) std::memcpy(d, s, n);
  else if (n >= 16) two(std::integral_constant<std::size_t, 16>{});
  else if (n >= 8) two(std::integral_constant<std::size_t, 8>{});
  else if (n >= 4) two(std::integral_constant<std::size_t, 4>{});
  else if (n != 0) {
    d[0] = s[0];
    d[n / 2] = s[n / 2];
    d[n - 1] = s[n - 1];
  }
}

// Appends `s` as JSON string content through `put(const char*, size_t)`.
template <class Put>
void encode(std::string_view s, Put&& put) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  for (;;) {
    std::size_t run = plain_prefix(s.substr(i));
    if (run != 0) put(s.data() + i, run), i += run;
    if (i == n) return;
    auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x80) {
      if (auto len = utf8_length(s, i)) {
        put(s.data() + i, len);
        i += len;
      } else {
        put("\\ufffd", 6);
        ++i;
      }
      continue;
    }
    switch (u) {
      case '"': put("\\\"", 2); break;
      case '\\': put("\\\\", 2); break;
      case '\n': put("\\n", 2); break;
      case '\r': put("\\r", 2); break;
      case '\t': put("\\t", 2); break;
      default: {  // another control character
        static constexpr char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xF]};
        put(esc, 6);
      }
    }
    ++i;
  }
}

}  // namespace

std::size_t json_plain_prefix(std::string_view s) noexcept { return plain_prefix(s); }

void append_json_text(std::string_view s, std::string& out) {
  if (std::size_t run = plain_prefix(s); run == s.size()) [[likely]] {
    out.append(s.data(), run);
    return;
  }
  encode(s, [&out](const char* p, std::size_t n) { out.append(p, n); });
}

char* write_json_text(std::string_view s, char* out) noexcept {
  // Nearly every key and value is plain: one scan and one copy.
  if (std::size_t run = plain_prefix(s); run == s.size()) [[likely]] {
    copy_short(out, s.data(), run);
    return out + run;
  }
  encode(s, [&out](const char* p, std::size_t n) {
    copy_short(out, p, n);
    out += n;
  });
  return out;
}

}  // namespace ferry::detail
