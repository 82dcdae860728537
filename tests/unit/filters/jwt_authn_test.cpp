// jwt_authn: token parsing and every algorithm family (keys and tokens made at test time
// with OpenSSL), JWKS parsing, requirement evaluation, config checks and loader paths.
#include <catch2/catch.hpp>

#include <ferry/config.hpp>
#include <ferry/filters/jwt_authn.hpp>

#include "../config/config_test_util.hpp"
#include "common/arena.hpp"
#include "common/base64.hpp"
#include "filters/jwt_authn/jws.hpp"
#include "filters/jwt_authn/verifier.hpp"
#include "support/jwt_keys.hpp"
#include "unit/filters/fake_context.hpp"

using namespace ferry;
using namespace ferry::filters;
using namespace ferry::filters::jwt;
using ferry::test::JwtKey;

namespace {

std::string payload(const std::string& iss, const std::string& aud, long long exp_offset = 600) {
  return R"({"iss":")" + iss + R"(","sub":"alice","aud":")" + aud + R"(","exp":)" +
         std::to_string(ferry::test::unix_now() + exp_offset) + "}";
}

Status verify_with(const std::string& token, const std::string& jwks_json) {
  Jwt jwt;
  if (auto s = parse_jwt(token, jwt); s != Status::ok) return s;
  auto keys = parse_jwks(jwks_json);
  REQUIRE(keys.status == Status::ok);
  return verify_signature(jwt, *keys.jwks);
}

}  // namespace

TEST_CASE("jwt: base64url round trip and strict decoding", "[jwt]") {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00", 3)}) {
    auto enc = detail::base64url_encode(s);
    CHECK(enc.find('=') == std::string::npos);
    CHECK(detail::base64url_decode(enc) == s);
  }
  CHECK(detail::base64url_decode("Zm9v") == "foo");
  CHECK(detail::base64url_decode("Zm8=") == "fo");     // padding accepted
  CHECK_FALSE(detail::base64url_decode("Zm9v+"));      // '+' is not base64url
  CHECK_FALSE(detail::base64url_decode("Z"));          // 6 bits cannot end a byte
  CHECK_FALSE(detail::base64url_decode("Zm9=v"));
  CHECK(detail::base64_decode("YWxpY2U6cw==", detail::Base64Alphabet::standard) == "alice:s");
}

TEST_CASE("jwt: every algorithm family verifies, and a changed byte fails", "[jwt]") {
  // One RSA key pair (and one other) serves the six RS/PS algorithms: RSA generation is slow.
  auto rsa = JwtKey::generate("RS256", "k1");
  auto other_rsa = JwtKey::generate("RS256", "k1");
  auto make = [&](const std::string& alg, bool other) {
    if (alg.starts_with("RS") || alg.starts_with("PS")) return (other ? other_rsa : rsa).with_alg(alg);
    return JwtKey::generate(alg, "k1");
  };
  for (std::string alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
                          "HS384", "HS512"}) {
    INFO(alg);
    auto key = make(alg, false);
    auto token = key.sign(payload("iss1", "aud1"));
    CHECK(verify_with(token, key.jwks()) == Status::ok);
    // Flip one signature character (not the last one, whose low bits may be padding).
    std::string bad = token;
    auto pos = bad.rfind('.') + 2;
    bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
    auto s = verify_with(bad, key.jwks());
    CHECK((s == Status::jwt_verification_fail || s == Status::jwt_ed25519_signature_wrong_length));
    // The same token against another key of the same kind fails.
    auto other = make(alg, true);
    CHECK(verify_with(token, other.jwks()) == Status::jwt_verification_fail);
  }
}

