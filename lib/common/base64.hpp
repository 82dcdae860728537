// Base64 (RFC 4648 section 4) and base64url (section 5) for protocol text: JWT parts,
// Basic credentials. Decoding accepts input with or without '=' padding and rejects any
// other character, including whitespace.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::detail {

enum class Base64Alphabet { standard, url };

std::string base64_encode(std::string_view bytes, Base64Alphabet alphabet, bool pad);
std::optional<std::string> base64_decode(std::string_view text, Base64Alphabet alphabet);

inline std::string base64url_encode(std::string_view bytes) {
  return base64_encode(bytes, Base64Alphabet::url, false);
}
inline std::optional<std::string> base64url_decode(std::string_view text) {
  return base64_decode(text, Base64Alphabet::url);
}

}  // namespace ferry::detail
