// The embedding examples, built from examples/, run as programs in front of a fake upstream.
#include <catch2/catch.hpp>

#include <csignal>

#include "support/cli_process.hpp"
#include "support/fake_upstream.hpp"

using namespace ferry::test;
using namespace std::chrono_literals;

namespace {
std::string example(const char* name) { return std::string(FERRY_BINARY_DIR) + "/bin/" + name; }
}  // namespace

TEST_CASE("examples/embed_minimal proxies to its upstream", "[integration][examples]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, "up:" + r.target}; });
  auto port = pick_free_port();
  CliProcess p("", "", {"127.0.0.1:" + std::to_string(up.port()), std::to_string(port)}, example("embed_minimal"));
  REQUIRE(p.wait_until_listening(port));
  CHECK(http_get(port, "/embedded").body == "up:/embedded");
  p.signal(SIGTERM);
  CHECK(p.wait_exit(5s).has_value());
}

TEST_CASE("examples/custom_filter rejects without an api key and tags what it passes",
          "[integration][examples]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, r.header("x-filtered-by")}; });
  auto port = pick_free_port();
  CliProcess p("", "", {"127.0.0.1:" + std::to_string(up.port()), std::to_string(port)}, example("custom_filter"));
  REQUIRE(p.wait_until_listening(port));
  CHECK(http_get(port, "/").status == 401);
  TestClient c(port);
  auto ok = c.request("GET", "/", {{"x-api-key", "secret"}});
  CHECK(ok.status == 200);
  CHECK(ok.body == "custom_filter");
  CHECK(up.requests() == 1);
}
