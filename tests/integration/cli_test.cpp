// The `ferry` CLI end to end, as a separate process: --mode validate, routing and a weighted
// split from a YAML bootstrap, 1 GiB streamed each way under a memory bound, graceful drain
// on SIGTERM, and a JSON bootstrap. All traffic stays on 127.0.0.1.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "support/cli_process.hpp"
#include "support/fake_upstream.hpp"

using namespace ferry::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
#if defined(__SANITIZE_ADDRESS__)
// ASan's shadow memory and quarantine alone exceed the bound; the plain build checks it.
constexpr std::uint64_t kPeakRssLimitKib = 512 * 1024;
#else
constexpr std::uint64_t kPeakRssLimitKib = 64 * 1024;  // 64 MiB
#endif

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Measured figures go to stderr so they show up in test logs.
template <class... A>
void report(const char* fmt, A... a) {
  std::fprintf(stderr, "[cli_test] ");
  std::fprintf(stderr, fmt, a...);
  std::fprintf(stderr, "\n");
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

/// Fills a template: each {{KEY}} becomes its value.
std::string fill(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [k, v] : values) replace_all(text, "{{" + k + "}}", v);
  return text;
}

/// A cluster entry for a YAML bootstrap's static_resources.clusters list.
std::string yaml_cluster(const std::string& name, std::uint16_t port) {
  return fill(R"(
  - name: {{NAME}}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: {{NAME}}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: {{PORT}} }
)",
              {{"NAME", name}, {"PORT", std::to_string(port)}});
}

/// A bootstrap with one listener on 127.0.0.1:port; `virtual_hosts` is the YAML list
/// (indented for route_config.virtual_hosts) and `clusters` the cluster entries.
std::string yaml_bootstrap(std::uint16_t port, const std::string& virtual_hosts,
                           const std::string& clusters) {
  return fill(R"(static_resources:
  listeners:
  - name: cli_test
    address:
      socket_address: { address: 127.0.0.1, port_value: {{PORT}} }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: cli_test
          route_config:
            name: local_route
            virtual_hosts:
{{VHOSTS}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
{{CLUSTERS}}
)",
              {{"PORT", std::to_string(port)}, {"VHOSTS", virtual_hosts}, {"CLUSTERS", clusters}});
}

/// One catch-all virtual host sending everything to `cluster`, with the route timeout off.
std::string yaml_route_all(const std::string& cluster) {
  return fill(R"(            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: {{C}}, timeout: 0s })",
              {{"C", cluster}});
}

