// Small pieces the built-in filters share: sampling a configured percentage, applying
// HeaderValueOptions to a header map, and the client IP as Envoy's RBAC/rate limit see it.
//
// Thread safety: sample_per_million() uses a thread-local generator; the rest are pure.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <ferry/headers.hpp>
#include <ferry/router.hpp>

#include "common/ascii.hpp"
#include "common/random.hpp"

namespace ferry::filters::detail {

/// True for `per_million` out of every 1,000,000 calls on average (runtime
/// FractionalPercent default_value; ferry has no runtime layer).
inline bool sample_per_million(std::uint32_t per_million) noexcept {
  if (per_million >= 1'000'000) return true;
  if (per_million == 0) return false;
  thread_local ferry::detail::Random random;
  return random.next() % 1'000'000 < per_million;
}

/// Adds `options` to `headers` with Envoy's append actions (values are literal).
inline void apply_header_options(HeaderMap& headers, const std::vector<HeaderValueOption>& options) {
  using A = HeaderValueOption::AppendAction;
  for (const auto& o : options) {
    if (o.value.empty() && !o.keep_empty_value) continue;
    switch (o.append_action) {
      case A::append_if_exists_or_add: headers.add(o.key, o.value); break;
      case A::add_if_absent:
        if (!headers.has(o.key)) headers.add(o.key, o.value);
        break;
      case A::overwrite_if_exists_or_add: headers.set(o.key, o.value); break;
      case A::overwrite_if_exists:
        if (headers.has(o.key)) headers.set(o.key, o.value);
        break;
    }
  }
}

/// The IP part of "ip:port" or "[v6]:port".
inline std::string_view ip_of(std::string_view address) noexcept {
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    return close == std::string_view::npos ? address.substr(1) : address.substr(1, close - 1);
  }
  auto colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon) return address.substr(0, colon);
  return address;  // a bare IPv6 address or no port
}

using ferry::detail::trim_ows;

}  // namespace ferry::filters::detail
