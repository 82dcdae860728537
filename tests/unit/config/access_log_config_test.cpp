// The HCM's access_log list: file and stdout loggers, formats, filters, and exact-path errors.
#include <ferry/config.hpp>

#include "config_test_util.hpp"

using ferry::AccessLogFilter;
using ferry::AccessLogOptions;
using ferry_test::bootstrap;
using ferry_test::kDefaultClusters;
using ferry_test::kDefaultRoutes;
using ferry_test::kHcm;
using ferry_test::problems_of;

namespace {

const std::string kFile = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
const std::string kStdout = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";

std::string with_logs(const std::string& logs) {
  return bootstrap(kDefaultRoutes, kDefaultClusters, R"(, "access_log": )" + logs);
}

std::vector<AccessLogOptions> logs_of(const std::string& logs) {
  auto r = ferry::config::load_string(with_logs(logs));
  INFO(::Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  return r.bootstrap->listeners.at(0).options.http.access_logs;
}

}  // namespace

TEST_CASE("config: access_log file and stdout loggers with their formats", "[config][access_log]") {
  auto logs = logs_of(R"([
    {"name": "envoy.access_loggers.file", "typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/a.log",
       "log_format": {"text_format_source": {"inline_string": "%RESPONSE_CODE%\n"}}}},
    {"name": "legacy", "typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/b.log", "format": "%DURATION%\n"}},
    {"name": "out", "typed_config": {"@type": ")" + kStdout + R"(",
       "log_format": {"json_format": {"code": "%RESPONSE_CODE%", "up": {"host": "%UPSTREAM_HOST%"}}}}},
    {"name": "plain", "typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/c.log"}}
  ])");
  REQUIRE(logs.size() == 4);
  CHECK(logs[0].sink == AccessLogOptions::Sink::file);
  CHECK(logs[0].path == "/tmp/a.log");
  CHECK(logs[0].format == "%RESPONSE_CODE%\n");
  CHECK(logs[1].name == "legacy");
  CHECK(logs[1].format == "%DURATION%\n");
  CHECK(logs[2].sink == AccessLogOptions::Sink::standard_output);
  CHECK(logs[2].typed_json);
  REQUIRE(logs[2].json_format.size() == 2);
  CHECK(logs[2].json_format[0].key == "code");
  CHECK(logs[2].json_format[0].format == "%RESPONSE_CODE%");
  CHECK(logs[2].json_format[1].object);
  REQUIRE(logs[2].json_format[1].fields.size() == 1);
  CHECK(logs[2].json_format[1].fields[0].format == "%UPSTREAM_HOST%");
  CHECK(logs[3].format.empty());  // Envoy's default format
  CHECK(logs[3].json_format.empty());
}

TEST_CASE("config: access_log filters", "[config][access_log]") {
  auto logs = logs_of(R"([{"typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/a.log"},
    "filter": {"or_filter": {"filters": [
      {"status_code_filter": {"comparison": {"op": "GE", "value": {"default_value": 500, "runtime_key": "k"}}}},
      {"and_filter": {"filters": [
        {"duration_filter": {"comparison": {"op": "LE", "value": {"default_value": 10, "runtime_key": "d"}}}},
        {"not_health_check_filter": {}}]}}]}}}])");
  REQUIRE(logs.size() == 1);
  REQUIRE(logs[0].filter.size() == 1);
  const auto& f = logs[0].filter[0];
  CHECK(f.kind == AccessLogFilter::Kind::or_filter);
  REQUIRE(f.filters.size() == 2);
  CHECK(f.filters[0].kind == AccessLogFilter::Kind::status_code);
  CHECK(f.filters[0].op == AccessLogFilter::Op::ge);
  CHECK(f.filters[0].value == 500);
  const auto& a = f.filters[1];
  CHECK(a.kind == AccessLogFilter::Kind::and_filter);
  REQUIRE(a.filters.size() == 2);
  CHECK(a.filters[0].kind == AccessLogFilter::Kind::duration);
  CHECK(a.filters[0].op == AccessLogFilter::Op::le);
  CHECK(a.filters[0].value == 10);
  CHECK(a.filters[1].kind == AccessLogFilter::Kind::not_health_check);
}

TEST_CASE("config: access_log problems have exact paths", "[config][access_log]") {
  auto p = problems_of(with_logs(R"([
    {"typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/a.log", "format": "%BOGUS%"}},
    {"typed_config": {"@type": ")" + kFile + R"("}},
    {"typed_config": {"@type": "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig"}},
    {"typed_config": {"@type": ")" + kStdout + R"(", "log_format": {"text_format": "x", "omit_empty_values": true}}},
    {"typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/a.log"},
     "filter": {"response_flag_filter": {}}},
    {"typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/a.log",
       "log_format": {"json_format": {"a": {"b": "%NOPE(%"}}}}},
    {"typed_config": {"@type": ")" + kFile + R"(", "path": "/tmp/a.log"},
     "filter": {"status_code_filter": {"comparison": {"op": "NE", "value": {"default_value": 1, "runtime_key": "k"}}}}}
  ])"));
  const std::string l = kHcm + ".access_log";
  REQUIRE_PROBLEM(p, l + "[0].typed_config.format: unknown command operator %BOGUS%");
  REQUIRE_PROBLEM(p, l + "[1].typed_config: missing required field \"path\"");
  REQUIRE_PROBLEM(p, l + "[2].typed_config.@type: \"type.googleapis.com/envoy.extensions.access_loggers.grpc.v3."
                         "HttpGrpcAccessLogConfig\" is not supported (file and stdout access loggers are)");
  REQUIRE_PROBLEM(p, l + "[3].typed_config.log_format.omit_empty_values: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, l + "[4].filter.response_flag_filter: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(p, l + "[5].typed_config.log_format.json_format[\"a\"][\"b\"]: missing ')' in %NOPE(");
  bool op_reported = false;
  for (const auto& s : p) op_reported |= s.rfind(l + "[6].filter.status_code_filter.comparison.op:", 0) == 0;
  CHECK(op_reported);
}
