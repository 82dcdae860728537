// envoy.filters.http.ext_authz, HTTP service mode (see ferry/filters/ext_authz.hpp).
//
// One check per request: on_request_headers builds the check request, starts it with
// StreamContext::http_call and pauses the stream; the call's completion (on the worker,
// possibly after the stream ended) resumes the stream through its StreamResumer, whose
// continuation applies the answer while the stream is still paused and the filter alive.
#include <ferry/filters/ext_authz.hpp>

#include <ferry/filter.hpp>
#include <ferry/stats.hpp>

#include "common/ascii.hpp"
#include "filters/common/filter_counters.hpp"
#include "filters/common/filter_util.hpp"
#include "router/matchers.hpp"

namespace ferry::filters {

namespace {

// Framing and connection-level fields: never copied between messages.
bool is_hop_or_framing(std::string_view lname) {
  for (std::string_view h : {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                             "upgrade", "content-length", "expect"})
    if (lname == h) return true;
  return false;
}

struct Matchers {
  std::vector<router::StringMatcher> list;
  bool any(std::string_view lname) const {
    for (const auto& m : list)
      if (m.match(lname)) return true;
    return false;
  }
};

Matchers compile(const std::vector<StringMatch>& in) {
  Matchers out;
  for (const auto& m : in) {
    std::string error;
    auto c = router::StringMatcher::compile(m, error);
    if (!c) throw ConfigError({{"", error}});
    out.list.push_back(std::move(*c));
  }
  return out;
}

struct Counters {
  Counter ok, denied, error, failure_mode_allowed, disabled;
};

struct State {
  ExtAuthzConfig config;
  Matchers allowed_headers, upstream, upstream_append, client, client_on_success;
  bool client_default = true;  ///< allowed_client_headers unset: all but Host and framing

  /// Per (stats store, HCM stat_prefix), registered by the first stream of each.
  detail::FilterCounters<Counters> counters{detail::CounterScope::connection_manager,
                                            [this](Stats& s, std::string_view p) { return make_counters(s, p); }};

  // http.<HCM stat_prefix>.ext_authz.[<stat_prefix>.]*
  Counters make_counters(Stats& s, std::string_view hcm_prefix) const {
    std::string base = "http." + std::string(hcm_prefix) + ".ext_authz.";
    if (!config.stat_prefix.empty()) base += config.stat_prefix + ".";
    return {s.counter(base + "ok"), s.counter(base + "denied"), s.counter(base + "error"),
            s.counter(base + "failure_mode_allowed"), s.counter(base + "disabled")};
  }

  bool client_header_allowed(std::string_view lname) const {
    if (is_hop_or_framing(lname)) return false;
    if (client_default) return lname != "host";
    return client.any(lname) || lname == "www-authenticate" || lname == "location";
  }
};

class ExtAuthzFilter final : public Filter {
 public:
  explicit ExtAuthzFilter(std::shared_ptr<const State> state) : state_(std::move(state)) {}

  FilterStatus on_request_headers(RequestHeaders& req, bool, StreamContext& ctx) override {
    counters_ = &state_->counters.get(ctx);
    if (const auto* route = dynamic_cast<const ExtAuthzPerRoute*>(ctx.route_filter_config(kExtAuthzFilterName));
        route && route->disabled) {
      counters_->disabled.inc();
      return FilterStatus::Continue;
    }
    auto resumer = ctx.pause();
    if (!resumer) return on_error(req, ctx);  // a context that cannot pause (host-made)
    ctx.http_call(state_->config.cluster, check_request(req), state_->config.timeout,
                  [resumer, this](HttpCallResponse answer) {
                    // Runs on the worker, maybe after the stream ended: only the resumer is
                    // used here. Its continuation runs only while the stream (and this
                    // filter) is alive and paused.
                    resumer.resume([this, answer = std::move(answer)](RequestHeaders& h, StreamContext& c) {
                      return on_answer(answer, h, c);
                    });
                  });
    return FilterStatus::Pause;
  }

  FilterStatus on_response_headers(ResponseHeaders& resp, bool, StreamContext&) override {
    if (replace_client_headers_)
      for (const auto& [name, value] : client_headers_) resp.remove(name);
    for (const auto& [name, value] : client_headers_) resp.add(name, value);
    return FilterStatus::Continue;
  }

 private:
  HttpCallRequest check_request(const RequestHeaders& req) const {
    const auto& c = state_->config;
    HttpCallRequest out;
    out.method = std::string(req.method());
    out.path = c.path_prefix + std::string(req.path());
    out.authority = std::string(req.authority());
    for (const auto& e : req) {
      auto lname = ferry::detail::to_lower(e.name);
      if (lname == "host" || is_hop_or_framing(lname)) continue;
      if (lname == "authorization" || state_->allowed_headers.any(lname))
        out.headers.emplace_back(std::move(lname), std::string(e.value));
    }
    for (const auto& [key, value] : c.headers_to_add) {
      auto lkey = ferry::detail::to_lower(key);
      std::erase_if(out.headers, [&](const auto& h) { return h.first == lkey; });
      out.headers.emplace_back(std::move(lkey), value);
    }
    out.headers.emplace_back("content-length", "0");  // Envoy's check requests always carry it
    return out;
  }

