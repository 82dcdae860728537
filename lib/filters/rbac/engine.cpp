// Compiling and evaluating RBAC policies (see engine.hpp).
#include "filters/rbac/engine.hpp"

#include <nlohmann/json.hpp>

#include "common/arena.hpp"
#include "filters/common/filter_util.hpp"

namespace ferry::filters::detail {

namespace {

using K = RbacNode::Kind;

struct Compiler {
  std::vector<ConfigProblem>& problems;

  void problem(const std::string& path, std::string message) { problems.push_back({path, std::move(message)}); }

  std::optional<router::StringMatcher> string(const StringMatch& m, const std::string& path) {
    std::string error;
    auto c = router::StringMatcher::compile(m, error);
    if (!c) problem(path, error);
    return c;
  }

  std::optional<router::HeaderMatch> header(const HeaderMatcher& m, const std::string& path) {
    if (m.name.empty()) problem(path + ".name", "must not be empty");
    std::string error;
    auto c = router::HeaderMatch::compile(m, error);
    if (!c) problem(path, error);
    return c;
  }

  std::optional<ferry::detail::Cidr> cidr(const std::string& text, const std::string& path) {
    std::string error;
    auto c = ferry::detail::Cidr::parse(text, error);
    if (!c) problem(path, error.empty() ? "invalid CIDR range " + text : error);
    return c;
  }

  RbacNode::Value value(const RbacValueMatch& v, const std::string& path) {
    RbacNode::Value out;
    out.kind = v.kind;
    out.boolean = v.bool_match;
    out.number = v.number;
    using VK = RbacValueMatch::Kind;
    if (v.kind == VK::string) out.string = string(v.string_match, path + ".string_match");
    if (v.kind == VK::list_one_of) {
      if (v.one_of.size() != 1) problem(path + ".list_match.one_of", "needs one value matcher");
      else out.one_of.push_back(value(v.one_of[0], path + ".list_match.one_of"));
    }
    return out;
  }

  void metadata(const RbacMetadataMatch& m, const std::string& path, RbacNode& n) {
    if (m.filter.empty()) problem(path + ".filter", "must not be empty");
    if (m.path.empty()) problem(path + ".path", "needs at least one key");
    n.metadata_filter = m.filter;
    n.metadata_path = m.path;
    n.metadata_value = value(m.value, path + ".value");
    n.invert = m.invert;
  }

  RbacNode permission(const RbacPermission& p, const std::string& path) {
    using PK = RbacPermission::Kind;
    RbacNode n;
    switch (p.kind) {
      case PK::any: n.kind = K::any; break;
      case PK::header: n.kind = K::header, n.header = header(p.header, path + ".header"); break;
      case PK::url_path: n.kind = K::url_path, n.string = string(p.url_path, path + ".url_path.path"); break;
      case PK::destination_port:
        n.kind = K::destination_port, n.port = p.port;
        if (p.port > 65535) problem(path + ".destination_port", "must be at most 65535");
        break;
      case PK::destination_ip: n.kind = K::destination_ip, n.cidr = cidr(p.cidr, path + ".destination_ip"); break;
      case PK::metadata: n.kind = K::metadata, metadata(p.metadata, path + ".metadata", n); break;
      case PK::and_rules:
      case PK::or_rules: {
        n.kind = p.kind == PK::and_rules ? K::all_of : K::any_of;
        std::string base = path + (p.kind == PK::and_rules ? ".and_rules.rules" : ".or_rules.rules");
        if (p.rules.empty()) problem(base, "must not be empty");
        for (std::size_t i = 0; i < p.rules.size(); ++i)
          n.children.push_back(permission(p.rules[i], base + "[" + std::to_string(i) + "]"));
        break;
      }
      case PK::not_rule:
        n.kind = K::none_of;
        if (p.rules.size() != 1) problem(path + ".not_rule", "needs exactly one rule");
        else n.children.push_back(permission(p.rules[0], path + ".not_rule"));
        break;
    }
    return n;
  }