TEST_CASE("jwt: kid and alg select keys, and no key of the kid is a mismatch", "[jwt]") {
  auto a = JwtKey::generate("ES256", "a");
  auto b = JwtKey::generate("RS256", "b");
  std::string both = "{\"keys\":[" + a.jwk() + "," + b.jwk() + "]}";
  CHECK(verify_with(b.sign(payload("i", "x")), both) == Status::ok);
  auto c = JwtKey::generate("RS256", "c");
  CHECK(verify_with(c.sign(payload("i", "x")), both) == Status::jwks_kid_alg_mismatch);
  // An HS256 token never verifies against an RSA key's public parts (no alg confusion).
  auto rsa_nokid = JwtKey::generate("RS256", "");
  std::string jwks_no_alg = R"({"keys":[{"kty":"RSA","n":")" +
                            nlohmann::json::parse(rsa_nokid.jwk())["n"].get<std::string>() + R"(","e":"AQAB"}]})";
  auto hs = JwtKey::generate("HS256", "");
  CHECK(verify_with(hs.sign(payload("i", "x")), jwks_no_alg) == Status::jwt_verification_fail);
}

TEST_CASE("jwt: parsing follows Envoy's checks and texts", "[jwt]") {
  Jwt j;
  CHECK(parse_jwt("abc", j) == Status::jwt_bad_format);
  CHECK(parse_jwt("a.b.c.d", j) == Status::jwt_bad_format);
  CHECK(parse_jwt("!!.b.c", j) == Status::jwt_header_bad_base64);
  auto enc = [](const std::string& s) { return ferry::test::b64url(s); };
  CHECK(parse_jwt(enc("{") + ".e30.c2ln", j) == Status::jwt_header_bad_json);
  CHECK(parse_jwt(enc("{}") + ".e30.c2ln", j) == Status::jwt_header_bad_alg);
  CHECK(parse_jwt(enc(R"({"alg":"none"})") + ".e30.c2ln", j) == Status::jwt_header_not_implemented_alg);
  CHECK(parse_jwt(enc(R"({"alg":"RS256","kid":1})") + ".e30.c2ln", j) == Status::jwt_header_bad_kid);
  auto with = [&](const std::string& p) {
    Jwt out;
    return parse_jwt(enc(R"({"alg":"RS256"})") + "." + enc(p) + ".c2ln", out);
  };
  CHECK(with(R"({"iss":1})") == Status::jwt_payload_iss_not_string);
  CHECK(with(R"({"exp":"x"})") == Status::jwt_payload_exp_not_integer);
  CHECK(with(R"({"exp":-5})") == Status::jwt_payload_exp_out_of_range);
  CHECK(with(R"({"aud":[1]})") == Status::jwt_payload_aud_not_string);
  CHECK(with(R"({"aud":["a","b"],"exp":10})") == Status::ok);
  CHECK(status_text(Status::jwt_expired) == "Jwt is expired");
  CHECK(status_text(Status::jwt_audience_not_allowed) == "Audiences in Jwt are not allowed");
}

TEST_CASE("jwt: exp and nbf with clock skew, audiences without scheme and slash", "[jwt]") {
  Jwt j;
  j.exp = 1000;
  j.nbf = 500;
  CHECK(check_time(j, 1000, 60) == Status::ok);
  CHECK(check_time(j, 1060, 60) == Status::ok);
  CHECK(check_time(j, 1061, 60) == Status::jwt_expired);
  CHECK(check_time(j, 440, 60) == Status::ok);
  CHECK(check_time(j, 439, 60) == Status::jwt_not_yet_valid);
  std::vector<std::string> allowed = {sanitize_audience("https://api.example.com/")};
  CHECK(audiences_allowed(allowed, {"http://api.example.com"}));
  CHECK(audiences_allowed(allowed, {"other", "api.example.com/"}));
  CHECK_FALSE(audiences_allowed(allowed, {"api.example.org"}));
  CHECK_FALSE(audiences_allowed(allowed, {}));
  CHECK(audiences_allowed({}, {}));
}

