// The request fields Envoy's connection manager sets from who the client is, through real
// sockets: x-forwarded-for (use_remote_address, skip_xff_append, xff_num_trusted_hops),
// x-forwarded-proto, x-envoy-internal / x-envoy-external-address, and x-request-id
// (preserve_external_request_id, always_set_request_id_in_response). The remote address
// the manager decides is read back from an access-log callback.
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;

namespace {

FakeResponse echo_target(const SeenRequest& r) { return {200, {}, "target=" + r.target}; }

/// The remote and direct addresses of every logged stream.
struct Remotes {
  std::mutex m;
  std::vector<std::pair<std::string, std::string>> seen;
  /// The `n`th record (1-based); streams are logged after their response went out, so this
  /// waits (bounded) for it.
  std::pair<std::string, std::string> nth(std::size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (;;) {
      {
        std::lock_guard lock(m);
        if (seen.size() >= n) return seen[n - 1];
      }
      if (std::chrono::steady_clock::now() > deadline) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
};

HttpOptions logging_remotes(const std::shared_ptr<Remotes>& remotes) {
  HttpOptions http;
  AccessLogOptions log;
  log.sink = AccessLogOptions::Sink::callback;
  log.callback = [remotes](const AccessLogRecord& r) {
    std::lock_guard lock(remotes->m);
    remotes->seen.emplace_back(r.downstream_remote_address, r.downstream_direct_remote_address);
  };
  http.access_logs.push_back(std::move(log));
  return http;
}

bool is_uuid4(const std::string& s) {
  static const std::regex uuid4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(s, uuid4);
}

}  // namespace

TEST_CASE("x-forwarded-for: fields joined with commas and the peer appended unless skip_xff_append",
          "[integration][forwarding]") {
  FakeUpstream up(echo_target);
  HttpOptions http;  // the code API's default: use_remote_address
  SECTION("appended") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"X-Forwarded-For", "192.0.2.1"}, {"x-a", "1"},
                                   {"x-forwarded-for", "198.51.100.2, 198.51.100.3"}, {"x-b", "2"}})
                .status == 200);
    auto seen = up.last();
    CHECK(seen.count("x-forwarded-for") == 1);
    CHECK(seen.header("x-forwarded-for") == "192.0.2.1,198.51.100.2, 198.51.100.3,127.0.0.1");
    CHECK(seen.header("x-a") == "1");
    CHECK(seen.header("x-b") == "2");
    CHECK(seen.header("x-envoy-external-address") == "127.0.0.1");  // an edge request
    // x-forwarded-proto and x-request-id sent twice: one field each goes upstream.
    REQUIRE(c.request("GET", "/", {{"x-forwarded-proto", "https"}, {"x-request-id", "a"}, {"x-c", "3"},
                                   {"X-Forwarded-Proto", "https"}, {"x-request-id", "b"}, {"x-d", "4"}})
                .status == 200);
    seen = up.last();
    CHECK(seen.count("x-forwarded-proto") == 1);
    CHECK(seen.header("x-forwarded-proto") == "http");
    CHECK(seen.count("x-request-id") == 1);
    CHECK(is_uuid4(seen.header("x-request-id")));
    CHECK(seen.header("x-c") == "3");
    CHECK(seen.header("x-d") == "4");
    // A field Connection names goes before the places of the others are used.
    REQUIRE(c.request("GET", "/", {{"connection", "x-hop"}, {"x-hop", "1"}, {"x-forwarded-for", "192.0.2.1"},
                                   {"x-e", "5"}})
                .status == 200);
    seen = up.last();
    CHECK(seen.count("x-hop") == 0);
    CHECK(seen.header("x-forwarded-for") == "192.0.2.1,127.0.0.1");
    CHECK(seen.header("x-e") == "5");
  }
  SECTION("skip_xff_append") {
    http.skip_xff_append = true;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x-forwarded-for", "192.0.2.1"}}).status == 200);
    CHECK(up.last().header("x-forwarded-for") == "192.0.2.1");
    REQUIRE(c.request("GET", "/").status == 200);
    CHECK(up.last().count("x-forwarded-for") == 0);
  }
}

TEST_CASE("x-forwarded-for: a loopback peer is appended as the address it connected to",
          "[integration][forwarding]") {
  FakeUpstream up(echo_target);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), HttpOptions{});
  TestClient c(proxy.port(), "127.0.0.1", "127.0.0.2");  // the proxy listens on 127.0.0.1
  REQUIRE(c.request("GET", "/").status == 200);
  CHECK(up.last().header("x-forwarded-for") == "127.0.0.1");
  CHECK(up.last().header("x-envoy-external-address") == "127.0.0.2");  // the client is still the peer
  REQUIRE(c.request("GET", "/", {{"x-forwarded-for", "192.0.2.1"}}).status == 200);
  CHECK(up.last().header("x-forwarded-for") == "192.0.2.1,127.0.0.1");
}

