// CIDR ranges (Envoy's core.v3.CidrRange) and matching of textual IP addresses against them.
//
// Thread safety: immutable values; match() is const and touches nothing else.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::detail {

class Cidr {
 public:
  /// Parses `address_prefix` / `prefix_len` (IPv4 up to 32, IPv6 up to 128). Host bits
  /// beyond the prefix are ignored, as in Envoy. Nullopt with `error` set when invalid.
  static std::optional<Cidr> parse(std::string_view address_prefix, std::uint32_t prefix_len, std::string& error);
  /// "10.0.0.0/8" or "::1/128" (a bare address means the whole address).
  static std::optional<Cidr> parse(std::string_view text, std::string& error);

  /// Whether `ip` (textual, e.g. "10.1.2.3" or "::1", no port) is inside the range. An
  /// IPv4-mapped IPv6 address ("::ffff:10.1.2.3") matches IPv4 ranges.
  bool contains(std::string_view ip) const noexcept;
  bool contains(const std::array<std::uint8_t, 16>& bytes, bool v6) const noexcept;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  std::uint32_t prefix_ = 0;
  bool v6_ = false;
};

/// Parses a textual IP address into 16 bytes (IPv4 in the first 4); false if not an IP.
bool parse_ip(std::string_view ip, std::array<std::uint8_t, 16>& bytes, bool& v6) noexcept;

}  // namespace ferry::detail
