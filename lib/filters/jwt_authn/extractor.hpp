// Where tokens are in a request (Envoy's jwt_authn Extractor): headers with an optional
// value prefix, and query parameters. Each location remembers which issuers named it, so a
// token found there is only accepted from one of them.
//
// Thread safety: immutable after construction; extract() only reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <ferry/filters/jwt_authn.hpp>
#include <ferry/headers.hpp>

namespace ferry::filters::jwt {

struct TokenLocation {
  enum class Kind : std::uint8_t { header, param };
  Kind kind = Kind::header;
  std::string name{};    ///< header name (lower case) or parameter name
  std::string prefix{};  ///< header value prefix
  bool any_issuer = false;
  std::vector<std::string> issuers{};
  bool issuer_allowed(std::string_view iss) const;
};

struct FoundToken {
  std::string_view token;
  const TokenLocation* where;
};

class Extractor {
 public:
  /// Adds a provider's locations (its defaults when it names none).
  void add(const JwtProvider& provider);
  /// Appends every token found, header locations first.
  void extract(const RequestHeaders& req, std::vector<FoundToken>& out) const;

 private:
  TokenLocation& location(TokenLocation::Kind kind, std::string name, std::string prefix);
  std::vector<TokenLocation> locations_;
};

}  // namespace ferry::filters::jwt
