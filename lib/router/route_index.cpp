#include "router/route_index.hpp"

#include <re2/re2.h>

#include <map>
#include <string>

namespace ferry::router {

namespace {

inline unsigned char lower(unsigned char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c; }

/// A trie under construction: node i of the builder becomes node i of the flat Trie.
class TrieBuilder {
 public:
  TrieBuilder() : nodes_(1) {}

  void add(std::string_view key, std::uint32_t route, bool exact) {
    std::uint32_t n = 0;
    for (char ch : key) {
      auto c = static_cast<unsigned char>(ch);
      auto it = nodes_[n].kids.find(c);
      if (it == nodes_[n].kids.end()) {
        auto child = std::uint32_t(nodes_.size());
        nodes_[n].kids.emplace(c, child);
        nodes_.emplace_back();
        n = child;
      } else {
        n = it->second;
      }
    }
    (exact ? nodes_[n].exact : nodes_[n].any).push_back(route);  // routes arrive ascending
  }

  RouteIndex::Trie finish() const {
    RouteIndex::Trie t;
    t.nodes.resize(nodes_.size());
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      auto& out = t.nodes[i];
      out.edges_begin = std::uint32_t(t.edge_bytes.size());
      for (const auto& [c, child] : nodes_[i].kids) {  // std::map: bytes ascending
        t.edge_bytes.push_back(c);
        t.edge_child.push_back(child);
      }
      out.edges_end = std::uint32_t(t.edge_bytes.size());
      out.any_begin = std::uint32_t(t.ids.size());
      t.ids.insert(t.ids.end(), nodes_[i].any.begin(), nodes_[i].any.end());
      out.any_end = out.exact_begin = std::uint32_t(t.ids.size());
      t.ids.insert(t.ids.end(), nodes_[i].exact.begin(), nodes_[i].exact.end());
      out.exact_end = std::uint32_t(t.ids.size());
    }
    return t;
  }

 private:
  struct Node {
    std::map<unsigned char, std::uint32_t> kids;
    std::vector<std::uint32_t> any, exact;
  };
  std::vector<Node> nodes_;
};

/// Lowers `best` to the first route in ids[begin, end) below it whose criteria all match.
inline void consider(const std::vector<std::uint32_t>& ids, std::uint32_t begin, std::uint32_t end,
                     const std::vector<CompiledRoute>& routes, const RequestFacts& facts, std::size_t& best) {
  for (auto i = begin; i < end; ++i) {
    std::size_t id = ids[i];
    if (id >= best) return;  // ascending: nothing further can win
    if (routes[id].matches(facts)) {
      best = id;
      return;
    }
  }
}

template <bool kLower>
void walk(const RouteIndex::Trie& t, std::string_view path, std::size_t path_end,
          const std::vector<CompiledRoute>& routes, const RequestFacts& facts, std::size_t& best) {
  const auto* node = &t.nodes[0];
  consider(t.ids, node->any_begin, node->any_end, routes, facts, best);
  if (path_end == 0) consider(t.ids, node->exact_begin, node->exact_end, routes, facts, best);
  const unsigned char* bytes = t.edge_bytes.data();
  for (std::size_t i = 0; i < path.size(); ++i) {
    auto c = static_cast<unsigned char>(path[i]);
    if constexpr (kLower) c = lower(c);
    std::uint32_t e = node->edges_begin, hi = node->edges_end;
    if (hi - e <= 8) {
      while (e < hi && bytes[e] < c) ++e;
    } else {
      while (e < hi) {  // lower bound
        auto mid = e + (hi - e) / 2;
        if (bytes[mid] < c)
          e = mid + 1;
        else
          hi = mid;
      }
      hi = node->edges_end;
    }
    if (e == hi || bytes[e] != c) return;
    node = &t.nodes[t.edge_child[e]];
    consider(t.ids, node->any_begin, node->any_end, routes, facts, best);
    if (i + 1 == path_end) consider(t.ids, node->exact_begin, node->exact_end, routes, facts, best);
  }
}

}  // namespace

std::string RouteIndex::regex_literal_prefix(const re2::RE2& re) {
  // Every string an anchored match can start with lies in [min, max], so it starts with
  // their common prefix.
  std::string min, max;
  if (!re.PossibleMatchRange(&min, &max, 64)) return {};
  std::size_t n = 0;
  while (n < min.size() && n < max.size() && min[n] == max[n]) ++n;
  return min.substr(0, n);
}

std::shared_ptr<const RouteIndex> RouteIndex::build(const std::vector<CompiledRoute>& routes,
                                                    std::size_t min_routes) {
  if (routes.size() < min_routes) return nullptr;
  TrieBuilder exact_case, any_case;
  auto index = std::make_shared<RouteIndex>();
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const auto& r = routes[i];
    auto id = std::uint32_t(i);
    auto& trie = r.case_sensitive ? exact_case : any_case;
    switch (r.kind) {
      case PathMatch::Kind::prefix:
      case PathMatch::Kind::path_separated_prefix:
        trie.add(r.value, id, false);
        break;
      case PathMatch::Kind::path:
        trie.add(r.value, id, true);
        break;
      case PathMatch::Kind::safe_regex: {
        auto prefix = r.regex ? regex_literal_prefix(*r.regex) : std::string{};
        if (prefix.empty())
          index->unindexed_.push_back(id);
        else
          exact_case.add(prefix, id, false);  // the prefix is of the path as sent
        break;
      }
    }
  }
  index->exact_case_ = exact_case.finish();
  index->any_case_ = any_case.finish();
  return index;
}

std::size_t RouteIndex::first_match(const std::vector<CompiledRoute>& routes, const RequestFacts& facts) const {
  auto path = facts.req.path();
  auto path_end = path.find_first_of("?#");
  if (path_end == std::string_view::npos) path_end = path.size();
  std::size_t best = npos;
  if (!exact_case_.empty()) walk<false>(exact_case_, path, path_end, routes, facts, best);
  if (!any_case_.empty()) walk<true>(any_case_, path, path_end, routes, facts, best);
  for (std::size_t id : unindexed_) {
    if (id >= best) break;
    if (routes[id].matches(facts)) {
      best = id;
      break;
    }
  }
  return best;
}

}  // namespace ferry::router
