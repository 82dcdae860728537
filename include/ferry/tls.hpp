// TLS options: termination on a listener (Envoy's DownstreamTlsContext on filter chains
// chosen by SNI) and origination to a cluster (UpstreamTlsContext). Field names and
// defaults follow Envoy v3; all cryptography is OpenSSL 3's.
//
// Certificates, keys, CAs and CRLs are read when the listener or cluster is added (on the
// calling thread), never on a worker; a missing or bad file is a ConfigError naming it.
// Listener certificates given as files are re-read when they change (see
// DownstreamTlsOptions::watch_interval) or when the host calls Server::reload_tls(); a bad
// new certificate leaves the old one serving and is logged.
//
// Thread safety: plain values; build on one thread, then hand to the Server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ferry/types.hpp>

namespace ferry {

/// Envoy's config.core.v3.DataSource: PEM text from a file or inline (set exactly one).
struct DataSource {
  std::string filename{};
  std::string inline_string{};
  bool empty() const noexcept { return filename.empty() && inline_string.empty(); }
};

/// TlsParameters.TlsProtocol. `auto_` means the side's default: TLS 1.2 minimum and
/// TLS 1.3 maximum, for servers and clients alike.
enum class TlsVersion : std::uint8_t { auto_, v1_0, v1_1, v1_2, v1_3 };

struct TlsParams {
  TlsVersion tls_minimum_protocol_version = TlsVersion::auto_;
  TlsVersion tls_maximum_protocol_version = TlsVersion::auto_;
  /// OpenSSL cipher names for TLS <= 1.2 (e.g. "ECDHE-RSA-AES128-GCM-SHA256"); empty =
  /// Envoy's default list. TLS 1.3 suites are OpenSSL's defaults.
  std::vector<std::string> cipher_suites{};
  /// Groups ("X25519", "P-256"); empty = X25519 and P-256, as Envoy.
  std::vector<std::string> ecdh_curves{};
};

/// One certificate chain with its private key (TlsCertificate).
struct TlsCertificate {
  DataSource certificate_chain{};
  DataSource private_key{};
};

/// A subject alternative name matcher (SubjectAltNameMatcher with a StringMatcher).
struct SanMatcher {
  enum class Type : std::uint8_t { dns, email, uri, ip_address };
  enum class Match : std::uint8_t { exact, prefix, suffix, contains };
  Type san_type = Type::dns;
  Match match = Match::exact;
  std::string value{};
  bool ignore_case = false;
};

/// CertificateValidationContext: how the peer's certificate is checked.
struct CertificateValidation {
  DataSource trusted_ca{};  ///< PEM CA bundle; empty = no chain verification
  /// The peer must present a SAN matching one of these (any); empty = no SAN check.
  std::vector<SanMatcher> match_typed_subject_alt_names{};
  DataSource crl{};  ///< PEM CRLs; a revoked peer certificate fails the handshake
};

/// CommonTlsContext.
struct CommonTlsOptions {
  std::vector<TlsCertificate> tls_certificates{};
  TlsParams tls_params{};
  CertificateValidation validation_context{};
  /// ALPN protocols offered (client) or accepted in preference order (server).
  std::vector<std::string> alpn_protocols{};
};

/// One TLS filter chain of a listener: its filter_chain_match.server_names and its
/// DownstreamTlsContext. The chain for a connection is chosen by the ClientHello's SNI:
/// an exact name beats the longest matching wildcard ("*.example.com" matches
/// "a.example.com", not "example.com"), and a chain without server_names is the default.
/// A connection that matches no chain is closed (Envoy's NR).
struct TlsServerChain {
  std::vector<std::string> server_names{};
  CommonTlsOptions common_tls_context{};
  bool require_client_certificate = false;
  /// session_ticket_keys: 80-byte keys (PEM-less raw files or inline bytes); the first
  /// encrypts new tickets, all decrypt. Empty = random keys rotated hourly (tickets stay
  /// accepted for two more hours). Only the default (or first) chain's keys are used:
  /// tickets are issued per listener.
  std::vector<DataSource> session_ticket_keys{};
  bool disable_stateless_session_resumption = false;
  Duration session_timeout{std::chrono::hours(2)};  ///< ticket/session lifetime
};

/// forward_client_cert_details (HttpConnectionManager, so in HttpOptions): what happens to
/// x-forwarded-client-cert (XFCC).
enum class ForwardClientCert : std::uint8_t {
  sanitize,             ///< remove it (default)
  forward_only,         ///< pass it on unchanged if the client used mTLS, else remove
  append_forward,       ///< mTLS: append this client's element; else remove
  sanitize_set,         ///< mTLS: replace it with this client's element; else remove
  always_forward_only,  ///< pass it on unchanged
};

/// set_current_client_cert_details: which parts of the client certificate go into the
/// element ferry adds (Hash is always there; By when ferry's certificate has a URI SAN).
struct ClientCertDetails {
  bool subject = false;
  bool cert = false;   ///< the URL-encoded PEM
  bool chain = false;  ///< the URL-encoded PEM chain
  bool dns = false;
  bool uri = false;
};

/// TLS termination for a listener (its filter chains with transport_socket tls).
struct DownstreamTlsOptions {
  std::vector<TlsServerChain> chains{};
  /// transport_socket_connect_timeout: the handshake must finish within this. Envoy has no
  /// limit by default; ferry uses 10 s so that half-open handshakes cannot pile up. 0 = off.
  Duration handshake_timeout{std::chrono::seconds(10)};
  /// How often certificate, key, CA and CRL files are checked for changes (off the
  /// workers, on a thread of the listener); 0 = only Server::reload_tls().
  Duration watch_interval{std::chrono::seconds(1)};
};

/// TLS origination for a cluster (UpstreamTlsContext).
struct UpstreamTlsOptions {
  /// Client certificate (mTLS to the upstream), validation (trusted_ca + SAN matchers;
  /// without trusted_ca the upstream is not verified, as in Envoy), versions, ALPN.
  CommonTlsOptions common_tls_context{};
  std::string sni{};
  /// Envoy's upstream_http_protocol_options.auto_sni: SNI from the request's Host (without
  /// port) instead of `sni`; auto_san_validation also checks the certificate against it.
  bool auto_sni = false;
  bool auto_san_validation = false;
  /// Sessions kept for resumption, per host per worker (max_session_keys); 0 = none.
  std::uint32_t max_session_keys = 1;
};

/// Checks TLS options without reading files; problems under `path` (code-API paths).
void validate_downstream_tls(const DownstreamTlsOptions& tls, const std::string& path,
                             std::vector<ConfigProblem>& problems);
void validate_upstream_tls(const UpstreamTlsOptions& tls, const std::string& path,
                           std::vector<ConfigProblem>& problems);

}  // namespace ferry
