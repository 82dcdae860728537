// The checks validate_route_config runs on matchers, actions and header changes, one
// function per part. Paths name the C++ members (PathStyle::code) or the Envoy fields
// (PathStyle::envoy), so the loader can show problems where the user wrote them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/router.hpp>

#include "router/validate.hpp"

namespace ferry::router::checks {

struct Sink {
  PathStyle style;
  std::vector<ConfigProblem>& problems;

  void add(std::string path, std::string message) { problems.push_back({std::move(path), std::move(message)}); }
  /// `base.code` or `base.envoy`, by style.
  std::string at(const std::string& base, std::string_view code, std::string_view envoy) const {
    return join_path(base, style == PathStyle::code ? code : envoy);
  }
};

/// Paths below are relative to the route (`route_path`) or the owner of the changes.
void header_matchers(const std::vector<HeaderMatcher>& list, const std::string& route_path, Sink& sink);
void query_matchers(const std::vector<QueryParameterMatcher>& list, const std::string& route_path, Sink& sink);
void forward_rewrites(const RouteAction& a, const std::string& route_path, Sink& sink);
void redirect(const RedirectAction& r, const std::string& route_path, Sink& sink);
void direct_response(const DirectResponse& d, std::uint32_t max_body, const std::string& route_path, Sink& sink);
void mutations(const HeaderMutations& m, const std::string& owner_path, Sink& sink);

}  // namespace ferry::router::checks
