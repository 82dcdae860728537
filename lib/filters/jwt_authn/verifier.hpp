// The compiled jwt_authn configuration and the evaluation of a requirement against one
// request (Envoy's Verifier tree and Authenticator, made synchronous: keys a request needs
// from a remote JWKS are fetched before evaluation starts, see filter.cpp).
//
// Evaluation only reads the request. What a verified token leaves behind (headers to drop
// and add, dynamic metadata) is collected in Effects and applied by the filter when the
// requirement as a whole is satisfied.
//
// Thread safety: Compiled is immutable and shared by all workers; an Evaluation belongs to
// one request.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ferry/filters/jwt_authn.hpp>
#include <ferry/headers.hpp>

#include "filters/jwt_authn/extractor.hpp"
#include "filters/jwt_authn/jws.hpp"
#include "filters/jwt_authn/key_source.hpp"
#include "router/matchers.hpp"

namespace re2 {
class RE2;
}

namespace ferry::filters::jwt {

struct CompiledProvider {
  std::string name;
  JwtProvider config;
  std::vector<std::string> audiences;  ///< sanitized
  Extractor extractor;
  std::shared_ptr<KeySource> keys;
  std::vector<std::string> sanitize;  ///< headers a verified token writes (dropped from clients)
};

struct Node {
  JwtRequirement::Kind kind = JwtRequirement::Kind::none;
  const CompiledProvider* provider = nullptr;
  bool override_audiences = false;
  std::vector<std::string> audiences;  ///< sanitized
  std::vector<Node> children;          ///< requires_any / requires_all (allow kinds folded into flags)
  bool allow_missing = false;          ///< requires_any with an allow_missing member
  bool allow_missing_or_failed = false;
};

struct CompiledRule {
  PathMatch match;
  std::shared_ptr<const re2::RE2> regex;
  std::vector<router::HeaderMatch> headers;
  std::unique_ptr<Node> own;  ///< the rule's `requires`
  const Node* node = nullptr;  ///< what applies; null: no verification
  bool matches_path(std::string_view path) const;
};

struct Compiled {
  std::vector<std::unique_ptr<CompiledProvider>> providers;
  Extractor all_locations;  ///< every provider's locations, for allow_missing(_or_failed)
  std::vector<CompiledRule> rules;
  std::map<std::string, Node, std::less<>> requirement_map;
  std::string requirement_names;  ///< "a,b" for the wrong requirement_name message
  bool bypass_cors_preflight = false;
  bool strip_failure_response = false;
};

/// Compiles a config that check() found valid.
std::shared_ptr<const Compiled> compile(const JwtAuthnConfig& config);
/// Envoy-path problems of a config (see check_jwt_authn).
std::vector<ConfigProblem> check(const JwtAuthnConfig& config);

/// What a satisfied requirement does to the request.
struct Effects {
  std::vector<std::string> remove;
  std::vector<std::pair<std::string, std::string>> add;
  std::vector<std::pair<std::string, std::string>> metadata;  ///< key, JSON
};

/// The keys a provider verifies with for this request; null when it has none (a remote
/// JWKS not fetched, or the fetch failed).
using KeyLookup = std::function<const Jwks*(const CompiledProvider&)>;

/// The tokens of one request, each parsed once: the filter's look at the tokens before a
/// key fetch (kid, alg, iss) and the evaluation after it share one ParsedTokens, and so do
/// providers that read the same header. An entry owns a copy of the token text, which its
/// Jwt's views point into, so it stays valid across the pause of a fetch.
class ParsedTokens {
 public:
  struct Entry {
    std::string text;
    Status status = Status::ok;
    Jwt jwt;
  };
  /// `token`, parsed on its first use in this request.
  const Entry& get(std::string_view token);

 private:
  std::vector<std::unique_ptr<Entry>> entries_;  ///< a request has one or two tokens
};

class Evaluation {
 public:
  /// `parsed`: tokens parsed earlier in this request (null: the evaluation keeps its own).
  Evaluation(const Compiled& c, const RequestHeaders& req, std::uint64_t now, KeyLookup keys,
             ParsedTokens* parsed = nullptr)
      : c_(c), req_(req), now_(now), keys_(std::move(keys)), parsed_(parsed ? *parsed : own_parsed_) {}
  Status run(const Node& n);
  Effects effects;

 private:
  Status provider(const CompiledProvider& p, const std::vector<std::string>& audiences);
  Status allow(bool allow_failed);
  Status any(const Node& n);
  /// One token: `p` is the provider, or null to pick it by the token's issuer.
  Status token(const FoundToken& t, const CompiledProvider* p, const std::vector<std::string>* audiences);
  void good(const CompiledProvider& p, const FoundToken& t, const Jwt& jwt);

  const Compiled& c_;
  const RequestHeaders& req_;
  std::uint64_t now_;
  KeyLookup keys_;
  ParsedTokens own_parsed_;
  ParsedTokens& parsed_;
};

/// A claim's value as a header value (Envoy's claim_to_headers: strings, numbers, bools).
std::optional<std::string> claim_text(const nlohmann::json& payload, std::string_view dotted);

}  // namespace ferry::filters::jwt
