// An in-process ferry Server in front of fake upstreams, for integration tests.
#pragma once

#include <ferry/ferry.hpp>

#include <memory>
#include <string>
#include <vector>

#include "support/fake_upstream.hpp"

namespace ferry::test {

inline ClusterOptions cluster_to(const std::string& name, std::vector<std::uint16_t> ports,
                                 std::vector<std::uint32_t> weights = {}) {
  ClusterOptions c;
  c.name = name;
  for (std::size_t i = 0; i < ports.size(); ++i)
    c.endpoints.push_back({"127.0.0.1", ports[i], weights.empty() ? 1u : weights[i]});
  return c;
}

/// A started Server with one listener on 127.0.0.1:0.
struct Proxy {
  Proxy(std::vector<ClusterOptions> clusters, Router router, HttpOptions http = {},
        FilterChain chain = {}, unsigned workers = 1)
      : server(ServerOptions{.workers = workers, .drain_timeout = std::chrono::seconds(2)}) {
    for (auto& c : clusters) server.add_cluster(std::move(c));
    ListenerOptions opts;
    opts.name = "test";
    opts.http = http;
    chain.terminate(std::move(router));
    server.add_listener(Listener(opts, std::move(chain)));
    server.start();
  }
  ~Proxy() {
    server.stop();
    server.wait();
  }
  std::uint16_t port() const { return server.listener_port(0); }
  Server server;
};

/// A router sending every request to `cluster`.
inline Router route_all(const std::string& cluster) {
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to(cluster);
  return r;
}

}  // namespace ferry::test
