// transport_socket envoy.transport_sockets.tls: DownstreamTlsContext on filter chains,
// UpstreamTlsContext on clusters, and the HCM's x-forwarded-client-cert options. After the
// shapes are read, the contexts are built once here (reading the files), so that a
// missing or bad certificate fails the load with its path.
#include <openssl/evp.h>

#include "config/parse.hpp"
#include "tls/client_tls.hpp"
#include "tls/server_tls.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kTlsSocketName = "envoy.transport_sockets.tls";
constexpr std::string_view kDownstreamType =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
constexpr std::string_view kUpstreamType =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

constexpr std::string_view kSocketFields[] = {"name", "typed_config"};
constexpr std::string_view kDownstreamFields[] = {"@type", "common_tls_context", "require_client_certificate",
                                                  "session_ticket_keys", "disable_stateless_session_resumption",
                                                  "session_timeout"};
constexpr std::string_view kDownstreamNotYet[] = {
    "session_ticket_keys_sds_secret_config", "require_sni", "ocsp_staple_policy",
    "full_scan_certs_on_sni_mismatch", "disable_stateful_session_resumption", "prefer_client_ciphers"};
constexpr std::string_view kUpstreamFields[] = {"@type", "common_tls_context", "sni", "max_session_keys"};
constexpr std::string_view kUpstreamNotYet[] = {"allow_renegotiation", "enforce_rsa_key_usage"};
constexpr std::string_view kCommonFields[] = {"tls_params", "tls_certificates", "validation_context",
                                              "alpn_protocols"};
constexpr std::string_view kCommonNotYet[] = {
    "tls_certificate_sds_secret_configs", "tls_certificate_provider_instance",
    "tls_certificate_certificate_provider", "tls_certificate_certificate_provider_instance",
    "validation_context_sds_secret_config", "combined_validation_context",
    "validation_context_certificate_provider", "validation_context_certificate_provider_instance",
    "custom_handshaker", "key_log", "custom_tls_certificate_selector"};
constexpr std::string_view kParamsFields[] = {"tls_minimum_protocol_version", "tls_maximum_protocol_version",
                                              "cipher_suites", "ecdh_curves"};
constexpr std::string_view kParamsNotYet[] = {"signature_algorithms", "compliance_policies"};
constexpr EnumValue kVersions[] = {
    {"TLS_AUTO", 0, true}, {"TLSv1_0", 1, true}, {"TLSv1_1", 2, true}, {"TLSv1_2", 3, true}, {"TLSv1_3", 4, true}};
constexpr std::string_view kCertFields[] = {"certificate_chain", "private_key"};
constexpr std::string_view kCertNotYet[] = {"pkcs12", "watched_directory", "private_key_provider", "password",
                                            "ocsp_staple", "signed_certificate_timestamp"};
constexpr std::string_view kSourceFields[] = {"filename", "inline_string", "inline_bytes"};
constexpr std::string_view kSourceNotYet[] = {"environment_variable", "watched_directory"};
constexpr std::string_view kValidationFields[] = {"trusted_ca", "match_typed_subject_alt_names", "crl"};
constexpr std::string_view kValidationNotYet[] = {
    "watched_directory", "verify_certificate_spki", "verify_certificate_hash", "match_subject_alt_names",
    "require_signed_certificate_timestamp", "allow_expired_certificate", "trust_chain_verification",
    "custom_validator_config", "only_verify_leaf_cert_crl", "max_verify_depth", "system_root_certs",
    "ca_certificate_provider_instance"};
constexpr std::string_view kSanFields[] = {"san_type", "matcher"};
constexpr std::string_view kSanNotYet[] = {"oid"};
constexpr EnumValue kSanTypes[] = {{"SAN_TYPE_UNSPECIFIED", 0, false}, {"EMAIL", 1, true}, {"DNS", 2, true},
                                   {"URI", 3, true}, {"IP_ADDRESS", 4, true}, {"OTHER_NAME", 5, false}};
constexpr std::string_view kStringMatchFields[] = {"exact", "prefix", "suffix", "contains", "ignore_case"};
constexpr std::string_view kStringMatchNotYet[] = {"safe_regex"};
constexpr std::string_view kTicketKeysFields[] = {"keys"};
constexpr std::string_view kChainMatchFields[] = {"server_names"};
constexpr std::string_view kChainMatchNotYet[] = {
    "destination_port", "prefix_ranges", "address_suffix", "suffix_len", "direct_source_prefix_ranges",
    "source_type", "source_prefix_ranges", "source_ports", "transport_protocol", "application_protocols"};
