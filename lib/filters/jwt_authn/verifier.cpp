#include "filters/jwt_authn/verifier.hpp"

#include <re2/re2.h>

#include <cmath>
#include <limits>

#include "common/ascii.hpp"
#include "common/base64.hpp"

namespace ferry::filters::jwt {

using Kind = JwtRequirement::Kind;

namespace {

std::string key_path(std::string_view map, const std::string& key) {
  return std::string(map) + "[\"" + key + "\"]";
}

// --- checking ---------------------------------------------------------------------------

void check_requirement(const JwtAuthnConfig& c, const JwtRequirement& r, const std::string& at,
                       std::vector<ConfigProblem>& out) {
  switch (r.kind) {
    case Kind::provider: {
      std::string field = r.audiences.empty() ? at + ".provider_name" : at + ".provider_and_audiences.provider_name";
      if (!c.providers.count(r.provider_name))
        out.push_back({field, "Required provider ['" + r.provider_name + "'] is not configured."});
      return;
    }
    case Kind::requires_any:
    case Kind::requires_all: {
      std::string list = at + (r.kind == Kind::requires_any ? ".requires_any" : ".requires_all") + ".requirements";
      if (r.requirements.size() < 2) out.push_back({list, "needs at least 2 requirements"});
      for (std::size_t i = 0; i < r.requirements.size(); ++i)
        check_requirement(c, r.requirements[i], list + "[" + std::to_string(i) + "]", out);
      return;
    }
    case Kind::none:
    case Kind::allow_missing:
    case Kind::allow_missing_or_failed:
      return;
  }
}

std::string names_of(const std::map<std::string, JwtRequirement>& m) {
  std::string s;
  for (const auto& [name, r] : m) s += (s.empty() ? "" : ",") + name;
  return s;
}

void check_provider(const std::string& at, const JwtProvider& p, std::vector<ConfigProblem>& out) {
  if (p.local_jwks.has_value() == p.remote_jwks.has_value()) {
    out.push_back({at, "a provider needs exactly one of \"local_jwks\" and \"remote_jwks\""});
  } else if (p.local_jwks) {
    auto parsed = parse_jwks(*p.local_jwks);
    if (parsed.status != Status::ok) {
      std::string why(status_text(parsed.status));
      if (!parsed.skipped.empty()) why += " (" + parsed.skipped.front() + ")";
      out.push_back({at + ".local_jwks", "invalid JWKS: " + why});
    }
  } else {
    std::string authority, path;
    if (!split_http_uri(p.remote_jwks->uri, authority, path))
      out.push_back({at + ".remote_jwks.http_uri.uri", "not an http:// or https:// URI: \"" + p.remote_jwks->uri + "\""});
    if (p.remote_jwks->cluster.empty())
      out.push_back({at + ".remote_jwks.http_uri.cluster", "must not be empty"});
    if (p.remote_jwks->timeout <= Duration::zero())
      out.push_back({at + ".remote_jwks.http_uri.timeout", "must be more than 0"});
    if (p.remote_jwks->cache_duration <= Duration::zero())
      out.push_back({at + ".remote_jwks.cache_duration", "must be at least 1ms"});
  }
  for (std::size_t i = 0; i < p.from_headers.size(); ++i)
    if (p.from_headers[i].name.empty())
      out.push_back({at + ".from_headers[" + std::to_string(i) + "].name", "must not be empty"});
  for (std::size_t i = 0; i < p.claim_to_headers.size(); ++i) {
    std::string item = at + ".claim_to_headers[" + std::to_string(i) + "]";
    if (p.claim_to_headers[i].header_name.empty()) out.push_back({item + ".header_name", "must not be empty"});
    if (p.claim_to_headers[i].claim_name.empty()) out.push_back({item + ".claim_name", "must not be empty"});
  }
}

// --- compiling --------------------------------------------------------------------------

const CompiledProvider* find(const Compiled& c, std::string_view name) {
  for (const auto& p : c.providers)
    if (p->name == name) return p.get();
  return nullptr;
}

std::vector<std::string> sanitized(const std::vector<std::string>& auds) {
  std::vector<std::string> out;
  for (const auto& a : auds) out.push_back(sanitize_audience(a));
  return out;
}

Node compile_node(const Compiled& c, const JwtRequirement& r) {
  Node n;
  n.kind = r.kind;
  if (r.kind == Kind::provider) {
    n.provider = find(c, r.provider_name);
    n.override_audiences = !r.audiences.empty();
    n.audiences = sanitized(r.audiences);
  }
  for (const auto& child : r.requirements) {
    // In requires_any, allow kinds are flags over the other members (Envoy's AnyVerifier).
    if (r.kind == Kind::requires_any && child.kind == Kind::allow_missing) {
      n.allow_missing = true;
    } else if (r.kind == Kind::requires_any && child.kind == Kind::allow_missing_or_failed) {
      n.allow_missing_or_failed = true;
    } else {
      n.children.push_back(compile_node(c, child));
    }
  }
  if (r.kind == Kind::requires_any && n.children.empty()) {
    Node only;
    only.kind = n.allow_missing_or_failed ? Kind::allow_missing_or_failed : Kind::allow_missing;
    n.children.push_back(std::move(only));
  }
  return n;
}

std::string claim_number(double d) {
  double whole = 0;
  if (d < 0 || d >= 18446744073709551616.0 || std::modf(d, &whole) != 0) return std::to_string(d);
  return std::to_string(static_cast<std::uint64_t>(d));
}

}  // namespace

std::vector<ConfigProblem> check(const JwtAuthnConfig& c) {
  std::vector<ConfigProblem> out;
  for (const auto& [name, p] : c.providers) check_provider(key_path("providers", name), p, out);
  for (const auto& [name, r] : c.requirement_map) check_requirement(c, r, key_path("requirement_map", name), out);
  for (std::size_t i = 0; i < c.rules.size(); ++i) {
    const auto& rule = c.rules[i];
    std::string at = "rules[" + std::to_string(i) + "]";
    if (rule.requires_ && !rule.requirement_name.empty())
      out.push_back({at, "\"requires\" and \"requirement_name\" are both set; use at most one"});
    if (rule.requires_) check_requirement(c, *rule.requires_, at + ".requires", out);
    if (!rule.requirement_name.empty() && !c.requirement_map.count(rule.requirement_name))
      out.push_back({at + ".requirement_name", "Wrong requirement_name: " + rule.requirement_name +
                                                   ". It should be one of [" + names_of(c.requirement_map) + "]"});
    if (rule.match.kind == PathMatch::Kind::safe_regex) {
      re2::RE2 re(rule.match.value, re2::RE2::Quiet);
      if (!re.ok()) out.push_back({at + ".match.safe_regex.regex", "invalid regex: " + re.error()});
    }
    for (std::size_t h = 0; h < rule.headers.size(); ++h) {
      std::string error;
      if (!router::HeaderMatch::compile(rule.headers[h], error))
        out.push_back({at + ".match.headers[" + std::to_string(h) + "]", error});
    }
  }
  return out;
}

std::shared_ptr<const Compiled> compile(const JwtAuthnConfig& config) {
  auto c = std::make_shared<Compiled>();
  for (const auto& [name, p] : config.providers) {
    auto cp = std::make_unique<CompiledProvider>();
    cp->name = name;
    cp->config = p;
    cp->audiences = sanitized(p.audiences);
    cp->extractor.add(p);
    c->all_locations.add(p);
    if (p.local_jwks) {
      cp->keys = std::make_shared<KeySource>(parse_jwks(*p.local_jwks).jwks);
    } else {
      std::string authority, path;
      split_http_uri(p.remote_jwks->uri, authority, path);
      cp->keys = std::make_shared<KeySource>(*p.remote_jwks, std::move(authority), std::move(path));
    }
    if (!p.forward_payload_header.empty()) cp->sanitize.push_back(detail::to_lower(p.forward_payload_header));
    for (const auto& h : p.claim_to_headers) cp->sanitize.push_back(detail::to_lower(h.header_name));
    c->providers.push_back(std::move(cp));
  }
  for (const auto& [name, r] : config.requirement_map) c->requirement_map.emplace(name, compile_node(*c, r));
  c->requirement_names = names_of(config.requirement_map);
  for (const auto& rule : config.rules) {
    CompiledRule cr;
    cr.match = rule.match;
    if (!cr.match.case_sensitive) cr.match.value = detail::to_lower(cr.match.value);
    if (rule.match.kind == PathMatch::Kind::safe_regex)
      cr.regex = std::make_shared<re2::RE2>(rule.match.value, re2::RE2::Quiet);
    for (const auto& h : rule.headers) {
      std::string error;
      if (auto m = router::HeaderMatch::compile(h, error)) cr.headers.push_back(std::move(*m));
    }
    if (rule.requires_) {
      cr.own = std::make_unique<Node>(compile_node(*c, *rule.requires_));
      cr.node = cr.own.get();
    } else if (!rule.requirement_name.empty()) {
      cr.node = &c->requirement_map.find(rule.requirement_name)->second;
    }
    c->rules.push_back(std::move(cr));
  }
  c->bypass_cors_preflight = config.bypass_cors_preflight;
  c->strip_failure_response = config.strip_failure_response;
  return c;
}

bool CompiledRule::matches_path(std::string_view path) const {
  auto no_query = path.substr(0, path.find_first_of("?#"));
  auto starts = [&](std::string_view s) {
    if (s.size() < match.value.size()) return false;
    if (match.case_sensitive) return s.compare(0, match.value.size(), match.value) == 0;
    for (std::size_t i = 0; i < match.value.size(); ++i)
      if (detail::lower(s[i]) != match.value[i]) return false;
    return true;
  };
  switch (match.kind) {
    case PathMatch::Kind::prefix: return starts(path);
    case PathMatch::Kind::path: return no_query.size() == match.value.size() && starts(no_query);
    case PathMatch::Kind::safe_regex:
      return re2::RE2::FullMatch(re2::StringPiece(no_query.data(), no_query.size()), *regex);
    case PathMatch::Kind::path_separated_prefix: {
      if (!starts(path)) return false;
      if (path.size() == match.value.size()) return true;
      char next = path[match.value.size()];
      return next == '/' || next == '?' || next == '#';
    }
  }
  return false;
}

// --- evaluation -------------------------------------------------------------------------

Status Evaluation::run(const Node& n) {
  switch (n.kind) {
    case Kind::none: return Status::ok;
    case Kind::provider: return provider(*n.provider, n.override_audiences ? n.audiences : n.provider->audiences);
    case Kind::allow_missing: return allow(false);
    case Kind::allow_missing_or_failed: return allow(true);
    case Kind::requires_all:
      for (const auto& child : n.children)
        if (auto s = run(child); s != Status::ok) return s;
      return Status::ok;
    case Kind::requires_any: return any(n);
  }
  return Status::ok;
}

Status Evaluation::any(const Node& n) {
  std::vector<Status> results;
  for (const auto& child : n.children) {
    auto s = run(child);
    if (s == Status::ok) return s;
    results.push_back(s);
  }
  // Envoy's aggregation: a real error beats "missing" and "unknown issuer"; unknown issuer
  // beats missing.
  Status final_status = Status::jwt_missed;
  for (auto s : results)
    if ((s != Status::jwt_missed && s != Status::jwt_unknown_issuer) || final_status == Status::jwt_missed)
      final_status = s;
  if (n.allow_missing_or_failed) return Status::ok;
  if (n.allow_missing && final_status == Status::jwt_missed) return Status::ok;
  return final_status;
}

Status Evaluation::provider(const CompiledProvider& p, const std::vector<std::string>& audiences) {
  for (const auto& h : p.sanitize) effects.remove.push_back(h);
  std::vector<FoundToken> tokens;
  p.extractor.extract(req_, tokens);
  if (tokens.empty()) return Status::jwt_missed;
  // Every token must verify: a good token next to a bad one must not let the bad one through.
  for (const auto& t : tokens)
    if (auto s = token(t, &p, &audiences); s != Status::ok) return s;
  return Status::ok;
}

Status Evaluation::allow(bool allow_failed) {
  for (const auto& p : c_.providers)
    for (const auto& h : p->sanitize) effects.remove.push_back(h);
  std::vector<FoundToken> tokens;
  c_.all_locations.extract(req_, tokens);
  if (tokens.empty()) return Status::ok;
  Status first_failure = Status::ok;
  for (const auto& t : tokens) {
    auto s = token(t, nullptr, nullptr);
    if (s != Status::ok && first_failure == Status::ok) first_failure = s;
  }
  return allow_failed ? Status::ok : first_failure;
}

const ParsedTokens::Entry& ParsedTokens::get(std::string_view token) {
  for (const auto& e : entries_)
    if (e->text == token) return *e;
  auto& e = *entries_.emplace_back(std::make_unique<Entry>());
  e.text = token;
  e.status = parse_jwt(e.text, e.jwt);  // views into e.text, which never moves
  return e;
}

Status Evaluation::token(const FoundToken& t, const CompiledProvider* p, const std::vector<std::string>* audiences) {
  const auto& parsed = parsed_.get(t.token);
  if (parsed.status != Status::ok) return parsed.status;
  const Jwt& jwt = parsed.jwt;
  if (!t.where->issuer_allowed(jwt.iss)) return Status::jwt_unknown_issuer;
  if (!p) {
    // allow_missing(_or_failed): the provider of this issuer, else one without an issuer.
    for (const auto& cand : c_.providers)
      if (!cand->config.issuer.empty() && cand->config.issuer == jwt.iss) { p = cand.get(); break; }
    if (!p)
      for (const auto& cand : c_.providers)
        if (cand->config.issuer.empty()) { p = cand.get(); break; }
    if (!p) return Status::jwt_unknown_issuer;
    audiences = &p->audiences;
  }
  std::uint64_t skew = p->config.clock_skew_seconds ? p->config.clock_skew_seconds : 60;
  if (auto s = check_time(jwt, now_, skew); s != Status::ok) return s;
  if (!audiences_allowed(*audiences, jwt.audiences)) return Status::jwt_audience_not_allowed;
  const Jwks* keys = keys_(*p);
  if (!keys) return p->keys->is_remote() ? Status::jwks_fetch_fail : Status::jwks_no_valid_keys;
  if (auto s = verify_signature(jwt, *keys); s != Status::ok) return s;
  good(*p, t, jwt);
  return Status::ok;
}

void Evaluation::good(const CompiledProvider& p, const FoundToken& t, const Jwt& jwt) {
  const auto& cfg = p.config;
  if (!cfg.forward_payload_header.empty()) {
    std::string value(jwt.payload_b64);
    if (cfg.pad_forward_payload_header)
      while (value.size() % 4) value += '=';
    effects.add.emplace_back(cfg.forward_payload_header, std::move(value));
  }
  for (const auto& ch : cfg.claim_to_headers)
    if (auto v = claim_text(jwt.payload, ch.claim_name); v && !v->empty()) effects.add.emplace_back(ch.header_name, std::move(*v));
  // Like Envoy, only a header carrying the token is removed (not a query parameter).
  if (!cfg.forward && t.where->kind == TokenLocation::Kind::header) effects.remove.push_back(t.where->name);
  if (!cfg.payload_in_metadata.empty()) effects.metadata.emplace_back(cfg.payload_in_metadata, jwt.payload.dump());
  if (!cfg.header_in_metadata.empty()) effects.metadata.emplace_back(cfg.header_in_metadata, jwt.header.dump());
}

std::optional<std::string> claim_text(const nlohmann::json& payload, std::string_view dotted) {
  const nlohmann::json* v = &payload;
  while (true) {
    auto dot = dotted.find('.');
    auto part = dotted.substr(0, dot);
    if (!v->is_object()) return std::nullopt;
    auto it = v->find(std::string(part));
    if (it == v->end()) return std::nullopt;
    v = &*it;
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number_unsigned()) return std::to_string(v->get<std::uint64_t>());
  if (v->is_number_integer()) return claim_number(double(v->get<std::int64_t>()));
  if (v->is_number()) return claim_number(v->get<double>());
  return std::nullopt;
}

}  // namespace ferry::filters::jwt
