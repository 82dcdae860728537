// TLS termination and origination through real sockets: certificates made at test time
// (support/tls_pki), in-process TLS peers (support/tls_peers), and the real clients curl
// and `openssl s_client`.
#include <catch2/catch.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <unistd.h>

#include "integration/proxy_fixture.hpp"
#include "support/tls_peers.hpp"
#include "support/tls_pki.hpp"
#include "tls/client_tls.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

TlsCertificate cert_files(const TestPki::Cert& c) {
  return {DataSource{.filename = c.cert_file}, DataSource{.filename = c.key_file}};
}

TlsServerChain chain_for(const TestPki::Cert& c, std::vector<std::string> names = {}) {
  TlsServerChain chain;
  chain.server_names = std::move(names);
  chain.common_tls_context.tls_certificates.push_back(cert_files(c));
  chain.common_tls_context.alpn_protocols = {"http/1.1"};
  return chain;
}

/// A started server: one TLS listener in front of `clusters`, routing everything to the
/// first cluster.
struct TlsProxy {
  TlsProxy(std::vector<ClusterOptions> clusters, DownstreamTlsOptions tls, HttpOptions http = {},
           LogSink sink = {}, LogLevel level = LogLevel::warn)
      : server(ServerOptions{.workers = 1, .drain_timeout = 2s, .log_level = level, .log_sink = std::move(sink)}) {
    std::string first = clusters.front().name;
    for (auto& c : clusters) server.add_cluster(std::move(c));
    ListenerOptions opts;
    opts.name = "tls";
    opts.http = http;
    opts.tls = std::move(tls);
    FilterChain chain;
    chain.terminate(route_all(first));
    server.add_listener(Listener(opts, std::move(chain)));
    server.start();
  }
  ~TlsProxy() {
    server.stop();
    server.wait();
  }
  std::uint16_t port() const { return server.listener_port(0); }
  Server server;
};

std::string subject_cn_via_s_client(std::uint16_t port, const std::string& sni, const std::string& extra = "") {
  auto r = run_command("openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                       (sni.empty() ? " -noservername" : " -servername " + sni) + " " + extra + " </dev/null");
  auto at = r.output.find("subject=");
  if (at == std::string::npos) return "";
  auto line = r.output.substr(at, r.output.find('\n', at) - at);
  auto cn = line.find("CN = ");
  return cn == std::string::npos ? line : line.substr(cn + 5);
}

std::string curl(std::uint16_t port, const std::string& host, const std::string& args) {
  auto p = std::to_string(port);
  return run_command("curl -sS --max-time 5 --resolve " + host + ":" + p + ":127.0.0.1 " + args + " https://" + host +
                     ":" + p + "/ -w \"\\nstatus=%{http_code}\\n\"")
      .output;
}

}  // namespace

TEST_CASE("TLS: SNI picks the filter chain, exact beats wildcard, no SNI gets the default", "[tls]") {
  TestPki pki;
  auto exact = pki.issue("exact.example.com", {"exact.example.com"});
  auto wild = pki.issue("wildcard.example.com", {"*.example.com"});
  auto other = pki.issue("other.test", {"other.test"});
  auto fallback = pki.issue("default", {"localhost"});
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{.body = "plain backend"}; });
  DownstreamTlsOptions tls;
  tls.chains = {chain_for(wild, {"*.example.com"}), chain_for(exact, {"exact.example.com"}),
                chain_for(other, {"other.test"}), chain_for(fallback)};
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);

  CHECK(subject_cn_via_s_client(proxy.port(), "exact.example.com") == "exact.example.com");
  CHECK(subject_cn_via_s_client(proxy.port(), "a.example.com") == "wildcard.example.com");
  CHECK(subject_cn_via_s_client(proxy.port(), "a.b.example.com") == "wildcard.example.com");
  CHECK(subject_cn_via_s_client(proxy.port(), "other.test") == "other.test");
  CHECK(subject_cn_via_s_client(proxy.port(), "unknown.org") == "default");
  CHECK(subject_cn_via_s_client(proxy.port(), "") == "default");

  // A request through curl, verifying the chain and the name; the upstream learns https.
  auto out = curl(proxy.port(), "a.example.com", "--cacert " + pki.ca_file());
  CHECK(out.find("plain backend") != std::string::npos);
  CHECK(out.find("status=200") != std::string::npos);
  CHECK(backend.last().header("x-forwarded-proto") == "https");

  TlsTestClient client(proxy.port(), {.server_name = "exact.example.com", .ca_file = pki.ca_file()});
  REQUIRE(client.ok());
  CHECK(client.alpn() == "http/1.1");
  CHECK(client.version() == "TLSv1.3");
  // Keep-alive over TLS: several requests on one connection.
  for (int i = 0; i < 3; ++i) CHECK(client.get("/k").find("plain backend") != std::string::npos);
  CHECK(backend.connections() >= 1);
}

