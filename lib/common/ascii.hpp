// ASCII case helpers for protocol text (header names, hosts, paths). Locale-free on purpose:
// HTTP case rules are ASCII-only.
#pragma once

#include <string>
#include <string_view>

namespace ferry::detail {

inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

}  // namespace ferry::detail
