#include "router/route_table.hpp"
#include "common/ascii.hpp"

#include <re2/re2.h>

#include <algorithm>

#include "router/compile.hpp"
#include "router/route_index.hpp"
#include "router/validate.hpp"

namespace ferry::router {

namespace {

using detail::lower;
using detail::to_lower;



bool starts_with(std::string_view s, std::string_view prefix, bool case_sensitive) {
  if (s.size() < prefix.size()) return false;
  if (case_sensitive) return s.compare(0, prefix.size(), prefix) == 0;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != prefix[i]) return false;
  return true;
}

bool equals(std::string_view s, std::string_view v, bool case_sensitive) {
  return s.size() == v.size() && starts_with(s, v, case_sensitive);
}

std::string_view without_query(std::string_view path) {
  auto q = path.find_first_of("?#");
  return q == std::string_view::npos ? path : path.substr(0, q);
}

}  // namespace

bool CompiledRoute::matches(std::string_view path) const {
  switch (kind) {
    case PathMatch::Kind::prefix:
      return starts_with(path, value, case_sensitive);
    case PathMatch::Kind::path:
      return equals(without_query(path), value, case_sensitive);
    case PathMatch::Kind::safe_regex: {
      auto p = without_query(path);
      return re2::RE2::FullMatch(re2::StringPiece(p.data(), p.size()), *regex);
    }
    case PathMatch::Kind::path_separated_prefix: {
      if (!starts_with(path, value, case_sensitive)) return false;
      if (path.size() == value.size()) return true;
      char next = path[value.size()];
      return next == '/' || next == '?' || next == '#';
    }
  }
  return false;
}

bool CompiledRoute::matches(const RequestFacts& facts) const {
  auto path = facts.req.path();
  if (!matches(path)) return false;
  for (const auto& h : headers)
    if (!h.match(facts)) return false;
  if (query_parameters.empty()) return true;
  auto q = path.find('?');
  auto query = q == std::string_view::npos ? std::string_view{} : path.substr(q + 1);
  for (const auto& m : query_parameters)
    if (!m.match(query)) return false;
  return true;
}

std::size_t CompiledRoute::matched_length(std::string_view path) const noexcept {
  switch (kind) {
    case PathMatch::Kind::prefix:
    case PathMatch::Kind::path_separated_prefix:
    case PathMatch::Kind::path:
      return value.size();
    case PathMatch::Kind::safe_regex:
      break;
  }
  return without_query(path).size();  // a regex route matched the whole path
}

std::size_t CompiledRoute::pick_target(std::uint64_t random) const noexcept {
  if (targets.size() == 1) return 0;
  std::uint64_t point = random % total_weight;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (point < targets[i].weight) return i;
    point -= targets[i].weight;
  }
  return targets.size() - 1;
}

std::optional<std::uint32_t> RouteTable::cluster_index(std::string_view name) const {
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return std::nullopt;
  return it->second;
}

const CompiledRoute* CompiledVirtualHost::match(std::string_view path) const {
  for (const auto& r : routes)
    if (r.matches(path)) return &r;
  return nullptr;
}

const CompiledRoute* CompiledVirtualHost::match(const RequestFacts& facts) const {
  if (index) {
    auto i = index->first_match(routes, facts);
    return i == RouteIndex::npos ? nullptr : &routes[i];
  }
  return match_linear(facts);
}

const CompiledRoute* CompiledVirtualHost::match_linear(const RequestFacts& facts) const {
  for (const auto& r : routes)
    if (r.matches(facts)) return &r;
  return nullptr;
}


std::shared_ptr<const RouteTable> RouteTable::build(
    const RouteConfig& config, const std::unordered_map<std::string, std::uint32_t>& cluster_index,
    const std::string& path_prefix, std::vector<ConfigProblem>& problems) {
  auto before = problems.size();
  // Shape checks (duplicate domains, weights, one action per route) live in one place.
  ferry::validate_route_config(config, nullptr, path_prefix, problems);
  if (problems.size() != before) return nullptr;

  auto table = std::make_shared<RouteTable>();
  for (const auto& [name, index] : cluster_index) table->clusters_.emplace(name, index);
  auto global = compile_mutations(config.header_mutations);
  for (std::size_t v = 0; v < config.virtual_hosts.size(); ++v) {
    const auto& vh = config.virtual_hosts[v];
    auto vpath = join_path(path_prefix, "virtual_hosts[" + std::to_string(v) + "]");
    auto vhost_level = compile_mutations(vh.header_mutations);
    CompiledVirtualHost cvh;
    cvh.name = vh.name;
    for (std::size_t r = 0; r < vh.routes.size(); ++r) {
      CompiledRoute cr;
      if (!compile_route(vh.routes[r], cluster_index, vpath + ".routes[" + std::to_string(r) + "]", cr,
                         problems))
        continue;
      // Envoy's order: the most specific level first (route, virtual host, route config).
      add_mutation_level(cr, compile_mutations(vh.routes[r].header_mutations));
      add_mutation_level(cr, vhost_level);
      add_mutation_level(cr, global);
      cr.buffer_limit = vh.routes[r].per_request_buffer_limit_bytes.value_or(vh.per_request_buffer_limit_bytes.value_or(0));
      cr.filter_configs = vh.routes[r].typed_per_filter_config;
      cr.filter_configs.insert(vh.typed_per_filter_config.begin(), vh.typed_per_filter_config.end());
      cvh.routes.push_back(std::move(cr));
    }
    cvh.index = RouteIndex::build(cvh.routes);
    auto idx = std::uint32_t(table->vhosts_.size());
    table->vhosts_.push_back(std::move(cvh));
    for (const auto& d : vh.domains) {
      auto dom = to_lower(d);
      if (dom == "*")
        table->default_ = idx;
      else if (dom.front() == '*')
        table->suffixes_.push_back({dom.substr(1), idx});
      else if (dom.back() == '*')
        table->prefixes_.push_back({dom.substr(0, dom.size() - 1), idx});
      else
        table->exact_.emplace(dom, idx);
    }
  }
  auto longest_first = [](const Wildcard& a, const Wildcard& b) { return a.fix.size() > b.fix.size(); };
  std::stable_sort(table->suffixes_.begin(), table->suffixes_.end(), longest_first);
  std::stable_sort(table->prefixes_.begin(), table->prefixes_.end(), longest_first);
  if (problems.size() != before) return nullptr;
  return table;
}

const CompiledVirtualHost* RouteTable::find_virtual_host(std::string_view host) const {
  char stack[256];
  std::string heap;
  std::string_view key;
  if (host.size() <= sizeof stack) {
    for (std::size_t i = 0; i < host.size(); ++i) stack[i] = lower(host[i]);
    key = {stack, host.size()};
  } else {
    heap = to_lower(host);
    key = heap;
  }
  if (!exact_.empty()) {
    auto it = exact_.find(key);
    if (it != exact_.end()) return &vhosts_[it->second];
  }
  // The wildcard must match at least one character (Envoy: "*.foo.com" does not match
  // ".foo.com").
  for (const auto& w : suffixes_)
    if (key.size() > w.fix.size() && key.substr(key.size() - w.fix.size()) == w.fix)
      return &vhosts_[w.vhost];
  for (const auto& w : prefixes_)
    if (key.size() > w.fix.size() && key.substr(0, w.fix.size()) == w.fix) return &vhosts_[w.vhost];
  return default_ >= 0 ? &vhosts_[std::size_t(default_)] : nullptr;
}

}  // namespace ferry::router
