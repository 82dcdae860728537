// A real DNS server for tests: dnsmasq (Debian package dnsmasq, installed by scripts/deps)
// on 127.0.0.1:<free port>, authoritative for *.ferry.test from a hosts file the test can
// rewrite. A missing dnsmasq binary is an error (the test fails), never a skip.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/cli_process.hpp"

namespace ferry::test {

/// Where dnsmasq is (PATH, /usr/sbin, /sbin), or "" when it is not installed.
std::string dnsmasq_path();

class DnsServer {
 public:
  /// (name, ip) pairs; a name may appear several times. Names under ferry.test that are not
  /// listed answer NXDOMAIN. `ttl` is the TTL of every answer, in seconds.
  using Records = std::vector<std::pair<std::string, std::string>>;

  /// Starts dnsmasq and waits until it answers. Throws std::runtime_error when dnsmasq is
  /// missing or does not come up.
  explicit DnsServer(Records records, int ttl = 0);
  ~DnsServer();  ///< kills and reaps dnsmasq
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  /// Replaces the records (rewrites the hosts file, SIGHUP) and returns once dnsmasq
  /// serves the new set.
  void set_records(const Records& records);

 private:
  void write_hosts(const Records& records);
  bool serving_generation(std::chrono::milliseconds timeout) const;

  std::unique_ptr<TempFile> hosts_;
  std::unique_ptr<CliProcess> process_;
  std::uint16_t port_ = 0;
  unsigned generation_ = 0;
};

/// Asks 127.0.0.1:port for the A records of `name` over UDP; the addresses, empty when
/// none or no answer within `timeout`.
std::vector<std::string> query_a(std::uint16_t port, const std::string& name,
                                 std::chrono::milliseconds timeout = std::chrono::milliseconds(500));

}  // namespace ferry::test
