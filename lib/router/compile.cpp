#include "router/compile.hpp"
#include "common/ascii.hpp"
#include "router/hash_policy.hpp"
#include "router/retry.hpp"

#include <re2/re2.h>

namespace ferry::router {

namespace {

using detail::lower;
using detail::to_lower;



// Validation already checked regexes; a failure here is reported all the same.
std::shared_ptr<const re2::RE2> compile_regex(const std::string& pattern, const std::string& path,
                                              std::vector<ConfigProblem>& problems) {
  auto re = std::make_shared<re2::RE2>(pattern, re2::RE2::Quiet);
  if (re->ok()) return re;
  problems.push_back({path, "invalid regex: " + re->error()});
  return nullptr;
}

bool compile_rewrite(const std::string& prefix, const std::optional<RegexRewrite>& regex, const std::string& path,
                     PathRewrite& out, std::vector<ConfigProblem>& problems) {
  out.prefix = prefix;
  out.prefix_set = !prefix.empty();
  if (!regex) return true;
  out.regex = compile_regex(regex->pattern, path + ".regex_rewrite.pattern", problems);
  out.substitution = regex->substitution;
  return out.regex != nullptr;
}

bool compile_match(const RouteOptions& in, const std::string& path, CompiledRoute& out,
                   std::vector<ConfigProblem>& problems) {
  out.kind = in.match.kind;
  out.case_sensitive = in.match.case_sensitive || in.match.kind == PathMatch::Kind::safe_regex;
  out.value = out.case_sensitive ? in.match.value : to_lower(in.match.value);
  if (out.kind == PathMatch::Kind::safe_regex) {
    out.regex = compile_regex(in.match.value, path + ".match.safe_regex", problems);
    if (!out.regex) return false;
  }
  std::string error;
  for (std::size_t i = 0; i < in.headers.size(); ++i) {
    auto m = HeaderMatch::compile(in.headers[i], error);
    if (!m) problems.push_back({path + ".headers[" + std::to_string(i) + "]", error});
    else out.headers.push_back(std::move(*m));
  }
  for (std::size_t i = 0; i < in.query_parameters.size(); ++i) {
    auto m = QueryMatch::compile(in.query_parameters[i], error);
    if (!m) problems.push_back({path + ".query_parameters[" + std::to_string(i) + "]", error});
    else out.query_parameters.push_back(std::move(*m));
  }
  return out.headers.size() == in.headers.size() && out.query_parameters.size() == in.query_parameters.size();
}

bool compile_redirect(const RedirectAction& in, const std::string& path, CompiledRoute& out,
                      std::vector<ConfigProblem>& problems) {
  auto r = std::make_shared<CompiledRedirect>();
  r->scheme = in.https_redirect ? "https" : to_lower(in.scheme_redirect);
  r->host = in.host_redirect;
  if (in.port_redirect != 0) r->port = ":" + std::to_string(in.port_redirect);
  r->path = in.path_redirect;
  r->path_set = !in.path_redirect.empty();
  r->path_has_query = in.path_redirect.find('?') != std::string::npos;
  r->status = in.response_code;
  r->strip_query = in.strip_query;
  if (!compile_rewrite(in.prefix_rewrite, in.regex_rewrite, path + ".redirect", r->rewrite, problems)) return false;
  out.action = CompiledRoute::Action::redirect;
  out.redirect = std::move(r);
  return true;
}

bool resolve_targets(const RouteAction& a, const std::unordered_map<std::string, std::uint32_t>& clusters,
                     const std::string& path, CompiledRoute& out, std::vector<ConfigProblem>& problems) {
  auto resolve = [&](const std::string& name, const std::string& where, std::uint32_t weight) {
    auto it = clusters.find(name);
    if (it == clusters.end()) {
      problems.push_back({where, "unknown cluster \"" + name + "\""});
      return false;
    }
    out.targets.push_back({it->second, weight});
    out.total_weight += weight;
    return true;
  };
  bool ok = true;
  for (std::size_t i = 0; i < a.request_mirror_policies.size(); ++i) {
    const auto& m = a.request_mirror_policies[i];
    auto it = clusters.find(m.cluster);
    if (it == clusters.end()) {
      problems.push_back({path + ".action.request_mirror_policies[" + std::to_string(i) + "].cluster",
                          "unknown cluster \"" + m.cluster + "\""});
      ok = false;
      continue;
    }
    out.mirrors.push_back({it->second, m.per_million, !m.disable_shadow_host_suffix_append});
  }
  if (!a.cluster_header.empty()) {
    out.cluster_header = to_lower(a.cluster_header);
    return ok;
  }
  if (a.weighted_clusters.empty()) return resolve(a.cluster, path + ".action.cluster", 1) && ok;
  for (std::size_t i = 0; i < a.weighted_clusters.size(); ++i) {
    const auto& wc = a.weighted_clusters[i];
    if (resolve(wc.name, path + ".action.weighted_clusters[" + std::to_string(i) + "].name", wc.weight))
      out.targets.back().mutations = compile_mutations(wc.header_mutations);
    else
      ok = false;
  }
  return ok;
}

bool compile_forward(const RouteAction& a, const std::unordered_map<std::string, std::uint32_t>& clusters,
                     const std::string& path, CompiledRoute& out, std::vector<ConfigProblem>& problems) {
  out.action = CompiledRoute::Action::forward;
  out.host_rewrite_literal = a.host_rewrite_literal;
  out.host_rewrite_header = to_lower(a.host_rewrite_header);
  out.auto_host_rewrite = a.auto_host_rewrite;
  bool ok = compile_rewrite(a.prefix_rewrite, a.regex_rewrite, path + ".action", out.rewrite, problems);
  if (!a.hash_policy.empty()) out.hash_policy = std::make_shared<const CompiledHashPolicy>(a.hash_policy);
  if (a.retry_policy) {
    auto before = problems.size();
    out.retry = compile_retry(*a.retry_policy, path + ".action.retry_policy", problems);
    ok = ok && problems.size() == before;
  }
  return resolve_targets(a, clusters, path, out, problems) && ok;
}

}  // namespace

bool compile_route(const RouteOptions& in, const std::unordered_map<std::string, std::uint32_t>& clusters,
                   const std::string& path, CompiledRoute& out, std::vector<ConfigProblem>& problems) {
  out.name = in.name;
  out.timeout = in.action.timeout;
  out.idle_timeout = in.action.idle_timeout;
  out.max_stream_duration = in.action.max_stream_duration;
  out.upgrade_configs = in.action.upgrade_configs;
  out.priority = in.action.priority;
  bool ok = compile_match(in, path, out, problems);
  if (in.redirect) return compile_redirect(*in.redirect, path, out, problems) && ok;
  if (in.direct_response) {
    out.action = CompiledRoute::Action::direct_response;
    out.direct_status = in.direct_response->status;
    out.direct_body = in.direct_response->body;
    return ok;
  }
  ok = compile_forward(in.action, clusters, path, out, problems) && ok;
  bool target_edits = false;
  for (const auto& t : out.targets) target_edits = target_edits || (t.mutations && !t.mutations->request.empty());
  out.edits_request = out.rewrite.any() || !out.host_rewrite_literal.empty() || !out.host_rewrite_header.empty() ||
                      target_edits;
  return ok;
}

std::shared_ptr<const LevelMutations> compile_mutations(const HeaderMutations& m) {
  if (m.empty()) return nullptr;
  auto level = std::make_shared<LevelMutations>();
  // Values were checked by validate_route_config; nothing can fail here.
  std::string error;
  std::size_t index = 0;
  level->request.compile(m.request_headers_to_add, m.request_headers_to_remove, error, index);
  level->response.compile(m.response_headers_to_add, m.response_headers_to_remove, error, index);
  return level;
}

void add_mutation_level(CompiledRoute& route, std::shared_ptr<const LevelMutations> level) {
  if (!level) return;
  if (!level->request.empty()) route.request_mutations.push_back(&level->request);
  if (!level->response.empty()) route.response_mutations.push_back(&level->response);
  route.edits_request = route.edits_request || !level->request.empty();
  route.mutation_levels.push_back(std::move(level));
}

}  // namespace ferry::router
