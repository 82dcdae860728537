// The smallest useful embedding: one cluster, one catch-all route, run until killed.
//   embed_minimal [UPSTREAM_HOST:PORT] [LISTEN_PORT]   (defaults 127.0.0.1:9000 and 8081)
//   embed_minimal --check   compose, start on a free port, stop, exit 0 (the install test)
#include <ferry/ferry.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  const bool check = argc > 1 && std::string(argv[1]) == "--check";
  const int first = check ? 2 : 1;
  const std::string upstream = argc > first ? argv[first] : "127.0.0.1:9000";
  const auto colon = upstream.rfind(':');

  ferry::ClusterOptions cluster;
  cluster.name = "backend";
  cluster.endpoints.push_back(
      {upstream.substr(0, colon), static_cast<std::uint16_t>(std::stoi(upstream.substr(colon + 1)))});

  ferry::Router router;
  router.virtual_host("*").route(ferry::match::prefix("/")).to("backend");

  ferry::ListenerOptions listener;
  listener.port = static_cast<std::uint16_t>(argc > first + 1 ? std::stoi(argv[first + 1]) : check ? 0 : 8081);

  ferry::Server server;
  server.add_cluster(cluster);
  server.add_listener(ferry::Listener{listener, ferry::FilterChain{}.terminate(std::move(router))});
  if (!check) return server.run();
  server.start();
  server.stop();
  server.wait();
  return 0;
} catch (const std::exception& e) {  // ConfigError lists every problem in what()
  std::cerr << "embed_minimal: " << e.what() << '\n';
  return 1;
}
