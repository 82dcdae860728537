#include "support/tls_peers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <stdexcept>

namespace ferry::test {

namespace {

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string cn_of(X509* x) {
  if (!x) return {};
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
  return buf;
}

// Reads one HTTP message head from `ssl`, then a Content-Length body if any.
bool read_message(SSL* ssl, std::string& head, std::string& body, std::string& rest) {
  std::string buf = std::move(rest);
  rest.clear();
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    char chunk[4096];
    int n = SSL_read(ssl, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, std::size_t(n));
  }
  head = buf.substr(0, end + 4);
  buf.erase(0, end + 4);
  std::size_t length = 0;
  std::string lower;
  for (char c : head) lower += char(std::tolower(static_cast<unsigned char>(c)));
  if (auto p = lower.find("\r\ncontent-length:"); p != std::string::npos) length = std::stoul(lower.substr(p + 17));
  while (buf.size() < length) {
    char chunk[4096];
    int n = SSL_read(ssl, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, std::size_t(n));
  }
  body = buf.substr(0, length);
  rest = buf.substr(length);
  return true;
}

bool write_all(SSL* ssl, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    int n = SSL_write(ssl, s.data() + done, int(s.size() - done));
    if (n <= 0) return false;
    done += std::size_t(n);
  }
  return true;
}

}  // namespace

// --- upstream ----------------------------------------------------------------------------

struct TlsFakeUpstream::Ctx {
  SSL_CTX* ctx = nullptr;
  bool upgrade_echo = false;
  ~Ctx() { SSL_CTX_free(ctx); }
};

