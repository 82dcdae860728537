// basic_auth: htpasswd parsing and every accepted hash scheme, with hashes made at test time
// (libxcrypt's crypt_r, SHA-1 for Envoy's {SHA}).
#include <catch2/catch.hpp>

#include <crypt.h>
#include <openssl/sha.h>

#include <ferry/filters/basic_auth.hpp>

#include "common/base64.hpp"
#include "filters/basic_auth/htpasswd.hpp"

using namespace ferry;
using namespace ferry::filters;

namespace ferry_test {

/// A crypt(3) hash of `password` with a fresh salt of `prefix` ("$6$", "$2b$", ...), at the
/// lowest cost the scheme allows so tests stay fast.
inline std::string crypt_hash(const std::string& prefix, const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  unsigned long cost = prefix == "$2b$" ? 4 : prefix == "$y$" ? 3 : 1000;
  REQUIRE(crypt_gensalt_rn(prefix.c_str(), cost, nullptr, 0, setting, sizeof setting) != nullptr);
  crypt_data data{};
  const char* out = crypt_r(password.c_str(), setting, &data);
  REQUIRE(out != nullptr);
  REQUIRE(out[0] != '*');
  return out;
}

inline std::string sha_hash(const std::string& password) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(password.data()), password.size(), d);
  return "{SHA}" + detail::base64_encode(std::string(reinterpret_cast<char*>(d), sizeof d),
                                         detail::Base64Alphabet::standard, true);
}

}  // namespace ferry_test

TEST_CASE("basic_auth: every accepted scheme checks the right password only", "[basic_auth]") {
  for (std::string prefix : {"$5$", "$6$", "$2b$", "$y$"}) {
    INFO(prefix);
    auto hash = ferry_test::crypt_hash(prefix, "s3cret");
    CHECK(basic_auth::hash_problem(hash).empty());
    CHECK(basic_auth::check_hash(hash, "s3cret"));
    CHECK_FALSE(basic_auth::check_hash(hash, "s3cret "));
    CHECK_FALSE(basic_auth::check_hash(hash, ""));
  }
  auto sha = ferry_test::sha_hash("s3cret");
  CHECK(basic_auth::hash_problem(sha).empty());
  CHECK(basic_auth::check_hash(sha, "s3cret"));
  CHECK_FALSE(basic_auth::check_hash(sha, "S3cret"));
}

TEST_CASE("basic_auth: htpasswd problems name the line and weak schemes are refused", "[basic_auth]") {
  auto good = ferry_test::crypt_hash("$6$", "pw");
  std::string text = "alice:" + good + "\n\n" +      // line 1, then a blank line
                     "bob\n" +                         // line 3: no colon
                     "carol:$1$abc$def\n" +            // line 4: MD5-crypt
                     "dave:plaintext\n" +              // line 5
                     "alice:" + good + "\n" +          // line 6: duplicate
                     "erin:{SHA}short\n";              // line 7
  auto problems = check_htpasswd(text);
  REQUIRE(problems.size() == 5);
  CHECK(problems[0] == "line 3: expected \"user:hash\"");
  CHECK(problems[1].rfind("line 4: unsupported hash", 0) == 0);
  CHECK(problems[2].rfind("line 5: unsupported hash", 0) == 0);
  CHECK(problems[3] == "line 6: duplicate user \"alice\"");
  CHECK(problems[4] == "line 7: invalid {SHA} hash (expected base64 of 20 bytes)");
  CHECK(check_htpasswd("") == std::vector<std::string>{"no users"});
  CHECK_THROWS_AS(make_basic_auth_factory({.users = "x"}), ConfigError);
}

TEST_CASE("basic_auth: an unknown user is refused after the same hashing work", "[basic_auth]") {
  std::vector<std::string> problems;
  auto users = BasicAuthPerRoute::Users::parse("alice:" + ferry_test::crypt_hash("$5$", "pw") + "\r\n", problems);
  REQUIRE(problems.empty());
  CHECK(users->verify("alice", "pw"));
  CHECK_FALSE(users->verify("alice", "PW"));
  CHECK_FALSE(users->verify("mallory", "pw"));
  CHECK(users->decoy == users->hashes.at("alice"));
}

#include <ferry/config.hpp>

TEST_CASE("basic_auth: BasicAuthPerRoute from Envoy config, problems at the route's path", "[basic_auth][config]") {
  auto good = ferry_test::sha_hash("pw");
  auto text = [&](const std::string& route_users) {
    return R"({"static_resources": {"listeners": [{"name": "l", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
      "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "t", "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
          {"match": {"prefix": "/"}, "direct_response": {"status": 200}, "typed_per_filter_config": {"envoy.filters.http.basic_auth": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute", "users": )" +
           route_users + R"(}}}]}]},
        "http_filters": [{"name": "envoy.filters.http.basic_auth", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth",
            "users": {"inline_string": "a:)" + good + R"("}, "forward_username_header": "x-user"}},
          {"name": "envoy.filters.http.router"}]}}]}]}]}})";
  };
  auto ok = config::load_string(text(R"({"inline_string": "b:)" + good + R"("})"));
  INFO((ok.problems.empty() ? std::string() : ok.problems[0].path + ": " + ok.problems[0].message));
  REQUIRE(ok.ok());
  const auto& route = ok.bootstrap->listeners[0].routes.virtual_hosts[0].routes[0];
  auto it = route.typed_per_filter_config.find("envoy.filters.http.basic_auth");
  REQUIRE(it != route.typed_per_filter_config.end());
  const auto* per_route = dynamic_cast<const BasicAuthPerRoute*>(it->second.get());
  REQUIRE(per_route);
  CHECK(per_route->users()->verify("b", "pw"));
  CHECK_FALSE(per_route->users()->verify("a", "pw"));

  auto bad = config::load_string(text(R"({"inline_string": "b:nope"})"));
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0].path ==
        "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0]"
        ".typed_per_filter_config[\"envoy.filters.http.basic_auth\"].users");
}
