// transport_socket tls from Envoy v3 config: filter chains by SNI, DownstreamTlsContext,
// UpstreamTlsContext, XFCC options; files are read at load and problems carry Envoy paths.
#include <ferry/config.hpp>

#include "config_test_util.hpp"
#include "support/tls_pki.hpp"

using ferry::config::load_string;
using ferry_test::kDefaultRoutes;
using ferry_test::problems_of;
using Problems = std::vector<std::string>;

namespace {

const std::string kChains = "static_resources.listeners[0].filter_chains";

std::string hcm() {
  return R"([{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "stat_prefix": "in", "forward_client_cert_details": "APPEND_FORWARD",
      "set_current_client_cert_details": {"subject": true, "uri": true},
      "route_config": {"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": )" +
         kDefaultRoutes + R"(}]},
      "http_filters": [{"name": "envoy.filters.http.router"}]}}])";
}

std::string tls_socket(const std::string& cert, const std::string& key, const std::string& extra = "") {
  return R"({"name": "envoy.transport_sockets.tls", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
      "common_tls_context": {"tls_certificates": [{"certificate_chain": {"filename": ")" +
         cert + R"("}, "private_key": {"filename": ")" + key + R"("}}],
        "alpn_protocols": ["http/1.1"],
        "tls_params": {"tls_minimum_protocol_version": "TLSv1_2", "ecdh_curves": ["X25519"]}})" +
         extra + "}}";
}

std::string listener(const std::string& chains) {
  return R"({"static_resources": {"listeners": [{"name": "l",
      "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10443}},
      "filter_chains": )" +
         chains + R"(}],
    "clusters": [{"name": "a", "connect_timeout": "1s",
      "load_assignment": {"cluster_name": "a", "endpoints": [{"lb_endpoints": [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9443}}}}]}]},
      "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "sni": "backend.internal",
        "common_tls_context": {"validation_context": {"trusted_ca": {"filename": "CA_FILE"},
          "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"suffix": ".internal"}}]}}}},
      "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "upstream_http_protocol_options": {"auto_sni": true},
        "explicit_http_config": {"http_protocol_options": {}}}}}]}})";
}

std::string with_ca(std::string text, const std::string& ca) {
  auto at = text.find("CA_FILE");
  return text.replace(at, 7, ca);
}

}  // namespace

TEST_CASE("config tls: filter chains by SNI, downstream and upstream contexts", "[config][tls]") {
  ferry::test::TestPki pki;
  auto a = pki.issue("a", {"a.example.com"});
  auto d = pki.issue("default", {"localhost"});
  auto chains = "[{\"filter_chain_match\": {\"server_names\": [\"a.example.com\", \"*.a.example.com\"]}, "
                "\"transport_socket_connect_timeout\": \"3s\", \"filters\": " + hcm() +
                ", \"transport_socket\": " + tls_socket(a.cert_file, a.key_file, R"(, "require_client_certificate": false)") +
                "}, {\"filters\": " + hcm() + ", \"transport_socket\": " + tls_socket(d.cert_file, d.key_file) + "}]";
  auto r = load_string(with_ca(listener(chains), pki.ca_file()));
  INFO(Catch::Detail::stringify(problems_of(r)));
  REQUIRE(r.ok());
  const auto& l = r.bootstrap->listeners[0].options;
  REQUIRE(l.tls);
  REQUIRE(l.tls->chains.size() == 2);
  CHECK(l.tls->chains[0].server_names == std::vector<std::string>{"a.example.com", "*.a.example.com"});
  CHECK(l.tls->chains[1].server_names.empty());
  CHECK(l.tls->handshake_timeout == std::chrono::seconds(3));
  CHECK(l.tls->chains[1].common_tls_context.tls_certificates[0].certificate_chain.filename == d.cert_file);
  CHECK(l.tls->chains[0].common_tls_context.tls_params.tls_minimum_protocol_version == ferry::TlsVersion::v1_2);
  CHECK(l.tls->chains[0].common_tls_context.alpn_protocols == std::vector<std::string>{"http/1.1"});
  CHECK(l.http.forward_client_cert_details == ferry::ForwardClientCert::append_forward);
  CHECK(l.http.set_current_client_cert_details.subject);
  CHECK(l.http.set_current_client_cert_details.uri);
  CHECK_FALSE(l.http.set_current_client_cert_details.dns);
  const auto& c = r.bootstrap->clusters[0];
  REQUIRE(c.tls);
  CHECK(c.tls->sni == "backend.internal");
  CHECK(c.tls->auto_sni);
  CHECK(c.tls->common_tls_context.validation_context.trusted_ca.filename == pki.ca_file());
  REQUIRE(c.tls->common_tls_context.validation_context.match_typed_subject_alt_names.size() == 1);
  CHECK(c.tls->common_tls_context.validation_context.match_typed_subject_alt_names[0].match ==
        ferry::SanMatcher::Match::suffix);
}