TEST_CASE("remote address: the peer, or the x-forwarded-for entry the trusted hops point at",
          "[integration][forwarding]") {
  FakeUpstream up(echo_target);
  auto remotes = std::make_shared<Remotes>();
  HttpOptions http = logging_remotes(remotes);
  std::size_t asked = 0;
  auto ask = [&](TestClient& c, std::vector<std::pair<std::string, std::string>> headers) {
    REQUIRE(c.request("GET", "/", std::move(headers)).status == 200);
    ++asked;
  };
  SECTION("use_remote_address, no trusted hops: the peer") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    ask(c, {{"x-forwarded-for", "192.0.2.1"}});
    CHECK(remotes->nth(asked).first.rfind("127.0.0.1:", 0) == 0);
    CHECK(remotes->nth(asked).first == remotes->nth(asked).second);
  }
  SECTION("use_remote_address with one trusted hop: the last entry before ours") {
    http.xff_num_trusted_hops = 1;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    ask(c, {{"x-forwarded-for", "192.0.2.1, 203.0.113.5"}, {"x-forwarded-proto", "https"}});
    CHECK(remotes->nth(asked).first == "203.0.113.5:0");
    CHECK(remotes->nth(asked).second.rfind("127.0.0.1:", 0) == 0);
    CHECK(up.last().header("x-envoy-external-address") == "203.0.113.5");
    CHECK(up.last().header("x-forwarded-proto") == "https");  // a trusted hop's is kept
    ask(c, {{"x-forwarded-for", "not-an-address"}});
    CHECK(remotes->nth(asked).first.rfind("127.0.0.1:", 0) == 0);  // nothing usable: the peer
    CHECK(up.last().header("x-forwarded-proto") == "http");    // none came: set
  }
  SECTION("no use_remote_address: the last entry (hops 0), the second last (hops 1)") {
    http.use_remote_address = false;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    ask(c, {{"x-forwarded-for", "192.0.2.1, 2001:db8::7"}, {"x-forwarded-proto", "https"}});
    CHECK(remotes->nth(asked).first == "[2001:db8::7]:0");
    auto seen = up.last();
    CHECK(seen.header("x-forwarded-for") == "192.0.2.1, 2001:db8::7");  // nothing appended
    CHECK(seen.header("x-forwarded-proto") == "https");                 // kept when present
    CHECK(seen.count("x-envoy-external-address") == 0);                // not an edge request
    ask(c, {});
    CHECK(remotes->nth(asked).first.rfind("127.0.0.1:", 0) == 0);
    CHECK(up.last().header("x-forwarded-proto") == "http");
  }
  SECTION("no use_remote_address, one trusted hop") {
    http.use_remote_address = false;
    http.xff_num_trusted_hops = 1;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    ask(c, {{"x-forwarded-for", "192.0.2.1, 198.51.100.9, 203.0.113.5"}});
    CHECK(remotes->nth(asked).first == "198.51.100.9:0");
    ask(c, {{"x-forwarded-for", "203.0.113.5"}});  // too few entries: the peer
    CHECK(remotes->nth(asked).first.rfind("127.0.0.1:", 0) == 0);
  }
}

TEST_CASE("internal requests: a single trusted address in the internal ranges",
          "[integration][forwarding]") {
  FakeUpstream up(echo_target);
  HttpOptions http;
  http.internal_address_cidrs = {"127.0.0.0/8"};
  SECTION("use_remote_address: an internal peer without x-forwarded-for") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x-envoy-internal", "false"}, {"x-envoy-custom", "1"}, {"x-request-id", "rid-1"}})
                .status == 200);
    auto seen = up.last();
    CHECK(seen.header("x-envoy-internal") == "true");
    CHECK(seen.count("x-envoy-internal") == 1);
    CHECK(seen.header("x-envoy-custom") == "1");       // an internal client's x-envoy-* are kept
    CHECK(seen.count("x-envoy-external-address") == 0);
    CHECK(seen.header("x-request-id") == "rid-1");      // and its request id
    // The same peer relaying for someone else (x-forwarded-for present) is not internal.
    REQUIRE(c.request("GET", "/", {{"x-forwarded-for", "127.0.0.9"}, {"x-envoy-custom", "1"},
                                   {"x-request-id", "rid-2"}})
                .status == 200);
    seen = up.last();
    CHECK(seen.count("x-envoy-internal") == 0);
    CHECK(seen.count("x-envoy-custom") == 0);
    CHECK(seen.header("x-envoy-external-address") == "127.0.0.1");
    CHECK(is_uuid4(seen.header("x-request-id")));
  }
  SECTION("no use_remote_address: decided by the x-forwarded-for address") {
    http.use_remote_address = false;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x-forwarded-for", "127.0.0.9"}, {"x-envoy-custom", "1"}}).status == 200);
    CHECK(up.last().header("x-envoy-internal") == "true");
    CHECK(up.last().header("x-envoy-custom") == "1");
    REQUIRE(c.request("GET", "/", {{"x-forwarded-for", "192.0.2.1, 127.0.0.9"}, {"x-envoy-custom", "1"}})
                .status == 200);  // not a single address
    CHECK(up.last().count("x-envoy-internal") == 0);
    CHECK(up.last().count("x-envoy-custom") == 0);
    REQUIRE(c.request("GET", "/", {{"x-envoy-custom", "1"}}).status == 200);  // no address at all
    CHECK(up.last().count("x-envoy-internal") == 0);
    CHECK(up.last().count("x-envoy-custom") == 0);
  }
}

