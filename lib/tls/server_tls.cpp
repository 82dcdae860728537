#include "tls/server_tls.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/tls1.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstring>

#include "common/ascii.hpp"

namespace ferry::tls {

namespace {

constexpr auto kTicketRotation = std::chrono::hours(1);
constexpr std::size_t kAutomaticKeys = 3;  ///< the current key and two older ones
constexpr std::size_t kTicketKeyBytes = 80;

// The index of the generation pointer on the dispatch context (set once per SSL object
// through SSL_set_app_data, so the callbacks find it), and of the TicketKeys.
int ticket_keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// The first host_name of a server_name extension (RFC 6066 3), or empty.
std::string_view parse_sni(const unsigned char* p, std::size_t len) {
  if (len < 2) return {};
  std::size_t list = (std::size_t(p[0]) << 8) | p[1];
  if (list + 2 > len) return {};
  p += 2;
  for (std::size_t i = 0; i + 3 <= list;) {
    unsigned type = p[i];
    std::size_t n = (std::size_t(p[i + 1]) << 8) | p[i + 2];
    if (i + 3 + n > list) return {};
    if (type == TLSEXT_NAMETYPE_host_name) return {reinterpret_cast<const char*>(p + i + 3), n};
    i += 3 + n;
  }
  return {};
}

// SNI picks the filter chain before anything else of the handshake happens, so the chain's
// versions, ciphers and client certificate policy apply, not only its certificate.
int client_hello_cb(SSL* ssl, int* alert, void*) {
  auto* gen = static_cast<const ServerGeneration*>(SSL_get_app_data(ssl));
  const unsigned char* ext = nullptr;
  std::size_t len = 0;
  std::string_view sni;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) == 1) sni = parse_sni(ext, len);
  const auto* chain = gen ? gen->select(detail::to_lower(sni)) : nullptr;
  if (!chain) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  SSL_CTX* ctx = chain->ctx.get();
  if (SSL_get_SSL_CTX(ssl) != ctx) SSL_set_SSL_CTX(ssl, ctx);
  // SSL_set_SSL_CTX moves the certificate and session id context over; the rest is per SSL.
  SSL_set_verify(ssl, chain->verify_mode, SSL_CTX_get_verify_callback(ctx));
  SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
  SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
  SSL_set_security_level(ssl, SSL_CTX_get_security_level(ctx));
  SSL_set_cipher_list(ssl, chain->ciphers.c_str());
  SSL_set1_groups_list(ssl, chain->groups.c_str());
  return SSL_CLIENT_HELLO_SUCCESS;
}

int alpn_select_cb(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned inlen, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire->data()),
                            unsigned(wire->size()), in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN, as Envoy does
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int ticket_cb(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac, int enc) {
  // Tickets are sealed by the dispatch (session) context, whatever chain SNI picked.
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
  if (!keys) {
    auto* session_ctx = static_cast<const ServerGeneration*>(SSL_get_app_data(ssl))->dispatch.get();
    keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(session_ctx, ticket_keys_index()));
  }
  TicketKeys::Key key;
  bool current = true;
  if (enc) {
    key = keys->current();
    std::memcpy(key_name, key.name, 16);
    if (RAND_bytes(iv, 16) != 1) return -1;
  } else if (!keys->find(key_name, key, current)) {
    return 0;  // unknown key: full handshake
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac, sizeof key.hmac),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  int ok = enc ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv)
               : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv);
  if (ok != 1) return -1;
  return current ? 1 : 2;  // 2: accepted under an older key, issue a fresh ticket
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    wire += char(p.size());
    wire += p;
  }
  return wire;
}

std::string first_uri_san(X509* cert) {
  std::string out;
  if (!cert) return out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    out.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.ia5)), std::size_t(ASN1_STRING_length(n->d.ia5)));
    break;
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string join_sans(X509* cert, int type, const char* key) {
  std::string out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != type) continue;
    out += ';';
    out += key;
    out.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.ia5)), std::size_t(ASN1_STRING_length(n->d.ia5)));
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, std::size_t(n));
  BIO_free(bio);
  return pem;
}

// Envoy URL-encodes PEM in XFCC (everything but unreserved characters).
std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