/// A FakeUpstream handler answering with `name` and the request target.
FakeUpstream::Handler answer_as(const std::string& name) {
  return [name](const SeenRequest& r) { return FakeResponse{200, {}, name + " " + r.target}; };
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A blocking loopback socket with send/receive timeouts, for streaming without buffering.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port, std::chrono::seconds io_timeout = 30s) {
    fd_ = connect_loopback(port);
    if (fd_ < 0) throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
    timeval tv{static_cast<time_t>(io_timeout.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  /// Sends everything; false on error or timeout (the proxy stopped reading).
  bool send_all(const char* data, std::size_t size) {
    while (size > 0) {
      auto n = ::send(fd_, data, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data += n;
      size -= std::size_t(n);
    }
    return true;
  }
  bool send_all(const std::string& s) { return send_all(s.data(), s.size()); }

  /// Reads up to `size` bytes: >0 bytes read, 0 at EOF, -1 on error or timeout. Bytes left
  /// over from read_head() come first.
  long read_some(char* out, std::size_t size) {
    if (!pending_.empty()) {
      auto n = std::min(size, pending_.size());
      std::memcpy(out, pending_.data(), n);
      pending_.erase(0, n);
      return long(n);
    }
    for (;;) {
      auto n = ::recv(fd_, out, size, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }

  /// Reads a response head (through the blank line); what follows stays buffered.
  struct Head {
    int status = 0;
    std::map<std::string, std::string> headers;  ///< lower-cased names
    std::string text;
  };
  Head read_head() {
    std::string buf = std::move(pending_);
    pending_.clear();
    char chunk[4096];
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > 64 * 1024) throw std::runtime_error("response head too large");
      auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("connection ended before a response head: " + buf);
      buf.append(chunk, std::size_t(n));
    }
    Head h;
    h.text = buf.substr(0, end + 4);
    pending_ = buf.substr(end + 4);
    std::sscanf(h.text.c_str(), "HTTP/1.%*d %d", &h.status);
    for (auto pos = h.text.find("\r\n"); pos + 2 < end;) {
      auto next = h.text.find("\r\n", pos + 2);
      auto line = h.text.substr(pos + 2, next - pos - 2);
      pos = next;
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      h.headers[name] = value;
    }
    return h;
  }

  /// Reads exactly `n` body bytes (discarding them unless `keep`); returns how many came.
  std::uint64_t read_body(std::uint64_t n, std::string* keep = nullptr) {
    std::vector<char> buf(256 * 1024);
    std::uint64_t got = 0;
    while (got < n) {
      auto r = read_some(buf.data(), std::size_t(std::min<std::uint64_t>(buf.size(), n - got)));
      if (r <= 0) break;
      if (keep) keep->append(buf.data(), std::size_t(r));
      got += std::uint64_t(r);
    }
    return got;
  }

 private:
  int fd_ = -1;
  std::string pending_;
};

std::uint64_t content_length(const RawConnection::Head& h) {
  auto it = h.headers.find("content-length");
  return it == h.headers.end() ? 0 : std::stoull(it->second);
}

}  // namespace

// --- 1. --mode validate ------------------------------------------------------------------

TEST_CASE("cli: --mode validate lists every problem with its path, and accepts a valid config",
          "[integration][cli]") {
  const std::string hcm = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";

  SECTION("YAML with an unknown field, a route to a missing cluster and \"200ms\"") {
    std::string config = R"(static_resources:
  listeners:
  - name: broken
    address:
      socket_address: { address: 127.0.0.1, port_value: 10000 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: broken
          stream_idle_timeout: 200ms
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: no_such_cluster }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: real
    connect_timout: 1s
    load_assignment:
      cluster_name: real
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: 127.0.0.1, port_value: 9001 }
)";
    auto r = run_cli(config, ".yaml", {"--mode", "validate"});
    INFO(r.output);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.status.exited);
    CHECK(r.status.code != 0);
    CHECK(contains(r.output, "static_resources.clusters[0]: unknown field \"connect_timout\""));
    CHECK(contains(r.output, hcm + ".stream_idle_timeout: invalid duration \"200ms\""));
    CHECK(contains(r.output, hcm + ".route_config.virtual_hosts[0].routes[0].route.cluster: "
                                   "unknown cluster \"no_such_cluster\""));
    CHECK(contains(r.output, "is invalid"));
  }

  SECTION("examples/configs/invalid.json") {
    auto r = run_cli("", "", {"--mode", "validate", "-c", FERRY_SOURCE_DIR "/examples/configs/invalid.json"});
    INFO(r.output);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.status.exited);
    CHECK(r.status.code != 0);
    CHECK(contains(r.output, "static_resources.clusters[0].load_assignment.endpoints[0]: "
                             "unknown field \"lb_endpoint\""));
    CHECK(contains(r.output, hcm + ".stream_idle_timeout: invalid duration \"200ms\""));
    CHECK(contains(r.output, hcm + ".route_config.virtual_hosts[0].routes[0].route.cluster: "
                                   "unknown cluster \"service_x\""));
  }

  SECTION("a valid config exits 0 without binding") {
    // examples/configs/two_vhosts.yaml listens on 10000; validate must not bind, so this
    // passes even when that port is busy.
    auto r = run_cli("", "", {"--mode", "validate", "-c", FERRY_SOURCE_DIR "/examples/configs/two_vhosts.yaml"});
    INFO(r.output);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.status.ok());
    CHECK(contains(r.output, "OK"));
  }

  SECTION("a generated valid config exits 0") {
    auto r = run_cli(yaml_bootstrap(10000, yaml_route_all("real"), yaml_cluster("real", 9001)),
                     ".yaml", {"--mode", "validate"});
    INFO(r.output);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.status.ok());
  }
}

// --- 2. routing and the weighted split --------------------------------------------------

