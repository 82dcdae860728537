// The compiled RBAC engine: policies of permission and principal matchers, built once when
// the config loads (regexes compiled, CIDRs parsed), evaluated per request without
// allocating (except to parse dynamic metadata JSON for `metadata` matchers).
//
// Thread safety: immutable after compile(); evaluate() may run on every worker at once.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ferry/filter.hpp>
#include <ferry/filters/rbac.hpp>

#include "common/cidr.hpp"
#include "router/matchers.hpp"

namespace ferry::filters::detail {

/// One permission or principal, compiled.
struct RbacNode {
  enum class Kind : std::uint8_t {
    any, header, url_path, destination_port, destination_ip, direct_remote_ip, remote_ip,
    authenticated, metadata, all_of, any_of, none_of
  };
  struct Value {
    RbacValueMatch::Kind kind = RbacValueMatch::Kind::present;
    std::optional<router::StringMatcher> string;
    bool boolean = false;
    double number = 0;
    std::vector<Value> one_of;
  };
  Kind kind = Kind::any;
  std::optional<router::HeaderMatch> header;
  std::optional<router::StringMatcher> string;  // url_path, authenticated principal_name
  std::optional<ferry::detail::Cidr> cidr;
  std::uint32_t port = 0;
  std::string metadata_filter;
  std::vector<std::string> metadata_path;
  Value metadata_value;
  bool invert = false;
  std::vector<RbacNode> children;  // all_of / any_of / none_of (one child)
};

class RbacEngine {
 public:
  /// Problems go to `problems` with paths under `path`; nullopt when there are any.
  static std::optional<RbacEngine> compile(const RbacRules& rules, const std::string& path,
                                           std::vector<ConfigProblem>& problems);

  struct Decision {
    bool allowed = true;
    bool matched = false;            ///< some policy matched
    const std::string* policy = nullptr;  ///< the first matching policy's name
  };
  Decision evaluate(const RequestHeaders& req, StreamContext& ctx) const;
  RbacRules::Action action() const noexcept { return action_; }

 private:
  struct Policy {
    std::string name;
    std::vector<RbacNode> permissions;
    std::vector<RbacNode> principals;
  };
  RbacRules::Action action_ = RbacRules::Action::allow;
  std::vector<Policy> policies_;
};

/// Whether `node` matches the request (exposed for unit tests).
bool rbac_match(const RbacNode& node, const RequestHeaders& req, StreamContext& ctx);

/// Whether the JSON text `json`, walked along `path` (object keys), matches `value`.
bool rbac_match_json(std::string_view json, const std::vector<std::string>& path, std::size_t from,
                     const RbacNode::Value& value);

}  // namespace ferry::filters::detail