TEST_CASE("TLS: without a default chain an unknown SNI is refused", "[tls]") {
  TestPki pki;
  auto exact = pki.issue("exact.example.com", {"exact.example.com"});
  FakeUpstream backend;
  DownstreamTlsOptions tls;
  tls.chains = {chain_for(exact, {"exact.example.com"})};
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
  CHECK(TlsTestClient(proxy.port(), {.server_name = "exact.example.com"}).ok());
  TlsTestClient unknown(proxy.port(), {.server_name = "nope.example.com"});
  CHECK_FALSE(unknown.ok());
}

TEST_CASE("TLS: 1.0 and 1.1 are refused by default and allowed when configured", "[tls]") {
  TestPki pki;
  // RSA-free P-256 certificates work with the ECDHE-ECDSA-*-SHA suites of TLS 1.0/1.1.
  auto cert = pki.issue("localhost", {"localhost"});
  FakeUpstream backend;
  const std::string old_client = "-cipher DEFAULT@SECLEVEL=0";
  for (std::string version : {"-tls1", "-tls1_1"}) {
    DownstreamTlsOptions tls;
    tls.chains = {chain_for(cert)};
    {
      TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
      CHECK(subject_cn_via_s_client(proxy.port(), "localhost", version + " " + old_client) == "");
      CHECK(subject_cn_via_s_client(proxy.port(), "localhost", "-tls1_2") == "localhost");
    }
    // The control: the same client gets through once the listener allows the old versions.
    tls.chains[0].common_tls_context.tls_params.tls_minimum_protocol_version = TlsVersion::v1_0;
    TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
    CHECK(subject_cn_via_s_client(proxy.port(), "localhost", version + " " + old_client) == "localhost");
  }
}

TEST_CASE("TLS: maximum version and session resumption with tickets", "[tls]") {
  TestPki pki;
  auto cert = pki.issue("localhost", {"localhost"});
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{.body = "ok"}; });
  DownstreamTlsOptions tls;
  tls.chains = {chain_for(cert)};
  tls.chains[0].common_tls_context.tls_params.tls_maximum_protocol_version = TlsVersion::v1_2;
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
  for (int version : {0, TLS1_2_VERSION}) {
    TlsTestClient first(proxy.port(), {.server_name = "localhost", .ca_file = pki.ca_file(), .max_version = version});
    REQUIRE(first.ok());
    CHECK(first.version() == "TLSv1.2");
    CHECK(first.get("/").find("ok") != std::string::npos);
    void* session = first.take_session();
    REQUIRE(session);
    TlsTestClient second(proxy.port(), {.server_name = "localhost", .ca_file = pki.ca_file(), .session = session});
    SSL_SESSION_free(static_cast<SSL_SESSION*>(session));
    REQUIRE(second.ok());
    CHECK(second.resumed());
    CHECK(second.get("/").find("ok") != std::string::npos);
  }
}