TEST_CASE("cli: a YAML bootstrap routes by virtual host and prefix, and splits 3:1",
          "[integration][cli]") {
  FakeUpstream api_main(answer_as("api_main"));
  FakeUpstream api_canary(answer_as("api_canary"));
  FakeUpstream admin(answer_as("admin"));
  FakeUpstream web(answer_as("web"));
  FakeUpstream assets(answer_as("assets"));

  const std::string vhosts = R"(            - name: api
              domains: ["api.example.com", "*.api.example.com"]
              routes:
              - match: { prefix: /v2/ }
                route:
                  timeout: 10s
                  weighted_clusters:
                    clusters:
                    - { name: api_main, weight: 3 }
                    - { name: api_canary, weight: 1 }
              - match: { prefix: /admin }
                route: { cluster: admin }
              - match: { prefix: / }
                route: { cluster: api_main }
            - name: www
              domains: ["www.example.com", "*"]
              routes:
              - match: { prefix: /static/ }
                route: { cluster: assets }
              - match: { prefix: / }
                route: { cluster: web })";
  const std::string clusters = yaml_cluster("api_main", api_main.port()) +
                               yaml_cluster("api_canary", api_canary.port()) +
                               yaml_cluster("admin", admin.port()) + yaml_cluster("web", web.port()) +
                               yaml_cluster("assets", assets.port());
  auto cli = start_cli([&](std::uint16_t port) { return yaml_bootstrap(port, vhosts, clusters); },
                       ".yaml", {"--concurrency", "2", "-l", "warn"});
  INFO(cli.process->output());

  struct Case {
    std::string host, target, expect;
  };
  const std::vector<Case> cases = {
      {"api.example.com", "/admin/users", "admin"},
      {"api.example.com", "/admin", "admin"},
      {"api.example.com", "/items/7", "api_main"},
      {"eu.api.example.com", "/admin/x", "admin"},
      {"www.example.com", "/static/app.js", "assets"},
      {"www.example.com", "/admin", "web"},  // /admin exists on the api host only
      {"www.example.com", "/", "web"},
      {"other.test", "/static/logo.png", "assets"},  // falls to the "*" domain
      {"other.test", "/v2/x", "web"},
  };
  TestClient client(cli.port);
  for (const auto& c : cases) {
    INFO(c.host << c.target);
    auto r = client.request("GET", c.target, {{"host", c.host}});
    CHECK(r.status == 200);
    CHECK(r.body == c.expect + " " + c.target);
  }

  // 4,000 requests over four keep-alive connections.
  constexpr int kRequests = 4000;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(std::make_unique<TestClient>(cli.port));
  int main_count = 0, canary_count = 0, other = 0;
  auto start = Clock::now();
  for (int i = 0; i < kRequests; ++i) {
    auto r = clients[std::size_t(i) % clients.size()]->request("GET", "/v2/orders",
                                                              {{"host", "api.example.com"}});
    REQUIRE(r.status == 200);
    if (r.body == "api_main /v2/orders") ++main_count;
    else if (r.body == "api_canary /v2/orders") ++canary_count;
    else ++other;
  }
  double elapsed = seconds_since(start);
  double share = double(main_count) / kRequests;
  report("weighted split: %d/%d to the weight-3 cluster (share %.4f), %d to weight-1, %.2f s",
         main_count, kRequests, share, canary_count, elapsed);
  CHECK(other == 0);
  CHECK(main_count + canary_count == kRequests);
  CHECK(share >= 0.72);
  CHECK(share <= 0.78);

  cli.process->signal(SIGTERM);
  auto status = cli.process->wait_exit(10s);
  REQUIRE(status);
  CHECK(status->ok());
}

// --- 3. 1 GiB each way with a bounded peak RSS ------------------------------------------