  FilterStatus on_answer(const HttpCallResponse& answer, RequestHeaders& req, StreamContext& ctx) {
    if (answer.status == 0 || answer.status >= 500) return on_error(req, ctx);
    if (answer.status != 200) {
      counters_->denied.inc();
      replace_client_headers_ = true;
      for (const auto& [name, value] : answer.headers)
        if (state_->client_header_allowed(name)) client_headers_.emplace_back(name, value);
      ctx.send_local_reply(answer.status, answer.body);
      return FilterStatus::Stop;
    }
    counters_->ok.inc();
    // Upstream headers: replaced ones first (every field of the name goes), then appended.
    std::vector<std::string> replaced;
    for (const auto& [name, value] : answer.headers) {
      if (is_hop_or_framing(name) || name == "host") continue;
      if (state_->upstream.any(name)) {
        if (std::find(replaced.begin(), replaced.end(), name) == replaced.end()) {
          req.remove(name);
          replaced.push_back(name);
        }
        req.add(name, value);
      }
      if (state_->upstream_append.any(name)) req.add(name, value);
      if (state_->client_on_success.any(name)) client_headers_.emplace_back(name, value);
    }
    for (const auto& [name, value] : answer.headers) {
      if (name != "x-envoy-auth-headers-to-remove") continue;
      std::string_view list = value;
      while (!list.empty()) {
        auto comma = list.find(',');
        auto item = detail::trim_ows(list.substr(0, comma));
        if (!item.empty() && !iequals(item, "host")) req.remove(ferry::detail::to_lower(item));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      }
    }
    return FilterStatus::Continue;
  }

  FilterStatus on_error(RequestHeaders& req, StreamContext& ctx) {
    counters_->error.inc();
    if (state_->config.failure_mode_allow) {
      counters_->failure_mode_allowed.inc();
      if (state_->config.failure_mode_allow_header_add) req.set("x-envoy-auth-failure-mode-allowed", "true");
      return FilterStatus::Continue;
    }
    ctx.send_local_reply(state_->config.status_on_error, "");
    return FilterStatus::Stop;
  }

  std::shared_ptr<const State> state_;
  const Counters* counters_ = nullptr;  ///< set by on_request_headers
  /// Headers for the client's response: the denial's (replacing the local reply's own) or
  /// allowed_client_headers_on_success (added).
  std::vector<std::pair<std::string, std::string>> client_headers_;
  bool replace_client_headers_ = false;
};

}  // namespace

std::vector<ConfigProblem> check_ext_authz(const ExtAuthzConfig& c) {
  std::vector<ConfigProblem> problems;
  if (c.cluster.empty()) problems.push_back({"http_service.server_uri.cluster", "must name a cluster"});
  if (c.timeout.count() < 0) problems.push_back({"http_service.server_uri.timeout", "must not be negative"});
  if (c.status_on_error < 200 || c.status_on_error > 599)
    problems.push_back({"status_on_error.code", "must be an HTTP status from 200 to 599"});
  auto check = [&](const std::vector<StringMatch>& list, const std::string& path) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string error;
      if (!router::StringMatcher::compile(list[i], error))
        problems.push_back({path + ".patterns[" + std::to_string(i) + "]", error});
    }
  };
  check(c.allowed_headers, "allowed_headers");
  check(c.allowed_upstream_headers, "http_service.authorization_response.allowed_upstream_headers");
  check(c.allowed_upstream_headers_to_append, "http_service.authorization_response.allowed_upstream_headers_to_append");
  check(c.allowed_client_headers, "http_service.authorization_response.allowed_client_headers");
  check(c.allowed_client_headers_on_success, "http_service.authorization_response.allowed_client_headers_on_success");
  for (std::size_t i = 0; i < c.headers_to_add.size(); ++i)
    if (c.headers_to_add[i].first.empty())
      problems.push_back({"http_service.authorization_request.headers_to_add[" + std::to_string(i) + "].key",
                          "must not be empty"});
  return problems;
}

FilterFactory ext_authz_filter(const ExtAuthzConfig& config) {
  auto problems = check_ext_authz(config);
  if (!problems.empty()) throw ConfigError(std::move(problems));
  auto state = std::make_shared<State>();
  state->config = config;
  state->allowed_headers = compile(config.allowed_headers);
  state->upstream = compile(config.allowed_upstream_headers);
  state->upstream_append = compile(config.allowed_upstream_headers_to_append);
  state->client = compile(config.allowed_client_headers);
  state->client_default = config.allowed_client_headers.empty();
  state->client_on_success = compile(config.allowed_client_headers_on_success);
  std::shared_ptr<const State> shared = std::move(state);
  return [shared]() -> FilterPtr { return std::make_unique<ExtAuthzFilter>(shared); };
}

}  // namespace ferry::filters
