// DNS discovery for STRICT_DNS and LOGICAL_DNS clusters.
//
// DnsResolver drives c-ares from an io_context: c-ares's sockets are watched by that
// io_context's reactor and its retransmission timeouts by a timer, so a lookup never blocks
// the thread (the server runs it on its control thread, never on a worker).
//
// DnsDiscovery keeps one cluster's hosts up to date: it resolves the cluster's endpoint
// names every dns_refresh_rate (or when the answers' TTL runs out, with respect_dns_ttl)
// and publishes the resulting numeric endpoints whenever they change. What a change does
// to the workers (keeping pools of hosts that stay) is the ClusterManager's business.
//
// Semantics (Envoy's): STRICT_DNS makes every address of every endpoint's name a host
// with the endpoint's port, weight and priority; a name that answers "no such name" or
// "no data" contributes no host (0 answers leave the cluster empty), a name whose lookup
// fails (timeout, refused) keeps the hosts it had. LOGICAL_DNS has one endpoint and one
// host: the first address of the latest answer that had one.
//
// Thread safety: both classes belong to the thread running their io_context; construct,
// call and destroy them there. Callbacks run on that thread, never inside resolve().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <ferry/cluster.hpp>

struct ares_addrinfo;  // c-ares's, kept out of this header

namespace ferry::detail {
class Logger;
}

namespace ferry::upstream {

namespace asio = boost::asio;

struct DnsAnswer {
  enum class Status : std::uint8_t {
    ok,       ///< addresses found
    no_data,  ///< the name exists without addresses of the family, or does not exist
    failed,   ///< no usable answer (timeout, refused, bad name): keep what was known
  };
  Status status = Status::failed;
  std::vector<asio::ip::address> addresses;  ///< in the order of the answer
  std::chrono::seconds ttl{0};               ///< smallest TTL of the addresses (0: unknown)
  std::string error;                         ///< c-ares's message when not ok
};

class DnsResolver {
 public:
  using Callback = std::function<void(DnsAnswer)>;

  /// `servers` empty: the system's (/etc/resolv.conf). Throws std::runtime_error when
  /// c-ares cannot be set up or a server address is not an IP literal.
  explicit DnsResolver(asio::any_io_executor ex, const std::vector<DnsResolverAddress>& servers = {});
  ~DnsResolver();  ///< pending lookups end without their callbacks
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  /// Looks `name` up (the hosts file first, then DNS). AUTO asks for IPv6 and falls back
  /// to IPv4 when there is none, V4_PREFERRED the other way round, ALL asks for both.
  void resolve(const std::string& name, DnsLookupFamily family, Callback cb);

  /// Lookups started and not yet answered (tests).
  std::size_t pending() const noexcept { return pending_; }

 private:
  struct Watch;
  struct Lookup;
  static void on_socket_state(void* self, int fd, int readable, int writable);
  static void on_addrinfo(void* arg, int status, int timeouts, ::ares_addrinfo* res);
  void start(Lookup* lookup);
  void finish(Lookup* lookup, DnsAnswer answer);
  void arm(const std::shared_ptr<Watch>& w);
  void process(int read_fd, int write_fd);
  void reset_timer();

  asio::any_io_executor ex_;
  void* channel_ = nullptr;  ///< ares_channel (kept out of this header)
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  asio::steady_timer timer_;
  std::shared_ptr<bool> alive_;  ///< false once destruction began (posted callbacks check it)
  std::size_t pending_ = 0;
  bool destroying_ = false;
};

/// The host endpoints a DNS cluster's answers give: see the file comment. `answers[i]`
/// belongs to `options.endpoints[i]`; `previous` is the last published list (kept for
/// endpoints whose lookup failed). Pure; exposed for tests.
std::vector<Endpoint> dns_hosts(const ClusterOptions& options, const std::vector<DnsAnswer>& answers,
                                const std::vector<std::vector<Endpoint>>& previous_per_endpoint,
                                std::vector<std::vector<Endpoint>>& per_endpoint);

/// When the next round of lookups is due after one that gave `answers`.
std::chrono::milliseconds dns_refresh_delay(const DnsOptions& dns, const std::vector<DnsAnswer>& answers);

class DnsDiscovery {
 public:
  /// Called with the cluster's new numeric endpoints whenever they change (the first
  /// round always publishes, even an empty list).
  using Publish = std::function<void(std::vector<Endpoint>)>;

  /// `options` is a STRICT_DNS or LOGICAL_DNS cluster. Throws like DnsResolver.
  DnsDiscovery(asio::any_io_executor ex, ClusterOptions options, Publish publish,
               const detail::Logger* log = nullptr);
  ~DnsDiscovery();
  DnsDiscovery(const DnsDiscovery&) = delete;
  DnsDiscovery& operator=(const DnsDiscovery&) = delete;

  /// Resolves now, then keeps refreshing until destroyed.
  void start();
  /// Rounds of lookups completed (tests).
  std::uint64_t rounds() const noexcept { return rounds_; }

 private:
  void round();
  void on_answer(std::uint64_t round, std::size_t index, DnsAnswer answer);

  ClusterOptions options_;
  Publish publish_;
  const detail::Logger* log_;
  DnsResolver resolver_;
  asio::steady_timer timer_;
  std::vector<DnsAnswer> answers_;
  std::vector<std::vector<Endpoint>> per_endpoint_;  ///< last hosts of each endpoint
  std::vector<Endpoint> published_;
  std::size_t outstanding_ = 0;
  std::uint64_t round_id_ = 0;
  std::uint64_t rounds_ = 0;
  bool published_once_ = false;
};

}  // namespace ferry::upstream