namespace {

// The far end of an upgrade tunnel: 101, then every byte back upper-cased until EOF.
void echo_upgraded(SSL* ssl, std::string pending) {
  if (!write_all(ssl, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
    return;
  char chunk[4096];
  for (;;) {
    for (auto& c : pending) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (!pending.empty() && !write_all(ssl, pending)) return;
    int n = SSL_read(ssl, chunk, sizeof chunk);
    if (n <= 0) return;
    pending.assign(chunk, std::size_t(n));
  }
}

}  // namespace

TlsFakeUpstream::TlsFakeUpstream(TlsUpstreamOptions options) : ctx_(std::make_unique<Ctx>()) {
  std::signal(SIGPIPE, SIG_IGN);  // the test peers write with SSL_write on plain sockets
  ctx_->ctx = SSL_CTX_new(TLS_server_method());
  ctx_->upgrade_echo = options.upgrade_echo;
  if (SSL_CTX_use_certificate_chain_file(ctx_->ctx, options.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_->ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("TlsFakeUpstream: bad certificate or key");
  if (!options.client_ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx_->ctx, options.client_ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  static const unsigned char sid[] = "ferry-fake-upstream";
  SSL_CTX_set_session_id_context(ctx_->ctx, sid, sizeof sid - 1);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("TlsFakeUpstream: cannot listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TlsFakeUpstream::~TlsFakeUpstream() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  {
    std::lock_guard lock(mutex_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  ::close(listen_fd_);
}

void TlsFakeUpstream::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void TlsFakeUpstream::serve(int fd) {
  set_timeouts(fd, 10);
  SSL* ssl = SSL_new(ctx_->ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) {
    ++handshakes_;
    if (SSL_session_reused(ssl)) ++resumed_;
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    X509* peer = SSL_get1_peer_certificate(ssl);
    {
      std::lock_guard lock(mutex_);
      sni_ = sni ? sni : "";
      client_cn_ = cn_of(peer);
    }
    X509_free(peer);
    std::string head, body, rest;
    while (!stopping_ && read_message(ssl, head, body, rest)) {
      ++requests_;
      if (ctx_->upgrade_echo) {
        {
          std::lock_guard lock(mutex_);
          head_ = head;
        }
        echo_upgraded(ssl, rest);
        break;
      }
      std::string reply = "tls-upstream sni=" + std::string(sni ? sni : "");
      {
        std::lock_guard lock(mutex_);
        head_ = head;
      }
      if (!write_all(ssl, "HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(reply.size()) + "\r\n\r\n" + reply))
        break;
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  std::lock_guard lock(mutex_);
  for (auto& f : fds_)
    if (f == fd) f = -1;
  ::close(fd);
}

std::string TlsFakeUpstream::last_sni() const {
  std::lock_guard lock(mutex_);
  return sni_;
}
std::string TlsFakeUpstream::last_client_cn() const {
  std::lock_guard lock(mutex_);
  return client_cn_;
}
std::string TlsFakeUpstream::last_head() const {
  std::lock_guard lock(mutex_);
  return head_;
}

// --- client ------------------------------------------------------------------------------

struct TlsTestClient::Impl {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  std::string rest;
  ~Impl() {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (fd >= 0) ::close(fd);
    SSL_CTX_free(ctx);
  }
};

TlsTestClient::TlsTestClient(std::uint16_t port, TlsClientOptions options) : impl_(std::make_unique<Impl>()) {
  std::signal(SIGPIPE, SIG_IGN);
  impl_->ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_session_cache_mode(impl_->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  if (options.max_version) SSL_CTX_set_max_proto_version(impl_->ctx, options.max_version);
  if (!options.ca_file.empty()) {
    SSL_CTX_load_verify_locations(impl_->ctx, options.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(impl_->ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!options.cert_file.empty()) {
    SSL_CTX_use_certificate_chain_file(impl_->ctx, options.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(impl_->ctx, options.key_file.c_str(), SSL_FILETYPE_PEM);
  }
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(impl_->ctx, alpn, sizeof alpn - 1);
  impl_->fd = ::socket(AF_INET, SOCK_STREAM, 0);
  set_timeouts(impl_->fd, 5);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(impl_->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = "connect failed";
    return;
  }
  impl_->ssl = SSL_new(impl_->ctx);
  SSL_set_fd(impl_->ssl, impl_->fd);
  if (!options.server_name.empty()) SSL_set_tlsext_host_name(impl_->ssl, options.server_name.c_str());
  if (options.session) SSL_set_session(impl_->ssl, static_cast<SSL_SESSION*>(options.session));
  ERR_clear_error();
  if (SSL_connect(impl_->ssl) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    error_ = buf;
    return;
  }
  ok_ = true;
}

TlsTestClient::~TlsTestClient() = default;

std::string TlsTestClient::peer_cn() const {
  X509* x = SSL_get1_peer_certificate(impl_->ssl);
  auto cn = cn_of(x);
  X509_free(x);
  return cn;
}

bool TlsTestClient::resumed() const { return SSL_session_reused(impl_->ssl) == 1; }
std::string TlsTestClient::version() const { return SSL_get_version(impl_->ssl); }

std::string TlsTestClient::alpn() const {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(impl_->ssl, &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

std::string TlsTestClient::get(const std::string& target, const std::string& host, const std::string& extra_headers) {
  if (!ok_) return {};
  std::string req = "GET " + target + " HTTP/1.1\r\nhost: " + host + "\r\n" + extra_headers + "\r\n";
  if (!write_all(impl_->ssl, req)) return {};
  std::string head, body;
  if (!read_message(impl_->ssl, head, body, impl_->rest)) return {};
  return head + body;
}

bool TlsTestClient::send(const std::string& bytes) { return ok_ && write_all(impl_->ssl, bytes); }

std::string TlsTestClient::read(std::size_t want) {
  std::string out = std::move(impl_->rest);
  impl_->rest.clear();
  while (ok_ && out.size() < want) {
    char chunk[4096];
    int n = SSL_read(impl_->ssl, chunk, sizeof chunk);
    if (n <= 0) break;
    out.append(chunk, std::size_t(n));
  }
  return out;
}

void* TlsTestClient::take_session() const { return SSL_get1_session(impl_->ssl); }

CommandResult run_command(const std::string& command, int timeout_seconds) {
  CommandResult out;
  std::string full = "timeout " + std::to_string(timeout_seconds) + " sh -c '" + command + "' 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.output.append(buf, n);
  int status = ::pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace ferry::test
