// envoy.filters.http.rbac (see ferry/filters/rbac.hpp).
#include <ferry/filters/rbac.hpp>

#include "filters/common/filter_counters.hpp"
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

// http.<HCM stat_prefix>.rbac.[<rules_stat_prefix>]{allowed,denied,logged,not_logged} and
// ...rbac.[<shadow_rules_stat_prefix>]{shadow_allowed,shadow_denied}, as Envoy names them.
RbacCounters make_counters(Stats& s, std::string_view hcm_prefix, const std::string& rules_prefix,
                           const std::string& shadow_prefix) {
  std::string p = "http." + std::string(hcm_prefix) + ".rbac.";
  std::string r = p + rules_prefix;
  std::string sh = p + shadow_prefix;
  return {s.counter(r + "allowed"),         s.counter(r + "denied"),
          s.counter(r + "logged"),          s.counter(r + "not_logged"),
          s.counter(sh + "shadow_allowed"), s.counter(sh + "shadow_denied")};
}

struct ListenerState {
  explicit ListenerState(const RbacConfig& config)
      : counters(detail::CounterScope::connection_manager,
                 [r = config.rules_stat_prefix, sh = config.shadow_rules_stat_prefix](Stats& s, std::string_view p) {
                   return make_counters(s, p, r, sh);
                 }) {}
  Engines engines;
  detail::FilterCounters<RbacCounters> counters;
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
    const auto& counters = state_->counters.get(ctx);
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
  auto state = std::make_shared<ListenerState>(config);
  state->engines = compile(config);
  if (config.stats) state->counters.pin(*config.stats, config.stat_prefix);
  std::shared_ptr<const ListenerState> shared = std::move(state);
  return [shared]() -> FilterPtr { return std::make_unique<RbacFilter>(shared.get()); };
}

std::shared_ptr<const RouteFilterConfig> rbac_route_config(const std::optional<RbacConfig>& rbac) {
  return std::make_shared<RbacRoute>(rbac ? compile(*rbac) : Engines{});
}

}  // namespace ferry::filters