TEST_CASE("cli: 1 GiB upload and 1 GiB download stream with a peak RSS under 64 MiB",
          "[integration][cli][memory]") {
  FakeUpstream up(
      [](const SeenRequest& r) {
        if (r.target == "/download") {
          FakeResponse res;
          res.generated_body = kGiB;
          return res;
        }
        return FakeResponse{200, {}, "received " + std::to_string(r.body_size)};
      },
      1024);
  auto cli = start_cli(
      [&](std::uint16_t port) {
        return yaml_bootstrap(port, yaml_route_all("backend"), yaml_cluster("backend", up.port()));
      },
      ".yaml", {"--concurrency", "1", "-l", "warn"});
  INFO(cli.process->output());
  auto baseline = cli.process->peak_rss_kib();
  REQUIRE(baseline);
  report("proxy VmHWM after start: %llu KiB", (unsigned long long)*baseline);

  // Upload: Content-Length 1 GiB in 64 KiB writes of one reused buffer.
  {
    RawConnection conn(cli.port);
    auto start = Clock::now();
    REQUIRE(conn.send_all("POST /upload HTTP/1.1\r\nhost: big.test\r\ncontent-length: " +
                          std::to_string(kGiB) + "\r\n\r\n"));
    std::string block(64 * 1024, 'u');
    std::uint64_t sent = 0;
    while (sent < kGiB && conn.send_all(block)) sent += block.size();
    REQUIRE(sent == kGiB);
    auto head = conn.read_head();
    std::string body;
    conn.read_body(content_length(head), &body);
    double secs = seconds_since(start);
    INFO(head.text);
    CHECK(head.status == 200);
    CHECK(body == "received " + std::to_string(kGiB));
    CHECK(up.last().body_size == kGiB);
    auto hwm = cli.process->peak_rss_kib();
    REQUIRE(hwm);
    report("1 GiB upload: %.2f s (%.0f MiB/s), proxy VmHWM %llu KiB, VmRSS %llu KiB", secs,
           1024 / secs, (unsigned long long)*hwm,
           (unsigned long long)cli.process->rss_kib().value_or(0));
    CHECK(*hwm < kPeakRssLimitKib);
  }
  // Download: the upstream streams 1 GiB; count it without storing it.
  {
    RawConnection conn(cli.port);
    auto start = Clock::now();
    REQUIRE(conn.send_all("GET /download HTTP/1.1\r\nhost: big.test\r\n\r\n"));
    auto head = conn.read_head();
    INFO(head.text);
    CHECK(head.status == 200);
    CHECK(content_length(head) == kGiB);
    std::uint64_t got = conn.read_body(kGiB);
    double secs = seconds_since(start);
    CHECK(got == kGiB);
    auto hwm = cli.process->peak_rss_kib();
    REQUIRE(hwm);
    report("1 GiB download: %.2f s (%.0f MiB/s), proxy VmHWM %llu KiB, VmRSS %llu KiB", secs,
           1024 / secs, (unsigned long long)*hwm,
           (unsigned long long)cli.process->rss_kib().value_or(0));
    CHECK(*hwm < kPeakRssLimitKib);
  }
  // A client that stops reading: the proxy must push back on the upstream rather than
  // buffer what it cannot deliver.
  {
    RawConnection conn(cli.port);
    REQUIRE(conn.send_all("GET /download HTTP/1.1\r\nhost: big.test\r\n\r\n"));
    auto head = conn.read_head();
    REQUIRE(head.status == 200);
    std::uint64_t got = conn.read_body(1 << 20);
    std::this_thread::sleep_for(1500ms);
    auto rss_paused = cli.process->rss_kib().value_or(0);
    got += conn.read_body(kGiB - got);
    CHECK(got == kGiB);
    auto hwm = cli.process->peak_rss_kib();
    REQUIRE(hwm);
    report("1 GiB download with a 1.5 s reader pause: VmRSS while paused %llu KiB, VmHWM %llu KiB",
           (unsigned long long)rss_paused, (unsigned long long)*hwm);
    CHECK(rss_paused < kPeakRssLimitKib);
    CHECK(*hwm < kPeakRssLimitKib);
  }
  CHECK(cli.process->running());
  cli.process->signal(SIGTERM);
  auto status = cli.process->wait_exit(10s);
  REQUIRE(status);
  CHECK(status->ok());
}

// --- 4. graceful drain on SIGTERM -------------------------------------------------------