// --- ticket keys ------------------------------------------------------------------------

TicketKeys::TicketKeys(std::vector<Key> configured)
    : keys_(std::move(configured)), automatic_(keys_.empty()), rotated_at_(std::chrono::steady_clock::now()) {
  if (automatic_) {
    Key k;
    RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof k);
    keys_.push_back(k);
  }
}

void TicketKeys::rotate_if_due() {
  if (!automatic_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - rotated_at_ < kTicketRotation) return;
  rotated_at_ = now;
  Key k;
  RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof k);
  keys_.insert(keys_.begin(), k);
  if (keys_.size() > kAutomaticKeys) keys_.pop_back();
}

TicketKeys::Key TicketKeys::current() {
  std::lock_guard lock(mutex_);
  rotate_if_due();
  return keys_.front();
}

bool TicketKeys::find(const unsigned char* name, Key& out, bool& is_current) {
  std::lock_guard lock(mutex_);
  rotate_if_due();
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (std::memcmp(keys_[i].name, name, 16) != 0) continue;
    out = keys_[i];
    is_current = i == 0;
    return true;
  }
  return false;
}

// --- generation -------------------------------------------------------------------------

const ServerGeneration::Chain* ServerGeneration::select(std::string_view sni) const {
  if (!sni.empty()) {
    if (auto it = exact.find(std::string(sni)); it != exact.end()) return &chains[it->second];
    // The longest wildcard first: "*.b.example.com", then "*.example.com", then "*.com".
    for (auto dot = sni.find('.'); dot != std::string_view::npos; dot = sni.find('.', dot + 1))
      if (auto it = wildcard.find(std::string(sni.substr(dot))); it != wildcard.end()) return &chains[it->second];
  }
  return default_chain >= 0 ? &chains[std::size_t(default_chain)] : nullptr;
}