TEST_CASE("jwt: JWKS parsing skips bad keys and reports sets without a valid one", "[jwt]") {
  CHECK(parse_jwks("nope").status == Status::jwks_parse_error);
  CHECK(parse_jwks("{}").status == Status::jwks_no_keys);
  CHECK(parse_jwks(R"({"keys":{}})").status == Status::jwks_bad_keys);
  auto r = parse_jwks(R"({"keys":[{"kty":"RSA","e":"AQAB"},{"kty":"XX"}]})");
  CHECK(r.status == Status::jwks_no_valid_keys);
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0] == "keys[0]: [n] field is missing for a RSA key");
  CHECK(r.skipped[1] == "keys[1]: [kty] is not supported in [keys]");
  // An EC point that is not on the curve is refused.
  std::string x = ferry::test::b64url(std::string(32, '\x01'));
  auto bad_ec = parse_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":")" + x + R"(","y":")" + x + R"("}]})");
  CHECK(bad_ec.status == Status::jwks_no_valid_keys);
  auto good = JwtKey::generate("EdDSA", "e");
  auto mixed = parse_jwks("{\"keys\":[{\"kty\":\"oct\"}," + good.jwk() + "]}");
  CHECK(mixed.status == Status::ok);
  CHECK(mixed.jwks->keys.size() == 1);
}

namespace {

struct Request {
  std::string path;  // the request line keeps a view of it
  detail::Arena arena{4096};
  RequestHeaders req{&arena};
  explicit Request(std::string p, std::vector<std::pair<std::string, std::string>> headers = {}) : path(std::move(p)) {
    req.set_request_line("GET", path, 11);
    req.add("host", "api.example.com");
    for (auto& [n, v] : headers) req.add(n, v);
  }
};

JwtAuthnConfig two_providers(const JwtKey& a, const JwtKey& b) {
  JwtAuthnConfig c;
  JwtProvider pa;
  pa.issuer = "https://a.example";
  pa.audiences = {"api"};
  pa.local_jwks = a.jwks();
  pa.forward_payload_header = "x-jwt-payload";
  pa.claim_to_headers = {{"x-sub", "sub"}, {"x-level", "meta.level"}};
  pa.payload_in_metadata = "a_payload";
  c.providers["a"] = pa;
  JwtProvider pb;
  pb.issuer = "https://b.example";
  pb.local_jwks = b.jwks();
  pb.from_headers = {{"x-token", ""}};
  pb.forward = true;
  c.providers["b"] = pb;
  return c;
}

// Evaluates requirement_map["r"] of `c` (see with_requirement) against `req`.
Status evaluate(const Compiled& c, RequestHeaders& req, Effects* effects = nullptr) {
  Evaluation e(c, req, std::uint64_t(ferry::test::unix_now()),
               [](const CompiledProvider& p) { return p.keys->local(); });
  auto it = c.requirement_map.find("r");
  REQUIRE(it != c.requirement_map.end());
  auto s = e.run(it->second);
  if (effects) *effects = e.effects;
  return s;
}

std::shared_ptr<const Compiled> with_requirement(JwtAuthnConfig c, JwtRequirement r) {
  c.requirement_map["r"] = r;
  REQUIRE(check(c).empty());
  return compile(c);
}

}  // namespace

