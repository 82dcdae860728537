// A parsed htpasswd table and password checks against it (crypt(3) via libxcrypt's
// crypt_r, or Envoy's {SHA}).
//
// Thread safety: immutable after parsing; verify() keeps its scratch space per call.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <ferry/filters/basic_auth.hpp>

namespace ferry::filters {

struct BasicAuthPerRoute::Users {
  std::unordered_map<std::string, std::string> hashes;  ///< user -> hash as written
  std::string decoy;  ///< a hash of the same scheme as the users', checked for unknown users

  /// Parses htpasswd text; `problems` gets "line N: ..." entries.
  static std::shared_ptr<const Users> parse(std::string_view text, std::vector<std::string>& problems);
  /// Whether `password` matches `user`'s hash, in time that does not tell whether the user
  /// exists.
  bool verify(std::string_view user, std::string_view password) const;
};

namespace basic_auth {
/// Whether `password` matches `hash` ({SHA} or a crypt(3) string); constant-time compare.
bool check_hash(std::string_view hash, std::string_view password);
/// Why `hash` is refused, or "" when it is accepted.
std::string hash_problem(std::string_view hash);
}  // namespace basic_auth

}  // namespace ferry::filters
