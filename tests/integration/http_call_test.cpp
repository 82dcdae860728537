// The internal HTTP client (StreamContext::http_call, session/http_call.hpp) through real
// sockets: a host filter starts a call from its request hook and the test waits for the
// answer its `done` received on the worker.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "integration/proxy_fixture.hpp"
#include "support/tls_peers.hpp"
#include "support/tls_pki.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

/// The answers the calls got, in completion order, and on which thread.
struct Answers {
  std::mutex m;
  std::condition_variable cv;
  std::vector<HttpCallResponse> got;
  std::vector<std::thread::id> threads;
  void add(HttpCallResponse r) {
    std::lock_guard lock(m);
    got.push_back(std::move(r));
    threads.push_back(std::this_thread::get_id());
    cv.notify_all();
  }
  /// Waits for the n-th answer (1-based), at most `wait`.
  std::optional<HttpCallResponse> nth(std::size_t n, std::chrono::milliseconds wait = 5000ms) {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, wait, [&] { return got.size() >= n; })) return std::nullopt;
    return got[n - 1];
  }
  std::size_t count() {
    std::lock_guard lock(m);
    return got.size();
  }
};

/// Listens on 127.0.0.1:0 and never accepts: connections complete in the backlog and
/// requests are never answered.
struct SilentListener {
  SilentListener() : acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0}) {}
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor;
};

struct CallSpec {
  std::string cluster;
  HttpCallRequest request;
  Duration timeout{1000};
};

/// Starts one call per stream from on_request_headers and lets the stream go on.
class CallingFilter : public Filter {
 public:
  CallingFilter(CallSpec spec, Answers* answers) : spec_(std::move(spec)), answers_(answers) {}
  FilterStatus on_request_headers(RequestHeaders&, bool, StreamContext& ctx) override {
    auto* answers = answers_;
    // `done` never runs from inside http_call; it may run after the stream (and this
    // filter) ended, so it holds what it needs.
    auto inside = std::make_shared<bool>(true);
    ctx.http_call(spec_.cluster, spec_.request, spec_.timeout, [answers, inside](HttpCallResponse r) {
      if (*inside) r.error = "ran inside http_call";
      answers->add(std::move(r));
    });
    *inside = false;
    return FilterStatus::Continue;
  }

 private:
  CallSpec spec_;
  Answers* answers_;
};

/// A filter chain calling `spec` once per request.
FilterChain calling(CallSpec spec, Answers& answers) {
  FilterChain chain;
  chain.add<CallingFilter>(std::move(spec), &answers);
  return chain;
}

std::string header_of(const HttpCallResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "";
}

}  // namespace

TEST_CASE("http_call: method, path, headers and body go out, status, headers and body come back",
          "[integration][http_call]") {
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{200, {}, "backend"}; });
  FakeUpstream service([](const SeenRequest& r) {
    return FakeResponse{201, {{"X-Answer", "yes"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}, "got " + r.body};
  });
  Answers answers;
  CallSpec spec{"service", {"POST", "/check?x=1", "svc.internal", {{"x-user", "alice"}, {"Host", "ignored"}}, "payload"}};
  Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("service", {service.port()})},
              route_all("backend"), {}, calling(spec, answers));
  auto r = http_get(proxy.port(), "/");
  CHECK(r.status == 200);
  auto a = answers.nth(1);
  REQUIRE(a);
  CHECK(a->error == "");
  CHECK(a->status == 201);
  CHECK(a->body == "got payload");
  CHECK(header_of(*a, "x-answer") == "yes");  // names in lower case
  int cookies = 0;
  for (const auto& [n, v] : a->headers) cookies += n == "set-cookie";
  CHECK(cookies == 2);
  auto seen = service.last();
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/check?x=1");
  CHECK(seen.header("host") == "svc.internal");
  CHECK(seen.header("x-user") == "alice");
  CHECK(seen.header("content-length") == "7");
  CHECK(seen.body == "payload");
  {
    std::lock_guard lock(answers.m);
    CHECK(answers.threads[0] != std::this_thread::get_id());
  }

  // The next call reuses the pooled connection; the host defaults to the cluster's name.
  spec.request = HttpCallRequest{};
  Answers more;
  Proxy second({cluster_to("backend", {backend.port()}), cluster_to("service", {service.port()})},
               route_all("backend"), {}, calling(spec, more));
  auto before = service.connections();
  TestClient c(second.port());
  CHECK(c.request("GET", "/1").status == 200);
  REQUIRE(more.nth(1));
  CHECK(c.request("GET", "/2").status == 200);
  auto b = more.nth(2);
  REQUIRE(b);
  CHECK(b->status == 201);
  CHECK(service.last().header("host") == "service");
  CHECK(service.last().method == "GET");
  CHECK_FALSE(service.last().has_header("content-length"));
  CHECK(service.connections() == before + 1);
}