std::shared_ptr<const ServerGeneration> ServerTls::build(std::vector<ConfigProblem>& problems) const {
  auto gen = std::make_shared<ServerGeneration>();
  auto before = problems.size();
  for (std::size_t i = 0; i < options_.chains.size(); ++i) {
    const auto& c = options_.chains[i];
    auto path = path_ + "[" + std::to_string(i) + "]";
    const auto& v = c.common_tls_context.validation_context;
    int mode = SSL_VERIFY_PEER | (c.require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    if (c.require_client_certificate && v.trusted_ca.empty())
      problems.push_back({path + ".require_client_certificate",
                          "needs common_tls_context.validation_context.trusted_ca"});
    auto ctx = build_context(c.common_tls_context, true, mode, path + ".common_tls_context", problems);
    if (!ctx) continue;
    ServerGeneration::Chain chain;
    chain.verify_mode = v.trusted_ca.empty() ? SSL_VERIFY_NONE : mode;
    const auto& params = c.common_tls_context.tls_params;
    // Read back what build_context applied, for the per-SSL copy in the ClientHello callback.
    auto* list = SSL_CTX_get_ciphers(ctx.get());
    for (int k = 0; k < sk_SSL_CIPHER_num(list); ++k) {
      if (k) chain.ciphers += ':';
      chain.ciphers += SSL_CIPHER_get_name(sk_SSL_CIPHER_value(list, k));
    }
    for (const auto& g : params.ecdh_curves) chain.groups += (chain.groups.empty() ? "" : ":") + g;
    if (chain.groups.empty()) chain.groups = "X25519:P-256";
    chain.alpn_wire = alpn_wire(c.common_tls_context.alpn_protocols);
    chain.by_uri = first_uri_san(SSL_CTX_get0_certificate(ctx.get()));
    // Sessions of one chain never resume on another (a different certificate or policy).
    std::string sid = "ferry-chain-" + std::to_string(i);
    SSL_CTX_set_session_id_context(ctx.get(), reinterpret_cast<const unsigned char*>(sid.data()), unsigned(sid.size()));
    SSL_CTX_set_timeout(ctx.get(), long(std::chrono::duration_cast<std::chrono::seconds>(c.session_timeout).count()));
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);  // tickets only
    if (c.disable_stateless_session_resumption) SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    chain.ctx = std::move(ctx);
    gen->chains.push_back(std::move(chain));
    std::size_t index = gen->chains.size() - 1;
    if (c.server_names.empty()) {
      if (gen->default_chain < 0) gen->default_chain = int(index);
      else problems.push_back({path + ".server_names", "only one filter chain may have no server_names"});
    }
    for (std::size_t n = 0; n < c.server_names.size(); ++n) {
      auto name = detail::to_lower(c.server_names[n]);
      bool wild = name.starts_with("*.");
      auto& map = wild ? gen->wildcard : gen->exact;
      if (!map.emplace(wild ? name.substr(1) : name, index).second)
        problems.push_back({path + ".server_names[" + std::to_string(n) + "]",
                            "\"" + c.server_names[n] + "\" is already used by another filter chain"});
    }
  }
  if (problems.size() != before) return nullptr;
  // ALPN callbacks point into the chains, which no longer move.
  for (auto& chain : gen->chains)
    if (!chain.alpn_wire.empty()) SSL_CTX_set_alpn_select_cb(chain.ctx.get(), alpn_select_cb, &chain.alpn_wire);
  // The dispatch context: the default chain's (or first chain's) settings, plus the
  // ClientHello callback and the ticket keys. Every SSL starts from it.
  std::size_t first = gen->default_chain >= 0 ? std::size_t(gen->default_chain) : 0;
  auto dispatch_path = path_ + "[" + std::to_string(first) + "].common_tls_context";
  gen->dispatch = build_context(options_.chains[first].common_tls_context, true, SSL_VERIFY_PEER, dispatch_path, problems);
  if (!gen->dispatch) return nullptr;
  SSL_CTX_set_client_hello_cb(gen->dispatch.get(), client_hello_cb, nullptr);
  SSL_CTX_set_ex_data(gen->dispatch.get(), ticket_keys_index(), keys_.get());
  SSL_CTX_set_tlsext_ticket_key_evp_cb(gen->dispatch.get(), ticket_cb);
  SSL_CTX_set_session_cache_mode(gen->dispatch.get(), SSL_SESS_CACHE_OFF);
  const auto& first_chain = options_.chains[first];
  SSL_CTX_set_timeout(gen->dispatch.get(),
                      long(std::chrono::duration_cast<std::chrono::seconds>(first_chain.session_timeout).count()));
  if (first_chain.disable_stateless_session_resumption) SSL_CTX_set_options(gen->dispatch.get(), SSL_OP_NO_TICKET);
  return gen;
}

// --- ServerTls --------------------------------------------------------------------------

ServerTls::ServerTls(DownstreamTlsOptions options, std::string path, const detail::Logger& log,
                     std::shared_ptr<TicketKeys> keys)
    : options_(std::move(options)), path_(std::move(path)), log_(log), keys_(std::move(keys)) {
  for (const auto& c : options_.chains) collect_files(c.common_tls_context, files_);
}

std::shared_ptr<ServerTls> ServerTls::create(const DownstreamTlsOptions& options, const std::string& path,
                                             const detail::Logger& log, std::vector<ConfigProblem>& problems) {
  auto before = problems.size();
  validate_downstream_tls(options, path, problems);
  if (problems.size() != before) return nullptr;
  // Ticket keys come from the default (or first) chain.
  std::size_t first = 0;
  for (std::size_t i = 0; i < options.chains.size(); ++i)
    if (options.chains[i].server_names.empty()) {
      first = i;
      break;
    }
  std::vector<TicketKeys::Key> keys;
  const auto& sources = options.chains[first].session_ticket_keys;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    auto kpath = path + ".chains[" + std::to_string(first) + "].session_ticket_keys.keys[" + std::to_string(i) + "]";
    auto bytes = read_source(sources[i], kpath, problems);
    if (!bytes) continue;
    if (bytes->size() != kTicketKeyBytes) {
      problems.push_back({kpath, "a session ticket key must be exactly 80 bytes, not " + std::to_string(bytes->size())});
      continue;
    }
    TicketKeys::Key k;
    std::memcpy(&k, bytes->data(), kTicketKeyBytes);
    keys.push_back(k);
  }
  if (problems.size() != before) return nullptr;
  std::shared_ptr<ServerTls> tls(new ServerTls(options, path + ".chains", log, std::make_shared<TicketKeys>(std::move(keys))));
  auto gen = tls->build(problems);
  if (!gen) return nullptr;
  tls->current_ = std::move(gen);
  return tls;
}

