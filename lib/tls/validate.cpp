// Shape checks of the TLS options (no file is read here; files are read when the contexts
// are built, see context.cpp).
#include <ferry/tls.hpp>

namespace ferry {

namespace {

bool bad_server_name(const std::string& name) {
  if (name.empty()) return true;
  // Envoy accepts full names and "*." wildcards only; "*w.example.com" is invalid.
  auto star = name.find('*');
  if (star == std::string::npos) return false;
  return star != 0 || name.size() < 3 || name[1] != '.' || name.find('*', 1) != std::string::npos;
}

}  // namespace

void validate_downstream_tls(const DownstreamTlsOptions& tls, const std::string& path,
                             std::vector<ConfigProblem>& problems) {
  if (tls.chains.empty()) problems.push_back({path + ".chains", "a TLS listener needs at least one filter chain"});
  for (std::size_t i = 0; i < tls.chains.size(); ++i) {
    const auto& c = tls.chains[i];
    auto p = path + ".chains[" + std::to_string(i) + "]";
    for (std::size_t n = 0; n < c.server_names.size(); ++n)
      if (bad_server_name(c.server_names[n]))
        problems.push_back({p + ".server_names[" + std::to_string(n) + "]",
                            "\"" + c.server_names[n] + "\" is not a server name or a \"*.\" wildcard"});
    if (c.common_tls_context.tls_certificates.empty())
      problems.push_back({p + ".common_tls_context.tls_certificates", "a TLS listener needs a certificate"});
    if (c.common_tls_context.tls_certificates.size() > 1)
      problems.push_back({p + ".common_tls_context.tls_certificates",
                          "one certificate per filter chain is supported yet"});
  }
}

void validate_upstream_tls(const UpstreamTlsOptions& tls, const std::string& path,
                           std::vector<ConfigProblem>& problems) {
  if (tls.common_tls_context.tls_certificates.size() > 1)
    problems.push_back({path + ".common_tls_context.tls_certificates", "at most one client certificate"});
  if (tls.sni.size() > 255) problems.push_back({path + ".sni", "longer than 255 bytes"});
  if (tls.auto_san_validation && !tls.auto_sni)
    problems.push_back({path + ".auto_san_validation", "needs auto_sni"});
}

}  // namespace ferry
