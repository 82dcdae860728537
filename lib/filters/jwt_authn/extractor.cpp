#include "filters/jwt_authn/extractor.hpp"

#include <algorithm>

#include "common/ascii.hpp"
#include "router/matchers.hpp"

namespace ferry::filters::jwt {

namespace {

constexpr std::string_view kTokenChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

// After the prefix, the token starts at the first base64url character (Envoy's extractJWT).
std::string_view after_prefix(std::string_view value, std::size_t after) {
  auto start = value.find_first_of(kTokenChars, after);
  return start == std::string_view::npos ? value : value.substr(start);
}

}  // namespace

bool TokenLocation::issuer_allowed(std::string_view iss) const {
  return any_issuer || std::find(issuers.begin(), issuers.end(), iss) != issuers.end();
}

TokenLocation& Extractor::location(TokenLocation::Kind kind, std::string name, std::string prefix) {
  for (auto& l : locations_)
    if (l.kind == kind && l.name == name && l.prefix == prefix) return l;
  locations_.push_back({kind, std::move(name), std::move(prefix), false, {}});
  return locations_.back();
}

void Extractor::add(const JwtProvider& p) {
  auto name_issuer = [&](TokenLocation& l) {
    if (p.issuer.empty()) l.any_issuer = true;
    else l.issuers.push_back(p.issuer);
  };
  for (const auto& h : p.from_headers)
    name_issuer(location(TokenLocation::Kind::header, detail::to_lower(h.name), h.value_prefix));
  for (const auto& q : p.from_params) name_issuer(location(TokenLocation::Kind::param, q, {}));
  if (p.from_headers.empty() && p.from_params.empty()) {
    name_issuer(location(TokenLocation::Kind::header, "authorization", "Bearer "));
    name_issuer(location(TokenLocation::Kind::param, "access_token", {}));
  }
  // Header locations first, as Envoy checks them.
  std::stable_partition(locations_.begin(), locations_.end(),
                        [](const TokenLocation& l) { return l.kind == TokenLocation::Kind::header; });
}

void Extractor::extract(const RequestHeaders& req, std::vector<FoundToken>& out) const {
  std::string_view path = req.path();
  auto q = path.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view{} : path.substr(q + 1);
  for (const auto& l : locations_) {
    if (l.kind == TokenLocation::Kind::param) {
      if (auto v = router::find_query_parameter(query, l.name)) out.push_back({*v, &l});
      continue;
    }
    for (const auto& field : req) {
      if (!iequals(field.name, l.name)) continue;
      std::string_view value = field.value;
      if (!l.prefix.empty()) {
        auto pos = value.find(l.prefix);
        if (pos == std::string_view::npos) continue;
        value = after_prefix(value, pos + l.prefix.size());
      }
      out.push_back({value, &l});
    }
  }
}

}  // namespace ferry::filters::jwt
