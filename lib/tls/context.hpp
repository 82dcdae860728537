// Building OpenSSL contexts from ferry's TLS options: reading PEM sources, versions,
// ciphers, groups, certificates, CA/CRL stores and SAN matchers. Everything here runs on
// the thread that adds a listener or cluster, or on a listener's reload thread; never on
// a worker.
//
// Thread safety: the functions are reentrant; a built SSL_CTX is immutable afterwards and
// shared by the workers (OpenSSL allows SSL_new on one context from many threads).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ferry/tls.hpp>

namespace ferry::tls {

struct CtxFree {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

using Problems = std::vector<ConfigProblem>;

/// The OpenSSL error queue of this thread as one line ("a; b"), emptied.
std::string take_errors();

/// A DataSource's bytes; a problem at `path` (".filename" appended for files) when a file
/// cannot be read or the source is empty.
std::optional<std::string> read_source(const DataSource& src, const std::string& path, Problems& problems);

/// What the verify callback needs, owned by the SSL_CTX (freed with it).
struct VerifyExtra {
  std::vector<SanMatcher> sans;
};

/// True when `cert` has a SAN matching one of `matchers` (or the list is empty).
bool san_matches(X509* cert, const std::vector<SanMatcher>& matchers);

/// A context for one side with params, certificates and validation applied (problems
/// under `path`, which names the CommonTlsContext). Null when something failed.
/// `client_verify_mode` is the SSL_VERIFY_* mode used when a trusted CA is configured.
CtxPtr build_context(const CommonTlsOptions& common, bool server, int verify_mode,
                     const std::string& path, Problems& problems);

/// Every file the options name (for change detection).
void collect_files(const CommonTlsOptions& common, std::vector<std::string>& out);

}  // namespace ferry::tls