TEST_CASE("jwt: requirements combine providers like Envoy's verifiers", "[jwt]") {
  auto ka = JwtKey::generate("RS256", "ka");
  auto kb = JwtKey::generate("ES256", "kb");
  auto base = two_providers(ka, kb);
  std::string good_a = ka.sign(R"({"iss":"https://a.example","aud":"api","sub":"alice","meta":{"level":3},"exp":)" +
                               std::to_string(ferry::test::unix_now() + 600) + "}");
  std::string good_b = kb.sign(payload("https://b.example", "any"));
  std::string expired_a = ka.sign(payload("https://a.example", "api", -3600));

  SECTION("provider_name: valid token, outputs collected") {
    auto c = with_requirement(base, JwtRequirement::provider("a"));
    Request r("/x", {{"authorization", "Bearer " + good_a}, {"x-sub", "forged"}});
    Effects fx;
    REQUIRE(evaluate(*c, r.req, &fx) == Status::ok);
    CHECK(std::find(fx.remove.begin(), fx.remove.end(), "x-sub") != fx.remove.end());  // client's copy dropped
    CHECK(std::find(fx.remove.begin(), fx.remove.end(), "authorization") != fx.remove.end());  // forward: false
    auto has = [&](const std::string& n, const std::string& v) {
      return std::find(fx.add.begin(), fx.add.end(), std::make_pair(n, v)) != fx.add.end();
    };
    CHECK(has("x-sub", "alice"));
    CHECK(has("x-level", "3"));
    CHECK(has("x-jwt-payload", good_a.substr(good_a.find('.') + 1, good_a.rfind('.') - good_a.find('.') - 1)));
    REQUIRE(fx.metadata.size() == 1);
    CHECK(fx.metadata[0].first == "a_payload");
    CHECK(nlohmann::json::parse(fx.metadata[0].second)["sub"] == "alice");
  }
  SECTION("provider_name: missing, expired, wrong issuer, wrong audience") {
    auto c = with_requirement(base, JwtRequirement::provider("a"));
    Request none("/x");
    CHECK(evaluate(*c, none.req) == Status::jwt_missed);
    Request expired("/x", {{"authorization", "Bearer " + expired_a}});
    CHECK(evaluate(*c, expired.req) == Status::jwt_expired);
    Request wrong_iss("/x", {{"authorization", "Bearer " + ka.sign(payload("https://evil", "api"))}});
    CHECK(evaluate(*c, wrong_iss.req) == Status::jwt_unknown_issuer);
    Request wrong_aud("/x", {{"authorization", "Bearer " + ka.sign(payload("https://a.example", "web"))}});
    CHECK(evaluate(*c, wrong_aud.req) == Status::jwt_audience_not_allowed);
    Request param("/x?access_token=" + good_a);
    CHECK(evaluate(*c, param.req) == Status::ok);  // the default query parameter
  }
  SECTION("provider_and_audiences overrides the provider's audiences") {
    auto c = with_requirement(base, JwtRequirement::provider("a", {"web"}));
    Request r("/x", {{"authorization", "Bearer " + ka.sign(payload("https://a.example", "https://web/"))}});
    CHECK(evaluate(*c, r.req) == Status::ok);
    Request api("/x", {{"authorization", "Bearer " + good_a}});
    CHECK(evaluate(*c, api.req) == Status::jwt_audience_not_allowed);
  }
  SECTION("requires_any and requires_all") {
    auto any = with_requirement(base, JwtRequirement::any({JwtRequirement::provider("a"), JwtRequirement::provider("b")}));
    Request b_only("/x", {{"x-token", good_b}});
    CHECK(evaluate(*any, b_only.req) == Status::ok);
    Request none("/x");
    CHECK(evaluate(*any, none.req) == Status::jwt_missed);
    Request bad_a("/x", {{"authorization", "Bearer " + expired_a}});
    CHECK(evaluate(*any, bad_a.req) == Status::jwt_expired);  // a real error beats "missing"
    auto all = with_requirement(base, JwtRequirement::all({JwtRequirement::provider("a"), JwtRequirement::provider("b")}));
    CHECK(evaluate(*all, b_only.req) == Status::jwt_missed);
    Request both("/x", {{"x-token", good_b}, {"authorization", "Bearer " + good_a}});
    CHECK(evaluate(*all, both.req) == Status::ok);
  }
  SECTION("allow_missing and allow_missing_or_failed") {
    auto missing = with_requirement(base, JwtRequirement::allow_missing());
    Request none("/x");
    CHECK(evaluate(*missing, none.req) == Status::ok);
    Request bad("/x", {{"authorization", "Bearer " + expired_a}});
    CHECK(evaluate(*missing, bad.req) == Status::jwt_expired);
    Request good("/x", {{"x-token", good_b}});
    CHECK(evaluate(*missing, good.req) == Status::ok);
    auto failed = with_requirement(base, JwtRequirement::allow_missing_or_failed());
    Effects fx;
    CHECK(evaluate(*failed, bad.req, &fx) == Status::ok);
    CHECK(fx.metadata.empty());
    auto any_missing = with_requirement(base, JwtRequirement::any({JwtRequirement::provider("a"), JwtRequirement::allow_missing()}));
    CHECK(evaluate(*any_missing, none.req) == Status::ok);
    CHECK(evaluate(*any_missing, bad.req) == Status::jwt_expired);
  }
  SECTION("every token must verify: a good token does not carry a bad one") {
    auto c = with_requirement(base, JwtRequirement::provider("a"));
    Request two("/x?access_token=" + expired_a, {{"authorization", "Bearer " + good_a}});
    CHECK(evaluate(*c, two.req) == Status::jwt_expired);
  }
}

