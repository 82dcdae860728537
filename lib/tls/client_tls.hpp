// TLS origination for one cluster (UpstreamTlsContext): one client SSL_CTX shared by the
// workers, SNI (fixed or from the request's Host), verification, and session reuse across
// a host pool's connections.
//
// Thread safety: ClientTls is immutable after create() and shared by the workers; a
// SessionCache belongs to one worker's host pool.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/tls.hpp>

#include "tls/connection.hpp"
#include "tls/context.hpp"
#include "tls/session_cache.hpp"

namespace ferry::tls {

class ClientTls {
 public:
  /// Reads the client certificate and CA (on this thread); null with problems under `path`.
  static std::shared_ptr<const ClientTls> create(const UpstreamTlsOptions& options, const std::string& path,
                                                 std::vector<ConfigProblem>& problems);

  /// A client-side connection on descriptor `fd`. `host` is the request's Host (used with
  /// auto_sni, port stripped).
  std::unique_ptr<Connection> connect(int fd, std::string_view host, const SessionCache* cache) const;
  const UpstreamTlsOptions& options() const noexcept { return options_; }
  /// The server name a request with this Host gets (auto_sni) or the configured one.
  std::string_view sni_for(std::string_view host) const;

 private:
  UpstreamTlsOptions options_;
  CtxPtr ctx_;
};

}  // namespace ferry::tls
