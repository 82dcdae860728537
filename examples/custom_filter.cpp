// A host filter ahead of the router: requests without an x-api-key header get a local
// 401; the others go upstream with an x-filtered-by header added.
//   custom_filter [UPSTREAM_HOST:PORT] [LISTEN_PORT]   (defaults 127.0.0.1:9000 and 8082)
//   curl -i http://127.0.0.1:8082/                      → 401
//   curl -i -H 'x-api-key: k' http://127.0.0.1:8082/    → the upstream's answer
#include <ferry/ferry.hpp>

#include <atomic>
#include <iostream>
#include <memory>
#include <string>

namespace {

// One instance per request, on the worker thread that owns it: its own members need no
// locks. The rejection counter is shared by every stream on every worker, hence atomic.
class ApiKeyFilter : public ferry::Filter {
 public:
  explicit ApiKeyFilter(std::shared_ptr<std::atomic<std::uint64_t>> rejected)
      : rejected_(std::move(rejected)) {}

  ferry::FilterStatus on_request_headers(ferry::RequestHeaders& headers, bool,
                                         ferry::StreamContext& stream) override {
    if (!headers.has("x-api-key")) {
      auto n = rejected_->fetch_add(1, std::memory_order_relaxed) + 1;
      stream.send_local_reply(401, "missing x-api-key header (rejection #" + std::to_string(n) + ")\n");
      return ferry::FilterStatus::Stop;
    }
    headers.set("x-filtered-by", "custom_filter");
    return ferry::FilterStatus::Continue;
  }

 private:
  std::shared_ptr<std::atomic<std::uint64_t>> rejected_;
};

}  // namespace

int main(int argc, char** argv) try {
  const std::string upstream = argc > 1 ? argv[1] : "127.0.0.1:9000";
  const auto colon = upstream.rfind(':');
  ferry::ClusterOptions cluster;
  cluster.name = "backend";
  cluster.endpoints.push_back(
      {upstream.substr(0, colon), static_cast<std::uint16_t>(std::stoi(upstream.substr(colon + 1)))});

  ferry::Router router;
  router.virtual_host("*").route(ferry::match::prefix("/")).to("backend");

  // add<F>(args...) copies the arguments into every new filter: here, the shared counter.
  auto rejected = std::make_shared<std::atomic<std::uint64_t>>(0);
  ferry::FilterChain chain;
  chain.add<ApiKeyFilter>(rejected).terminate(std::move(router));

  ferry::ListenerOptions listener;
  listener.port = static_cast<std::uint16_t>(argc > 2 ? std::stoi(argv[2]) : 8082);

  ferry::Server server;
  server.add_cluster(cluster);
  server.add_listener(ferry::Listener{listener, std::move(chain)});
  std::cout << "custom_filter: 127.0.0.1:" << listener.port << " -> " << upstream
            << " (x-api-key required)\n";
  return server.run();
} catch (const std::exception& e) {
  std::cerr << "custom_filter: " << e.what() << '\n';
  return 1;
}