ServerTls::~ServerTls() {
  {
    std::lock_guard lock(watch_mutex_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

std::unique_ptr<Connection> ServerTls::accept(int fd) {
  std::shared_ptr<const ServerGeneration> gen;
  {
    std::lock_guard lock(mutex_);
    gen = current_;
  }
  SSL* ssl = SSL_new(gen->dispatch.get());
  if (!ssl) return nullptr;
  auto conn = std::make_unique<Connection>(ssl);
  if (!attach_socket(ssl, fd)) return nullptr;
  SSL_set_accept_state(ssl);
  SSL_set_app_data(ssl, const_cast<ServerGeneration*>(gen.get()));
  conn->generation = std::move(gen);
  return conn;
}

std::vector<ConfigProblem> ServerTls::reload() {
  std::vector<ConfigProblem> problems;
  auto gen = build(problems);
  if (!gen) {
    ++reload_failures_;
    for (const auto& p : problems)
      FERRY_LOG(log_, warn, "TLS reload failed, the previous certificates keep serving: " << p.path << ": " << p.message);
    return problems;
  }
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(gen);
  }
  ++reloads_;
  FERRY_LOG(log_, info, "TLS certificates reloaded (" << path_ << ")");
  return problems;
}

std::vector<std::string> ServerTls::stamps() const {
  std::vector<std::string> out;
  for (const auto& f : files_) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      out.emplace_back("missing");
      continue;
    }
    out.push_back(std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                  std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
  }
  return out;
}

void ServerTls::start_watching() {
  if (files_.empty() || options_.watch_interval.count() <= 0 || watcher_.joinable()) return;
  watcher_ = std::thread([this] { watch_loop(); });
}

void ServerTls::watch_loop() {
  auto seen = stamps();
  std::unique_lock lock(watch_mutex_);
  while (!watch_cv_.wait_for(lock, options_.watch_interval, [this] { return stopping_; })) {
    // Stamps are taken before the files are read: a write that lands during a reload
    // changes them again, so the next round reloads once more.
    auto now = stamps();
    if (now == seen) continue;
    seen = std::move(now);
    lock.unlock();
    reload();
    lock.lock();
  }
}

std::string ServerTls::client_cert_element(const Connection& c, const ClientCertDetails& d) const {
  X509* peer = SSL_get0_peer_certificate(c.ssl());
  if (!peer || SSL_get_verify_result(c.ssl()) != X509_V_OK) return {};
  std::string out;
  for (const auto& chain : c.generation->chains)
    if (chain.ctx.get() == SSL_get_SSL_CTX(c.ssl()) && !chain.by_uri.empty()) out = "By=" + chain.by_uri + ";";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  X509_digest(peer, EVP_sha256(), md, &mdlen);
  static constexpr char hex[] = "0123456789abcdef";
  out += "Hash=";
  for (unsigned i = 0; i < mdlen; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  if (d.cert) out += ";Cert=\"" + url_encode(pem_of(peer)) + "\"";
  if (d.chain) {
    std::string pem;
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(c.ssl());
    for (int i = 0; chain && i < sk_X509_num(chain); ++i) pem += pem_of(sk_X509_value(chain, i));
    out += ";Chain=\"" + url_encode(pem) + "\"";
  }
  if (d.subject) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    out += ";Subject=\"" + std::string(data, std::size_t(n)) + "\"";
    BIO_free(bio);
  }
  if (d.uri) out += join_sans(peer, GEN_URI, "URI=");
  if (d.dns) out += join_sans(peer, GEN_DNS, "DNS=");
  return out;
}

}  // namespace ferry::tls

namespace ferry::tls {
void check_downstream(const DownstreamTlsOptions& options, const std::string& path,
                      std::vector<ConfigProblem>& problems) {
  detail::Logger quiet(LogLevel::off, {});
  ServerTls::create(options, path, quiet, problems);
}
}  // namespace ferry::tls