TEST_CASE("TLS: TLS 1.3 tickets resume, disabled stateless resumption does not", "[tls]") {
  TestPki pki;
  auto cert = pki.issue("localhost", {"localhost"});
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{.body = "ok"}; });
  for (bool disabled : {false, true}) {
    DownstreamTlsOptions tls;
    tls.chains = {chain_for(cert)};
    tls.chains[0].disable_stateless_session_resumption = disabled;
    TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
    TlsTestClient first(proxy.port(), {.server_name = "localhost", .ca_file = pki.ca_file()});
    REQUIRE(first.ok());
    CHECK(first.get("/").find("ok") != std::string::npos);
    void* session = first.take_session();
    REQUIRE(session);
    TlsTestClient second(proxy.port(), {.server_name = "localhost", .ca_file = pki.ca_file(), .session = session});
    SSL_SESSION_free(static_cast<SSL_SESSION*>(session));
    REQUIRE(second.ok());
    CHECK(second.resumed() == !disabled);
  }
}

TEST_CASE("TLS: mTLS with and without a client certificate, XFCC in Envoy's format", "[tls]") {
  TestPki pki;
  TestPki stranger("another CA");
  auto server = pki.issue("localhost", {"localhost"}, {"spiffe://ferry/proxy"});
  auto client = pki.issue("client-one", {"client.example.com"}, {"spiffe://ferry/client-one"});
  auto revoked = pki.issue("client-revoked", {"revoked.example.com"});
  auto foreign = stranger.issue("client-two", {"client.example.com"});
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{.body = "secret"}; });
  DownstreamTlsOptions tls;
  tls.chains = {chain_for(server)};
  tls.chains[0].require_client_certificate = true;
  auto& v = tls.chains[0].common_tls_context.validation_context;
  v.trusted_ca.filename = pki.ca_file();
  v.crl.filename = pki.crl_file({revoked.serial});
  HttpOptions http;
  http.forward_client_cert_details = ForwardClientCert::sanitize_set;
  http.set_current_client_cert_details = {.subject = true, .dns = true, .uri = true};
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls, http);

  auto ok = curl(proxy.port(), "localhost",
                 "--cacert " + pki.ca_file() + " --cert " + client.cert_file + " --key " + client.key_file +
                     " -H \"x-forwarded-client-cert: By=spoofed\"");
  CHECK(ok.find("secret") != std::string::npos);
  CHECK(ok.find("status=200") != std::string::npos);
  auto xfcc = backend.last().header("x-forwarded-client-cert");
  CHECK(xfcc.rfind("By=spiffe://ferry/proxy;Hash=", 0) == 0);
  CHECK(xfcc.find("Subject=\"CN=client-one,O=ferry tests\"") != std::string::npos);
  CHECK(xfcc.find(";URI=spiffe://ferry/client-one") != std::string::npos);
  CHECK(xfcc.find(";DNS=client.example.com") != std::string::npos);
  CHECK(xfcc.find("spoofed") == std::string::npos);  // SANITIZE_SET replaced the client's
  auto hash = xfcc.substr(xfcc.find("Hash=") + 5, 64);
  CHECK(hash.find_first_not_of("0123456789abcdef") == std::string::npos);

  // No certificate, a certificate from another CA, a revoked one: no request gets through.
  auto before = backend.requests();
  CHECK(curl(proxy.port(), "localhost", "--cacert " + pki.ca_file()).find("status=000") != std::string::npos);
  CHECK(curl(proxy.port(), "localhost",
             "--cacert " + pki.ca_file() + " --cert " + foreign.cert_file + " --key " + foreign.key_file)
            .find("status=000") != std::string::npos);
  CHECK(curl(proxy.port(), "localhost",
             "--cacert " + pki.ca_file() + " --cert " + revoked.cert_file + " --key " + revoked.key_file)
            .find("status=000") != std::string::npos);
  CHECK(backend.requests() == before);
}

