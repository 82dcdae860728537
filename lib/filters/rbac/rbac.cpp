// envoy.filters.http.rbac (see ferry/filters/rbac.hpp).
#include <ferry/filters/rbac.hpp>

#include "filters/rbac/engine.hpp"

namespace ferry::filters {

namespace {

using detail::RbacEngine;

// The enforced and shadow engines of one config (listener or route).
struct Engines {
  std::optional<RbacEngine> enforced;
  std::optional<RbacEngine> shadow;
  // Envoy's dynamic metadata keys for the shadow result, built once (prefix + name).
  std::string shadow_result_key, shadow_policy_key;
};

struct RbacCounters {
  Counter allowed, denied, logged, not_logged, shadow_allowed, shadow_denied;
};

struct ListenerState {
  Engines engines;
  RbacCounters counters;
};

class RbacRoute final : public RouteFilterConfig {
 public:
  explicit RbacRoute(Engines e) : engines(std::move(e)) {}
  Engines engines;
};

Engines compile(const RbacConfig& config) {
  std::vector<ConfigProblem> problems;
  Engines e;
  if (config.rules) e.enforced = RbacEngine::compile(*config.rules, "rules", problems);
  if (config.shadow_rules) e.shadow = RbacEngine::compile(*config.shadow_rules, "shadow_rules", problems);
  e.shadow_result_key = config.shadow_rules_stat_prefix + "shadow_engine_result";
  e.shadow_policy_key = config.shadow_rules_stat_prefix + "shadow_effective_policy_id";
  if (!problems.empty()) throw ConfigError(std::move(problems));
  return e;
}

class RbacFilter final : public Filter {
 public:
  explicit RbacFilter(const ListenerState* state) : state_(state) {}

  FilterStatus on_request_headers(RequestHeaders& req, bool, StreamContext& ctx) override {
    const Engines* engines = &state_->engines;
    if (const auto* route = dynamic_cast<const RbacRoute*>(ctx.route_filter_config(kRbacFilterName)))
      engines = &route->engines;
    const auto& counters = state_->counters;
    if (engines->shadow) {
      auto d = engines->shadow->evaluate(req, ctx);
      (d.allowed ? counters.shadow_allowed : counters.shadow_denied).inc();
      // Envoy's dynamic metadata for access logs and later filters.
      ctx.set_dynamic_metadata(kRbacFilterName, engines->shadow_result_key,
                               d.allowed ? "\"allowed\"" : "\"denied\"");
      if (d.policy)
        ctx.set_dynamic_metadata(kRbacFilterName, engines->shadow_policy_key, "\"" + *d.policy + "\"");
    }
    if (!engines->enforced) return FilterStatus::Continue;  // no rules: allowed by default
    auto d = engines->enforced->evaluate(req, ctx);
    if (engines->enforced->action() == RbacRules::Action::log) {
      (d.matched ? counters.logged : counters.not_logged).inc();
      ctx.set_dynamic_metadata("envoy.common", "access_log_hint", d.matched ? "true" : "false");
    }
    if (d.allowed) {
      counters.allowed.inc();
      return FilterStatus::Continue;
    }
    counters.denied.inc();
    ctx.send_local_reply(403, "RBAC: access denied");
    return FilterStatus::Stop;
  }

 private:
  const ListenerState* state_;
};

}  // namespace

std::vector<ConfigProblem> check_rbac(const RbacConfig& config) {
  std::vector<ConfigProblem> problems;
  if (config.rules) RbacEngine::compile(*config.rules, "rules", problems);
  if (config.shadow_rules) RbacEngine::compile(*config.shadow_rules, "shadow_rules", problems);
  return problems;
}

FilterFactory rbac_filter(const RbacConfig& config) {
  auto state = std::make_shared<ListenerState>();
  state->engines = compile(config);
  if (config.stats) {
    auto& s = *config.stats;
    std::string p = "http." + config.stat_prefix + ".rbac.";
    std::string r = p + config.rules_stat_prefix;
    std::string sh = p + config.shadow_rules_stat_prefix;
    state->counters = {s.counter(r + "allowed"),        s.counter(r + "denied"),
                       s.counter(r + "logged"),         s.counter(r + "not_logged"),
                       s.counter(sh + "shadow_allowed"), s.counter(sh + "shadow_denied")};
  }
  std::shared_ptr<const ListenerState> shared = std::move(state);
  return [shared]() -> FilterPtr { return std::make_unique<RbacFilter>(shared.get()); };
}

std::shared_ptr<const RouteFilterConfig> rbac_route_config(const std::optional<RbacConfig>& rbac) {
  return std::make_shared<RbacRoute>(rbac ? compile(*rbac) : Engines{});
}

}  // namespace ferry::filters
