// envoy.filters.http.cors (see ferry/filters/cors.hpp).
#include <ferry/filters/cors.hpp>

#include <ferry/filter.hpp>

#include "filters/common/filter_counters.hpp"
#include "filters/common/filter_util.hpp"
#include "router/matchers.hpp"

namespace ferry::filters {

namespace {

struct CompiledPolicy {
  CorsPolicy policy;
  std::vector<router::StringMatcher> origins;

  bool origin_allowed(std::string_view origin) const {
    for (const auto& m : origins)
      if (m.match("*") || m.match(origin)) return true;
    return false;
  }
  bool enabled() const {
    return !policy.filter_enabled_per_million || detail::sample_per_million(*policy.filter_enabled_per_million);
  }
  bool shadow_enabled() const {
    return policy.shadow_enabled_per_million && detail::sample_per_million(*policy.shadow_enabled_per_million);
  }
};

CompiledPolicy compile(const CorsPolicy& p) {
  auto problems = check_cors_policy(p);
  if (!problems.empty()) throw ConfigError(std::move(problems));
  CompiledPolicy c{p, {}};
  for (const auto& m : p.allow_origin_string_match) {
    std::string error;
    c.origins.push_back(*router::StringMatcher::compile(m, error));
  }
  return c;
}

class CorsRoute final : public RouteFilterConfig {
 public:
  explicit CorsRoute(CompiledPolicy p) : compiled(std::move(p)) {}
  CompiledPolicy compiled;
};

struct CorsCounters {
  Counter origin_valid, origin_invalid;
};

// http.<HCM stat_prefix>.cors.{origin_valid,origin_invalid}, as Envoy names them.
CorsCounters make_counters(Stats& s, std::string_view hcm_prefix) {
  std::string p = "http." + std::string(hcm_prefix) + ".cors.";
  return {s.counter(p + "origin_valid"), s.counter(p + "origin_invalid")};
}

struct CorsState {
  std::optional<CompiledPolicy> default_policy;
  detail::FilterCounters<CorsCounters> counters{detail::CounterScope::connection_manager, make_counters};
};

class CorsFilter final : public Filter {
 public:
  explicit CorsFilter(const CorsState* state) : state_(state) {}

  FilterStatus on_request_headers(RequestHeaders& req, bool, StreamContext& ctx) override {
    if (const auto* route = dynamic_cast<const CorsRoute*>(ctx.route_filter_config(kCorsFilterName)))
      policy_ = &route->compiled;
    else if (state_->default_policy)
      policy_ = &*state_->default_policy;
    if (!policy_) return FilterStatus::Continue;
    bool enabled = policy_->enabled();
    if (!enabled && !policy_->shadow_enabled()) return FilterStatus::Continue;
    std::string_view origin = req.get("origin");
    if (origin.empty()) return FilterStatus::Continue;
    bool allowed = policy_->origin_allowed(origin);
    const auto& counters = state_->counters.get(ctx);
    (allowed ? counters.origin_valid : counters.origin_invalid).inc();
    if (!enabled) return FilterStatus::Continue;  // shadow mode: counted only
    if (allowed) origin_ = origin;  // a view into the request head, valid for the stream
    cors_request_ = true;
    if (req.method() != "OPTIONS" || req.get("access-control-request-method").empty())
      return FilterStatus::Continue;
    // A preflight.
    const auto& p = policy_->policy;
    if (!allowed && p.forward_not_matching_preflights.value_or(true)) return FilterStatus::Continue;
    preflight_ = true;
    request_method_ = req.get("access-control-request-method");
    request_headers_ = req.get("access-control-request-headers");
    private_network_ = req.get("access-control-request-private-network") == "true";
    ctx.send_local_reply(200, "");
    return FilterStatus::Stop;
  }

  FilterStatus on_response_headers(ResponseHeaders& resp, bool, StreamContext&) override {
    if (!cors_request_) return FilterStatus::Continue;
    const auto& p = policy_->policy;
    if (preflight_) {
      resp.remove("content-type");  // Envoy's preflight answer is headers only
      if (!p.allow_methods.empty())
        resp.set("access-control-allow-methods", p.allow_methods == "*" ? request_method_ : p.allow_methods);
      if (!p.allow_headers.empty())
        resp.set("access-control-allow-headers", p.allow_headers == "*" ? request_headers_ : p.allow_headers);
      if (!p.max_age.empty()) resp.set("access-control-max-age", p.max_age);
      if (p.allow_private_network_access.value_or(false) && private_network_)
        resp.set("access-control-allow-private-network", "true");
    }
    if (origin_.empty()) {  // origin not allowed: only a preflight says anything
      if (preflight_ && p.allow_credentials.value_or(false))
        resp.set("access-control-allow-credentials", "true");
      return FilterStatus::Continue;
    }
    resp.set("access-control-allow-origin", origin_);
    if (p.allow_credentials.value_or(false)) resp.set("access-control-allow-credentials", "true");
    if (!p.expose_headers.empty()) resp.set("access-control-expose-headers", p.expose_headers);
    return FilterStatus::Continue;
  }

 private:
  const CorsState* state_;
  const CompiledPolicy* policy_ = nullptr;
  std::string_view origin_;
  std::string_view request_method_;
  std::string_view request_headers_;
  bool cors_request_ = false;
  bool preflight_ = false;
  bool private_network_ = false;
};

}  // namespace

std::vector<ConfigProblem> check_cors_policy(const CorsPolicy& policy) {
  std::vector<ConfigProblem> out;
  for (std::size_t i = 0; i < policy.allow_origin_string_match.size(); ++i) {
    std::string error;
    if (!router::StringMatcher::compile(policy.allow_origin_string_match[i], error))
      out.push_back({"allow_origin_string_match[" + std::to_string(i) + "]", error});
  }
  return out;
}

FilterFactory cors_filter(const CorsConfig& config) {
  auto state = std::make_shared<CorsState>();
  if (config.default_policy) state->default_policy = compile(*config.default_policy);
  if (config.stats) state->counters.pin(*config.stats, config.stat_prefix);
  std::shared_ptr<const CorsState> shared = std::move(state);
  return [shared]() -> FilterPtr { return std::make_unique<CorsFilter>(shared.get()); };
}

std::shared_ptr<const RouteFilterConfig> cors_route_config(const CorsPolicy& policy) {
  return std::make_shared<CorsRoute>(compile(policy));
}

}  // namespace ferry::filters
