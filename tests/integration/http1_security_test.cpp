// HTTP/1.1 framing attacks through real sockets: a smuggling attempt never splits one
// message into two, a faulty framing is refused before anything reaches the upstream (or
// the client), and removing the chunked framing for an HTTP/1.0 client loses no byte.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;

TEST_CASE("Connection: content-length cannot smuggle a request", "[integration][errors][http1]") {
  FakeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  const std::string hidden = "GET /admin HTTP/1.1\r\nHost: a\r\n";  // 30 bytes
  TestClient client(proxy.port());
  client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\nConnection: content-length, host\r\n\r\n" + hidden);
  auto r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  // The pooled upstream connection is still in sync: the next request is read as such.
  CHECK(client.request("GET", "/next", {{"host", "a"}}).status == 200);
  auto seen = up.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].header("content-length") == "30");
  CHECK(seen[0].header("host") == "a");
  CHECK(seen[0].body == hidden);
  CHECK(seen[1].target == "/next");
}

TEST_CASE("Connection: content-length on a response keeps its framing", "[integration][errors][http1]") {
  FakeUpstream up([](const SeenRequest&) {
    FakeResponse r;
    r.raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: content-length\r\n\r\nhello";
    return r;
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  // Connection: close, so that a response that lost its length still ends (at our close).
  TestClient client(proxy.port());
  auto r = client.request("GET", "/", {{"host", "a"}, {"connection", "close"}});
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
  REQUIRE(r.header("content-length") == "5");  // (without it the kept-alive read below would hang)
  // And on a kept-alive connection the response is framed by that length.
  TestClient ka(proxy.port());
  auto r2 = ka.request("GET", "/", {{"host", "a"}});
  CHECK(r2.body == "hello");
  CHECK(r2.keep_alive);
  CHECK(ka.request("GET", "/", {{"host", "a"}}).body == "hello");
}

TEST_CASE("faulty HTTP/1.0 framing and status codes are refused", "[integration][errors][http1]") {
  SECTION("an HTTP/1.0 request with transfer-encoding gets 400 and never reaches the upstream") {
    FakeUpstream up;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
    for (const char* req : {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                            "POST / HTTP/1.0\r\nhost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc"}) {
      INFO(req);
      TestClient client(proxy.port());
      client.send(req);
      CHECK(client.read_response().status == 400);
      CHECK(client.closed_by_peer());
    }
    CHECK(up.requests() == 0);
  }
  SECTION("such responses answer 502") {
    FakeUpstream up([](const SeenRequest& req) {
      FakeResponse r;
      if (req.target == "/te10") r.raw = "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
      if (req.target == "/status099") r.raw = "HTTP/1.1 099 X\r\nContent-Length: 0\r\n\r\n";
      if (req.target == "/status600") r.raw = "HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n";
      if (req.target == "/chunked2") r.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
      return r;
    });
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
    for (const char* target : {"/te10", "/status099", "/status600", "/chunked2"}) {
      INFO(target);
      auto r = http_get(proxy.port(), target);
      CHECK(r.status == 502);
      CHECK(r.body == "upstream sent an invalid response");
    }
  }
}

TEST_CASE("an HTTP/1.0 client gets every byte of many small chunks", "[integration][http1]") {
  std::string raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    char c = char('a' + i % 26);
    raw += std::string("1\r\n") + c + "\r\n";
    expected += c;
  }
  raw += "0\r\n\r\n";
  FakeUpstream up([&](const SeenRequest&) {
    FakeResponse r;
    r.raw = raw;  // one write: the proxy reads many chunks at once
    return r;
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient client(proxy.port());
  client.send("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  auto r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.header("transfer-encoding").empty());
  CHECK(r.body.size() == expected.size());
  CHECK(r.body == expected);
}

TEST_CASE("an HTTP/1.0 keep-alive client is told its connection stays open", "[integration][http1]") {
  FakeUpstream up([](const SeenRequest& rq) {
    if (rq.target == "/missing") return FakeResponse{404, {}, "no"};
    return FakeResponse{200, {}, "ok"};
  });
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  TestClient keep(proxy.port());
  for (const char* target : {"/", "/missing"}) {
    keep.send(std::string("GET ") + target + " HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
    auto r = keep.read_response();
    CHECK(r.header("connection") == "keep-alive");
  }
  // A local reply too (Envoy adds it wherever the connection stays open): 404 NR.
  Router only_here;
  only_here.virtual_host("*").route(match::prefix("/here")).to("backend");
  Proxy routed({cluster_to("backend", {up.port()})}, std::move(only_here));
  TestClient nr(routed.port());
  nr.send("GET /nowhere HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
  auto not_routed = nr.read_response();
  CHECK(not_routed.status == 404);
  CHECK(not_routed.header("connection") == "keep-alive");
  TestClient plain(proxy.port());
  plain.send("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  auto closed = plain.read_response();
  CHECK(closed.header("connection") == "close");
  CHECK(plain.closed_by_peer());
  TestClient http11(proxy.port());
  CHECK(http11.request("GET", "/").header("connection").empty());
}

TEST_CASE("a Connection list longer than 32 tokens is refused", "[integration][errors][http1]") {
  // Each field a Connection token names costs a pass over the head's fields: a head listing
  // thousands of tokens would cost far more than its size. Real clients list a few.
  FakeUpstream up;
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
  auto tokens = [](int n) {
    std::string v;
    for (int i = 0; i < n; ++i) v += (i ? ", x-t" : "x-t") + std::to_string(i);
    return v;
  };
  {
    TestClient client(proxy.port());
    CHECK(client.request("GET", "/", {{"host", "a"}, {"connection", tokens(32)}}).status == 200);
  }
  {
    TestClient client(proxy.port());
    // Across fields too: 20 + 13 tokens.
    auto r = client.request("GET", "/", {{"host", "a"}, {"connection", tokens(20)}, {"connection", tokens(13)}});
    CHECK(r.status == 400);
  }
  CHECK(up.seen().size() == 1);
}

TEST_CASE("an absolute-form target routes and goes upstream by its own authority", "[integration][http1]") {
  FakeUpstream api, other;
  Router router;
  router.virtual_host("api.example:8080").route(match::prefix("/")).to("api");
  router.virtual_host("*").route(match::prefix("/")).to("other");
  Proxy proxy({cluster_to("api", {api.port()}), cluster_to("other", {other.port()})}, std::move(router));
  TestClient client(proxy.port());
  // RFC 9112 3.2.2: the Host that came is ignored, and the URL's authority replaces it.
  client.send("GET http://api.example:8080/v1/items?x=1 HTTP/1.1\r\nHost: elsewhere\r\n\r\n");
  CHECK(client.read_response().status == 200);
  client.send("GET HTTP://api.example:8080 HTTP/1.1\r\n\r\n");  // no Host, no path
  CHECK(client.read_response().status == 200);
  auto seen = api.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].target == "/v1/items?x=1");
  CHECK(seen[0].header("host") == "api.example:8080");
  CHECK(seen[1].target == "/");
  CHECK(seen[1].header("host") == "api.example:8080");
  CHECK(other.requests() == 0);
}

TEST_CASE("targets that are not origin form are refused as Envoy refuses them", "[integration][errors][http1]") {
  FakeUpstream up;
  SECTION("without absolute URLs: 404 absolute_path_rejected, counted") {
    HttpOptions http;
    http.allow_absolute_url = false;
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient client(proxy.port());
    client.send("GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n");
    auto r = client.read_response();
    CHECK(r.status == 404);
    CHECK(r.keep_alive);
    CHECK(client.request("GET", "/", {{"host", "a"}}).status == 200);  // the connection goes on
    CHECK(proxy.server.stats().counter_value("http.ingress_http.downstream_rq_non_relative_path") == 1);
    CHECK(up.requests() == 1);
  }
  SECTION("with them: a bad URL or scheme is a 400 that reaches nobody") {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
    for (const char* req : {"GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", "GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n",
                            "GET * HTTP/1.1\r\nHost: a\r\n\r\n", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"}) {
      INFO(req);
      TestClient client(proxy.port());
      client.send(req);
      CHECK(client.read_response().status == 400);
    }
    TestClient client(proxy.port());
    client.send("GET http://a?q HTTP/1.1\r\n\r\n");  // a URL whose path is not one
    CHECK(client.read_response().status == 404);
    CHECK(up.requests() == 0);
  }
}

TEST_CASE("an answer sent before the request body is all in still reaches the client", "[integration][errors][http1]") {
  FakeUpstream up;
  Router router;
  router.virtual_host("*").route(match::prefix("/api")).to("backend");
  Proxy proxy({cluster_to("backend", {up.port()})}, std::move(router));
  const std::string body(4 << 20, 'x');
  SECTION("a 404 to an upload: the client finishes writing, then reads it") {
    TestClient client(proxy.port());
    // Without the delayed close the unread upload makes ferry's close a reset, and the
    // client's write fails before it ever reads the answer.
    REQUIRE_NOTHROW(client.send("POST /nothing HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\n\r\n" + body));
    CHECK(client.read_response().status == 404);
    CHECK(client.closed_by_peer());
    CHECK(up.requests() == 0);
  }
  SECTION("with delayed_close_timeout 0 the close is at once, as Envoy's") {
    HttpOptions http;
    http.delayed_close_timeout = Duration{0};
    Proxy quick({cluster_to("backend", {up.port()})}, route_all("backend"), http);
    TestClient client(quick.port());
    client.send("GET /api HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /api HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(client.read_response().status == 200);
    // Closed with the second request unread: a reset, so writing on fails.
    CHECK_THROWS(client.send(body));
    CHECK(up.requests() == 1);
  }
  SECTION("requests pipelined behind a Connection: close are dropped without a reset") {
    TestClient client(proxy.port());
    client.send("GET /api HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /api HTTP/1.1\r\nHost: a\r\n\r\n" + body);
    auto r = client.read_response();
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
    CHECK_NOTHROW(client.send("more"));  // still read and dropped, no reset
    CHECK(client.closed_by_peer());
    CHECK(up.requests() == 1);
  }
}

namespace {
// An upstream that answers as soon as a request head is in. Then it reads nothing more (as
// a server refusing an upload does) and holds the connection `hold` before closing it, or,
// with `read_body`, reads the whole Content-Length body first and counts it.
class EarlyAnswerUpstream {
 public:
  EarlyAnswerUpstream(std::string answer, std::chrono::milliseconds hold, bool read_body = false,
                      std::string later = {})
      : answer_(std::move(answer)), later_(std::move(later)), hold_(hold), read_body_(read_body) {
    fd_ = listen_loopback(4, port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~EarlyAnswerUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::size_t body_bytes() const { return body_bytes_.load(); }

 private:
  void serve() {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string head;
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(c, &ch, 1, 0) == 1) head += ch;
    [[maybe_unused]] auto n = ::send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
    if (!later_.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      n = ::send(c, later_.data(), later_.size(), MSG_NOSIGNAL);
    }
    if (read_body_) {
      auto at = head.find("Content-Length: ");
      std::size_t want = at == std::string::npos ? 0 : std::stoull(head.substr(at + 16));
      std::vector<char> buf(1 << 16);
      while (body_bytes_ < want) {
        auto got = ::recv(c, buf.data(), buf.size(), 0);
        if (got <= 0) break;
        body_bytes_ += std::size_t(got);
      }
    }
    std::this_thread::sleep_for(hold_);
    ::close(c);
  }
  std::string answer_;
  std::string later_;  ///< sent 200 ms after the answer
  std::chrono::milliseconds hold_;
  bool read_body_;
  std::atomic<std::size_t> body_bytes_{0};
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};
}  // namespace

TEST_CASE("an upstream that answers an upload early is heard", "[integration][http1]") {
  const std::string body(16 << 20, 'x');  // more than the socket buffers on the way hold
  const std::string request =
      "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  const std::string refusal = "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig";
  auto upload = [&](EarlyAnswerUpstream& up) {
    Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"));
    TestClient client(proxy.port());
    auto start = std::chrono::steady_clock::now();
    REQUIRE_NOTHROW(client.send(request + body));
    auto r = client.read_response();
    return std::pair{r, std::chrono::steady_clock::now() - start};
  };
  SECTION("a refusal while the upstream stops reading comes back at once") {
    // Before, ferry waited for the upstream to take the body until it closed (then 502).
    EarlyAnswerUpstream up(refusal, std::chrono::milliseconds(3000));
    auto [r, took] = upload(up);
    CHECK(r.status == 413);
    CHECK(r.body == "big");
    CHECK_FALSE(r.keep_alive);  // the rest of the body was never read as a request
    CHECK(took < std::chrono::milliseconds(2500));
  }
  SECTION("a refusal after an interim 100 is the answer") {
    EarlyAnswerUpstream up("HTTP/1.1 100 Continue\r\n\r\n" + refusal, std::chrono::milliseconds(3000));
    auto [r, took] = upload(up);
    CHECK(r.status == 413);
    CHECK(r.body == "big");
    CHECK(took < std::chrono::milliseconds(2500));
  }
  SECTION("a refusal that comes a while after an interim 100 is the answer") {
    EarlyAnswerUpstream up("HTTP/1.1 100 Continue\r\n\r\n", std::chrono::milliseconds(3000), false, refusal);
    auto [r, took] = upload(up);
    CHECK(r.status == 413);
    CHECK(r.body == "big");
    CHECK(took < std::chrono::milliseconds(2500));
  }
  SECTION("a refusal followed by a close comes back") {
    EarlyAnswerUpstream up(refusal, std::chrono::milliseconds(0));
    auto [r, took] = upload(up);
    CHECK(r.status == 413);
    CHECK(r.body == "big");
  }
  SECTION("an early 2xx lets the upload go on to its end") {
    EarlyAnswerUpstream up("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", std::chrono::milliseconds(500), true);
    auto [r, took] = upload(up);
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
    CHECK(r.keep_alive);
    // ferry sent it all before it read the answer; the upstream may still be counting.
    for (int i = 0; i < 200 && up.body_bytes() < body.size(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(up.body_bytes() == body.size());
  }
}
