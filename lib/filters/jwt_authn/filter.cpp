// The jwt_authn HTTP filter: picks the requirement of a request (per-route config, else
// the first matching rule), fetches remote keys it lacks while the request is paused,
// evaluates the requirement, then applies what the verified tokens leave behind or answers
// 401/403 with Envoy's texts and WWW-Authenticate header.
#include <ferry/filters/jwt_authn.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

#include "common/arena.hpp"
#include "filters/jwt_authn/verifier.hpp"

namespace ferry::filters {

namespace jwt {
namespace {

constexpr std::string_view kMetadataNamespace = "envoy.filters.http.jwt_authn";
constexpr std::size_t kMaxUriPath = 256;  // Envoy's MaximumUriLength for the realm

std::uint64_t unix_now() {
  return std::uint64_t(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count());
}

bool is_cors_preflight(const RequestHeaders& req) {
  return req.method() == "OPTIONS" && !req.get("origin").empty() &&
         !req.get("access-control-request-method").empty();
}

// The providers a requirement may use (allow kinds use them all).
void providers_of(const Compiled& c, const Node& n, std::vector<const CompiledProvider*>& out) {
  auto add = [&](const CompiledProvider* p) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  };
  switch (n.kind) {
    case JwtRequirement::Kind::provider: add(n.provider); break;
    case JwtRequirement::Kind::allow_missing:
    case JwtRequirement::Kind::allow_missing_or_failed:
      for (const auto& p : c.providers) add(p.get());
      break;
    default: break;
  }
  if (n.allow_missing || n.allow_missing_or_failed)
    for (const auto& p : c.providers) add(p.get());
  for (const auto& child : n.children) providers_of(c, child, out);
}

class JwtAuthnFilter final : public Filter {
 public:
  explicit JwtAuthnFilter(std::shared_ptr<const Compiled> c) : c_(std::move(c)) {}

  FilterStatus on_request_headers(RequestHeaders& req, bool, StreamContext& ctx) override {
    if (c_->bypass_cors_preflight && is_cors_preflight(req)) return FilterStatus::Continue;
    if (const auto* per_route = dynamic_cast<const JwtAuthnPerRoute*>(ctx.route_filter_config(kJwtAuthnFilterName))) {
      if (per_route->is_disabled()) return FilterStatus::Continue;
      auto it = c_->requirement_map.find(per_route->requirement_name());
      if (it == c_->requirement_map.end()) {
        ctx.send_local_reply(403, c_->strip_failure_response
                                      ? std::string{}
                                      : "Failed JWT authentication: Wrong requirement_name: " +
                                            per_route->requirement_name() + ". It should be one of [" +
                                            c_->requirement_names + "]");
        return FilterStatus::Stop;
      }
      node_ = &it->second;
    } else {
      node_ = match_rule(req);
    }
    if (!node_) return FilterStatus::Continue;
    if (start_fetches(req, ctx)) return FilterStatus::Pause;
    return decide(req, ctx);
  }

  FilterStatus on_response_headers(ResponseHeaders& resp, bool, StreamContext&) override {
    if (!www_authenticate_.empty()) resp.set("www-authenticate", www_authenticate_);
    return FilterStatus::Continue;
  }

 private:
  const Node* match_rule(const RequestHeaders& req) {
    for (const auto& rule : c_->rules) {
      if (!rule.matches_path(req.path())) continue;
      if (!rule.headers.empty()) {
        if (!arena_) arena_.emplace(512);
        router::RequestFacts facts{req, req.get("x-forwarded-proto"), *arena_};
        bool all = true;
        for (const auto& h : rule.headers) all = all && h.match(facts);
        if (!all) continue;
      }
      return rule.node;  // the first matching rule decides, even when it requires nothing
    }
    return nullptr;
  }

