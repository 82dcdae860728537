// Tracing through real sockets: trace context survives the hop (W3C and B3), spans reach a
// fake OTLP/HTTP collector in the expected shape, a dead collector costs only counted
// drops, and 0% sampling exports nothing while still propagating sampled=0.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <boost/asio.hpp>
#include <fstream>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using Json = nlohmann::json;

namespace {

constexpr const char* kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kSpan = "00f067aa0ba902b7";

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TracingOptions tracing_to(const std::string& cluster) {
  TracingOptions t;
  t.service_name = "edge";
  t.collector_cluster = cluster;
  t.collector_authority = "collector:4318";
  t.collector_headers = {{"x-api-key", "secret"}};
  t.min_flush_spans = 1;
  t.flush_interval = std::chrono::milliseconds(50);
  return t;
}

std::uint64_t counter(Proxy& p, const std::string& name) {
  return p.server.stats().counter_value(name).value_or(0);
}

// Every span the collector received, across its requests.
std::vector<Json> collected_spans(const FakeUpstream& collector) {
  std::vector<Json> spans;
  for (const auto& rq : collector.seen()) {
    auto body = Json::parse(rq.body);
    for (const auto& s : body.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans")) spans.push_back(s);
  }
  return spans;
}

std::string attribute(const Json& span, const std::string& key) {
  for (const auto& a : span.at("attributes"))
    if (a.at("key") == key) {
      const auto& v = a.at("value");
      return v.contains("stringValue") ? v.at("stringValue").get<std::string>() : v.at("intValue").get<std::string>();
    }
  return "<missing>";
}

std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed when `a` goes
}

}  // namespace

TEST_CASE("tracing: W3C context survives the hop and the span reaches the collector", "[integration][tracing]") {
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{200, {}, "hello"}; });
  FakeUpstream collector([](const SeenRequest&) { return FakeResponse{200, {}, "{}"}; });
  std::string log_path = "/tmp/ferry-tracing-" + std::to_string(::getpid()) + ".log";
  std::remove(log_path.c_str());
  HttpOptions http;
  http.tracing = tracing_to("otel");
  AccessLogOptions log;
  log.path = log_path;
  log.format = "%TRACE_ID%\n";
  http.access_logs.push_back(log);
  std::mutex records_mutex;
  std::vector<std::string> record_trace_ids;
  AccessLogOptions callback;
  callback.sink = AccessLogOptions::Sink::callback;
  callback.callback = [&](const AccessLogRecord& r) {
    std::lock_guard lock(records_mutex);
    record_trace_ids.push_back(r.trace_id);
  };
  http.access_logs.push_back(callback);
  Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("otel", {collector.port()})}, route_all("backend"),
              http);

  TestClient c(proxy.port());
  auto r = c.request("GET", "/hello?q=1", {{"host", "a.test"},
                                           {"traceparent", std::string("00-") + kTrace + "-" + kSpan + "-01"},
                                           {"tracestate", "vendor=opaque"}});
  REQUIRE(r.status == 200);
  REQUIRE(wait_for([&] { return collector.requests() >= 1; }));

  // The collector's request: OTLP/HTTP JSON.
  auto export_rq = collector.last();
  CHECK(export_rq.method == "POST");
  CHECK(export_rq.target == "/v1/traces");
  CHECK(export_rq.header("content-type") == "application/json");
  CHECK(export_rq.header("host") == "collector:4318");
  CHECK(export_rq.header("x-api-key") == "secret");
  auto body = Json::parse(export_rq.body);
  CHECK(body["resourceSpans"][0]["resource"]["attributes"][0]["key"] == "service.name");
  CHECK(body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] == "edge");
  auto spans = collected_spans(collector);
  REQUIRE(spans.size() == 1);
  const auto& span = spans[0];
  std::string span_id = span.at("spanId");
  CHECK(span.at("traceId") == kTrace);
  CHECK(span.at("parentSpanId") == kSpan);  // the caller's span
  CHECK(span_id.size() == 16);
  CHECK(span_id != kSpan);
  CHECK(span.at("traceState") == "vendor=opaque");
  CHECK(span.at("name") == "a.test/hello");
  CHECK(span.at("kind") == 2);
  auto start = std::stoll(span.at("startTimeUnixNano").get<std::string>());
  auto end = std::stoll(span.at("endTimeUnixNano").get<std::string>());
  CHECK(start > 0);
  CHECK(end >= start);
  CHECK(span.at("status").at("code") == 0);
  CHECK(attribute(span, "http.request.method") == "GET");
  CHECK(attribute(span, "url.path") == "/hello");
  CHECK(attribute(span, "server.address") == "a.test");
  CHECK(attribute(span, "http.response.status_code") == "200");
  CHECK(attribute(span, "network.peer.address") == "127.0.0.1");
  CHECK(attribute(span, "upstream_cluster") == "backend");
  CHECK(attribute(span, "upstream_address") == "127.0.0.1:" + std::to_string(backend.port()));
  CHECK(attribute(span, "response_flags") == "-");

  // The upstream saw the caller's trace with ferry's span as its parent.
  auto seen = backend.last();
  CHECK(seen.header("traceparent") == std::string("00-") + kTrace + "-" + span_id + "-01");
  CHECK(seen.header("tracestate") == "vendor=opaque");
  CHECK(attribute(span, "guid:x-request-id") == seen.header("x-request-id"));

  // %TRACE_ID% in the access log.
  std::vector<std::string> lines;
  wait_for([&] {
    lines.clear();
    std::ifstream in(log_path);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return !lines.empty();
  });
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == kTrace);
  std::remove(log_path.c_str());
  {
    std::lock_guard lock(records_mutex);
    CHECK(record_trace_ids == std::vector<std::string>{kTrace});
  }

  CHECK(wait_for([&] { return counter(proxy, "tracing.opentelemetry.http_reports_success") == 1; }));
  CHECK(counter(proxy, "tracing.opentelemetry.spans_sent") == 1);
  CHECK(counter(proxy, "tracing.opentelemetry.spans_dropped") == 0);
}

