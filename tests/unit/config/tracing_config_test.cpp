// The HCM's tracing block: sampling percentages, the OpenTelemetry provider with its
// http_service, and exact-path problems.
#include <ferry/config.hpp>

#include "config_test_util.hpp"

using ferry::TracingOptions;
using ferry_test::bootstrap;
using ferry_test::kDefaultClusters;
using ferry_test::kDefaultRoutes;
using ferry_test::kHcm;
using ferry_test::problems_of;

namespace {

const std::string kOtel = "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig";
const std::string kTracing = kHcm + ".tracing";

std::string with_tracing(const std::string& tracing) {
  return bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "tracing": )" + tracing);
}

std::string otel(const std::string& typed_config_extra) {
  return R"({"provider": {"name": "envoy.tracers.opentelemetry", "typed_config": {"@type": ")" + kOtel + R"(")" +
         typed_config_extra + "}}}";
}

std::optional<TracingOptions> tracing_of(const std::string& tracing) {
  auto r = ferry::config::load_string(with_tracing(tracing));
  INFO(::Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  return r.bootstrap->listeners.at(0).options.http.tracing;
}

}  // namespace

TEST_CASE("config: tracing with the OpenTelemetry provider over http_service", "[config][tracing]") {
  auto t = tracing_of(R"({
    "random_sampling": {"value": 1}, "client_sampling": {"value": 50.5},
    "provider": {"name": "envoy.tracers.opentelemetry", "typed_config": {"@type": ")" + kOtel + R"(",
      "service_name": "edge",
      "http_service": {
        "http_uri": {"uri": "http://collector:4318/v1/traces", "cluster": "a", "timeout": "0.25s"},
        "request_headers_to_add": [{"header": {"key": "x-api-key", "value": "k"}}]}}}})");
  REQUIRE(t);
  CHECK(t->random_sampling == 1);
  CHECK(t->client_sampling == 50.5);
  CHECK(t->overall_sampling == 100);  // absent: Envoy's 100%
  CHECK(t->service_name == "edge");
  CHECK(t->collector_cluster == "a");
  CHECK(t->collector_authority == "collector:4318");
  CHECK(t->collector_path == "/v1/traces");
  CHECK(t->collector_timeout == std::chrono::milliseconds(250));
  REQUIRE(t->collector_headers.size() == 1);
  CHECK(t->collector_headers[0] == std::pair<std::string, std::string>{"x-api-key", "k"});
}

TEST_CASE("config: tracing defaults, no exporter, no provider", "[config][tracing]") {
  auto t = tracing_of(otel(""));
  REQUIRE(t);
  CHECK(t->random_sampling == 100);
  CHECK(t->client_sampling == 100);
  CHECK(t->overall_sampling == 100);
  CHECK(t->service_name == "unknown_service:ferry");
  CHECK(t->collector_cluster.empty());  // propagation only
  // Envoy performs no tracing without a provider.
  CHECK_FALSE(tracing_of(R"({"random_sampling": {"value": 10}})"));
  // Without tracing there is nothing.
  auto r = ferry::config::load_string(bootstrap());
  REQUIRE(r.ok());
  CHECK_FALSE(r.bootstrap->listeners.at(0).options.http.tracing);
}

TEST_CASE("config: tracing problems at their exact paths", "[config][tracing]") {
  auto p = problems_of(with_tracing(R"({"random_sampling": {"value": 140}, "verbose": true,
    "provider": {"name": "envoy.tracers.zipkin"}})"));
  REQUIRE_PROBLEM(p, kTracing + ".random_sampling.value: must be a number between 0 and 100");
  REQUIRE_PROBLEM(p, kTracing + ".verbose: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, kTracing + ".provider: tracer \"envoy.tracers.zipkin\" is not supported yet (see "
                                "docs/ROADMAP.md) (ferry has envoy.tracers.opentelemetry)");

  auto http = [](const std::string& service) { return otel(R"(, "http_service": )" + service); };
  auto at = kTracing + ".provider.typed_config";
  p = problems_of(with_tracing(http(R"({"http_uri": {"uri": "collector/v1", "cluster": "nope", "timeout": "1s"}})")));
  REQUIRE_PROBLEM(p, at + ".http_service.http_uri.uri: expected an absolute URI such as "
                          "\"http://collector:4318/v1/traces\"");
  REQUIRE_PROBLEM(p, at + ".http_service.http_uri.cluster: unknown cluster \"nope\"");
  p = problems_of(with_tracing(http(R"({"http_uri": {"uri": "http://c/v1/traces", "cluster": "a"}})")));
  REQUIRE_PROBLEM(p, at + ".http_service.http_uri: missing required field \"timeout\"");
  p = problems_of(with_tracing(otel(R"(, "grpc_service": {}, "sampler": {})")));
  REQUIRE_PROBLEM(p, at + ".grpc_service: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, at + ".sampler: not supported yet (see docs/ROADMAP.md)");
  p = problems_of(with_tracing(otel(R"(, "servce_name": "x")")));
  REQUIRE(p.size() == 1);
  CHECK(p[0] == at + ": unknown field \"servce_name\"");
}
