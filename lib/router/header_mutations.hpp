// Compiled header changes (Envoy's request/response_headers_to_add/remove with
// HeaderValueOption.append_action) and the %VAR% substitutions of their values.
//
// Values are parsed once when the route table is built. A literal value is added to a
// request as a view into the table (no copy); a value with substitutions is formatted into
// the stream's arena.
//
// Thread safety: immutable after compile(); safe to share between workers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/headers.hpp>
#include <ferry/router.hpp>

namespace ferry::detail {
class Arena;
}

namespace ferry::router {

/// Facts about the downstream connection that routing and substitutions use.
struct Downstream {
  std::string_view remote_address;     ///< "ip:port" ("[ip]:port" for IPv6)
  std::string_view remote_ip;          ///< "ip"
  std::uint16_t listener_port = 0;     ///< the port the connection came in on
  std::string_view scheme = "http";    ///< ":scheme"
  std::int64_t start_time_ns = 0;      ///< when the request started, ns since the Unix epoch
  std::string_view upstream_address{}; ///< the chosen host's "ip:port", once there is one
};

/// What a formatted value reads.
struct FormatContext {
  const RequestHeaders& req;
  const Downstream& down;
  detail::Arena& arena;
};

/// A header value with substitutions, parsed.
class ValueFormat {
 public:
  /// Parses `text`. False, with `error` set, for a malformed or unknown %VAR%.
  static bool compile(std::string_view text, ValueFormat& out, std::string& error);
  /// The formatted value: a view into this object for a literal, else into the arena.
  std::string_view format(const FormatContext& ctx) const;

 private:
  struct Piece {
    enum class Kind : std::uint8_t {
      literal, remote_address, remote_ip, protocol, request_header, start_time, hostname,
      upstream_address, upstream_ip,
    };
    Kind kind = Kind::literal;
    std::string text;         ///< literal text, the header name (lower-cased) or the time format
    std::string alternative;  ///< %REQ(a?b)%: b, read when a is absent
    std::size_t max_length = std::string::npos;
  };
  static bool parse_command(std::string_view cmd, Piece& out, std::string& error);
  std::string_view piece_value(const Piece& p, const FormatContext& ctx) const;

  std::vector<Piece> pieces_;
  std::string literal_;  ///< the whole value, when it has no substitution
  bool is_literal_ = true;
};

/// One level of header changes, for one direction.
class MutationSet {
 public:
  /// Compiles `add` and `remove`. False when a value does not parse: `error` says why and
  /// `error_index` which entry of `add` (the validator reports it with its path first).
  bool compile(const std::vector<HeaderValueOption>& add, const std::vector<std::string>& remove,
               std::string& error, std::size_t& error_index);
  bool empty() const noexcept { return add_.empty() && remove_.empty(); }
  /// Applies the changes to `target` (Envoy's HeaderParser::evaluateHeaders: removals
  /// first, then every value is formatted, then overwrites, then appends).
  void apply(HeaderMap& target, const FormatContext& ctx) const;

 private:
  struct Add {
    std::string key;  ///< lower-cased
    ValueFormat value;
    HeaderValueOption::AppendAction action;
    bool keep_empty;
  };
  std::vector<Add> add_;
  std::vector<std::string> remove_;
};

/// Replaces every field called `name` by one field with `value` (a stable view: not copied).
void set_header_view(HeaderMap& map, std::string_view name, std::string_view value);

/// The reason a header name cannot be added or removed through header mutations, or empty.
std::string_view mutation_name_problem(std::string_view name) noexcept;

}  // namespace ferry::router