  RbacNode principal(const RbacPrincipal& p, const std::string& path) {
    using PK = RbacPrincipal::Kind;
    RbacNode n;
    switch (p.kind) {
      case PK::any: n.kind = K::any; break;
      case PK::authenticated:
        n.kind = K::authenticated;
        if (p.principal_name) n.string = string(*p.principal_name, path + ".authenticated.principal_name");
        break;
      case PK::direct_remote_ip:
        n.kind = K::direct_remote_ip, n.cidr = cidr(p.cidr, path + ".direct_remote_ip");
        break;
      case PK::remote_ip: n.kind = K::remote_ip, n.cidr = cidr(p.cidr, path + ".remote_ip"); break;
      case PK::header: n.kind = K::header, n.header = header(p.header, path + ".header"); break;
      case PK::url_path: n.kind = K::url_path, n.string = string(p.url_path, path + ".url_path.path"); break;
      case PK::metadata: n.kind = K::metadata, metadata(p.metadata, path + ".metadata", n); break;
      case PK::and_ids:
      case PK::or_ids: {
        n.kind = p.kind == PK::and_ids ? K::all_of : K::any_of;
        std::string base = path + (p.kind == PK::and_ids ? ".and_ids.ids" : ".or_ids.ids");
        if (p.ids.empty()) problem(base, "must not be empty");
        for (std::size_t i = 0; i < p.ids.size(); ++i)
          n.children.push_back(principal(p.ids[i], base + "[" + std::to_string(i) + "]"));
        break;
      }
      case PK::not_id:
        n.kind = K::none_of;
        if (p.ids.size() != 1) problem(path + ".not_id", "needs exactly one principal");
        else n.children.push_back(principal(p.ids[0], path + ".not_id"));
        break;
    }
    return n;
  }
};

bool match_header(const router::HeaderMatch& m, const RequestHeaders& req) {
  char storage[512];
  ferry::detail::Arena arena(storage, sizeof storage);  // only used to join repeated fields
  std::string_view scheme = req.get("x-forwarded-proto");
  return m.match(router::RequestFacts{req, scheme.empty() ? std::string_view("http") : scheme, arena});
}

std::string_view path_without_query(std::string_view path) {
  auto q = path.find('?');
  return q == std::string_view::npos ? path : path.substr(0, q);
}

bool match_authenticated(const RbacNode& n, StreamContext& ctx) {
  const PeerCertificate* cert = ctx.peer_certificate();
  if (!cert) return false;
  if (!n.string) return true;  // any verified client certificate
  for (const auto& uri : cert->uri_sans)
    if (n.string->match(uri)) return true;
  for (const auto& dns : cert->dns_sans)
    if (n.string->match(dns)) return true;
  return n.string->match(cert->subject);
}

using Json = nlohmann::json;

bool match_value(const Json* v, const RbacNode::Value& m) {
  using VK = RbacValueMatch::Kind;
  if (!v) return false;  // a missing value matches nothing (Envoy's unset Value)
  switch (m.kind) {
    case VK::null_value: return v->is_null();
    case VK::string: return v->is_string() && m.string && m.string->match(v->get_ref<const std::string&>());
    case VK::bool_value: return v->is_boolean() && v->get<bool>() == m.boolean;
    case VK::number: return v->is_number() && v->get<double>() == m.number;
    case VK::present: return true;
    case VK::list_one_of:
      if (!v->is_array() || m.one_of.empty()) return false;
      for (const auto& item : *v)
        if (match_value(&item, m.one_of[0])) return true;
      return false;
  }
  return false;
}

bool match_metadata(const RbacNode& n, StreamContext& ctx) {
  const std::string* json = ctx.dynamic_metadata(n.metadata_filter, n.metadata_path.front());
  bool matched = json && rbac_match_json(*json, n.metadata_path, 1, n.metadata_value);
  return matched != n.invert;
}

}  // namespace

bool rbac_match_json(std::string_view text, const std::vector<std::string>& path, std::size_t from,
                     const RbacNode::Value& value) {
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded()) return false;
  const Json* at = &doc;
  for (std::size_t i = from; i < path.size() && at; ++i) {
    if (!at->is_object()) return false;
    auto it = at->find(path[i]);
    at = it == at->end() ? nullptr : &*it;
  }
  return match_value(at, value);
}

bool rbac_match(const RbacNode& n, const RequestHeaders& req, StreamContext& ctx) {
  switch (n.kind) {
    case K::any: return true;
    case K::header: return n.header && match_header(*n.header, req);
    case K::url_path: return n.string && n.string->match(path_without_query(req.path()));
    case K::destination_port: return ctx.downstream_local_port() == n.port;
    case K::destination_ip: return n.cidr && n.cidr->contains(ip_of(ctx.downstream_local_address()));
    case K::direct_remote_ip: return n.cidr && n.cidr->contains(ip_of(ctx.downstream_direct_remote_address()));
    case K::remote_ip: return n.cidr && n.cidr->contains(ip_of(ctx.downstream_remote_address()));
    case K::authenticated: return match_authenticated(n, ctx);
    case K::metadata: return !n.metadata_path.empty() && match_metadata(n, ctx);
    case K::all_of:
      for (const auto& c : n.children)
        if (!rbac_match(c, req, ctx)) return false;
      return true;
    case K::any_of:
      for (const auto& c : n.children)
        if (rbac_match(c, req, ctx)) return true;
      return false;
    case K::none_of: return !n.children.empty() && !rbac_match(n.children[0], req, ctx);
  }
  return false;
}

std::optional<RbacEngine> RbacEngine::compile(const RbacRules& rules, const std::string& path,
                                              std::vector<ConfigProblem>& problems) {
  auto before = problems.size();
  Compiler c{problems};
  RbacEngine e;
  e.action_ = rules.action;
  for (const auto& [name, policy] : rules.policies) {  // std::map: name order, as Envoy's
    std::string base = path + ".policies[\"" + name + "\"]";
    Policy p{name, {}, {}};
    if (policy.permissions.empty()) c.problem(base + ".permissions", "must not be empty");
    if (policy.principals.empty()) c.problem(base + ".principals", "must not be empty");
    for (std::size_t i = 0; i < policy.permissions.size(); ++i)
      p.permissions.push_back(c.permission(policy.permissions[i], base + ".permissions[" + std::to_string(i) + "]"));
    for (std::size_t i = 0; i < policy.principals.size(); ++i)
      p.principals.push_back(c.principal(policy.principals[i], base + ".principals[" + std::to_string(i) + "]"));
    e.policies_.push_back(std::move(p));
  }
  if (problems.size() != before) return std::nullopt;
  return e;
}

RbacEngine::Decision RbacEngine::evaluate(const RequestHeaders& req, StreamContext& ctx) const {
  Decision d;
  for (const auto& p : policies_) {
    bool permitted = false;
    for (const auto& n : p.permissions)
      if ((permitted = rbac_match(n, req, ctx))) break;
    if (!permitted) continue;
    for (const auto& n : p.principals)
      if (rbac_match(n, req, ctx)) {
        d.matched = true;
        d.policy = &p.name;
        break;
      }
    if (d.matched) break;
  }
  // ALLOW: allowed when a policy matched; DENY: when none did; LOG: always.
  d.allowed = action_ == RbacRules::Action::log || d.matched == (action_ == RbacRules::Action::allow);
  return d;
}

}  // namespace ferry::filters::detail
