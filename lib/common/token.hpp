// RFC 9110 tokens (5.6.2): what methods, field names, transfer codings and chunk extension
// names are made of. One table for the HTTP/1 decoder (where is_tchar() is on the hot path:
// an inlined load, no branch per character class) and for the code that checks names from
// config or from the host program.
//
//   token = 1*tchar
//   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
//           / "~" / DIGIT / ALPHA
#pragma once

#include <array>
#include <string_view>

namespace ferry::detail {

// Hidden: ferry is built position-independent, and a default-visibility variable would then be
// reached through the GOT (one more load per lookup in a shared build); hidden, it is
// addressed directly, as a file-local table would be.
[[gnu::visibility("hidden")]] inline constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

/// Whether `c` is a tchar. Bytes >= 0x80 are not.
inline bool is_tchar(char c) noexcept { return kTchar[static_cast<unsigned char>(c)]; }

/// Whether `s` is a token: at least one byte, all tchars.
inline bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

}  // namespace ferry::detail
