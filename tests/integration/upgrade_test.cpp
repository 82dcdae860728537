// HTTP/1.1 upgrades (WebSocket) through real sockets: allowed by the connection manager or a
// route (403 otherwise), the upgrade fields sent upstream, a 101 turned into a tunnel that
// carries bytes both ways and passes a close on as a half-close, a refused upgrade, h2c, and
// the timeouts that do and do not apply to a tunnel.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "integration/proxy_fixture.hpp"
#include "support/tls_peers.hpp"
#include "support/tls_pki.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += std::size_t(n);
  }
}

/// Reads until `want` bytes arrived in all, the peer closed, or the receive timeout passed.
std::string read_some_bytes(int fd, std::size_t want) {
  std::string out;
  char buf[4096];
  while (out.size() < want) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, std::size_t(n));
  }
  return out;
}

/// Reads a response head (through the blank line); what came after it stays in `rest`.
std::string read_head(int fd, std::string& rest) {
  std::string got;
  char buf[4096];
  for (;;) {
    auto end = got.find("\r\n\r\n");
    if (end != std::string::npos) {
      rest = got.substr(end + 4);
      return got.substr(0, end + 4);
    }
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got.append(buf, std::size_t(n));
  }
}

bool peer_closed(int fd) {
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

/// An upstream that answers every request head with 101 (or with `refuse` when set), then
/// echoes what it receives upper-cased; when the proxy half-closes, it says "bye" and closes.
class UpgradeUpstream {
 public:
  explicit UpgradeUpstream(std::string refuse = {}) : refuse_(std::move(refuse)) {
    fd_ = listen_loopback(16, port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~UpgradeUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string head() const {
    std::lock_guard lock(m_);
    return head_;
  }
  int heads() const { return heads_.load(); }
  bool saw_half_close() const { return half_close_.load(); }

 private:
  void serve() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string rest;
      std::string h = read_head(c, rest);
      {
        std::lock_guard lock(m_);
        head_ = h;
      }
      ++heads_;
      if (!refuse_.empty()) {
        send_all(c, refuse_);
        ::close(c);
        continue;
      }
      send_all(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
      echo(c, rest);
      ::close(c);
    }
  }
  void echo(int c, std::string pending) {
    char buf[4096];
    for (;;) {
      for (auto& ch : pending) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      send_all(c, pending);
      auto n = ::recv(c, buf, sizeof buf, 0);
      if (n == 0) {
        half_close_ = true;
        // "bye" and the FIN in one segment: the proxy gets both from one readiness event.
        int one = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
        send_all(c, "bye");
        ::shutdown(c, SHUT_WR);
        return;
      }
      if (n < 0) return;
      pending.assign(buf, std::size_t(n));
    }
  }
  std::string refuse_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex m_;
  std::string head_;
  std::atomic<int> heads_{0};
  std::atomic<bool> half_close_{false};
};

constexpr const char* kUpgradeRequest =
    "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

std::uint64_t counter(Proxy& proxy, const std::string& name) {
  return proxy.server.stats().counter_value(name).value_or(0);
}

struct Seen {
  std::atomic<int> completed{0};
  std::atomic<int> header_end_stream{-1};
};

class EndWatcher : public Filter {
 public:
  explicit EndWatcher(Seen* s) : s_(s) {}
  FilterStatus on_response_headers(ResponseHeaders&, bool end_stream, StreamContext&) override {
    s_->header_end_stream = end_stream ? 1 : 0;
    return FilterStatus::Continue;
  }
  void on_stream_complete(const ResponseHeaders&, StreamContext&) override { ++s_->completed; }

 private:
  Seen* s_;
};

class DenyAll : public Filter {
 public:
  FilterStatus on_request_headers(RequestHeaders&, bool, StreamContext& ctx) override {
    ctx.send_local_reply(401, "denied");
    return FilterStatus::Stop;
  }
};

HttpOptions websocket_allowed() {
  HttpOptions http;
  http.upgrade_configs.push_back({"websocket", true});
  return http;
}

/// Connects, sends kUpgradeRequest and requires the 101; `rest` gets what came behind its head.
int open_tunnel(std::uint16_t port, std::string& rest) {
  int fd = connect_to(port);
  send_all(fd, kUpgradeRequest);
  REQUIRE(read_head(fd, rest).rfind("HTTP/1.1 101", 0) == 0);
  return fd;
}

bool contains_ci(std::string hay, std::string needle) {
  for (auto& c : hay) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : needle) c = char(std::tolower(static_cast<unsigned char>(c)));
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("upgrade: an allowed WebSocket upgrade becomes a tunnel both ways", "[integration][upgrade]") {
  UpgradeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), websocket_allowed());
  int fd = connect_to(proxy.port());
  send_all(fd, std::string(kUpgradeRequest) + "hello");  // a first frame right behind the head
  std::string rest;
  auto head = read_head(fd, rest);
  CHECK(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  CHECK(contains_ci(head, "connection: upgrade\r\n"));
  CHECK(contains_ci(head, "upgrade: websocket\r\n"));
  CHECK_FALSE(contains_ci(head, "content-length"));
  CHECK(rest + read_some_bytes(fd, 5 - rest.size()) == "HELLO");
  send_all(fd, "more");
  CHECK(read_some_bytes(fd, 4) == "MORE");
  // The upstream was asked for the same upgrade, with the client's WebSocket fields.
  auto seen = up.head();
  CHECK(contains_ci(seen, "\r\nconnection: upgrade\r\n"));
  CHECK(contains_ci(seen, "\r\nupgrade: websocket\r\n"));
  CHECK(contains_ci(seen, "\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
  CHECK(counter(proxy, "http.ingress_http.downstream_cx_upgrades_total") == 1);
  CHECK(proxy.server.stats().gauge_value("http.ingress_http.downstream_cx_upgrades_active").value_or(0) == 1);
  // The client's close reaches the upstream as a half-close; its last words still arrive.
  ::shutdown(fd, SHUT_WR);
  CHECK(read_some_bytes(fd, 3) == "bye");
  CHECK(peer_closed(fd));
  CHECK(up.saw_half_close());
  ::close(fd);
  for (int i = 0; i < 100 && proxy.server.stats().gauge_value("http.ingress_http.downstream_cx_upgrades_active").value_or(1) != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(proxy.server.stats().gauge_value("http.ingress_http.downstream_cx_upgrades_active").value_or(1) == 0);
  CHECK(counter(proxy, "http.ingress_http.downstream_rq_1xx") == 1);
}

TEST_CASE("upgrade: refused with 403 unless the manager or the route allows it", "[integration][upgrade]") {
  UpgradeUpstream up;
  auto try_upgrade = [&](Proxy& proxy, const std::string& path) {
    int fd = connect_to(proxy.port());
    std::string request = kUpgradeRequest;
    request.replace(request.find("/chat"), 5, path);
    send_all(fd, request);
    std::string rest;
    auto head = read_head(fd, rest);
    ::close(fd);
    return head.substr(0, 12);
  };
  SECTION("nothing configured") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
    CHECK(try_upgrade(proxy, "/chat") == "HTTP/1.1 403");
    CHECK(up.heads() == 0);  // never reached the upstream
    CHECK(counter(proxy, "http.ingress_http.downstream_rq_ws_on_non_ws_route") == 1);
    // The connection closes after the 403: frames the client sent behind the head are not
    // read as a next request.
    int fd = connect_to(proxy.port());
    send_all(fd, std::string(kUpgradeRequest) + "\x81\x05hello");
    std::string rest;
    auto head = read_head(fd, rest);
    CHECK(head.rfind("HTTP/1.1 403", 0) == 0);
    CHECK(contains_ci(head, "connection: close\r\n"));
    CHECK(peer_closed(fd));
    ::close(fd);
  }
  SECTION("the route's word wins both ways") {
    Router r;
    auto vh = r.virtual_host("*");
    vh.route(match::prefix("/off")).to("backend").upgrade("WebSocket", false);
    vh.route(match::prefix("/")).to("backend");
    Proxy on({cluster_to("backend", {up.port()})}, std::move(r), websocket_allowed());
    CHECK(try_upgrade(on, "/off") == "HTTP/1.1 403");
    CHECK(try_upgrade(on, "/chat") == "HTTP/1.1 101");
    Router r2;
    auto vh2 = r2.virtual_host("*");
    vh2.route(match::prefix("/on")).to("backend").upgrade("websocket");
    vh2.route(match::prefix("/")).to("backend");
    Proxy off({cluster_to("backend", {up.port()})}, std::move(r2));
    CHECK(try_upgrade(off, "/on") == "HTTP/1.1 101");
    CHECK(try_upgrade(off, "/chat") == "HTTP/1.1 403");
  }
}

TEST_CASE("upgrade: an upstream that does not switch answers normally and the connection closes",
          "[integration][upgrade]") {
  UpgradeUpstream up("HTTP/1.1 426 Upgrade Required\r\ncontent-length: 2\r\n\r\nno");
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), websocket_allowed());
  int fd = connect_to(proxy.port());
  send_all(fd, kUpgradeRequest);
  std::string rest;
  auto head = read_head(fd, rest);
  CHECK(head.rfind("HTTP/1.1 426", 0) == 0);
  CHECK(contains_ci(head, "connection: close\r\n"));
  CHECK(rest + read_some_bytes(fd, 2 - rest.size()) == "no");
  CHECK(peer_closed(fd));
  ::close(fd);
  // Envoy counts an upgrade when it lets it through, whatever the upstream answers.
  CHECK(counter(proxy, "http.ingress_http.downstream_cx_upgrades_total") == 1);
  for (int i = 0; i < 100 && proxy.server.stats().gauge_value("http.ingress_http.downstream_cx_upgrades_active").value_or(1) != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(proxy.server.stats().gauge_value("http.ingress_http.downstream_cx_upgrades_active").value_or(1) == 0);
}

TEST_CASE("upgrade: h2c is dropped and served as HTTP/1.1", "[integration][upgrade]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "plain"}; });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient c(proxy.port());
  auto r = c.request("GET", "/", {{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"},
                                  {"HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"}});
  CHECK(r.status == 200);
  CHECK(r.body == "plain");
  CHECK_FALSE(up.last().has_header("upgrade"));
  CHECK_FALSE(up.last().has_header("http2-settings"));
  CHECK(counter(proxy, "http.ingress_http.downstream_rq_ws_on_non_ws_route") == 0);
}

TEST_CASE("upgrade: the route timeout does not cut a tunnel, the stream idle timeout does",
          "[integration][upgrade]") {
  UpgradeUpstream up;
  HttpOptions http = websocket_allowed();
  http.stream_idle_timeout = 600ms;
  Router r;
  r.virtual_host("*").route(match::prefix("/")).to("backend").timeout(200ms);
  Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r), http);
  std::string rest;
  int fd = open_tunnel(proxy.port(), rest);
  std::this_thread::sleep_for(350ms);  // past the route timeout
  send_all(fd, "ping");
  CHECK(read_some_bytes(fd, 4) == "PING");
  // Quiet for longer than the stream idle timeout: the tunnel ends.
  auto start = std::chrono::steady_clock::now();
  CHECK(peer_closed(fd));
  CHECK(std::chrono::steady_clock::now() - start < 2500ms);
  ::close(fd);
}

TEST_CASE("upgrade: a tunnel behind TLS termination", "[integration][upgrade][tls]") {
  UpgradeUpstream up;
  TestPki pki;
  auto cert = pki.issue("localhost", {"localhost"});
  DownstreamTlsOptions tls;
  TlsServerChain chain;
  chain.common_tls_context.tls_certificates.push_back(
      {DataSource{.filename = cert.cert_file}, DataSource{.filename = cert.key_file}});
  tls.chains = {chain};
  Server server(ServerOptions{.workers = 1, .drain_timeout = 2s});
  server.add_cluster(cluster_to("backend", {up.port()}));
  ListenerOptions opts;
  opts.name = "tls";
  opts.http = websocket_allowed();
  opts.tls = std::move(tls);
  FilterChain fc;
  fc.terminate(route_all("backend"));
  server.add_listener(Listener(opts, std::move(fc)));
  server.start();
  {
    TlsTestClient c(server.listener_port(0), TlsClientOptions{.server_name = "localhost", .ca_file = pki.ca_file()});
    REQUIRE(c.ok());
    auto head = c.get("/chat", "localhost", "Connection: Upgrade\r\nUpgrade: websocket\r\n");
    CHECK(head.rfind("HTTP/1.1 101", 0) == 0);
    REQUIRE(c.send("over tls"));
    CHECK(c.read(8) == "OVER TLS");
    REQUIRE(c.send("again"));
    CHECK(c.read(5) == "AGAIN");
  }
  // The client's close_notify and FIN end the tunnel; the upstream hears a half-close.
  for (int i = 0; i < 200 && !up.saw_half_close(); ++i) std::this_thread::sleep_for(10ms);
  CHECK(up.saw_half_close());
  server.stop();
  server.wait();
}

TEST_CASE("upgrade: filters see the 101 as not ending the stream, and the tunnel's end", "[integration][upgrade]") {
  UpgradeUpstream up;
  Seen seen;
  FilterChain chain;
  chain.add<EndWatcher>(&seen);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), websocket_allowed(), std::move(chain));
  std::string rest;
  int fd = open_tunnel(proxy.port(), rest);
  CHECK(seen.header_end_stream.load() == 0);
  CHECK(seen.completed.load() == 0);
  ::shutdown(fd, SHUT_WR);
  CHECK(read_some_bytes(fd, 3) == "bye");
  CHECK(peer_closed(fd));
  ::close(fd);
  for (int i = 0; i < 100 && seen.completed.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  CHECK(seen.completed.load() == 1);
}