TEST_CASE("config tls: missing files and bad shapes fail the load with Envoy paths", "[config][tls]") {
  ferry::test::TestPki pki;
  auto a = pki.issue("a", {"a.example.com"});
  const std::string ctx0 = kChains + "[0].transport_socket.typed_config";
  auto one = [&](const std::string& socket, const std::string& match = "") {
    return "[{" + match + "\"filters\": " + hcm() + ", \"transport_socket\": " + socket + "}]";
  };
  auto p = problems_of(with_ca(listener(one(tls_socket("/nonexistent/cert.pem", a.key_file))), pki.ca_file()));
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind(ctx0 + ".common_tls_context.tls_certificates[0].certificate_chain.filename: cannot read "
                          "\"/nonexistent/cert.pem\"", 0) == 0);

  p = problems_of(with_ca(listener(one(tls_socket(a.cert_file, a.key_file))), "/nonexistent/ca.pem"));
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind("static_resources.clusters[0].transport_socket.typed_config.common_tls_context."
                   "validation_context.trusted_ca.filename: cannot read", 0) == 0);

  // A key that is not the certificate's.
  auto b = pki.issue("b", {"b.example.com"});
  p = problems_of(with_ca(listener(one(tls_socket(a.cert_file, b.key_file))), pki.ca_file()));
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind(ctx0 + ".common_tls_context.tls_certificates[0].private_key: does not match", 0) == 0);

  p = problems_of(with_ca(listener(one(tls_socket(a.cert_file, a.key_file), R"("filter_chain_match": {"server_names": ["*w.example.com"]}, )")),
                          pki.ca_file()));
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind(kChains + "[0].filter_chain_match.server_names[0]: ", 0) == 0);

  p = problems_of(with_ca(listener(one(tls_socket(a.cert_file, a.key_file, R"(, "ocsp_staple_policy": "STRICT_STAPLING")"))),
                          pki.ca_file()));
  CHECK(p == Problems{ctx0 + ".ocsp_staple_policy: not supported yet (see docs/ROADMAP.md)"});

  p = problems_of(with_ca(listener(one(R"({"name": "envoy.transport_sockets.alts", "typed_config": {}})")), pki.ca_file()));
  CHECK(p == Problems{kChains + "[0].transport_socket.name: unsupported transport socket "
                                "\"envoy.transport_sockets.alts\" (only \"envoy.transport_sockets.tls\")"});

  // One TLS chain and one plain chain on a listener need the tls_inspector.
  auto mixed = "[{\"filters\": " + hcm() + ", \"transport_socket\": " + tls_socket(a.cert_file, a.key_file) +
               "}, {\"filters\": " + hcm() + "}]";
  p = problems_of(with_ca(listener(mixed), pki.ca_file()));
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind(kChains + ": either every filter chain has a TLS transport_socket", 0) == 0);
}
