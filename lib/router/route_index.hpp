// An index over one virtual host's routes that finds the first matching route without a
// linear scan where first-match semantics allow.
//
// Two byte tries (one over the path as sent, one over its ASCII-lower-cased form) hold the
// routes whose path criterion has a literal key: prefix and path_separated_prefix routes at
// the node of their value, path routes at the node of their value (candidates only when the
// walk ends there at the end of the path without the query), and safe_regex routes at the
// node of the literal prefix every match must start with (RE2::PossibleMatchRange). Routes
// without such a key (e.g. a regex starting with ".*") are candidates for every request.
// Walking the request path yields a superset of the routes whose path criterion matches;
// each candidate gets the full check (path, headers, query parameters) and the lowest
// configuration index that passes wins -- exactly the route a linear scan would pick.
//
// Thread safety: immutable after build(); safe to share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "router/route_table.hpp"

namespace ferry::router {

class RouteIndex {
 public:
  /// Below this many routes a linear scan is as fast and the index is not built.
  static constexpr std::size_t kMinRoutes = 16;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// The index over `routes`, or null when there are fewer than `min_routes`.
  static std::shared_ptr<const RouteIndex> build(const std::vector<CompiledRoute>& routes,
                                                 std::size_t min_routes = kMinRoutes);

  /// Index (into the `routes` given to build()) of the first route whose criteria all
  /// match, or npos.
  std::size_t first_match(const std::vector<CompiledRoute>& routes, const RequestFacts& facts) const;

  /// The literal prefix every full match of `re` starts with ("" when there is none).
  static std::string regex_literal_prefix(const re2::RE2& re);

  struct Node {
    std::uint32_t edges_begin = 0, edges_end = 0;  ///< into edge_bytes_ / edge_child_
    std::uint32_t any_begin = 0, any_end = 0;      ///< into ids_: candidates when reached
    std::uint32_t exact_begin = 0, exact_end = 0;  ///< into ids_: candidates at the path's end
  };
  struct Trie {
    std::vector<Node> nodes;  ///< nodes[0] is the root
    std::vector<unsigned char> edge_bytes;
    std::vector<std::uint32_t> edge_child;
    std::vector<std::uint32_t> ids;  ///< route indices, ascending within each range
    bool empty() const noexcept { return ids.empty(); }
  };

 private:
  Trie exact_case_;  ///< keys as configured
  Trie any_case_;    ///< keys lower-cased; walked with the lower-cased path
  std::vector<std::uint32_t> unindexed_;  ///< checked for every request, ascending
};

}  // namespace ferry::router