TEST_CASE("jwt: claim values become header text like Envoy's", "[jwt]") {
  auto p = nlohmann::json::parse(R"({"s":"x","i":42,"d":1.5,"b":true,"n":{"k":"v"},"a":[1]})");
  CHECK(claim_text(p, "s") == "x");
  CHECK(claim_text(p, "i") == "42");
  CHECK(claim_text(p, "d") == "1.500000");
  CHECK(claim_text(p, "b") == "true");
  CHECK(claim_text(p, "n.k") == "v");
  CHECK_FALSE(claim_text(p, "a"));
  CHECK_FALSE(claim_text(p, "n.missing"));
}

TEST_CASE("jwt: config checks name the exact field", "[jwt][config]") {
  JwtAuthnConfig c;
  c.providers["p"].local_jwks = "{\"keys\":[]}";
  c.providers["r"].remote_jwks = RemoteJwks{.uri = "ftp://x/jwks", .cluster = ""};
  c.rules.push_back({match::prefix("/"), {}, JwtRequirement::any({JwtRequirement::provider("nope")}), {}});
  c.rules.push_back({match::regex("(("), {}, std::nullopt, "missing"});
  auto problems = check_jwt_authn(c);
  std::vector<std::string> text;
  for (auto& p : problems) text.push_back(p.path + ": " + p.message);
  INFO(Catch::Detail::stringify(text));
  CHECK(ferry_test::contains(text, "providers[\"p\"].local_jwks: invalid JWKS: Jwks doesn't have any valid public key"));
  CHECK(ferry_test::contains(text, "providers[\"r\"].remote_jwks.http_uri.uri: not an http:// or https:// URI: \"ftp://x/jwks\""));
  CHECK(ferry_test::contains(text, "providers[\"r\"].remote_jwks.http_uri.cluster: must not be empty"));
  CHECK(ferry_test::contains(text, "rules[0].requires.requires_any.requirements: needs at least 2 requirements"));
  CHECK(ferry_test::contains(text, "rules[0].requires.requires_any.requirements[0].provider_name: Required provider ['nope'] is not configured."));
  CHECK(ferry_test::contains(text, "rules[1].requirement_name: Wrong requirement_name: missing. It should be one of []"));
  CHECK(ferry_test::contains(text, "rules[1].match.safe_regex.regex: invalid regex: missing ): (("));
  CHECK_THROWS_AS(make_jwt_authn_factory(c), ConfigError);
}

namespace {

std::string with_filters(const std::string& filters, const std::string& routes = ferry_test::kDefaultRoutes) {
  std::string text = ferry_test::bootstrap(routes);
  std::string router = R"("http_filters": [{"name": "envoy.filters.http.router"}])";
  auto at = text.find(router);
  REQUIRE(at != std::string::npos);
  return text.replace(at, router.size(), R"("http_filters": [)" + filters + R"(, {"name": "envoy.filters.http.router"}])");
}

const std::string kJwtType = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";

}  // namespace

