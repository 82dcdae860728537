#include "tls/connection.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "tls/context.hpp"

namespace ferry::tls {

namespace {

int write_nosignal(BIO* b, const char* data, int len) {
  int fd = -1;
  BIO_get_fd(b, &fd);
  errno = 0;
  auto n = ::send(fd, data, std::size_t(len), MSG_NOSIGNAL);
  BIO_clear_retry_flags(b);
  if (n <= 0 && BIO_sock_should_retry(int(n))) BIO_set_retry_write(b);
  return int(n);
}

// OpenSSL's socket BIO with the write replaced (the rest keeps its behaviour).
const BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    const BIO_METHOD* base = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "ferry socket");
    BIO_meth_set_write(m, write_nosignal);
    BIO_meth_set_read(m, BIO_meth_get_read(base));
    BIO_meth_set_puts(m, BIO_meth_get_puts(base));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base));
    BIO_meth_set_create(m, BIO_meth_get_create(base));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(base));
    return m;
  }();
  return method;
}

}  // namespace

bool attach_socket(SSL* ssl, int fd) noexcept {
  BIO* bio = BIO_new(socket_method());
  if (!bio) return false;
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl, bio, bio);
  // Without read-ahead OpenSSL reads a record's 5-byte header and its body with two read()
  // calls; with it, one read() takes what the socket has (3 -> 2 reads per request on the
  // bench's TLS row). Buffered raw bytes are then invisible to SSL_pending(): pending() asks
  // SSL_has_pending() instead.
  SSL_set_read_ahead(ssl, 1);
  return true;
}

Connection::~Connection() { SSL_free(ssl_); }

Io Connection::fail(int ret) noexcept {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ: return Io::want_read;
    case SSL_ERROR_WANT_WRITE: return Io::want_write;
    case SSL_ERROR_ZERO_RETURN: return Io::eof;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        // A reset or a close in mid-handshake; no OpenSSL reason to report.
        error_ = errno != 0 ? std::string("TLS_error:|") + std::strerror(errno) + ":TLS_error_end"
                            : "TLS_error:|connection closed:TLS_error_end";
        return Io::error;
      }
      [[fallthrough]];
    default: {
      // Envoy's shape for %UPSTREAM_TRANSPORT_FAILURE_REASON%.
      error_ = "TLS_error:|" + take_errors();
      long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        error_ += ":";
        error_ += X509_verify_cert_error_string(verify);
      }
      error_ += ":TLS_error_end";
      return Io::error;
    }
  }
}

Io Connection::handshake() noexcept {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  return r == 1 ? Io::ok : fail(r);
}

Io Connection::read(char* p, std::size_t cap, std::size_t& n) noexcept {
  ERR_clear_error();
  if (SSL_read_ex(ssl_, p, cap, &n) == 1) return Io::ok;
  return fail(0);
}

Io Connection::write(const void* p, std::size_t len, std::size_t& n) noexcept {
  ERR_clear_error();
  write_wants_read_ = false;
  if (SSL_write_ex(ssl_, p, len, &n) == 1) return Io::ok;
  Io r = fail(0);
  write_wants_read_ = r == Io::want_read;
  return r;
}

void Connection::shutdown() noexcept {
  if (!SSL_is_init_finished(ssl_)) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // sends close_notify if the socket takes it; never waits for the peer's
  ERR_clear_error();
}

std::string_view version_name(const Connection& c) noexcept { return SSL_get_version(c.ssl()); }

}  // namespace ferry::tls