  // Starts (or joins) the fetches of remote keys this request's tokens need. True when the
  // stream is paused and will be resumed once they all ended. The tokens parsed here and
  // the keys read here (with the fetch decision, in one lock) serve decide() too.
  bool start_fetches(RequestHeaders& req, StreamContext& ctx) {
    std::vector<const CompiledProvider*> used;
    providers_of(*c_, *node_, used);
    std::vector<KeySource*> need;
    auto now = KeySource::Clock::now();
    std::vector<FoundToken> tokens;
    for (const auto* p : used) {
      if (!p->keys->is_remote()) continue;
      tokens.clear();
      p->extractor.extract(req, tokens);
      for (const auto& t : tokens) {
        const auto& parsed = parsed_.get(t.token);
        if (parsed.status != Status::ok || !t.where->issuer_allowed(parsed.jwt.iss)) continue;
        auto* keys = held_keys(*p->keys);
        if (!keys) keys = &held_.emplace_back(p->keys.get(), nullptr).second;
        if (p->keys->needs_fetch(now, parsed.jwt.kid, parsed.jwt.alg, keys)) {
          need.push_back(p->keys.get());
          break;
        }
      }
    }
    if (need.empty()) return false;
    StreamResumer resumer = ctx.pause();
    if (!resumer) return false;  // a context that cannot pause: decide with the keys there are
    held_.clear();  // the fetches bring newer keys: decide() reads them afresh
    // One resume after the last fetch this request waits for; the closure owns no filter
    // state, since the stream may be gone by then (resume then does nothing).
    auto pending = std::make_shared<std::atomic<std::size_t>>(need.size());
    auto then = [this](RequestHeaders& h, StreamContext& c) { return decide(h, c); };
    for (auto* source : need) {
      auto waiter = [pending, resumer, then] {
        if (pending->fetch_sub(1) == 1) resumer.resume(then);
      };
      if (!source->join(std::move(waiter))) continue;
      // The source outlives the call: the compiled config holds it and the call's closure too.
      std::shared_ptr<KeySource> keep;
      for (const auto& p : c_->providers)
        if (p->keys.get() == source) keep = p->keys;
      ctx.http_call(source->remote().cluster, source->request(), source->remote().timeout,
                    [keep](HttpCallResponse r) { keep->finish(r, KeySource::Clock::now()); });
    }
    return true;
  }

  // Without a pause, decide() runs right after start_fetches() and uses the keys read
  // there: taking them again could only pick up a fetch that this request did not wait for.
  FilterStatus decide(RequestHeaders& req, StreamContext& ctx) {
    Evaluation eval(*c_, req, unix_now(), [this](const CompiledProvider& p) -> const Jwks* {
      if (!p.keys->is_remote()) return p.keys->local();
      if (auto* keys = held_keys(*p.keys)) return keys->get();
      return held_.emplace_back(p.keys.get(), p.keys->current()).second.get();
    }, &parsed_);
    Status s = eval.run(*node_);
    if (s != Status::ok) return reject(req, ctx, s);
    for (const auto& name : eval.effects.remove) req.remove(name);
    for (const auto& [name, value] : eval.effects.add) req.add(name, value);
    for (auto& [key, json] : eval.effects.metadata) ctx.set_dynamic_metadata(kMetadataNamespace, key, std::move(json));
    return FilterStatus::Continue;
  }

  FilterStatus reject(const RequestHeaders& req, StreamContext& ctx, Status s) {
    int code = s == Status::jwt_audience_not_allowed ? 403 : 401;
    if (c_->strip_failure_response) {
      ctx.send_local_reply(code, "");
      return FilterStatus::Stop;
    }
    std::string_view proto = req.get("x-forwarded-proto");
    std::string realm = std::string(proto.empty() ? "http" : proto) + "://" + std::string(req.authority()) +
                        std::string(req.path().substr(0, kMaxUriPath));
    www_authenticate_ = "Bearer realm=\"" + realm + "\"";
    if (s != Status::jwt_missed) www_authenticate_ += ", error=\"invalid_token\"";
    ctx.send_local_reply(code, status_text(s));
    return FilterStatus::Stop;
  }

  // The key set this request holds of a remote source (null when it has none yet).
  std::shared_ptr<const Jwks>* held_keys(const KeySource& source) noexcept {
    for (auto& [s, keys] : held_)
      if (s == &source) return &keys;
    return nullptr;
  }

  std::shared_ptr<const Compiled> c_;
  const Node* node_ = nullptr;
  ParsedTokens parsed_;  ///< this request's tokens, parsed once for both steps
  /// Remote key sets in use by this request, per source: read once, kept while it evaluates.
  std::vector<std::pair<const KeySource*, std::shared_ptr<const Jwks>>> held_;
  std::string www_authenticate_;
  std::optional<detail::Arena> arena_;
};

}  // namespace
}  // namespace jwt

std::vector<ConfigProblem> check_jwt_authn(const JwtAuthnConfig& config) { return jwt::check(config); }

FilterFactory make_jwt_authn_factory(JwtAuthnConfig config) {
  if (auto problems = jwt::check(config); !problems.empty()) throw ConfigError(std::move(problems));
  std::shared_ptr<const jwt::Compiled> compiled = jwt::compile(config);
  return [compiled]() -> FilterPtr { return std::make_unique<jwt::JwtAuthnFilter>(compiled); };
}

}  // namespace ferry::filters