constexpr std::string_view kUpstreamHttpFields[] = {"auto_sni", "auto_san_validation"};
constexpr std::string_view kUpstreamHttpNotYet[] = {"override_auto_sni_header"};
constexpr std::string_view kCertDetailsFields[] = {"subject", "cert", "chain", "dns", "uri"};
constexpr EnumValue kForwardModes[] = {{"SANITIZE", 0, true},     {"FORWARD_ONLY", 1, true},
                                       {"APPEND_FORWARD", 2, true}, {"SANITIZE_SET", 3, true},
                                       {"ALWAYS_FORWARD_ONLY", 4, true}};

std::vector<std::string> read_strings(Context& ctx, const Field& f) {
  std::vector<std::string> out;
  for_each(ctx, f, [&](const Field& item) {
    if (auto s = read_string(ctx, item)) out.push_back(*s);
  });
  return out;
}

TlsVersion version_of(std::string_view name) {
  if (name == "TLSv1_0") return TlsVersion::v1_0;
  if (name == "TLSv1_1") return TlsVersion::v1_1;
  if (name == "TLSv1_2") return TlsVersion::v1_2;
  if (name == "TLSv1_3") return TlsVersion::v1_3;
  return TlsVersion::auto_;
}

DataSource parse_source(Context& ctx, const Field& f) {
  DataSource out;
  Object o(ctx, f, {kSourceFields, kSourceNotYet});
  if (!o.ok()) return out;
  set_if(read_string(ctx, o.get("filename")), out.filename);
  set_if(read_string(ctx, o.get("inline_string")), out.inline_string);
  // inline_bytes is base64 in proto JSON.
  if (auto b64 = read_string(ctx, o.get("inline_bytes"))) {
    std::string raw(b64->size() / 4 * 3 + 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                            reinterpret_cast<const unsigned char*>(b64->data()), int(b64->size()));
    if (n < 0 || b64->size() % 4 != 0) {
      ctx.problem(o.get("inline_bytes"), "not valid base64");
    } else {
      // EVP_DecodeBlock counts the '=' padding as zero bytes.
      std::size_t pad = b64->ends_with("==") ? 2 : b64->ends_with("=") ? 1 : 0;
      raw.resize(std::size_t(n) - pad);
      out.inline_string = std::move(raw);
    }
  }
  int set = !out.filename.empty() + is_set(f, "inline_string") + is_set(f, "inline_bytes");
  if (set != 1) ctx.problem(f, "set exactly one of \"filename\", \"inline_string\" and \"inline_bytes\"");
  return out;
}

void parse_params(Context& ctx, const Field& f, TlsParams& out) {
  Object o(ctx, f, {kParamsFields, kParamsNotYet});
  if (!o.ok()) return;
  if (auto v = read_enum(ctx, o.get("tls_minimum_protocol_version"), kVersions))
    out.tls_minimum_protocol_version = version_of(*v);
  if (auto v = read_enum(ctx, o.get("tls_maximum_protocol_version"), kVersions))
    out.tls_maximum_protocol_version = version_of(*v);
  out.cipher_suites = read_strings(ctx, o.get("cipher_suites"));
  out.ecdh_curves = read_strings(ctx, o.get("ecdh_curves"));
}

SanMatcher parse_san(Context& ctx, const Field& f) {
  SanMatcher out;
  Object o(ctx, f, {kSanFields, kSanNotYet});
  if (!o.ok()) return out;
  if (auto t = read_enum(ctx, o.required("san_type"), kSanTypes))
    out.san_type = *t == "EMAIL" ? SanMatcher::Type::email
                   : *t == "URI" ? SanMatcher::Type::uri
                   : *t == "IP_ADDRESS" ? SanMatcher::Type::ip_address
                                        : SanMatcher::Type::dns;
  Object m(ctx, o.required("matcher"), {kStringMatchFields, kStringMatchNotYet});
  if (!m.ok()) return out;
  int kinds = 0;
  for (auto [name, kind] : {std::pair{"exact", SanMatcher::Match::exact}, {"prefix", SanMatcher::Match::prefix},
                            {"suffix", SanMatcher::Match::suffix}, {"contains", SanMatcher::Match::contains}}) {
    if (auto v = read_string(ctx, m.get(name))) {
      out.match = kind;
      out.value = *v;
      ++kinds;
    }
  }
  if (kinds != 1 && !is_set(m.self(), "safe_regex"))
    ctx.problem(m.self(), "set exactly one of \"exact\", \"prefix\", \"suffix\" and \"contains\"");
  set_if(read_bool(ctx, m.get("ignore_case")), out.ignore_case);
  return out;
}