TEST_CASE("tracing: B3 in, B3 and traceparent out, new traces and 5xx spans", "[integration][tracing]") {
  FakeUpstream backend([](const SeenRequest& rq) { return FakeResponse{rq.target == "/fail" ? 503 : 200, {}, "x"}; });
  FakeUpstream collector([](const SeenRequest&) { return FakeResponse{200, {}, "{}"}; });
  HttpOptions http;
  http.tracing = tracing_to("otel");
  Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("otel", {collector.port()})}, route_all("backend"),
              http);
  TestClient c(proxy.port());

  // Single b3 header with a 64-bit trace id.
  REQUIRE(c.request("GET", "/b3", {{"host", "a.test"}, {"b3", std::string("a3ce929d0e0e4736-") + kSpan + "-1"}}).status == 200);
  REQUIRE(wait_for([&] { return collected_spans(collector).size() >= 1; }));
  auto span = collected_spans(collector).at(0);
  std::string span_id = span.at("spanId");
  CHECK(span.at("traceId") == "0000000000000000a3ce929d0e0e4736");
  CHECK(span.at("parentSpanId") == kSpan);
  auto seen = backend.last();
  CHECK(seen.header("b3") == "a3ce929d0e0e4736-" + span_id + "-1-" + kSpan);
  CHECK(seen.header("traceparent") == "00-0000000000000000a3ce929d0e0e4736-" + span_id + "-01");

  // Multi headers.
  REQUIRE(c.request("GET", "/multi", {{"host", "a.test"}, {"x-b3-traceid", kTrace}, {"x-b3-spanid", kSpan},
                                      {"x-b3-sampled", "1"}}).status == 200);
  REQUIRE(wait_for([&] { return collected_spans(collector).size() >= 2; }));
  span = collected_spans(collector).at(1);
  seen = backend.last();
  CHECK(seen.header("x-b3-traceid") == kTrace);
  CHECK(seen.header("x-b3-spanid") == span.at("spanId"));
  CHECK(seen.header("x-b3-parentspanid") == kSpan);
  CHECK(seen.header("x-b3-sampled") == "1");

  // Nothing (or something malformed) comes in: a new root trace; a 503 is an error span.
  REQUIRE(c.request("GET", "/fail", {{"host", "a.test"}, {"traceparent", "00-garbage"}}).status == 503);
  REQUIRE(wait_for([&] { return collected_spans(collector).size() >= 3; }));
  span = collected_spans(collector).at(2);
  CHECK_FALSE(span.contains("parentSpanId"));
  CHECK(span.at("status").at("code") == 2);
  CHECK(attribute(span, "http.response.status_code") == "503");
  seen = backend.last();
  CHECK(seen.header("traceparent") == "00-" + span.at("traceId").get<std::string>() + "-" +
                                          span.at("spanId").get<std::string>() + "-01");
}