TEST_CASE("cli: SIGTERM drains - the in-flight request completes, new connections are refused, "
          "exit 0",
          "[integration][cli][drain]") {
  constexpr auto kDelay = 600ms;
  FakeUpstream up([&](const SeenRequest& r) {
    FakeResponse res{200, {}, "slow " + r.target};
    if (r.target == "/in-flight") res.delay = kDelay;
    return res;
  });
  auto cli = start_cli(
      [&](std::uint16_t port) {
        return yaml_bootstrap(port, yaml_route_all("backend"), yaml_cluster("backend", up.port()));
      },
      ".yaml", {"--concurrency", "2"});

  // An idle keep-alive connection must not hold the drain up: it is closed at once.
  TestClient idle(cli.port);
  REQUIRE(idle.request("GET", "/warm-up").status == 200);
  TestClient client(cli.port);
  client.send("GET /in-flight HTTP/1.1\r\nhost: drain.test\r\n\r\n");
  // Wait until the upstream holds the request, then signal.
  for (auto deadline = Clock::now() + 5s; up.requests() < 2 && Clock::now() < deadline;)
    std::this_thread::sleep_for(1ms);
  REQUIRE(up.requests() == 2);
  auto signalled = Clock::now();
  cli.process->signal(SIGTERM);

  // The listener closes at once, long before the in-flight answer is due.
  bool refused = false;
  double refused_after = 0;
  for (auto deadline = signalled + 2s; Clock::now() < deadline;) {
    int fd = connect_loopback(cli.port);
    if (fd < 0 && errno == ECONNREFUSED) {
      refused = true;
      refused_after = seconds_since(signalled);
      break;
    }
    if (fd >= 0) ::close(fd);
    std::this_thread::sleep_for(5ms);
  }
  bool alive_when_refused = cli.process->running();
  bool idle_closed = idle.closed_by_peer(300ms);
  bool alive_when_idle_closed = cli.process->running();

  auto r = client.read_response();
  double answered_after = seconds_since(signalled);
  auto status = cli.process->wait_exit(5s);
  double exited_after = seconds_since(signalled);
  INFO(cli.process->output());
  report("drain: refused after %.3f s, in-flight answered after %.3f s, exit after %.3f s",
         refused_after, answered_after, exited_after);

  CHECK(refused);
  CHECK(refused_after < 0.5);
  CHECK(alive_when_refused);
  CHECK(idle_closed);
  CHECK(alive_when_idle_closed);  // closed by the drain, not by the exit
  CHECK(r.status == 200);
  CHECK(r.body == "slow /in-flight");
  CHECK(r.header("connection") == "close");
  CHECK(client.closed_by_peer());
  REQUIRE(status);
  CHECK(status->ok());
  CHECK(exited_after < 3.0);
}

// --- 5. a JSON bootstrap ----------------------------------------------------------------

TEST_CASE("cli: a JSON bootstrap proxies like its YAML equivalent", "[integration][cli]") {
  FakeUpstream up(answer_as("json_backend"));
  auto make_config = [&](std::uint16_t port) {
    return fill(R"({
  "static_resources": {
    "listeners": [{
      "name": "json_listener",
      "address": {"socket_address": {"address": "127.0.0.1", "port_value": {{PORT}}}},
      "filter_chains": [{
        "filters": [{
          "name": "envoy.filters.network.http_connection_manager",
          "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "statPrefix": "json",
            "streamIdleTimeout": "30s",
            "routeConfig": {
              "name": "local_route",
              "virtualHosts": [{
                "name": "all",
                "domains": ["*"],
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "backend", "timeout": "5s"}}]
              }]
            },
            "httpFilters": [{
              "name": "envoy.filters.http.router",
              "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
            }]
          }
        }]
      }]
    }],
    "clusters": [{
      "name": "backend",
      "connect_timeout": "1s",
      "load_assignment": {
        "cluster_name": "backend",
        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": {{UP}}}}}}]}]
      }
    }]
  }
})",
                {{"PORT", std::to_string(port)}, {"UP", std::to_string(up.port())}});
  };

  auto validated = run_cli(make_config(10000), ".json", {"--mode", "validate"});
  INFO(validated.output);
  CHECK(validated.status.ok());

  auto cli = start_cli(make_config, ".json", {"--concurrency", "1"});
  INFO(cli.process->output());
  auto r = http_get(cli.port, "/json/path?q=1", "json.test");
  CHECK(r.status == 200);
  CHECK(r.body == "json_backend /json/path?q=1");
  CHECK(up.last().header("host") == "json.test");
  TestClient c(cli.port);
  CHECK(c.request("POST", "/submit", {}, "payload").body == "json_backend /submit");
  CHECK(up.last().body == "payload");

  // SIGINT drains like SIGTERM.
  cli.process->signal(SIGINT);
  auto status = cli.process->wait_exit(10s);
  REQUIRE(status);
  CHECK(status->ok());
}
