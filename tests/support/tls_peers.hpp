// In-process TLS peers for tests, on blocking OpenSSL sockets:
//  - TlsFakeUpstream: an HTTP/1.1 upstream on 127.0.0.1:0 that terminates TLS (optionally
//    requiring a client certificate) and answers every request with 200 and a body naming
//    the SNI it saw; it counts handshakes and resumed ones.
//  - TlsTestClient: one TLS connection to the proxy, for requests and session resumption.
// Every wait is bounded.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ferry::test {

struct TlsUpstreamOptions {
  std::string cert_file, key_file;
  std::string client_ca_file{};  ///< set: a client certificate from this CA is required
  /// Answer the first request with 101 and then echo what comes, upper-cased, until the
  /// proxy closes (an upgrade tunnel's far end).
  bool upgrade_echo = false;
};

class TlsFakeUpstream {
 public:
  explicit TlsFakeUpstream(TlsUpstreamOptions options);
  ~TlsFakeUpstream();
  std::uint16_t port() const noexcept { return port_; }
  std::uint64_t handshakes() const noexcept { return handshakes_.load(); }
  std::uint64_t resumed() const noexcept { return resumed_.load(); }
  std::uint64_t requests() const noexcept { return requests_.load(); }
  std::string last_sni() const;
  std::string last_client_cn() const;
  std::string last_head() const;  ///< the last request head, as received

 private:
  void accept_loop();
  void serve(int fd);

  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> handshakes_{0}, resumed_{0}, requests_{0};
  mutable std::mutex mutex_;
  std::string sni_, client_cn_, head_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

struct TlsClientOptions {
  std::string server_name{};  ///< SNI; empty = none
  std::string ca_file{};      ///< verify the proxy against this CA; empty = no verification
  std::string cert_file{}, key_file{};  ///< client certificate
  int max_version = 0;        ///< e.g. TLS1_2_VERSION; 0 = library default
  void* session = nullptr;    ///< SSL_SESSION* to resume
};

class TlsTestClient {
 public:
  /// Connects and handshakes; ok() tells whether the handshake succeeded.
  TlsTestClient(std::uint16_t port, TlsClientOptions options);
  ~TlsTestClient();
  bool ok() const noexcept { return ok_; }
  const std::string& error() const noexcept { return error_; }
  /// The server certificate's CN.
  std::string peer_cn() const;
  bool resumed() const;
  std::string version() const;
  std::string alpn() const;
  /// Sends a GET and reads one response (Content-Length framed); "" on failure.
  std::string get(const std::string& target, const std::string& host = "localhost",
                  const std::string& extra_headers = "");
  /// Sends raw bytes (after the handshake); false on failure.
  bool send(const std::string& bytes);
  /// Reads until `want` bytes came (bytes left over from get() first), the peer closed, or a
  /// read failed.
  std::string read(std::size_t want);
  /// The session for resumption (after a response was read, so TLS 1.3 tickets are in);
  /// free with SSL_SESSION_free.
  void* take_session() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool ok_ = false;
  std::string error_;
};

/// Runs a shell command (bounded by `timeout` seconds through coreutils timeout), returns
/// its exit code and combined output.
struct CommandResult {
  int code = -1;
  std::string output;
};
CommandResult run_command(const std::string& command, int timeout_seconds = 10);

}  // namespace ferry::test
