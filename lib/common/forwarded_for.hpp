// x-forwarded-for as Envoy's HTTP connection manager reads it (conn_manager_utility.cc and
// http/utility.cc: getLastAddressFromXFF).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry::detail {

/// An address taken from x-forwarded-for.
struct XffAddress {
  std::string_view ip;  ///< a view into the value; empty when there is none
  /// The address was the value's only entry once `skip` were dropped from the right (Envoy
  /// only then lets the address make a request internal).
  bool single = false;
};

/// The entry `skip` places from the right of a comma-separated x-forwarded-for value, with
/// spaces and tabs trimmed. Empty when the value has too few entries or that entry is not
/// an IPv4 or IPv6 literal (Envoy then trusts no address from the header).
XffAddress last_xff_address(std::string_view xff, std::uint32_t skip) noexcept;

}  // namespace ferry::detail
