// Envoy access log formats, compiled once: format strings with command operators
// (%RESPONSE_CODE%, %REQ(X?Y):N%, %START_TIME(fmt)%...) and JSON dictionaries of them.
//
// Thread safety: a compiled Formatter is immutable; format() may run on any thread at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ferry/access_log.hpp>
#include <ferry/headers.hpp>

#include "observe/line_buffer.hpp"

namespace ferry::observe {

/// What a formatter reads for one stream; views are valid during the call only.
struct StreamInfo {
  std::int64_t start_unix_ns = 0;
  const RequestHeaders* request = nullptr;    ///< null: no request head
  const ResponseHeaders* response = nullptr;  ///< null: no response head
  int response_code = 0;                      ///< 0: no response sent
  std::string_view response_code_details;
  std::uint32_t response_flags = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::int64_t duration_ns = -1;
  std::int64_t request_duration_ns = -1;
  std::int64_t response_duration_ns = -1;
  std::string_view upstream_host;
  std::string_view upstream_cluster;
  std::string_view upstream_transport_failure_reason;
  std::uint32_t attempt_count = 0;
  std::string_view downstream_remote_address;  ///< the client as Envoy decides it (may come from XFF)
  std::string_view downstream_remote_ip;
  std::string_view downstream_direct_remote_address;  ///< the connection's peer
  std::string_view downstream_direct_remote_ip;
  std::string_view downstream_local_address;
  std::string_view route_name;
  std::string_view trace_id;  ///< %TRACE_ID%: 32 hex digits when the listener traces
};

/// Envoy's default format (usage.rst, "Default Format String").
inline constexpr std::string_view kDefaultFormat =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

/// One piece of a compiled format string.
struct Op {
  enum class Kind : std::uint8_t {
    literal, start_time, req, resp, protocol, response_code, response_flags, response_code_details,
    bytes_received, bytes_sent, duration, request_duration, response_duration, upstream_host,
    upstream_cluster, upstream_transport_failure_reason, attempt_count, downstream_remote_address,
    downstream_remote_address_without_port, downstream_direct_remote_address,
    downstream_direct_remote_address_without_port, downstream_local_address, route_name, hostname, trace_id,
  };
  static constexpr std::uint8_t kNoSlot = 0xFF;
  Kind kind = Kind::literal;
  std::string text;      ///< literal text, strftime format, or header name (lower case)
  std::string fallback;  ///< %REQ(X?Y)%: Y, lower case
  std::size_t max_len = std::string::npos;  ///< %REQ(X):N%
  /// %REQ%/%RESP%: where the one pass over the headers leaves the value of `text` and of
  /// `fallback` (kNoSlot: a pseudo-header, or looked up on its own).
  std::uint8_t slot = kNoSlot;
  std::uint8_t fallback_slot = kNoSlot;
  std::uint32_t literal_at = 0;  ///< a literal's offset in its FormatString's literal pool
  /// %REQ(:METHOD)%, %REQ(:PATH)%, %REQ(:AUTHORITY)%: read from the request line directly.
  enum class Pseudo : std::uint8_t { none, method, path, authority, other } pseudo = Pseudo::none,
                                                                          fallback_pseudo = Pseudo::none;
};

/// A compiled format string.
class FormatString {
 public:
  /// Compiles `format`; on error returns false and says why in `error`. Envoy's default
  /// format gets a hand-unrolled writer unless `fast_default` is false (tests compare both).
  bool compile(std::string_view format, std::string& error, bool fast_default = true);
  /// Appends the text form (missing values are "-"). Inline: the writer's lock section
  /// reaches the default line's writer without two call levels.
  void append(const StreamInfo& s, LineBuffer& out) const {
    if (default_) append_default(s, out);
    else append_ops(s, out);
  }
  /// The same, appended to a string (tests, and paths off the data path).
  void append(const StreamInfo& s, std::string& out) const;
  /// Appends a JSON value. Typed (typed_json_format, log_format.json_format): a lone numeric
  /// operator as a number, a lone operator without a value as null. Otherwise, and for
  /// anything else, the text form as a JSON string.
  void append_json(const StreamInfo& s, bool typed, LineBuffer& out) const;
  const std::vector<Op>& ops() const noexcept { return ops_; }

  /// Header names the one pass over the request (response) fields looks for.
  static constexpr std::size_t kMaxSlots = 16;

 private:
  std::uint8_t slot_for(std::vector<std::string>& names, const std::string& name);
  void plan_slots();
  void append_default(const StreamInfo& s, LineBuffer& out) const;
  void append_ops(const StreamInfo& s, LineBuffer& out) const;
  bool default_ = false;  ///< the format is kDefaultFormat: append_default() writes it
  std::vector<Op> ops_;
  std::vector<std::string> req_names_, resp_names_;  ///< lower case, at most kMaxSlots each
  /// Every literal back to back, then 16 spare bytes: a short literal is copied with one
  /// fixed-size 16-byte move.
  std::string literal_pool_;
};

/// A whole log line's format: text, or a JSON dictionary (one object and "\n" per line).
class Formatter {
 public:
  /// Compiles the format of `options` (Envoy's default when it has none). Problems are
  /// appended as {where, what} with `path` the options' path.
  bool compile(const AccessLogOptions& options, const std::string& path, std::vector<std::pair<std::string, std::string>>& problems);
  /// Appends one whole line (with its "\n") to `out`.
  void format(const StreamInfo& s, LineBuffer& out) const {
    if (!is_json_) text_.append(s, out);
    else format_json(s, out);
  }
  /// The same, appended to a string (tests).
  void format(const StreamInfo& s, std::string& out) const;
  /// Whether some operator of the format is of kind `k`.
  bool uses(Op::Kind k) const;

 private:
  struct JsonNode {
    std::string key;  ///< already JSON-escaped and quoted
    FormatString value;
    std::vector<JsonNode> fields;
    bool object = false;
  };
  bool compile_json(const std::vector<AccessLogJsonField>& fields, const std::string& path,
                    std::vector<JsonNode>& out, std::vector<std::pair<std::string, std::string>>& problems);
  void append_object(const std::vector<JsonNode>& nodes, const StreamInfo& s, LineBuffer& out) const;
  void format_json(const StreamInfo& s, LineBuffer& out) const;
  static bool uses(const std::vector<JsonNode>& nodes, Op::Kind k);

  FormatString text_;
  std::vector<JsonNode> json_;
  bool is_json_ = false;
  bool typed_ = false;
};


}  // namespace ferry::observe