TEST_CASE("TLS: client SAN matchers and XFCC sanitising by default", "[tls]") {
  TestPki pki;
  auto server = pki.issue("localhost", {"localhost"});
  auto good = pki.issue("good", {"good.clients.example"});
  auto bad = pki.issue("bad", {"bad.elsewhere.example"});
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{.body = "in"}; });
  DownstreamTlsOptions tls;
  tls.chains = {chain_for(server)};
  auto& v = tls.chains[0].common_tls_context.validation_context;
  v.trusted_ca.filename = pki.ca_file();
  v.match_typed_subject_alt_names = {
      {.san_type = SanMatcher::Type::dns, .match = SanMatcher::Match::suffix, .value = ".clients.example"}};
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);  // cert optional, SANITIZE
  TlsTestClient with_good(proxy.port(), {.ca_file = pki.ca_file(), .cert_file = good.cert_file, .key_file = good.key_file});
  REQUIRE(with_good.ok());
  CHECK(with_good.get("/", "localhost", "x-forwarded-client-cert: Hash=fake\r\n").find("in") != std::string::npos);
  CHECK_FALSE(backend.last().has_header("x-forwarded-client-cert"));
  // Without a certificate the optional check passes; a mismatching SAN fails the handshake.
  TlsTestClient without(proxy.port(), {.ca_file = pki.ca_file()});
  REQUIRE(without.ok());
  CHECK(without.get("/").find("in") != std::string::npos);
  TlsTestClient with_bad(proxy.port(), {.ca_file = pki.ca_file(), .cert_file = bad.cert_file, .key_file = bad.key_file});
  // TLS 1.3: the server's verdict on the client certificate arrives after the client's
  // handshake ends, so it shows on the first exchange.
  CHECK(with_bad.get("/") == "");
}

TEST_CASE("TLS: certificates reload from the API and from the file watch, a bad one keeps the old", "[tls]") {
  TestPki pki;
  auto first = pki.issue("first", {"localhost"});
  auto second = pki.issue("second", {"localhost"});
  auto third = pki.issue("third", {"localhost"});
  auto cert_path = pki.dir() + "/live-cert.pem", key_path = pki.dir() + "/live-key.pem";
  write_file_atomically(cert_path, first.cert_pem);
  write_file_atomically(key_path, first.key_pem);
  FakeUpstream backend;
  std::mutex m;
  std::vector<std::string> warnings;
  DownstreamTlsOptions tls;
  tls.chains.push_back({});
  tls.chains[0].common_tls_context.tls_certificates.push_back({{.filename = cert_path}, {.filename = key_path}});
  tls.watch_interval = 0ms;  // the API first; the watch below
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls, {}, [&](LogLevel level, std::string_view msg) {
    std::lock_guard lock(m);
    if (level >= LogLevel::warn) warnings.emplace_back(msg);
  });
  auto cn = [&] { return TlsTestClient(proxy.port(), {.ca_file = pki.ca_file()}).peer_cn(); };
  CHECK(cn() == "first");
  TlsTestClient open_before(proxy.port(), {.ca_file = pki.ca_file()});

  write_file_atomically(cert_path, second.cert_pem);
  write_file_atomically(key_path, second.key_pem);
  CHECK(proxy.server.reload_tls().empty());
  CHECK(cn() == "second");
  CHECK(open_before.peer_cn() == "first");  // open connections keep theirs

  // A certificate that does not match its key: reported, logged, and the old one serves.
  write_file_atomically(cert_path, third.cert_pem);
  auto problems = proxy.server.reload_tls();
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "listeners[0].tls.chains[0].common_tls_context.tls_certificates[0].private_key");
  CHECK(cn() == "second");
  {
    std::lock_guard lock(m);
    REQUIRE(!warnings.empty());
    CHECK(warnings.back().find("TLS reload failed") != std::string::npos);
  }
  write_file_atomically(cert_path, "not a certificate");
  CHECK(!proxy.server.reload_tls().empty());
  CHECK(cn() == "second");
}

