#include "stats/tags.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <memory>

namespace ferry::stats {

namespace {

struct Extractor {
  const char* tag;
  const char* pattern;
};

// Envoy's defaults in Envoy's order (the ones for filters ferry does not have are kept, so
// that host stats named like Envoy's get the same labels).
constexpr Extractor kExtractors[] = {
    {"envoy.response_code", R"(_rq(_(\d{3}))$)"},
    {"envoy.response_code_class", R"(_rq_(\d)xx$)"},
    {"envoy.http_user_agent", R"(^http\..*?\.user_agent\.((.*?)\.)\w+?$)"},
    {"envoy.virtual_cluster_name", R"(^vhost\..*?\.vcluster\.((.*?)\.)\w+?$)"},
    {"envoy.fault_downstream_cluster", R"(^http\..*?\.fault\.((.*?)\.)\w+?$)"},
    {"envoy.ssl_cipher", R"(^listener\..*?\.ssl\.cipher(\.(.*?))$)"},
    {"envoy.ssl_cipher_suite", R"(^cluster\..*?\.ssl\.ciphers(\.(.*?))$)"},
    {"envoy.tcp_prefix", R"(^tcp\.((.*?)\.)\w+?$)"},
    {"envoy.udp_prefix", R"(^udp\.((.*?)\.)\w+?$)"},
    {"envoy.ratelimit_prefix", R"(^ratelimit\.((.*?)\.)\w+?$)"},
    {"envoy.cluster_name", R"(^cluster\.(([^\.]+)\.).*)"},
    {"envoy.http_conn_manager_prefix", R"(^listener\..*?\.http\.((.*?)\.))"},
    {"envoy.http_conn_manager_prefix", R"(^http\.((.*?)\.))"},
    {"envoy.listener_address", R"(^listener\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.))"},
    {"envoy.virtual_host", R"(^vhost\.((.*?)\.))"},
    {"envoy.rds_route_config", R"(^http\..*?\.rds\.((.*?)\.)\w+?$)"},
    {"envoy.worker_id", R"(^listener_manager\.((worker_\d+)\.))"},
};

struct Compiled {
  const char* tag;
  std::unique_ptr<RE2> re;
};

const std::vector<Compiled>& compiled() {
  // Immutable after construction (RE2 objects are safe to share between threads).
  static const std::vector<Compiled> all = [] {
    std::vector<Compiled> v;
    for (const auto& e : kExtractors) v.push_back({e.tag, std::make_unique<RE2>(e.pattern)});
    return v;
  }();
  return all;
}

}  // namespace

TaggedName extract_tags(std::string_view name) {
  TaggedName out;
  std::vector<std::pair<std::size_t, std::size_t>> cuts;  // [begin, end) in `name`
  re2::StringPiece text(name.data(), name.size());
  for (const auto& x : compiled()) {
    re2::StringPiece groups[3];
    int n = std::min(3, x.re->NumberOfCapturingGroups() + 1);
    if (!x.re->Match(text, 0, text.size(), RE2::UNANCHORED, groups, n)) continue;
    const auto& remove = groups[1];
    const auto& value = n > 2 && groups[2].data() ? groups[2] : groups[1];
    if (!remove.data()) continue;
    auto begin = std::size_t(remove.data() - name.data());
    // Two extractors may match the same part (Envoy's two http prefix forms); the first wins.
    bool taken = std::any_of(cuts.begin(), cuts.end(), [&](const auto& c) {
      return begin < c.second && c.first < begin + remove.size();
    });
    if (taken) continue;
    cuts.emplace_back(begin, begin + remove.size());
    out.tags.emplace_back(x.tag, std::string(value.data(), value.size()));
  }
  std::sort(cuts.begin(), cuts.end());
  std::size_t at = 0;
  for (const auto& [b, e] : cuts) {
    out.name.append(name.substr(at, b - at));
    at = e;
  }
  out.name.append(name.substr(at));
  return out;
}

namespace {
std::string sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return out;
}
}  // namespace

std::string prometheus_name(std::string_view tag_extracted_name) { return "envoy_" + sanitize(tag_extracted_name); }

std::string prometheus_label(std::string_view tag_name) {
  auto s = sanitize(tag_name);
  if (!s.empty() && s[0] >= '0' && s[0] <= '9') s.insert(s.begin(), '_');
  return s;
}

std::string prometheus_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace ferry::stats