void parse_validation(Context& ctx, const Field& f, CertificateValidation& out) {
  Object o(ctx, f, {kValidationFields, kValidationNotYet});
  if (!o.ok()) return;
  if (Field ca = o.get("trusted_ca")) out.trusted_ca = parse_source(ctx, ca);
  if (Field crl = o.get("crl")) out.crl = parse_source(ctx, crl);
  for_each(ctx, o.get("match_typed_subject_alt_names"),
           [&](const Field& item) { out.match_typed_subject_alt_names.push_back(parse_san(ctx, item)); });
}

void parse_common(Context& ctx, const Field& f, CommonTlsOptions& out) {
  Object o(ctx, f, {kCommonFields, kCommonNotYet});
  if (!o.ok()) return;
  parse_params(ctx, o.get("tls_params"), out.tls_params);
  for_each(ctx, o.get("tls_certificates"), [&](const Field& item) {
    auto& cert = out.tls_certificates.emplace_back();
    Object c(ctx, item, {kCertFields, kCertNotYet});
    if (!c.ok()) return;
    cert.certificate_chain = parse_source(ctx, c.required("certificate_chain"));
    cert.private_key = parse_source(ctx, c.required("private_key"));
  });
  parse_validation(ctx, o.get("validation_context"), out.validation_context);
  out.alpn_protocols = read_strings(ctx, o.get("alpn_protocols"));
}

// The socket's typed_config, when it is the TLS socket with the expected type.
Field tls_config(Context& ctx, const Field& socket) {
  Object o(ctx, socket, {kSocketFields});
  if (!o.ok()) return {};
  auto name = read_string(ctx, o.required("name")).value_or("");
  Field config = o.required("typed_config");
  if (name != kTlsSocketName) {
    ctx.problem(o.get("name"), "unsupported transport socket " + in_quotes(name) + " (only " +
                                   in_quotes(kTlsSocketName) + ")");
    return {};
  }
  return config;
}

std::string replace_prefix(const std::string& path, const std::string& from, const std::string& to) {
  return path.starts_with(from) ? to + path.substr(from.size()) : path;
}

}  // namespace

void parse_chain_match(Context& ctx, const Field& f, TlsServerChain& chain) {
  Object o(ctx, f, {kChainMatchFields, kChainMatchNotYet});
  if (!o.ok()) return;
  chain.server_names = read_strings(ctx, o.get("server_names"));
}

void parse_downstream_tls(Context& ctx, const Field& socket, TlsServerChain& chain) {
  Field config = tls_config(ctx, socket);
  Object o(ctx, config, {kDownstreamFields, kDownstreamNotYet});
  if (!o.ok()) return;
  check_type_url(ctx, o, kDownstreamType);
  parse_common(ctx, o.get("common_tls_context"), chain.common_tls_context);
  set_if(read_bool(ctx, o.get("require_client_certificate")), chain.require_client_certificate);
  set_if(read_bool(ctx, o.get("disable_stateless_session_resumption")), chain.disable_stateless_session_resumption);
  set_if(read_duration(ctx, o.get("session_timeout")), chain.session_timeout);
  Object keys(ctx, o.get("session_ticket_keys"), {kTicketKeysFields});
  if (keys.ok())
    for_each(ctx, keys.required("keys"),
             [&](const Field& item) { chain.session_ticket_keys.push_back(parse_source(ctx, item)); });
}

void parse_upstream_tls(Context& ctx, const Field& socket, UpstreamTlsOptions& out) {
  Field config = tls_config(ctx, socket);
  Object o(ctx, config, {kUpstreamFields, kUpstreamNotYet});
  if (!o.ok()) return;
  check_type_url(ctx, o, kUpstreamType);
  parse_common(ctx, o.get("common_tls_context"), out.common_tls_context);
  set_if(read_string(ctx, o.get("sni")), out.sni);
  set_if(read_uint(ctx, o.get("max_session_keys"), 0, 1u << 20), out.max_session_keys);
}