TEST_CASE("TLS: the file watch picks up new certificates", "[tls]") {
  TestPki pki;
  auto first = pki.issue("first", {"localhost"});
  auto second = pki.issue("second", {"localhost"});
  auto cert_path = pki.dir() + "/w-cert.pem", key_path = pki.dir() + "/w-key.pem";
  write_file_atomically(cert_path, first.cert_pem);
  write_file_atomically(key_path, first.key_pem);
  FakeUpstream backend;
  DownstreamTlsOptions tls;
  tls.chains.push_back({});
  tls.chains[0].common_tls_context.tls_certificates.push_back({{.filename = cert_path}, {.filename = key_path}});
  tls.watch_interval = 50ms;
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
  auto cn = [&] { return TlsTestClient(proxy.port(), {.ca_file = pki.ca_file()}).peer_cn(); };
  CHECK(cn() == "first");
  // Key first, then the certificate: the reload in between fails and the next one succeeds.
  write_file_atomically(key_path, second.key_pem);
  std::this_thread::sleep_for(120ms);
  write_file_atomically(cert_path, second.cert_pem);
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (cn() != "second" && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  CHECK(cn() == "second");
}

TEST_CASE("TLS: the handshake timeout closes a silent connection", "[tls]") {
  TestPki pki;
  auto cert = pki.issue("localhost", {"localhost"});
  FakeUpstream backend;
  DownstreamTlsOptions tls;
  tls.chains = {chain_for(cert)};
  tls.handshake_timeout = 200ms;
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
  TestClient silent(proxy.port());  // plain TCP, never says hello
  auto start = std::chrono::steady_clock::now();
  CHECK(silent.closed_by_peer(3000ms));
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("TLS upstream: verification against a good and a wrong CA, SNI, session reuse", "[tls]") {
  TestPki pki;
  TestPki wrong("wrong CA");
  auto upstream_cert = pki.issue("backend.internal", {"backend.internal", "api.internal"});
  TlsFakeUpstream upstream({.cert_file = upstream_cert.cert_file, .key_file = upstream_cert.key_file});
  std::mutex m;
  std::vector<std::string> logs;
  auto sink = [&](LogLevel, std::string_view msg) {
    std::lock_guard lock(m);
    logs.emplace_back(msg);
  };
  auto cluster = [&](const std::string& ca, const std::string& sni) {
    auto c = cluster_to("tls_backend", {upstream.port()});
    UpstreamTlsOptions t;
    t.sni = sni;
    t.common_tls_context.validation_context.trusted_ca.filename = ca;
    t.common_tls_context.validation_context.match_typed_subject_alt_names = {
        {.san_type = SanMatcher::Type::dns, .value = "backend.internal"}};
    c.tls = t;
    c.max_requests_per_connection = 1;  // every request connects: resumption shows
    return c;
  };
  {
    Proxy proxy({cluster(pki.ca_file(), "backend.internal")}, route_all("tls_backend"));
    auto r1 = http_get(proxy.port(), "/one");
    CHECK(r1.status == 200);
    CHECK(r1.body == "tls-upstream sni=backend.internal");
    CHECK(upstream.last_head().rfind("GET /one HTTP/1.1\r\n", 0) == 0);
    auto r2 = http_get(proxy.port(), "/two");
    CHECK(r2.status == 200);
    CHECK(upstream.handshakes() == 2);
    CHECK(upstream.resumed() == 1);  // the second connection resumed the first one's session
  }
  {
    Server server(ServerOptions{.workers = 1, .drain_timeout = 1s, .log_level = LogLevel::debug, .log_sink = sink});
    server.add_cluster(cluster(wrong.ca_file(), "backend.internal"));
    FilterChain chain;
    chain.terminate(route_all("tls_backend"));
    server.add_listener(Listener(ListenerOptions{.name = "l"}, std::move(chain)));
    server.start();
    auto before = upstream.requests();
    auto r = http_get(server.listener_port(0), "/");
    CHECK(r.status == 503);
    CHECK(r.body.find("connection failure") != std::string::npos);
    CHECK(upstream.requests() == before);
    server.stop();
    server.wait();
    std::lock_guard lock(m);
    bool logged = false;
    for (const auto& l : logs)
      logged = logged || (l.find("TLS handshake with") != std::string::npos &&
                          l.find("certificate verify failed") != std::string::npos);
    CHECK(logged);
  }
  {
    // A SAN matcher the upstream's certificate does not satisfy fails the same way.
    auto c = cluster(pki.ca_file(), "backend.internal");
    c.tls->common_tls_context.validation_context.match_typed_subject_alt_names = {
        {.san_type = SanMatcher::Type::dns, .value = "other.internal"}};
    Proxy proxy({c}, route_all("tls_backend"));
    CHECK(http_get(proxy.port(), "/").status == 503);
  }
}

TEST_CASE("TLS upstream: auto_sni from Host, and a client certificate for upstream mTLS", "[tls]") {
  TestPki pki;
  auto upstream_cert = pki.issue("backend", {"api.internal", "backend.internal"});
  auto client = pki.issue("ferry-client", {"ferry.internal"});
  TlsFakeUpstream upstream(
      {.cert_file = upstream_cert.cert_file, .key_file = upstream_cert.key_file, .client_ca_file = pki.ca_file()});
  auto c = cluster_to("tls_backend", {upstream.port()});
  UpstreamTlsOptions t;
  t.auto_sni = true;
  t.auto_san_validation = true;
  t.common_tls_context.validation_context.trusted_ca.filename = pki.ca_file();
  c.tls = t;
  {
    Proxy proxy({c}, route_all("tls_backend"));
    // The upstream wants a client certificate and the cluster has none. With TLS 1.3 the
    // upstream's verdict comes after the client's handshake, so it is a reset before the
    // response (502) rather than a handshake failure (503).
    auto r = http_get(proxy.port(), "/", "api.internal");
    CHECK((r.status == 502 || r.status == 503));
    CHECK(upstream.requests() == 0);
  }
  c.tls->common_tls_context.tls_certificates.push_back(cert_files(client));
  Proxy proxy({c}, route_all("tls_backend"));
  auto r = http_get(proxy.port(), "/", "api.internal:8443");
  CHECK(r.status == 200);
  CHECK(r.body == "tls-upstream sni=api.internal");
  CHECK(upstream.last_client_cn() == "ferry-client");
  // auto_san_validation: a Host the upstream's certificate does not name fails.
  CHECK(http_get(proxy.port(), "/", "www.example.com").status == 503);
}

TEST_CASE("TLS: bad options are ConfigErrors naming the field", "[tls]") {
  TestPki pki;
  auto cert = pki.issue("localhost", {"localhost"});
  FakeUpstream backend;
  auto add = [&](DownstreamTlsOptions tls) {
    Server server(ServerOptions{.workers = 1});
    server.add_cluster(cluster_to("backend", {backend.port()}));
    FilterChain chain;
    chain.terminate(route_all("backend"));
    ListenerOptions opts;
    opts.tls = std::move(tls);
    try {
      server.add_listener(Listener(opts, std::move(chain)));
    } catch (const ConfigError& e) {
      return e.problems();
    }
    return std::vector<ConfigProblem>{};
  };
  DownstreamTlsOptions missing;
  missing.chains.push_back({});
  missing.chains[0].common_tls_context.tls_certificates.push_back(
      {{.filename = "/nonexistent/cert.pem"}, {.filename = cert.key_file}});
  auto p = add(missing);
  REQUIRE(p.size() == 1);
  CHECK(p[0].path == "listeners[0].tls.chains[0].common_tls_context.tls_certificates[0].certificate_chain.filename");
  CHECK(p[0].message.find("/nonexistent/cert.pem") != std::string::npos);

  DownstreamTlsOptions wildcard;
  wildcard.chains = {chain_for(cert, {"*w.example.com"})};
  p = add(wildcard);
  REQUIRE(p.size() == 1);
  CHECK(p[0].path == "listeners[0].tls.chains[0].server_names[0]");

  DownstreamTlsOptions two_defaults;
  two_defaults.chains = {chain_for(cert), chain_for(cert)};
  p = add(two_defaults);
  REQUIRE(p.size() == 1);
  CHECK(p[0].path == "listeners[0].tls.chains[1].server_names");

  DownstreamTlsOptions mtls_without_ca;
  mtls_without_ca.chains = {chain_for(cert)};
  mtls_without_ca.chains[0].require_client_certificate = true;
  p = add(mtls_without_ca);
  REQUIRE(p.size() == 1);
  CHECK(p[0].path == "listeners[0].tls.chains[0].require_client_certificate");
}

TEST_CASE("TLS upstream: a kept session resumes after its connection closed without close_notify", "[tls]") {
  // Pooled connections end without a close_notify; OpenSSL then marks the connection's own
  // session unresumable, so the cache must keep a copy (this failed first).
  TestPki pki;
  auto upstream_cert = pki.issue("backend.internal", {"backend.internal"});
  TlsFakeUpstream upstream({.cert_file = upstream_cert.cert_file, .key_file = upstream_cert.key_file});
  UpstreamTlsOptions o;
  o.sni = "backend.internal";
  o.common_tls_context.validation_context.trusted_ca.filename = pki.ca_file();
  std::vector<ConfigProblem> problems;
  auto ctls = tls::ClientTls::create(o, "clusters[0].tls", problems);
  REQUIRE(ctls);
  tls::SessionCache cache;
  for (int i = 0; i < 3; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(upstream.port());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    auto c = ctls->connect(fd, "", &cache);
    REQUIRE(c);
    CHECK(c->handshake() == tls::Io::ok);  // a blocking socket: no want_* here
    INFO("connection " << i);
    CHECK(SSL_session_reused(c->ssl()) == (i > 0 ? 1 : 0));
    std::string req = "GET / HTTP/1.1\r\nhost: x\r\n\r\n";
    std::size_t n = 0;
    CHECK(c->write(req.data(), req.size(), n) == tls::Io::ok);
    char buf[1000];
    CHECK(c->read(buf, sizeof buf, n) == tls::Io::ok);
    cache.save(*c);
    c.reset();
    ::close(fd);
  }
  CHECK(upstream.resumed() == 2);
}

// With OpenSSL's read-ahead, bytes that came with the handshake's last flight (or a second
// pipelined request) sit in OpenSSL undecrypted: the session must read them before it waits
// on the socket, or the connection stalls.
TEST_CASE("TLS: a request sent right after the handshake and a pipelined one are both answered", "[tls]") {
  TestPki pki;
  auto cert = pki.issue("localhost", {"localhost"});
  FakeUpstream backend([](const SeenRequest& r) { return FakeResponse{.body = "ok " + r.target}; });
  DownstreamTlsOptions tls;
  tls.chains = {chain_for(cert)};
  TlsProxy proxy({cluster_to("backend", {backend.port()})}, tls);
  // Two requests in one write: s_client sends its stdin in one record after the handshake.
  std::string requests = std::string("/tmp/ferry-tls-pipelined-") + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream f(requests, std::ios::binary);
    f << "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  }
  for (int i = 0; i < 5; ++i) {
    auto r = run_command("openssl s_client -connect 127.0.0.1:" + std::to_string(proxy.port()) +
                             " -servername localhost -quiet -ign_eof < " + requests + " 2>/dev/null",
                         5);
    INFO(r.output);
    CHECK(r.output.find("ok /a") != std::string::npos);
    CHECK(r.output.find("ok /b") != std::string::npos);
  }
  ::unlink(requests.c_str());
}
