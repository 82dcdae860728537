// HTTP Basic authentication (Envoy's envoy.filters.http.basic_auth), usable from code.
//
// Users come in htpasswd format, one "name:hash" per line. Accepted hashes: Envoy's
// "{SHA}" (base64 of SHA-1, kept for compatibility only) and crypt(3) hashes through
// libxcrypt: "$y$" yescrypt, "$2b$"/"$2y$" bcrypt, "$6$" sha512-crypt, "$5$" sha256-crypt
// (salted). Legacy and unknown schemes (DES, "$1$" MD5, "$apr1$", plain text) are refused
// when the users are loaded. Hash comparison is constant-time, and an unknown user costs
// the same hashing work as a known one.
//
// A failure answers 401 with `WWW-Authenticate: Basic realm="<scheme>://<host><path>"` and
// Envoy's texts. Hashing runs on the worker: a slow hash (bcrypt cost 12 takes ~250 ms)
// stalls that worker for as long, so prefer moderate costs for busy endpoints.
//
// Thread safety: the config is a plain value; the factory is shared by all workers and
// safe to call concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ferry/filter_chain.hpp>
#include <ferry/router.hpp>
#include <ferry/types.hpp>

namespace ferry::filters {

struct BasicAuthConfig {
  std::string users{};                    ///< htpasswd text
  std::string forward_username_header{};  ///< set to the user name after success, when not empty
  std::string authentication_header{};    ///< read credentials here instead of Authorization
};

/// Per-route settings (typed_per_filter_config "envoy.filters.http.basic_auth"): other users
/// for the route (Envoy's BasicAuthPerRoute), or no authentication at all.
class BasicAuthPerRoute final : public RouteFilterConfig {
 public:
  /// Parses `users` (htpasswd); throws ConfigError when invalid.
  static std::shared_ptr<const BasicAuthPerRoute> with_users(const std::string& users);
  static std::shared_ptr<const BasicAuthPerRoute> disabled();

  struct Users;  // the parsed table (lib/filters/basic_auth/htpasswd.hpp)
  BasicAuthPerRoute(std::shared_ptr<const Users> users, bool disabled)
      : users_(std::move(users)), disabled_(disabled) {}
  const std::shared_ptr<const Users>& users() const noexcept { return users_; }
  bool is_disabled() const noexcept { return disabled_; }

 private:
  std::shared_ptr<const Users> users_;
  bool disabled_;
};

inline constexpr const char* kBasicAuthFilterName = "envoy.filters.http.basic_auth";

/// Problems of an htpasswd text ("line 2: ..."); empty when it is usable.
std::vector<std::string> check_htpasswd(const std::string& users);

/// Builds the filter. Throws ConfigError (path "users") when the users are invalid.
FilterFactory make_basic_auth_factory(BasicAuthConfig config);

}  // namespace ferry::filters
