// TLS termination for one listener: its filter chains' contexts (a "generation"), SNI
// selection in the ClientHello callback, session ticket keys, and certificate reload.
//
// A generation is immutable. Reload builds a new one off the workers (the watch thread or
// the caller of Server::reload_tls) and swaps it in under a mutex; each new connection
// takes the current generation once (a mutex and a shared_ptr copy per handshake, never
// per request) and keeps it to its end. A generation that fails to build is logged and
// counted, and the old one keeps serving. Ticket keys outlive generations, so tickets
// stay valid across reloads.
//
// Thread safety: accept() from any worker; reload() from any thread; the rest is
// control-thread only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <ferry/tls.hpp>

#include "common/log.hpp"
#include "tls/connection.hpp"
#include "tls/context.hpp"

namespace ferry::tls {

/// Session ticket keys: configured ones, or random ones rotated hourly.
class TicketKeys {
 public:
  struct Key {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
  };
  /// `configured` holds 80-byte keys; empty = automatic rotating keys.
  explicit TicketKeys(std::vector<Key> configured);
  /// The key new tickets are sealed with.
  Key current();
  /// The key named `name`; `is_current` tells whether tickets under it need renewing.
  bool find(const unsigned char* name, Key& out, bool& is_current);

 private:
  void rotate_if_due();
  std::mutex mutex_;
  std::vector<Key> keys_;  ///< [0] seals; all open
  bool automatic_;
  std::chrono::steady_clock::time_point rotated_at_;
};

class ServerGeneration {
 public:
  struct Chain {
    CtxPtr ctx;
    int verify_mode = SSL_VERIFY_NONE;
    std::string ciphers, groups;
    std::string alpn_wire;  ///< length-prefixed protocols, server preference order
    std::string by_uri;     ///< URI SAN of this chain's certificate (XFCC "By")
  };
  CtxPtr dispatch;  ///< what SSL_new starts from: ClientHello callback, tickets
  std::vector<Chain> chains;
  std::unordered_map<std::string, std::size_t> exact;     ///< server name → chain
  std::unordered_map<std::string, std::size_t> wildcard;  ///< ".example.com" → chain
  int default_chain = -1;

  /// The chain for a ClientHello's SNI (empty when none was sent), or null: no match.
  const Chain* select(std::string_view sni) const;
};

class ServerTls {
 public:
  /// Builds the first generation (reading files on this thread); null with problems
  /// under `path` when it cannot.
  static std::shared_ptr<ServerTls> create(const DownstreamTlsOptions& options, const std::string& path,
                                           const detail::Logger& log, std::vector<ConfigProblem>& problems);
  ~ServerTls();

  /// A server-side connection on descriptor `fd` (worker thread).
  std::unique_ptr<Connection> accept(int fd);
  /// Re-reads every file and swaps the contexts in; on failure keeps the old ones and
  /// returns the problems (also logged).
  std::vector<ConfigProblem> reload();
  /// Starts the file watch thread (if the options name files and watch_interval > 0).
  void start_watching();

  const DownstreamTlsOptions& options() const noexcept { return options_; }
  std::uint64_t reloads() const noexcept { return reloads_.load(); }
  std::uint64_t reload_failures() const noexcept { return reload_failures_.load(); }

  /// XFCC element for a verified client certificate on `c` (see ClientCertDetails).
  std::string client_cert_element(const Connection& c, const ClientCertDetails& details) const;

 private:
  ServerTls(DownstreamTlsOptions options, std::string path, const detail::Logger& log,
            std::shared_ptr<TicketKeys> keys);
  std::shared_ptr<const ServerGeneration> build(std::vector<ConfigProblem>& problems) const;
  std::vector<std::string> stamps() const;  ///< change stamps of the watched files
  void watch_loop();

  DownstreamTlsOptions options_;
  std::string path_;
  const detail::Logger& log_;
  std::shared_ptr<TicketKeys> keys_;
  std::vector<std::string> files_;
  mutable std::mutex mutex_;
  std::shared_ptr<const ServerGeneration> current_;
  std::atomic<std::uint64_t> reloads_{0}, reload_failures_{0};
  std::mutex watch_mutex_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace ferry::tls

namespace ferry::tls {
/// Builds (and drops) the contexts of `options`, reading its files: what the config loader
/// runs so that a missing or bad file fails the load with its path.
void check_downstream(const DownstreamTlsOptions& options, const std::string& path,
                      std::vector<ConfigProblem>& problems);
}  // namespace ferry::tls
