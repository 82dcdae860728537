// x-forwarded-for parsing (see forwarded_for.hpp).
#include "common/forwarded_for.hpp"

#include <array>

#include "common/ascii.hpp"
#include "common/cidr.hpp"

namespace ferry::detail {

XffAddress last_xff_address(std::string_view xff, std::uint32_t skip) noexcept {
  for (std::uint32_t i = 0; i < skip; ++i) {
    auto comma = xff.rfind(',');
    if (comma == std::string_view::npos) return {};
    xff = xff.substr(0, comma);
  }
  auto comma = xff.rfind(',');
  // Like Envoy: a value ending in a comma keeps the whole remainder (which then fails to
  // parse as an address).
  if (comma != std::string_view::npos && comma + 1 < xff.size()) xff = xff.substr(comma + 1);
  auto ip = trim_ows(xff);
  std::array<std::uint8_t, 16> bytes;
  bool v6 = false;
  if (ip.empty() || ip.front() == '[' || !parse_ip(ip, bytes, v6)) return {};
  return {ip, comma == std::string_view::npos};
}

}  // namespace ferry::detail
