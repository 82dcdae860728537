// The keys of one provider: a local JWKS (parsed once, immutable), or a remote one fetched
// through a cluster and cached for cache_duration.
//
// A remote source is shared by every worker. Requests read the current key set under a
// mutex: one uncontended lock and a shared_ptr copy per provider per request that needs
// remote keys (needs_fetch hands out the keys under the same lock as its decision), far
// below the cost of the signature check itself. A request that needs keys the cache
// lacks joins the one fetch in flight (started by the first such request, on its worker);
// when the fetch ends every waiter is resumed, whatever worker it is on
// (StreamResumer::resume is thread-safe). A token whose kid is unknown triggers a refetch
// at most once per kid_refetch_interval; a failed fetch is not retried for a second (Envoy's
// failed_refetch_duration default), and keeps the previous keys if there were any.
//
// Thread safety: all members are safe to call from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ferry/filter.hpp>
#include <ferry/filters/jwt_authn.hpp>

#include "filters/jwt_authn/jwks.hpp"

namespace ferry::filters::jwt {

class KeySource {
 public:
  using Clock = std::chrono::steady_clock;

  explicit KeySource(std::shared_ptr<const Jwks> local) : local_(std::move(local)) {}
  KeySource(RemoteJwks remote, std::string authority, std::string path)
      : remote_(std::move(remote)), authority_(std::move(authority)), path_(std::move(path)) {}

  bool is_remote() const noexcept { return !local_; }
  const Jwks* local() const noexcept { return local_.get(); }

  /// The cached remote keys (null before the first successful fetch). Stale keys are
  /// returned too: needs_fetch() decides about refreshing.
  std::shared_ptr<const Jwks> current() const;

  /// Whether a request holding a token with this kid/alg should fetch first: no keys yet,
  /// keys older than cache_duration, or (rate-limited) no key for the kid. `keys`, when
  /// given, gets current() in the same lock.
  bool needs_fetch(Clock::time_point now, std::string_view kid, std::string_view alg,
                   std::shared_ptr<const Jwks>* keys = nullptr);

  /// Registers `waiter` for the next fetch's end. Returns true when the caller must start
  /// the fetch (with request()/remote().cluster/timeout and finish() as its completion).
  bool join(std::function<void()> waiter);
  HttpCallRequest request() const;
  const RemoteJwks& remote() const noexcept { return remote_; }
  /// Installs the fetched keys (when the answer is a valid JWKS) and wakes the waiters.
  void finish(const HttpCallResponse& response, Clock::time_point now);

  /// Fetch outcomes so far, for tests and logs.
  std::uint64_t fetches() const;

 private:
  std::shared_ptr<const Jwks> local_;
  RemoteJwks remote_{};
  std::string authority_, path_;

  mutable std::mutex mu_;
  std::shared_ptr<const Jwks> keys_;
  Clock::time_point fetched_at_{};
  Clock::time_point retry_after_{};
  Clock::time_point last_kid_refetch_{};
  bool kid_refetched_ = false;
  bool in_flight_ = false;
  std::uint64_t fetches_ = 0;
  std::vector<std::function<void()>> waiters_;
};

/// Splits an http(s) URI into authority and path (with query); false when it is not one.
bool split_http_uri(std::string_view uri, std::string& authority, std::string& path);

}  // namespace ferry::filters::jwt