void parse_client_cert_options(Context& ctx, const Object& hcm, HttpOptions& http) {
  using F = ForwardClientCert;
  if (auto m = read_enum(ctx, hcm.get("forward_client_cert_details"), kForwardModes))
    http.forward_client_cert_details = *m == "FORWARD_ONLY"          ? F::forward_only
                                       : *m == "APPEND_FORWARD"      ? F::append_forward
                                       : *m == "SANITIZE_SET"        ? F::sanitize_set
                                       : *m == "ALWAYS_FORWARD_ONLY" ? F::always_forward_only
                                                                     : F::sanitize;
  Object d(ctx, hcm.get("set_current_client_cert_details"), {kCertDetailsFields});
  if (!d.ok()) return;
  auto& out = http.set_current_client_cert_details;
  set_if(read_bool(ctx, d.get("subject")), out.subject);
  set_if(read_bool(ctx, d.get("cert")), out.cert);
  set_if(read_bool(ctx, d.get("chain")), out.chain);
  set_if(read_bool(ctx, d.get("dns")), out.dns);
  set_if(read_bool(ctx, d.get("uri")), out.uri);
}

void parse_cluster_tls(Context& ctx, const Field& socket, ClusterOptions& cluster) {
  if (!socket) return;
  auto before = ctx.count();
  UpstreamTlsOptions tls;
  parse_upstream_tls(ctx, socket, tls);
  if (ctx.count() != before) return;
  auto canon = socket.canon.substr(0, socket.canon.size() - std::string_view(".transport_socket").size());
  check_cluster_tls(ctx, canon, tls);
  cluster.tls = std::move(tls);
}

void parse_upstream_http_protocol_options(Context& ctx, const Field& f, ClusterOptions& cluster) {
  Object o(ctx, f, {kUpstreamHttpFields, kUpstreamHttpNotYet});
  if (!o.ok()) return;
  bool auto_sni = false, auto_san = false;
  set_if(read_bool(ctx, o.get("auto_sni")), auto_sni);
  set_if(read_bool(ctx, o.get("auto_san_validation")), auto_san);
  if (auto_san && !auto_sni) ctx.problem(o.get("auto_san_validation"), "needs \"auto_sni\"");
  // Like Envoy, the options mean nothing to a plain TCP cluster.
  if (!cluster.tls) return;
  cluster.tls->auto_sni = auto_sni;
  cluster.tls->auto_san_validation = auto_san;
}

void check_listener_tls(Context& ctx, const std::string& listener_canon, const DownstreamTlsOptions& tls) {
  std::vector<ConfigProblem> problems;
  tls::check_downstream(tls, listener_canon + ".tls", problems);
  // Code-API paths back to Envoy's: chains[i] is filter_chains[i]'s transport socket.
  for (auto& p : problems) {
    for (std::size_t i = 0; i < tls.chains.size(); ++i) {
      auto from = listener_canon + ".tls.chains[" + std::to_string(i) + "]";
      auto chain = listener_canon + ".filter_chains[" + std::to_string(i) + "]";
      p.path = replace_prefix(p.path, from + ".server_names", chain + ".filter_chain_match.server_names");
      p.path = replace_prefix(p.path, from, chain + ".transport_socket.typed_config");
    }
    p.path = replace_prefix(p.path, listener_canon + ".tls.chains", listener_canon + ".filter_chains");
  }
  ctx.add_checked(problems);
}

void check_cluster_tls(Context& ctx, const std::string& cluster_canon, const UpstreamTlsOptions& tls) {
  std::vector<ConfigProblem> problems;
  tls::ClientTls::create(tls, cluster_canon + ".transport_socket.typed_config", problems);
  // auto_sni lives in the cluster's HttpProtocolOptions in Envoy.
  for (auto& p : problems)
    p.path = replace_prefix(p.path, cluster_canon + ".transport_socket.typed_config.auto_san_validation",
                            cluster_canon + ".typed_extension_protocol_options[\"envoy.extensions.upstreams.http.v3."
                                            "HttpProtocolOptions\"].upstream_http_protocol_options.auto_san_validation");
  ctx.add_checked(problems);
}

}  // namespace ferry::config::detail