TEST_CASE("upgrade: a drain lets a tunnel run until the drain timeout and then ends it", "[integration][upgrade]") {
  UpgradeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), websocket_allowed());
  std::string rest;
  int fd = open_tunnel(proxy.port(), rest);
  auto start = std::chrono::steady_clock::now();
  proxy.server.stop();  // drain_timeout is 2 s in the fixture
  send_all(fd, "still");
  CHECK(read_some_bytes(fd, 5) == "STILL");  // in flight: served during the drain
  CHECK(peer_closed(fd));                     // then closed by the drain's end
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took > 1500ms);
  CHECK(took < 3000ms);
  ::close(fd);
}

TEST_CASE("upgrade: decided before the filters run and routed with its upgrade fields", "[integration][upgrade]") {
  UpgradeUpstream up;
  SECTION("a refused upgrade never reaches the filters") {
    FilterChain chain;
    chain.add<DenyAll>();
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), HttpOptions{}, std::move(chain));
    int fd = connect_to(proxy.port());
    send_all(fd, kUpgradeRequest);
    std::string rest;
    CHECK(read_head(fd, rest).rfind("HTTP/1.1 403", 0) == 0);  // Envoy's order: not the filter's 401
    ::close(fd);
  }
  SECTION("routes can match the upgrade fields, also the route that decides") {
    Router r;
    auto vh = r.virtual_host("*");
    vh.route(match::prefix("/")).header(HeaderMatcher::exact("upgrade", "websocket")).to("backend").upgrade("websocket");
    vh.route(match::prefix("/")).to("backend");
    Proxy proxy({cluster_to("backend", {up.port()})}, std::move(r));  // only the first route allows it
    int fd = connect_to(proxy.port());
    send_all(fd, kUpgradeRequest);
    std::string rest;
    CHECK(read_head(fd, rest).rfind("HTTP/1.1 101", 0) == 0);
    ::close(fd);
  }
}