TEST_CASE("http_call: failures answer status 0 with the reason", "[integration][http_call]") {
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{200, {}, "backend"}; });
  SilentListener slow;
  FakeUpstream huge([](const SeenRequest&) {
    FakeResponse r;
    r.generated_body = (1 << 20) + 1;
    return r;
  });
  FakeUpstream bad([](const SeenRequest&) {
    FakeResponse r;
    r.raw = "NOT HTTP\r\n\r\n";
    return r;
  });
  std::uint16_t closed_port = 0;
  {
    FakeUpstream gone;
    closed_port = gone.port();
  }
  auto run = [&](const std::string& cluster, Duration timeout, HttpCallRequest rq = {}) {
    Answers answers;
    Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("slow", {slow.port()}),
                 cluster_to("huge", {huge.port()}), cluster_to("bad", {bad.port()}),
                 cluster_to("closed", {closed_port})},
                route_all("backend"), {}, calling(CallSpec{cluster, std::move(rq), timeout}, answers));
    CHECK(http_get(proxy.port(), "/").status == 200);  // the stream never waits for the call
    auto a = answers.nth(1);
    REQUIRE(a);
    return *a;
  };
  auto start = std::chrono::steady_clock::now();
  auto timed_out = run("slow", 150ms);
  CHECK(timed_out.status == 0);
  CHECK(timed_out.error == "timeout");
  CHECK(std::chrono::steady_clock::now() - start < 1000ms);

  auto unknown = run("nope", 1000ms);
  CHECK(unknown.status == 0);
  CHECK(unknown.error == "unknown cluster nope");

  auto refused = run("closed", 1000ms);
  CHECK(refused.status == 0);
  CHECK(refused.error.find("connect to 127.0.0.1:") == 0);

  auto too_big = run("huge", 2000ms);
  CHECK(too_big.status == 0);
  CHECK(too_big.error == "response body over 1048576 bytes");
  CHECK(too_big.body.empty());

  auto garbage = run("bad", 1000ms);
  CHECK(garbage.status == 0);
  CHECK(garbage.error.find("invalid response") == 0);

  auto injected = run("backend", 1000ms, HttpCallRequest{"GET", "/", "", {{"x-a", "1\r\nx-b: 2"}}, ""});
  CHECK(injected.status == 0);
  CHECK(injected.error == "invalid header x-a");
}

TEST_CASE("http_call: a call still running when the server stops completes with an error",
          "[integration][http_call]") {
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{200, {}, "backend"}; });
  SilentListener hung;
  Answers answers;
  {
    Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("hung", {hung.port()})}, route_all("backend"),
                {}, calling(CallSpec{"hung", {}, Duration(0)}, answers));
    CHECK(http_get(proxy.port(), "/").status == 200);
    std::this_thread::sleep_for(100ms);
    CHECK(answers.count() == 0);
  }  // stop() drains: the idle connection closes, the call is cancelled
  auto a = answers.nth(1, 100ms);
  REQUIRE(a);
  CHECK(a->status == 0);
  CHECK(a->error == "cancelled: the worker is stopping");
}

TEST_CASE("http_call: a cluster with an UpstreamTlsContext is called over TLS", "[integration][http_call][tls]") {
  TestPki pki;
  auto cert = pki.issue("authz.internal", {"authz.internal"});
  TlsFakeUpstream tls_service({.cert_file = cert.cert_file, .key_file = cert.key_file});
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{200, {}, "backend"}; });
  auto secure = cluster_to("secure", {tls_service.port()});
  UpstreamTlsOptions t;
  t.sni = "authz.internal";
  t.common_tls_context.validation_context.trusted_ca.filename = pki.ca_file();
  secure.tls = t;
  Answers answers;
  Proxy proxy({cluster_to("backend", {backend.port()}), secure}, route_all("backend"), {},
              calling(CallSpec{"secure", {"GET", "/keys", "", {}, ""}, 2000ms}, answers));
  TestClient c(proxy.port());
  CHECK(c.request("GET", "/").status == 200);
  auto a = answers.nth(1);
  REQUIRE(a);
  CHECK(a->error == "");
  CHECK(a->status == 200);
  CHECK(a->body == "tls-upstream sni=authz.internal");
  CHECK(tls_service.last_head().rfind("GET /keys HTTP/1.1\r\nhost: secure\r\n", 0) == 0);
  CHECK(c.request("GET", "/").status == 200);
  auto b = answers.nth(2);
  REQUIRE(b);
  CHECK(b->status == 200);
  CHECK(tls_service.handshakes() == 1);  // the TLS connection went back to the pool

  // A CA that did not sign the service's certificate: no answer, and the reason.
  TestPki wrong("wrong CA");
  auto untrusted = secure;
  untrusted.tls->common_tls_context.validation_context.trusted_ca.filename = wrong.ca_file();
  Answers refused;
  Proxy other({cluster_to("backend", {backend.port()}), untrusted}, route_all("backend"), {},
              calling(CallSpec{"secure", {}, 2000ms}, refused));
  CHECK(http_get(other.port(), "/").status == 200);
  auto f = refused.nth(1);
  REQUIRE(f);
  CHECK(f->status == 0);
  CHECK(f->error.find("certificate verify failed") != std::string::npos);
}
