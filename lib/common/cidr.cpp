#include "common/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ferry::detail {

bool parse_ip(std::string_view ip, std::array<std::uint8_t, 16>& bytes, bool& v6) noexcept {
  char buf[INET6_ADDRSTRLEN + 1];
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.empty() || ip.size() >= sizeof buf) return false;
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';
  bytes = {};
  if (inet_pton(AF_INET, buf, bytes.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, buf, bytes.data()) != 1) return false;
  // IPv4-mapped (::ffff:a.b.c.d) is treated as the IPv4 address.
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMapped, 12) == 0) {
    std::memmove(bytes.data(), bytes.data() + 12, 4);
    std::memset(bytes.data() + 4, 0, 12);
    v6 = false;
    return true;
  }
  v6 = true;
  return true;
}

std::optional<Cidr> Cidr::parse(std::string_view address_prefix, std::uint32_t prefix_len, std::string& error) {
  Cidr c;
  if (!parse_ip(address_prefix, c.bytes_, c.v6_)) {
    error = "\"" + std::string(address_prefix) + "\" is not an IP address";
    return std::nullopt;
  }
  std::uint32_t max = c.v6_ ? 128 : 32;
  if (prefix_len > max) {
    error = "prefix_len " + std::to_string(prefix_len) + " is more than " + std::to_string(max);
    return std::nullopt;
  }
  c.prefix_ = prefix_len;
  return c;
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string& error) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    std::array<std::uint8_t, 16> b{};
    bool v6 = false;
    if (!parse_ip(text, b, v6)) {
      error = "\"" + std::string(text) + "\" is not an IP address or CIDR range";
      return std::nullopt;
    }
    return parse(text, v6 ? 128 : 32, error);
  }
  std::uint32_t len = 0;
  auto digits = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    error = "\"" + std::string(text) + "\" has no valid prefix length";
    return std::nullopt;
  }
  return parse(text.substr(0, slash), len, error);
}

bool Cidr::contains(const std::array<std::uint8_t, 16>& bytes, bool v6) const noexcept {
  if (v6 != v6_) return false;
  std::uint32_t full = prefix_ / 8, rest = prefix_ % 8;
  if (std::memcmp(bytes.data(), bytes_.data(), full) != 0) return false;
  if (rest == 0) return true;
  auto mask = std::uint8_t(0xff << (8 - rest));
  return (bytes[full] & mask) == (bytes_[full] & mask);
}

bool Cidr::contains(std::string_view ip) const noexcept {
  std::array<std::uint8_t, 16> b{};
  bool v6 = false;
  return parse_ip(ip, b, v6) && contains(b, v6);
}

}  // namespace ferry::detail