TEST_CASE("upgrade: a tunnel carries more than its buffers hold both ways at once", "[integration][upgrade]") {
  UpgradeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), websocket_allowed());
  std::string rest;
  int fd = open_tunnel(proxy.port(), rest);
  constexpr std::size_t kTotal = 4 << 20;  // far past the 16 KiB and 128 KiB stream buffers
  std::thread writer([fd] {
    std::string block(64 * 1024, 'a');
    for (std::size_t sent = 0; sent < kTotal; sent += block.size()) send_all(fd, block);
  });
  std::string echoed = rest + read_some_bytes(fd, kTotal - rest.size());
  writer.join();
  CHECK(echoed.size() == kTotal);
  CHECK(echoed.find_first_not_of('A') == std::string::npos);
  ::shutdown(fd, SHUT_WR);
  CHECK(read_some_bytes(fd, 3) == "bye");
  ::close(fd);
}

TEST_CASE("upgrade: a tunnel to a TLS upstream", "[integration][upgrade][tls]") {
  TestPki pki;
  auto cert = pki.issue("backend.internal", {"backend.internal"});
  TlsFakeUpstream up({.cert_file = cert.cert_file, .key_file = cert.key_file, .upgrade_echo = true});
  auto c = cluster_to("tls_backend", {up.port()});
  UpstreamTlsOptions t;
  t.sni = "backend.internal";
  t.common_tls_context.validation_context.trusted_ca.filename = pki.ca_file();
  c.tls = t;
  Proxy proxy({c}, route_all("tls_backend"), websocket_allowed());
  std::string rest;
  int fd = open_tunnel(proxy.port(), rest);
  send_all(fd, "through tls");
  CHECK(rest + read_some_bytes(fd, 11 - rest.size()) == "THROUGH TLS");
  CHECK(contains_ci(up.last_head(), "\r\nupgrade: websocket\r\n"));
  ::shutdown(fd, SHUT_WR);
  CHECK(peer_closed(fd));  // the upstream ends on the proxy's close_notify and FIN
  ::close(fd);
}