TEST_CASE("jwt: the loader reads JwtAuthentication and reports problems at their paths", "[jwt][config]") {
  auto key = JwtKey::generate("RS256", "k");
  nlohmann::json jwks_string = key.jwks();
  std::string good = R"({"name": "envoy.filters.http.jwt_authn", "typed_config": {"@type": ")" + kJwtType + R"(",
    "providers": {"p": {"issuer": "i", "audiences": ["a"], "local_jwks": {"inline_string": )" + jwks_string.dump() + R"(},
                        "forward_payload_header": "x-payload", "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}],
                        "payload_in_metadata": "p", "clock_skew_seconds": 30, "from_headers": [{"name": "x-jwt", "value_prefix": "Token "}]},
                  "r": {"remote_jwks": {"http_uri": {"uri": "http://keys.example/jwks.json", "cluster": "a", "timeout": "2s"},
                                        "cache_duration": "300s"}}},
    "rules": [{"match": {"prefix": "/open"}},
              {"match": {"prefix": "/", "headers": [{"name": "x-api", "present_match": true}]}, "requires": {"requires_any": {"requirements": [{"provider_name": "p"}, {"allow_missing": {}}]}}},
              {"match": {"prefix": "/"}, "requirement_name": "strict"}],
    "requirement_map": {"strict": {"provider_and_audiences": {"provider_name": "p", "audiences": ["b"]}}}}})";
  auto loaded = config::load_string(with_filters(good));
  INFO(Catch::Detail::stringify(ferry_test::problems_of(loaded)));
  REQUIRE(loaded.ok());
  CHECK(loaded.bootstrap->listeners[0].filters.size() == 1);

  const std::string at = ferry_test::kHcm + ".http_filters[0].typed_config";
  auto bad = R"({"name": "jwt", "typed_config": {"@type": ")" + kJwtType + R"(",
    "providers": {"p": {"local_jwks": {"inline_string": "{}"}, "subjects": {"exact": "x"}},
                  "q": {"remote_jwks": {"http_uri": {"uri": "http://x/", "cluster": "a"}}},
                  "none": {"issuer": "x"}},
    "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "ghost"}},
              {"requires": {"provider_name": "p"}}]}})";
  auto problems = ferry_test::problems_of(with_filters(bad));
  REQUIRE_PROBLEM(problems, at + ".providers[\"p\"].subjects: not supported yet (see docs/ROADMAP.md)");
  REQUIRE_PROBLEM(problems, at + ".providers[\"q\"].remote_jwks.http_uri: missing required field \"timeout\"");
  REQUIRE_PROBLEM(problems, at + ".providers[\"none\"]: a provider needs \"remote_jwks\" or \"local_jwks\"");
  REQUIRE_PROBLEM(problems, at + ".rules[1]: missing required field \"match\"");

  auto semantic = R"({"name": "jwt", "typed_config": {"@type": ")" + kJwtType + R"(",
    "providers": {"p": {"local_jwks": {"inline_string": "{}"}}},
    "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "ghost"}}]}})";
  problems = ferry_test::problems_of(with_filters(semantic));
  REQUIRE_PROBLEM(problems, at + ".providers[\"p\"].local_jwks: invalid JWKS: Jwks does not have [keys] field");
  REQUIRE_PROBLEM(problems, at + ".rules[0].requires.provider_name: Required provider ['ghost'] is not configured.");

  auto per_route = R"([{"match": {"prefix": "/"}, "route": {"cluster": "a"}, "typed_per_filter_config": {
      "envoy.filters.http.jwt_authn": {"@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig", "disabled": false}}}])";
  problems = ferry_test::problems_of(with_filters(good, per_route));
  REQUIRE_PROBLEM(problems, ferry_test::kRoutes + "[0].typed_per_filter_config[\"envoy.filters.http.jwt_authn\"].disabled: must be true when set (Envoy's const rule)");
}

TEST_CASE("jwt: remote key cache decides fetches by age, kid and failures (manual clock)", "[jwt]") {
  auto a = JwtKey::generate("ES256", "a");
  RemoteJwks remote{.uri = "http://k/jwks", .cluster = "k", .cache_duration = std::chrono::minutes(10),
                    .kid_refetch_interval = std::chrono::seconds(30)};
  KeySource src(remote, "k", "/jwks");
  KeySource::Clock::time_point t0{};
  using namespace std::chrono_literals;
  CHECK(src.request().path == "/jwks");
  CHECK(src.request().authority == "k");

  CHECK(src.needs_fetch(t0, "a", "ES256"));  // nothing cached
  int woken = 0;
  CHECK(src.join([&] { ++woken; }));          // the first waiter starts the fetch
  CHECK(src.needs_fetch(t0, "a", "ES256"));  // in flight: join it
  CHECK_FALSE(src.join([&] { ++woken; }));
  src.finish({200, {}, a.jwks(), {}}, t0);
  CHECK(woken == 2);
  REQUIRE(src.current());
  CHECK(src.fetches() == 1);

  std::shared_ptr<const Jwks> held;  // the keys come with the decision, in the same lock
  CHECK_FALSE(src.needs_fetch(t0 + 1s, "a", "ES256", &held));
  CHECK(held == src.current());
  CHECK(src.needs_fetch(t0 + 1s, "b", "ES256"));  // unknown kid: one refetch
  CHECK(src.join([] {}));
  src.finish({500, {}, "down", {}}, t0 + 2s);      // fails: keys kept, retry after 1 s
  CHECK(src.current());
  CHECK_FALSE(src.needs_fetch(t0 + 2500ms, "c", "ES256"));
  CHECK_FALSE(src.needs_fetch(t0 + 10s, "c", "ES256"));  // kid refetches: one per 30 s
  CHECK(src.needs_fetch(t0 + 32s, "c", "ES256"));
  CHECK(src.join([] {}));
  src.finish({200, {}, "not json", {}}, t0 + 32s);
  CHECK_FALSE(src.needs_fetch(t0 + 40s, "a", "ES256"));
  CHECK(src.needs_fetch(t0 + 11min, "a", "ES256"));  // older than cache_duration
}

