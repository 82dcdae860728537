// envoy.extensions.filters.http.basic_auth.v3.BasicAuth and BasicAuthPerRoute into
// ferry::filters::BasicAuthConfig / BasicAuthPerRoute (include/ferry/filters/basic_auth.hpp).
#include <ferry/filters/basic_auth.hpp>


#include "config/http_filters.hpp"
#include "config/parse.hpp"
#include "config/parse_filter_util.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kType = "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth";
constexpr std::string_view kPerRouteType =
    "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute";
constexpr std::string_view kFields[] = {"@type", "users", "forward_username_header", "authentication_header"};
constexpr std::string_view kPerRouteFields[] = {"@type", "users"};

// The users DataSource, checked line by line; problems at `f`.
std::optional<std::string> read_users(Context& ctx, const Field& f) {
  auto text = read_data_source(ctx, f);
  if (!text) return std::nullopt;
  auto problems = filters::check_htpasswd(*text);
  for (auto& p : problems) ctx.problem(f, std::move(p));
  if (!problems.empty()) return std::nullopt;
  return text;
}

}  // namespace

std::optional<FilterFactory> parse_basic_auth_filter(Context& ctx, const Field& typed_config) {
  Object o(ctx, typed_config, {kFields});
  if (!o.ok() || !check_type_url(ctx, o, kType)) return std::nullopt;
  filters::BasicAuthConfig config;
  auto users = read_users(ctx, o.required("users"));
  set_if(read_string(ctx, o.get("forward_username_header")), config.forward_username_header);
  set_if(read_string(ctx, o.get("authentication_header")), config.authentication_header);
  if (!users) return std::nullopt;
  config.users = std::move(*users);
  return filters::make_basic_auth_factory(std::move(config));
}

std::shared_ptr<const RouteFilterConfig> parse_basic_auth_route(Context& ctx, const Field& value) {
  Object o(ctx, value, {kPerRouteFields});
  if (!o.ok() || !check_type_url(ctx, o, kPerRouteType)) return nullptr;
  auto users = read_users(ctx, o.required("users"));
  return users ? filters::BasicAuthPerRoute::with_users(*users) : nullptr;
}

}  // namespace ferry::config::detail