TEST_CASE("x-request-id: new for edge requests unless preserved, and echoed when asked",
          "[integration][forwarding]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {{"x-request-id", "from-upstream"}}, "ok"}; });
  HttpOptions http;
  SECTION("an edge request's id is replaced") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    auto r = c.request("GET", "/", {{"x-request-id", "client-id"}});
    REQUIRE(r.status == 200);
    CHECK(is_uuid4(up.last().header("x-request-id")));
    CHECK(r.header("x-request-id") == "from-upstream");  // responses are left alone by default
  }
  SECTION("preserve_external_request_id") {
    http.preserve_external_request_id = true;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x-request-id", "client-id"}}).status == 200);
    CHECK(up.last().header("x-request-id") == "client-id");
  }
  SECTION("not an edge proxy (no use_remote_address): kept") {
    http.use_remote_address = false;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x-request-id", "client-id"}}).status == 200);
    CHECK(up.last().header("x-request-id") == "client-id");
    CHECK(up.last().count("x-request-id") == 1);
    REQUIRE(c.request("GET", "/", {{"x-request-id", "a"}, {"x-request-id", "b"}}).status == 200);
    CHECK(up.last().header("x-request-id") == "a,b");  // joined, as Envoy's header map does
    CHECK(up.last().count("x-request-id") == 1);
  }
  SECTION("always_set_request_id_in_response, local replies included") {
    http.always_set_request_id_in_response = true;
    http.use_remote_address = false;
    Router router;
    auto vhost = router.virtual_host("*");
    vhost.route(match::prefix("/missing")).direct_response(404, "no");
    vhost.route(match::prefix("/")).to("backend");
    Proxy proxy({cluster_to("backend", {up.port()})}, std::move(router), http);
    TestClient c(proxy.port());
    auto r = c.request("GET", "/", {{"x-request-id", "client-id"}});
    REQUIRE(r.status == 200);
    CHECK(r.header("x-request-id") == "client-id");
    CHECK(r.count("x-request-id") == 1);
    r = c.request("GET", "/missing");
    CHECK(r.status == 404);
    CHECK(is_uuid4(r.header("x-request-id")));
  }
}

TEST_CASE("x-forwarded-port: the listener's port with append_x_forwarded_port, a trusted hop's kept",
          "[integration][forwarding]") {
  FakeUpstream up(echo_target);
  HttpOptions http;
  http.append_x_forwarded_port = true;
  SECTION("use_remote_address, no trusted hops: set, a client's replaced") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/").status == 200);
    CHECK(up.last().header("x-forwarded-port") == std::to_string(proxy.port()));
    REQUIRE(c.request("GET", "/", {{"x-forwarded-port", "1234"}}).status == 200);
    CHECK(up.last().header("x-forwarded-port") == std::to_string(proxy.port()));
    CHECK(up.last().count("x-forwarded-port") == 1);
    // Repeated x-forwarded-port fields go before the new x-request-id takes its field's place.
    REQUIRE(c.request("GET", "/", {{"x-forwarded-port", "1"}, {"x-forwarded-port", "2"}, {"x-request-id", "c"},
                                   {"x-after", "kept"}})
                .status == 200);
    CHECK(up.last().header("x-after") == "kept");
    CHECK(is_uuid4(up.last().header("x-request-id")));
    CHECK(up.last().count("x-forwarded-port") == 1);
  }
  SECTION("a trusted hop's is kept") {
    http.xff_num_trusted_hops = 1;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/", {{"x-forwarded-port", "1234"}}).status == 200);
    CHECK(up.last().header("x-forwarded-port") == "1234");
  }
  SECTION("without use_remote_address: nothing added") {
    http.use_remote_address = false;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient c(proxy.port());
    REQUIRE(c.request("GET", "/").status == 200);
    CHECK(up.last().count("x-forwarded-port") == 0);
  }
}

TEST_CASE("scheme_to_overwrite: routes see the configured :scheme", "[integration][forwarding]") {
  FakeUpstream up(echo_target);
  FakeUpstream secure([](const SeenRequest&) { return FakeResponse{200, {}, "secure"}; });
  auto routes = [] {
    Router r;
    auto vh = r.virtual_host("*");
    vh.route(match::prefix("/")).header(HeaderMatcher::exact(":scheme", "https")).to("secure");
    vh.route(match::prefix("/")).to("backend");
    return r;
  };
  HttpOptions http;
  SECTION("from the connection: http") {
    Proxy proxy({cluster_to("backend", {up.port()}), cluster_to("secure", {secure.port()})}, routes(), http);
    CHECK(http_get(proxy.port(), "/").body == "target=/");
  }
  SECTION("overwritten: https") {
    http.scheme_to_overwrite = "https";
    Proxy proxy({cluster_to("backend", {up.port()}), cluster_to("secure", {secure.port()})}, routes(), http);
    CHECK(http_get(proxy.port(), "/").body == "secure");
  }
}
