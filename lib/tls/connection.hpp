// One TLS connection: an SSL object reading and writing the non-blocking socket's
// descriptor directly (no memory BIOs, no second buffer). Every call is non-blocking and
// says what it waits for; the session awaits socket readiness through Asio and calls
// again. See docs/ARCHITECTURE.md "TLS" for why this shape.
//
// Thread safety: belongs to the worker thread of its socket.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::tls {

class ServerGeneration;

enum class Io : std::uint8_t { ok, want_read, want_write, eof, error };

class Connection {
 public:
  /// Takes ownership of `ssl`, already bound to the socket's descriptor.
  explicit Connection(SSL* ssl) noexcept : ssl_(ssl) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Io handshake() noexcept;
  /// Up to `cap` bytes into `p`; `n` is set on Io::ok.
  Io read(char* p, std::size_t cap, std::size_t& n) noexcept;
  /// Up to `len` bytes (a record or more); `n` is set on Io::ok. A retry after want_*
  /// must offer at least the same bytes.
  Io write(const void* p, std::size_t len, std::size_t& n) noexcept;
  /// Bytes waiting in OpenSSL, decrypted or not yet (read them before waiting on the socket).
  bool pending() const noexcept { return SSL_has_pending(ssl_) == 1; }
  /// Best effort close_notify; never waits.
  void shutdown() noexcept;

  SSL* ssl() const noexcept { return ssl_; }
  /// What the last Io::error was (OpenSSL's words and the verify result), for logs and
  /// %UPSTREAM_TRANSPORT_FAILURE_REASON%.
  const std::string& error() const noexcept { return error_; }
  /// After a write answered want_read (a key update in flight): wait for reading.
  bool write_wants_read() const noexcept { return write_wants_read_; }

  /// Downstream: x-forwarded-client-cert details of the client, computed once after the
  /// handshake (empty without a client certificate).
  std::string client_cert_element;
  /// Upstream: the server name this connection was opened with.
  std::string sni;
  /// Upstream: its session went to the host's SessionCache (or was not worth keeping).
  bool session_saved = false;
  /// Downstream: the client presented a certificate that verified (Envoy's "mTLS").
  bool mutual = false;
  /// Downstream: the filter chain generation that configured this connection, kept alive
  /// for its SNI callback and its XFCC settings.
  std::shared_ptr<const ServerGeneration> generation;

 private:
  Io fail(int ret) noexcept;

  SSL* ssl_;
  std::string error_;
  bool write_wants_read_ = false;
};

/// Binds `ssl` to the socket descriptor `fd` for both directions. Like SSL_set_fd, but
/// writes use send(MSG_NOSIGNAL): a peer that went away must not raise SIGPIPE in the host.
bool attach_socket(SSL* ssl, int fd) noexcept;

/// The TLS protocol version name of a connection ("TLSv1.3").
std::string_view version_name(const Connection& c) noexcept;

}  // namespace ferry::tls
