// A StreamContext for filter unit tests: addresses, peer certificate, dynamic metadata and
// per-route configs are plain fields; local replies are recorded.
#pragma once

#include <map>
#include <string>
#include <utility>

#include <ferry/filter.hpp>
#include <ferry/headers.hpp>
#include <ferry/router.hpp>

namespace ferry_test {

class FakeContext : public ferry::StreamContext {
 public:
  void send_local_reply(int status, std::string_view body) override {
    reply_status = status;
    reply_body = std::string(body);
  }
  std::string_view downstream_remote_address() const override { return remote; }
  std::string_view downstream_direct_remote_address() const override { return direct.empty() ? remote : direct; }
  std::string_view request_id() const override { return "id"; }
  std::string_view upstream_cluster() const override { return {}; }
  std::uint32_t response_flags() const override { return 0; }
  const ferry::RouteFilterConfig* route_filter_config(std::string_view name) const override {
    auto it = route_configs.find(std::string(name));
    return it == route_configs.end() ? nullptr : it->second.get();
  }
  void set_dynamic_metadata(std::string_view ns, std::string_view key, std::string json) override {
    metadata[{std::string(ns), std::string(key)}] = std::move(json);
  }
  const std::string* dynamic_metadata(std::string_view ns, std::string_view key) const override {
    auto it = metadata.find({std::string(ns), std::string(key)});
    return it == metadata.end() ? nullptr : &it->second;
  }
  std::string_view downstream_local_address() const override { return local; }
  std::uint16_t downstream_local_port() const override { return local_port; }
  const ferry::PeerCertificate* peer_certificate() const override { return cert ? &*cert : nullptr; }
  ferry::Stats* stats() const override { return stats_store; }
  std::string_view stat_prefix() const override { return hcm_prefix; }

  std::string remote = "10.1.2.3:5555";
  std::string direct;  ///< the connection peer when it differs from `remote` (empty: the same)
  std::string local = "127.0.0.1:8080";
  std::uint16_t local_port = 8080;
  std::optional<ferry::PeerCertificate> cert;
  std::map<std::pair<std::string, std::string>, std::string> metadata;
  std::map<std::string, std::shared_ptr<const ferry::RouteFilterConfig>> route_configs;
  ferry::Stats* stats_store = nullptr;  ///< the "Server's" store; null: outside a Server
  std::string hcm_prefix = "ingress_http";
  int reply_status = 0;
  std::string reply_body;
};

/// Request headers with a request line, for calling filter hooks directly.
inline ferry::RequestHeaders request(std::string_view method, std::string_view path,
                                     std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {}) {
  ferry::RequestHeaders h;
  h.set_method(method);
  h.set_path(path);
  for (auto [n, v] : fields) h.add(n, v);
  return h;
}

}  // namespace ferry_test