TEST_CASE("tracing: a dead collector costs only counted drops", "[integration][tracing]") {
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  HttpOptions http;
  http.tracing = tracing_to("otel");
  http.tracing->collector_timeout = std::chrono::milliseconds(200);
  Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("otel", {closed_port()})}, route_all("backend"),
              http);
  TestClient c(proxy.port());
  for (int i = 0; i < 20; ++i) REQUIRE(c.request("GET", "/x", {{"host", "a.test"}}).status == 200);
  // Every span is either dropped on a failed export or waiting; none reaches anyone.
  CHECK(wait_for([&] { return counter(proxy, "tracing.opentelemetry.spans_dropped") >= 1; }));
  CHECK(wait_for([&] { return counter(proxy, "tracing.opentelemetry.http_reports_failed") >= 1; }));
  CHECK(counter(proxy, "tracing.opentelemetry.http_reports_success") == 0);
  CHECK(backend.requests() == 20);
}

TEST_CASE("tracing: 0% sampling exports nothing but propagates sampled=0", "[integration][tracing]") {
  FakeUpstream backend([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  FakeUpstream collector([](const SeenRequest&) { return FakeResponse{200, {}, "{}"}; });
  HttpOptions http;
  http.tracing = tracing_to("otel");
  http.tracing->random_sampling = 0;
  Proxy proxy({cluster_to("backend", {backend.port()}), cluster_to("otel", {collector.port()})}, route_all("backend"),
              http);
  TestClient c(proxy.port());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(c.request("GET", "/x", {{"host", "a.test"}}).status == 200);
    auto tp = backend.last().header("traceparent");
    CHECK(tp.size() == 55);
    CHECK(tp.ends_with("-00"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several flush intervals
  CHECK(collector.requests() == 0);
  CHECK(counter(proxy, "tracing.opentelemetry.spans_sent") == 0);

  // A caller that sampled wins over the 0% sampler.
  REQUIRE(c.request("GET", "/y", {{"host", "a.test"}, {"traceparent", std::string("00-") + kTrace + "-" + kSpan + "-01"}})
              .status == 200);
  CHECK(wait_for([&] { return collector.requests() == 1; }));
  CHECK(backend.last().header("traceparent").ends_with("-01"));
}

TEST_CASE("tracing: a collector cluster that does not exist is refused", "[integration][tracing]") {
  Server server(ServerOptions{.workers = 1});
  server.add_cluster(cluster_to("backend", {1}));
  ListenerOptions opts;
  opts.http.tracing = tracing_to("nope");
  FilterChain chain;
  chain.terminate(route_all("backend"));
  try {
    server.add_listener(Listener(opts, std::move(chain)));
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0].path == "listeners[0].http.tracing.collector_cluster");
  }
}
