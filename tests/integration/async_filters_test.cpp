// Asynchronous host filters through real sockets: a request hook pauses the stream and
// another thread resumes it (with header edits or a local reply); the stream's timeouts
// and the client going away end a paused stream, after which the resumer does nothing.
// Also the other per-stream services: dynamic metadata, local address, peer certificate.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "integration/proxy_fixture.hpp"
#include "support/tls_peers.hpp"
#include "support/tls_pki.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

/// What the pausing filter hands to the test: the resumers it took, stream completions.
struct PauseControl {
  std::mutex m;
  std::condition_variable cv;
  std::vector<StreamResumer> resumers;
  std::atomic<int> completed{0};
  std::atomic<std::uint32_t> last_flags{0};

  void add(StreamResumer r) {
    std::lock_guard lock(m);
    resumers.push_back(std::move(r));
    cv.notify_all();
  }
  /// The n-th resumer (1-based), waiting for it at most 3 s.
  StreamResumer nth(std::size_t n) {
    std::unique_lock lock(m);
    cv.wait_for(lock, 3s, [&] { return resumers.size() >= n; });
    return resumers.size() >= n ? resumers[n - 1] : StreamResumer{};
  }
  bool wait_completed(int n) {
    auto until = std::chrono::steady_clock::now() + 3s;
    while (completed.load() < n && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
    return completed.load() >= n;
  }
};

/// Pauses requests that carry x-pause and hands the resumer over.
class PausingFilter : public Filter {
 public:
  explicit PausingFilter(PauseControl* c) : c_(c) {}
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext& ctx) override {
    if (!h.has("x-pause")) return FilterStatus::Continue;
    if (h.get("x-pause") == "no-resumer") return FilterStatus::Pause;
    c_->add(ctx.pause());
    return FilterStatus::Pause;
  }
  void on_stream_complete(const ResponseHeaders&, StreamContext& ctx) override {
    c_->last_flags = ctx.response_flags();
    ++c_->completed;
  }

 private:
  PauseControl* c_;
};

/// Runs after the pausing filter: shows what it sees.
class ReportingFilter : public Filter {
 public:
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext& ctx) override {
    h.set("x-saw-resumed", h.has("x-resumed") ? "yes" : "no");
    if (const auto* m = ctx.dynamic_metadata("test.ns", "k")) h.set("x-meta", *m);
    h.set("x-local", ctx.downstream_local_address());
    h.set("x-local-port", std::to_string(ctx.downstream_local_port()));
    const auto* cert = ctx.peer_certificate();
    h.set("x-peer", cert ? cert->subject + "|" + (cert->uri_sans.empty() ? "" : cert->uri_sans[0]) + "|" +
                               (cert->dns_sans.empty() ? "" : cert->dns_sans[0])
                         : "none");
    return FilterStatus::Continue;
  }
};

FilterChain pausing_chain(PauseControl& c) {
  FilterChain chain;
  chain.add<PausingFilter>(&c);
  chain.add<ReportingFilter>();
  return chain;
}

FakeUpstream echo_upstream() {
  return FakeUpstream([](const SeenRequest& r) { return FakeResponse{200, {}, r.method + " " + r.target + " " + r.body}; });
}

}  // namespace

TEST_CASE("async filter: resumed from another thread, the next filters and the upstream see its edits",
          "[integration][filters][async]") {
  auto up = echo_upstream();
  PauseControl control;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, pausing_chain(control));
  std::uint64_t seen_before_resume = 99;
  std::thread resumer([&] {
    auto r = control.nth(1);
    std::this_thread::sleep_for(100ms);
    seen_before_resume = up.requests();
    r.resume([](RequestHeaders& h, StreamContext& ctx) {
      h.set("x-resumed", "1");
      ctx.set_dynamic_metadata("test.ns", "k", R"({"sub":"alice"})");
      return FilterStatus::Continue;
    });
    r.resume([](RequestHeaders& h, StreamContext&) {  // only the first resume counts
      h.set("x-resumed-twice", "1");
      return FilterStatus::Continue;
    });
  });
  TestClient c(proxy.port());
  auto start = std::chrono::steady_clock::now();
  auto r = c.request("GET", "/paused", {{"x-pause", "1"}});
  auto took = std::chrono::steady_clock::now() - start;
  resumer.join();
  CHECK(r.status == 200);
  CHECK(r.body == "GET /paused ");
  CHECK(took >= 100ms);
  CHECK(seen_before_resume == 0);  // nothing went upstream while paused
  auto seen = up.last();
  CHECK(seen.header("x-resumed") == "1");
  CHECK_FALSE(seen.has_header("x-resumed-twice"));
  CHECK(seen.header("x-saw-resumed") == "yes");  // later filters ran after the continuation
  CHECK(seen.header("x-meta") == R"({"sub":"alice"})");
  CHECK(seen.header("x-local") == "127.0.0.1:" + std::to_string(proxy.port()));
  CHECK(seen.header("x-local-port") == std::to_string(proxy.port()));
  CHECK(seen.header("x-peer") == "none");

  // The next stream of the keep-alive connection starts without the metadata.
  auto next = c.request("GET", "/plain");
  CHECK(next.status == 200);
  CHECK_FALSE(up.last().has_header("x-meta"));
  CHECK(up.last().header("x-saw-resumed") == "no");
  CHECK(control.wait_completed(2));
}

