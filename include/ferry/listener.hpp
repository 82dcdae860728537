// A listening socket and the HTTP connection manager options behind it.
//
// Thread safety: plain values; build on one thread, then hand to Server::add_listener.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <ferry/filter_chain.hpp>
#include <ferry/types.hpp>

namespace ferry {

/// Envoy's HttpConnectionManager settings, with Envoy's names and defaults.
struct HttpOptions {
  std::string stat_prefix = "ingress_http";
  std::uint32_t max_request_headers_kb = 60;  ///< 431 beyond
  std::uint32_t max_headers_count = 100;      ///< 431 beyond
  Duration idle_timeout{std::chrono::hours(1)};           ///< connection with no stream
  Duration stream_idle_timeout{std::chrono::minutes(5)};  ///< no activity on a stream
  Duration request_timeout{0};          ///< whole request received within; 0 = off
  Duration request_headers_timeout{0};  ///< headers received within; 0 = off
  Duration drain_timeout{std::chrono::seconds(5)};
  bool generate_request_id = true;
  /// Append the peer to x-forwarded-for and trust the socket peer as the client.
  bool use_remote_address = true;
};

struct ListenerOptions {
  std::string name{};
  std::string address = "127.0.0.1";  ///< numeric IPv4/IPv6 literal
  std::uint16_t port = 0;             ///< 0 = any free port (see Server::listener_port)
  std::uint32_t per_connection_buffer_limit_bytes = 32 * 1024;
  HttpOptions http{};
};

class Listener {
 public:
  Listener(ListenerOptions options, FilterChain chain)
      : options_(std::move(options)), chain_(std::move(chain)) {}
  const ListenerOptions& options() const noexcept { return options_; }
  const FilterChain& chain() const noexcept { return chain_; }

 private:
  ListenerOptions options_;
  FilterChain chain_;
};

}  // namespace ferry
