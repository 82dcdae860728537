// basic_auth through real sockets, with htpasswd hashes made at test time.
#include <catch2/catch.hpp>

#include <crypt.h>

#include <filesystem>
#include <fstream>

#include <ferry/config.hpp>
#include <ferry/filters/basic_auth.hpp>

#include "common/base64.hpp"
#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace ferry::filters;

namespace {

std::string bcrypt(const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting, sizeof setting));
  crypt_data data{};
  return crypt_r(password.c_str(), setting, &data);
}

std::string basic(const std::string& user_password) {
  return "Basic " + detail::base64_encode(user_password, detail::Base64Alphabet::standard, true);
}

}  // namespace

TEST_CASE("basic_auth: good, wrong and missing credentials, per-route users and disable", "[integration][basic_auth]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, "ok"}; });
  BasicAuthConfig config;
  config.users = "alice:" + bcrypt("wonderland") + "\n";
  config.forward_username_header = "x-user";
  FilterChain chain;
  chain.add_factory(make_basic_auth_factory(config));
  Router router;
  auto vh = router.virtual_host("*");
  vh.route(match::prefix("/health")).to("up").filter_config(kBasicAuthFilterName, BasicAuthPerRoute::disabled());
  vh.route(match::prefix("/ops")).to("up").filter_config(kBasicAuthFilterName,
                                                         BasicAuthPerRoute::with_users("ops:" + bcrypt("pager") + "\n"));
  vh.route(match::prefix("/")).to("up");
  Proxy proxy({cluster_to("up", {up.port()})}, std::move(router), {}, std::move(chain));
  TestClient c(proxy.port());

  auto r = c.request("GET", "/app", {{"Host", "h.local"}, {"Authorization", basic("alice:wonderland")}});
  REQUIRE(r.status == 200);
  CHECK(up.last().header("x-user") == "alice");

  r = c.request("GET", "/app", {{"Host", "h.local"}, {"Authorization", basic("alice:nope")}});
  CHECK(r.status == 401);
  CHECK(r.body == "User authentication failed. Invalid username/password combination.");
  CHECK(r.header("www-authenticate") == R"(Basic realm="http://h.local/app")");

  r = c.request("GET", "/app", {{"Host", "h.local"}});
  CHECK(r.status == 401);
  CHECK(r.body == "User authentication failed. Missing username and password.");
  r = c.request("GET", "/app", {{"Host", "h.local"}, {"Authorization", "Bearer x"}});
  CHECK(r.body == "User authentication failed. Expected 'Basic' authentication scheme.");
  r = c.request("GET", "/app", {{"Host", "h.local"}, {"Authorization", "Basic !!!"}});
  CHECK(r.body == "User authentication failed. Invalid basic credential format.");

  CHECK(c.request("GET", "/health", {{"Host", "h.local"}}).status == 200);
  CHECK(c.request("GET", "/ops/x", {{"Host", "h.local"}, {"Authorization", basic("alice:wonderland")}}).status == 401);
  CHECK(c.request("GET", "/ops/x", {{"Host", "h.local"}, {"Authorization", basic("ops:pager")}}).status == 200);
}

TEST_CASE("basic_auth: Envoy config with users from a file, bad lines reported at users", "[integration][basic_auth]") {
  const std::string type = "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth";
  auto make = [&](const std::string& users) {
    return R"({"static_resources": {"listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
      "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "t", "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
          {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "in"}}}]}]},
        "http_filters": [{"name": "envoy.filters.http.basic_auth", "typed_config": {"@type": ")" + type + R"(", "users": )" + users + R"(}},
          {"name": "envoy.filters.http.router"}]}}]}]}]}})";
  };
  auto bad = config::load_string(make(R"({"inline_string": "a:$1$x$y"})"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.problems[0].path ==
        "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.users");
  CHECK(bad.problems[0].message.rfind("line 1: unsupported hash", 0) == 0);

  auto path = std::filesystem::temp_directory_path() / ("ferry-htpasswd-" + std::to_string(::getpid()));
  std::ofstream(path) << "bob:" << bcrypt("builder") << "\n";
  auto loaded = config::load_string(make(R"({"filename": ")" + path.string() + R"("})"));
  REQUIRE(loaded.ok());
  Server server(ServerOptions{.workers = 1});
  config::apply(*loaded.bootstrap, server);
  server.start();
  {
    TestClient c(server.listener_port(0));
    CHECK(c.request("GET", "/", {{"Host", "h"}, {"Authorization", basic("bob:builder")}}).body == "in");
    CHECK(c.request("GET", "/", {{"Host", "h"}, {"Authorization", basic("bob:x")}}).status == 401);
  }
  server.stop();
  server.wait();
  std::filesystem::remove(path);
}