TEST_CASE("async filter: a resume can answer with a local reply", "[integration][filters][async]") {
  auto up = echo_upstream();
  PauseControl control;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, pausing_chain(control));
  std::thread resumer([&] {
    control.nth(1).resume([](RequestHeaders&, StreamContext& ctx) {
      ctx.send_local_reply(403, "denied while paused");
      return FilterStatus::Stop;
    });
  });
  TestClient c(proxy.port());
  auto r = c.request("GET", "/x", {{"x-pause", "1"}});
  resumer.join();
  CHECK(r.status == 403);
  CHECK(r.body == "denied while paused");
  CHECK(up.requests() == 0);
  CHECK(c.request("GET", "/after").status == 200);  // the connection goes on

  // A filter that pauses without taking a resumer gets a 500 rather than a hang.
  auto bad = c.request("GET", "/y", {{"x-pause", "no-resumer"}});
  CHECK(bad.status == 500);
  CHECK(bad.body == "filter paused without a resumer");
}

TEST_CASE("async filter: the client leaving ends the paused stream, its resumer then does nothing",
          "[integration][filters][async]") {
  auto up = echo_upstream();
  PauseControl control;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, pausing_chain(control));
  {
    TestClient c(proxy.port());
    c.send("GET /gone HTTP/1.1\r\nhost: a\r\nx-pause: 1\r\n\r\n");
    REQUIRE(control.nth(1));
  }  // closes the connection
  REQUIRE(control.wait_completed(1));
  CHECK((control.last_flags.load() & kDownstreamConnectionTermination) != 0);
  control.nth(1).resume();  // the stream is gone: nothing happens
  std::this_thread::sleep_for(50ms);
  CHECK(up.requests() == 0);
  CHECK(http_get(proxy.port(), "/still-serving").status == 200);
}

TEST_CASE("async filter: request_timeout and stream_idle_timeout end a paused stream with 408",
          "[integration][filters][async]") {
  auto up = echo_upstream();
  for (bool idle : {false, true}) {
    PauseControl control;
    HttpOptions http;
    if (idle) http.stream_idle_timeout = 200ms;
    else http.request_timeout = 200ms;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http, pausing_chain(control));
    auto before = up.requests();
    TestClient c(proxy.port());
    auto start = std::chrono::steady_clock::now();
    auto r = c.request("GET", "/slow", {{"x-pause", "1"}});
    CHECK(std::chrono::steady_clock::now() - start >= 190ms);
    CHECK(r.status == 408);
    CHECK(r.body == (idle ? "stream timeout" : "request timeout"));
    CHECK(c.closed_by_peer(1000ms));
    control.nth(1).resume();  // too late: nothing happens
    std::this_thread::sleep_for(50ms);
    CHECK(up.requests() == before);
    CHECK(http_get(proxy.port(), "/next").status == 200);
  }
}

TEST_CASE("async filter: a paused request's body waits, and pipelined requests stay in order",
          "[integration][filters][async]") {
  auto up = echo_upstream();
  PauseControl control;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, pausing_chain(control));
  TestClient c(proxy.port());
  c.send("POST /first HTTP/1.1\r\nhost: a\r\nx-pause: 1\r\ncontent-length: 5\r\n\r\nhello"
         "GET /second HTTP/1.1\r\nhost: a\r\n\r\n");
  auto r = control.nth(1);
  REQUIRE(r);
  std::this_thread::sleep_for(100ms);
  CHECK(up.requests() == 0);  // neither the body nor the next request went anywhere
  r.resume();
  auto first = c.read_response();
  auto second = c.read_response();
  CHECK(first.status == 200);
  CHECK(first.body == "POST /first hello");
  CHECK(second.body == "GET /second ");
  auto seen = up.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].target == "/first");
  CHECK(seen[1].target == "/second");
}

TEST_CASE("async filter: peer_certificate shows the verified client certificate on mTLS",
          "[integration][filters][async][tls]") {
  TestPki pki;
  auto server_cert = pki.issue("localhost", {"localhost"});
  auto client_cert = pki.issue("client-one", {"client.example.com"}, {"spiffe://ferry/client-one"});
  auto up = echo_upstream();
  PauseControl control;
  Server server(ServerOptions{.workers = 1, .drain_timeout = 2s});
  server.add_cluster(cluster_to("backend", {up.port()}));
  ListenerOptions opts;
  opts.name = "mtls";
  DownstreamTlsOptions tls;
  TlsServerChain chain;
  chain.common_tls_context.tls_certificates.push_back(
      {DataSource{.filename = server_cert.cert_file}, DataSource{.filename = server_cert.key_file}});
  chain.require_client_certificate = true;
  chain.common_tls_context.validation_context.trusted_ca.filename = pki.ca_file();
  tls.chains.push_back(chain);
  opts.tls = tls;
  auto filters = pausing_chain(control);
  filters.terminate(route_all("backend"));
  server.add_listener(Listener(opts, std::move(filters)));
  server.start();
  {
    TlsTestClient client(server.listener_port(0), {.server_name = "localhost",
                                                   .ca_file = pki.ca_file(),
                                                   .cert_file = client_cert.cert_file,
                                                   .key_file = client_cert.key_file});
    REQUIRE(client.ok());
    CHECK_FALSE(client.get("/mtls").empty());
    CHECK(up.last().header("x-peer") == "CN=client-one,O=ferry tests|spiffe://ferry/client-one|client.example.com");
  }
  server.stop();
  server.wait();
}
