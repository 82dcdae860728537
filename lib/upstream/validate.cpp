// validate_cluster: the rules a ClusterOptions must follow before a Server takes it.
#include "upstream/validate.hpp"

#include <arpa/inet.h>

#include "upstream/circuit_breaker.hpp"

namespace ferry::upstream {

namespace {

std::string join(const std::string& prefix, std::string_view rest) {
  return prefix.empty() ? std::string(rest) : prefix + "." + std::string(rest);
}

// Field locations of one path style.
struct FieldNames {
  std::string_view address, port, weight, idle_timeout, endpoints;
};

constexpr FieldNames kCodeNames{"address", "port", "weight", "idle_timeout", "endpoints"};
constexpr FieldNames kEnvoyNames{
    "endpoint.address.socket_address.address", "endpoint.address.socket_address.port_value",
    "load_balancing_weight",
    "typed_extension_protocol_options[\"envoy.extensions.upstreams.http.v3.HttpProtocolOptions\"]"
    ".common_http_protocol_options.idle_timeout",
    "load_assignment.endpoints"};

// STRICT_DNS / LOGICAL_DNS: names to resolve, and how (the loader checks the Envoy fields
// as it reads them, so these paths are the code API's).
void check_dns(const ClusterOptions& c, const std::string& path, const FieldNames& names,
               std::vector<ConfigProblem>& problems) {
  if (c.type == ClusterType::logical_dns && c.endpoints.size() != 1)
    problems.push_back({join(path, names.endpoints), "a LOGICAL_DNS cluster needs exactly one endpoint (it has " +
                                                         std::to_string(c.endpoints.size()) + ")"});
  if (c.dns.refresh_rate.count() <= 0)
    problems.push_back({join(path, "dns.refresh_rate"), "must be greater than 0"});
  for (std::size_t i = 0; i < c.dns.resolvers.size(); ++i) {
    const auto& r = c.dns.resolvers[i];
    auto at = join(path, "dns.resolvers[" + std::to_string(i) + "]");
    if (!is_ip_literal(r.address))
      problems.push_back({at + ".address", "\"" + r.address + "\" is not an IPv4 or IPv6 address"});
    if (r.port == 0) problems.push_back({at + ".port", "the port must be between 1 and 65535"});
  }
}

void check_endpoint(const Endpoint& e, const std::string& path, const FieldNames& names, bool dns,
                    std::vector<ConfigProblem>& problems) {
  if (dns) {
    // A name (or an IP literal) that DNS discovery resolves.
    if (e.address.empty() || e.address.find_first_of(" \t/") != std::string::npos)
      problems.push_back({join(path, names.address), "\"" + e.address + "\" is not a host name"});
  } else if (!is_ip_literal(e.address))
    problems.push_back({join(path, names.address),
                        "\"" + e.address +
                            "\" is not an IPv4 or IPv6 address (names need type STRICT_DNS or LOGICAL_DNS)"});
  if (e.port == 0)
    problems.push_back({join(path, names.port), "the port must be between 1 and 65535"});
  if (e.weight < 1)
    problems.push_back({join(path, names.weight), "a weight must be at least 1"});
}

}  // namespace

bool is_ip_literal(std::string_view address) {
  if (address.empty() || address.size() >= INET6_ADDRSTRLEN) return false;
  std::string text(address);  // inet_pton wants a terminated string
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

void validate_cluster(const ClusterOptions& cluster, const std::string& path_prefix,
                      const std::vector<std::string>* envoy_endpoint_paths,
                      std::vector<ConfigProblem>& problems) {
  const auto& names = envoy_endpoint_paths ? kEnvoyNames : kCodeNames;
  if (cluster.name.empty())
    problems.push_back({join(path_prefix, "name"), "a cluster needs a name"});
  // Envoy requires connect_timeout > 0: a connect attempt without a bound would hang.
  if (cluster.connect_timeout.count() <= 0)
    problems.push_back({join(path_prefix, "connect_timeout"), "must be greater than 0s"});
  if (cluster.idle_timeout.count() < 0)
    problems.push_back({join(path_prefix, names.idle_timeout), "must not be negative"});
  for (std::size_t i = 0; i < cluster.endpoints.size(); ++i) {
    std::string where = envoy_endpoint_paths && i < envoy_endpoint_paths->size()
                            ? (*envoy_endpoint_paths)[i]
                            : "endpoints[" + std::to_string(i) + "]";
    check_endpoint(cluster.endpoints[i], join(path_prefix, where), names, cluster.type != ClusterType::static_,
                   problems);
  }
  if (cluster.type != ClusterType::static_) check_dns(cluster, path_prefix, names, problems);
  validate_circuit_breakers(cluster.circuit_breakers, join(path_prefix, "circuit_breakers"), problems);
}

}  // namespace ferry::upstream

namespace ferry {

void validate_cluster(const ClusterOptions& cluster, const std::string& path_prefix,
                      std::vector<ConfigProblem>& problems) {
  upstream::validate_cluster(cluster, path_prefix, nullptr, problems);
}

}  // namespace ferry
