// The built-in HTTP filters the config loader knows (jwt_authn, rbac, ext_authz, ...).
//
// An HCM's http_filters entry is matched by the "@type" of its typed_config (else by its
// name, as Envoy does) against this table; the entry's reader checks the typed_config
// (problems at exact paths) and returns the FilterFactory the listener's chain gets. A
// filter with per-route settings also names the type URL of its typed_per_filter_config
// value and a reader that turns it into the RouteFilterConfig the filter looks up with
// StreamContext::route_filter_config(<filter name>).
//
// Thread safety: the table is constant; readers run on the loading thread.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include <ferry/filter_chain.hpp>
#include <ferry/router.hpp>

#include "config/walk.hpp"

namespace ferry::config::detail {

struct HttpFilterKind {
  std::string_view name;      ///< canonical name, e.g. "envoy.filters.http.rbac"
  std::string_view type_url;  ///< typed_config "@type"
  /// Reads the filter's typed_config (the Any, "@type" included). Returns nullopt after
  /// reporting problems through ctx.
  std::optional<FilterFactory> (*parse)(Context& ctx, const Field& typed_config);
  /// typed_per_filter_config: the accepted "@type" values (empty: none) and their reader,
  /// which returns null after reporting problems.
  std::span<const std::string_view> per_route_type_urls{};
  std::shared_ptr<const RouteFilterConfig> (*parse_per_route)(Context& ctx, const Field& value) = nullptr;
};

/// The filter whose type URL (or, when `type_url` is empty, name) matches; null if none.
const HttpFilterKind* find_http_filter(std::string_view type_url, std::string_view name);
/// The filter that reads typed_per_filter_config values of this "@type"; null if none.
const HttpFilterKind* find_per_route_filter(std::string_view type_url);

// Readers, one per built-in filter (lib/config/parse_filter_<name>.cpp), listed in
// http_filters.cpp.
std::optional<FilterFactory> parse_rbac_filter(Context& ctx, const Field& typed_config);
std::shared_ptr<const RouteFilterConfig> parse_rbac_route(Context& ctx, const Field& value);
std::optional<FilterFactory> parse_local_ratelimit_filter(Context& ctx, const Field& typed_config);
std::shared_ptr<const RouteFilterConfig> parse_local_ratelimit_route(Context& ctx, const Field& value);
std::optional<FilterFactory> parse_cors_filter(Context& ctx, const Field& typed_config);
std::shared_ptr<const RouteFilterConfig> parse_cors_route(Context& ctx, const Field& value);
std::optional<FilterFactory> parse_ext_authz_filter(Context& ctx, const Field& typed_config);
std::shared_ptr<const RouteFilterConfig> parse_ext_authz_route(Context& ctx, const Field& value);
std::optional<FilterFactory> parse_jwt_authn_filter(Context& ctx, const Field& typed_config);
std::shared_ptr<const RouteFilterConfig> parse_jwt_authn_route(Context& ctx, const Field& value);
std::optional<FilterFactory> parse_basic_auth_filter(Context& ctx, const Field& typed_config);
std::shared_ptr<const RouteFilterConfig> parse_basic_auth_route(Context& ctx, const Field& value);

}  // namespace ferry::config::detail
