// The TLS session one upstream host pool resumes (UpstreamTlsContext.max_session_keys;
// ferry keeps the latest one). Kept out of OpenSSL's headers so that the pool's header
// stays light.
//
// Thread safety: belongs to one worker's host pool.
#pragma once

#include <string>
#include <string_view>

struct ssl_session_st;
struct ssl_st;

namespace ferry::tls {

class Connection;

class SessionCache {
 public:
  SessionCache() = default;
  ~SessionCache();
  SessionCache(SessionCache&& other) noexcept : session_(other.session_), sni_(std::move(other.sni_)) {
    other.session_ = nullptr;
  }
  SessionCache& operator=(SessionCache&& other) noexcept;

  /// Keeps the connection's session if it is new and resumable.
  void save(Connection& c);
  /// Offers the kept session on `ssl` when it was made for the same server name.
  void offer(ssl_st* ssl, std::string_view sni) const;

 private:
  ssl_session_st* session_ = nullptr;
  std::string sni_;  ///< the server name the session was made with
};

}  // namespace ferry::tls
