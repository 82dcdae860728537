#include "tls/client_tls.hpp"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <cstring>

namespace ferry::tls {

namespace {

// "host:port" / "[v6]:port" → host.
std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto end = host.find(']');
    return end == std::string_view::npos ? host : host.substr(1, end - 1);
  }
  auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool is_ip(std::string_view s) {
  unsigned char buf[16];
  std::string z(s);
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

}  // namespace

SessionCache::~SessionCache() {
  if (session_) SSL_SESSION_free(session_);
}

SessionCache& SessionCache::operator=(SessionCache&& other) noexcept {
  if (this != &other) {
    if (session_) SSL_SESSION_free(session_);
    session_ = other.session_;
    sni_ = std::move(other.sni_);
    other.session_ = nullptr;
  }
  return *this;
}

void SessionCache::save(Connection& c) {
  // With TLS 1.3 the ticket arrives after the handshake, so the session is taken when the
  // connection goes back to the pool (a response has been read by then).
  // Once per connection: later requests on it change nothing. A resumed TLS 1.3 connection
  // got fresh tickets, so its session replaces the kept one too.
  if (c.session_saved) return;
  c.session_saved = true;
  SSL_SESSION* s = SSL_get1_session(c.ssl());
  if (!s) return;
  if (!SSL_SESSION_is_resumable(s)) {
    SSL_SESSION_free(s);
    return;
  }
  // Copies, here and in offer(): OpenSSL marks a connection's own session unresumable when
  // the connection is freed without a close_notify, which is how pooled connections end.
  SSL_SESSION* copy = SSL_SESSION_dup(s);
  SSL_SESSION_free(s);
  if (!copy) return;
  if (session_) SSL_SESSION_free(session_);
  session_ = copy;
  sni_ = c.sni;
}

void SessionCache::offer(SSL* ssl, std::string_view sni) const {
  // The session's own hostname is only set when the server acknowledged SNI, so the name
  // it was made with is kept here.
  if (!session_ || sni != sni_) return;
  if (SSL_SESSION* copy = SSL_SESSION_dup(session_)) {
    SSL_set_session(ssl, copy);
    SSL_SESSION_free(copy);
  }
}

std::shared_ptr<const ClientTls> ClientTls::create(const UpstreamTlsOptions& options, const std::string& path,
                                                   std::vector<ConfigProblem>& problems) {
  auto before = problems.size();
  validate_upstream_tls(options, path, problems);
  if (problems.size() != before) return nullptr;
  auto tls = std::make_shared<ClientTls>();
  tls->options_ = options;
  tls->ctx_ = build_context(options.common_tls_context, false, SSL_VERIFY_PEER, path + ".common_tls_context", problems);
  if (!tls->ctx_) return nullptr;
  // Sessions are kept by the host pools (SessionCache), not by OpenSSL's cache.
  SSL_CTX_set_session_cache_mode(tls->ctx_.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  if (!options.common_tls_context.alpn_protocols.empty()) {
    std::string wire;
    for (const auto& p : options.common_tls_context.alpn_protocols) {
      wire += char(p.size());
      wire += p;
    }
    SSL_CTX_set_alpn_protos(tls->ctx_.get(), reinterpret_cast<const unsigned char*>(wire.data()), unsigned(wire.size()));
  }
  return tls;
}

std::unique_ptr<Connection> ClientTls::connect(int fd, std::string_view host, const SessionCache* cache) const {
  SSL* ssl = SSL_new(ctx_.get());
  if (!ssl) return nullptr;
  auto conn = std::make_unique<Connection>(ssl);
  if (!attach_socket(ssl, fd)) return nullptr;
  SSL_set_connect_state(ssl);
  std::string sni(sni_for(host));
  // SNI carries host names only (RFC 6066 3).
  if (!sni.empty() && !is_ip(sni)) SSL_set_tlsext_host_name(ssl, sni.c_str());
  if (options_.auto_san_validation && !sni.empty()) SSL_set1_host(ssl, sni.c_str());
  conn->sni = std::move(sni);
  if (cache) cache->offer(ssl, conn->sni);
  return conn;
}

std::string_view ClientTls::sni_for(std::string_view host) const {
  return options_.auto_sni && !host.empty() ? strip_port(host) : std::string_view(options_.sni);
}

}  // namespace ferry::tls
