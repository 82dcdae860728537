// Envoy's RouteAction.hash_policy, compiled: the per-request hash that RING_HASH and MAGLEV
// balance on, and the Set-Cookie of a minted cookie.
//
// Thread safety: CompiledHashPolicy is immutable and shared by workers; compute() touches
// only its arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/headers.hpp>
#include <ferry/router.hpp>

namespace ferry::detail {
class Arena;
}

namespace ferry::router {

struct Downstream;

class CompiledHashPolicy {
 public:
  explicit CompiledHashPolicy(const std::vector<HashPolicy>& policies);

  /// The request's hash, or none when no entry yields one. When a cookie entry with a ttl
  /// finds no cookie, a value is minted from the peer address and `set_cookie` receives the
  /// Set-Cookie value to send back (in the arena).
  std::optional<std::uint64_t> compute(const RequestHeaders& req, const Downstream& down, detail::Arena& arena,
                                       std::string_view& set_cookie) const;

 private:
  struct Entry {
    HashPolicy::Kind kind;
    std::string name;  ///< lower-cased for headers
    std::int64_t ttl_s = -1;  ///< cookie: < 0 no minting
    std::string path;
    bool terminal;
  };
  std::optional<std::uint64_t> evaluate(const Entry& e, const RequestHeaders& req, const Downstream& down,
                                        detail::Arena& arena, std::string_view& set_cookie) const;
  std::vector<Entry> entries_;
};

/// The value of cookie `name` in the request's Cookie header(s), if any.
std::optional<std::string_view> find_cookie(const RequestHeaders& req, std::string_view name);

}  // namespace ferry::router