TEST_CASE("jwt: the filter parses each token once per request", "[jwt]") {
  auto ka = JwtKey::generate("ES256", "ka");
  auto kb = JwtKey::generate("ES256", "kb");
  JwtProvider a;  // both read the default location (authorization: Bearer)
  a.issuer = "https://a.example";
  a.local_jwks = ka.jwks();
  JwtProvider b = a;
  b.issuer = "https://b.example";
  b.local_jwks = kb.jwks();
  JwtProvider r;
  r.issuer = "https://r.example";
  r.remote_jwks = RemoteJwks{.uri = "http://keys.example/jwks", .cluster = "keys"};
  JwtAuthnConfig c;
  c.providers = {{"a", a}, {"b", b}, {"r", r}};
  c.rules.push_back({match::prefix("/remote"), {}, JwtRequirement::provider("r"), {}});
  c.rules.push_back({match::prefix("/"), {},
                     JwtRequirement::any({JwtRequirement::provider("a"), JwtRequirement::provider("b")}), {}});
  auto factory = make_jwt_authn_factory(c);
  auto run = [&](std::string_view path, const std::string& token, ferry_test::FakeContext& ctx) {
    auto req = ferry_test::request("GET", path, {{"host", "api.example.com"}, {"authorization", "Bearer " + token}});
    auto before = parse_jwt_calls();
    auto status = factory()->on_request_headers(req, true, ctx);
    return std::make_pair(status, parse_jwt_calls() - before);
  };

  SECTION("a remote provider: the look at kid and issuer before the fetch and the evaluation share one parse") {
    ferry_test::FakeContext ctx;  // cannot pause: decides at once with the keys there are (none)
    auto [status, parses] = run("/remote", JwtKey::generate("ES256", "kr").sign(payload("https://r.example", "x")), ctx);
    CHECK(status == FilterStatus::Stop);
    CHECK(ctx.reply_status == 401);
    CHECK(ctx.reply_body == "Jwks remote fetch is failed");
    CHECK(parses == 1);
  }
  SECTION("requires_any over two providers reading the same header") {
    ferry_test::FakeContext ctx;
    auto [status, parses] = run("/x", kb.sign(payload("https://b.example", "x")), ctx);
    CHECK(status == FilterStatus::Continue);
    CHECK(ctx.reply_status == 0);
    CHECK(parses == 1);
  }
}

// Not run by default ("[.]"): `ferry_unit_tests "[.jwt-cost]"` prints the cost of one
// parse + signature check per algorithm on this machine.
TEST_CASE("jwt: verification cost per algorithm", "[.jwt-cost]") {
  for (std::string alg : {"RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256"}) {
    auto key = JwtKey::generate(alg, "k");
    auto token = key.sign(payload("i", "a"));
    auto keys = parse_jwks(key.jwks()).jwks;
    constexpr int kRounds = 500;
    auto start = std::chrono::steady_clock::now();
    int ok = 0;
    for (int i = 0; i < kRounds; ++i) {
      Jwt jwt;
      ok += parse_jwt(token, jwt) == Status::ok && verify_signature(jwt, *keys) == Status::ok;
    }
    auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kRounds;
    CHECK(ok == kRounds);
    WARN(alg << ": " << us << " us per token");
  }
}
