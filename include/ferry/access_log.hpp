// Access logs: Envoy's HTTP connection manager `access_log`, set up in code.
//
// A listener carries a list of AccessLogOptions (HttpOptions::access_logs). Each entry has a
// sink (a file, stdout, or a host callback), an Envoy format (a format string with command
// operators such as %RESPONSE_CODE%, or a JSON dictionary of them; Envoy's default format
// when none is given) and an optional filter. Formats and filters are checked by
// Server::add_listener, which throws ConfigError naming the bad one.
//
// Thread safety: the options are plain values, copied into the server. Lines are formatted
// on the worker thread that served the stream and written to files and stdout by a writer
// thread per log, so a slow disk never blocks a request: a bounded queue sits between them
// and lines that find it full are dropped and counted (stat access_log.<name>.dropped).
// A callback is called on the worker thread at the end of every logged stream, from every
// worker concurrently: it must be thread-safe and quick (hand the record to your own queue
// if the work is slow), and it must not throw.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

/// One finished stream, as a callback sink receives it. Values are copies, so the record
/// may be kept. Durations are in nanoseconds, -1 when the moment did not happen (no
/// response from an upstream, for instance).
struct AccessLogRecord {
  std::int64_t start_time_unix_ns = 0;  ///< when the request head was in (%START_TIME%)
  std::string method;                   ///< %REQ(:METHOD)%
  std::string path;                     ///< %REQ(:PATH)% (as sent upstream)
  std::string authority;                ///< %REQ(:AUTHORITY)%
  std::string protocol;                 ///< %PROTOCOL%: "HTTP/1.1"
  int response_code = 0;                ///< 0 when no response was sent
  std::string response_code_details;
  std::uint32_t response_flags = 0;     ///< ResponseFlag bits (ferry/filter.hpp)
  std::uint64_t bytes_received = 0;     ///< request body bytes
  std::uint64_t bytes_sent = 0;         ///< response body bytes
  std::int64_t duration_ns = -1;        ///< start to the end of the stream
  std::int64_t request_duration_ns = -1;   ///< start to the last request byte
  std::int64_t response_duration_ns = -1;  ///< start to the response head
  std::string upstream_host;            ///< "ip:port" of the last attempt's host
  std::string upstream_cluster;
  std::string upstream_transport_failure_reason;
  std::uint32_t upstream_request_attempt_count = 0;
  std::string downstream_remote_address;  ///< "ip:port": the client as Envoy decides it (see StreamContext)
  std::string downstream_direct_remote_address;  ///< "ip:port": the connection's peer
  std::string downstream_local_address;   ///< the listener's "ip:port"
  std::string route_name;
  std::string request_id;
  std::string trace_id;  ///< %TRACE_ID% (32 hex digits) when the listener traces, else empty
  std::vector<std::pair<std::string, std::string>> request_headers;   ///< as sent upstream
  std::vector<std::pair<std::string, std::string>> response_headers;  ///< as sent downstream
};

/// Envoy's AccessLogFilter: which streams a log records.
struct AccessLogFilter {
  enum class Kind : std::uint8_t {
    status_code,       ///< response code `op` value
    duration,          ///< total duration in ms `op` value
    not_health_check,  ///< not a health check (ferry: user-agent is not "Envoy/HC")
    and_filter,        ///< all of `filters`
    or_filter,         ///< any of `filters`
  };
  enum class Op : std::uint8_t { eq, ge, le };  ///< Envoy's ComparisonFilter.Op
  Kind kind = Kind::status_code;
  Op op = Op::eq;
  std::uint32_t value = 0;  ///< the comparison's runtime default_value
  std::vector<AccessLogFilter> filters;  ///< and/or
};

/// One key of an Envoy json_format dictionary: a format string, or a nested object.
struct AccessLogJsonField {
  std::string key;
  std::string format;                     ///< when `fields` is empty and !object
  bool object = false;                    ///< a nested dictionary (`fields`)
  std::vector<AccessLogJsonField> fields;
};

struct AccessLogOptions {
  enum class Sink : std::uint8_t { file, standard_output, callback };
  std::string name = "envoy.access_loggers.file";  ///< for stats: access_log.<name>.dropped
  Sink sink = Sink::file;
  std::string path;  ///< Sink::file; opened for append by Server::add_listener
  /// Text format with command operators; empty and no json_format: Envoy's default format.
  std::string format;
  /// json_format: one JSON object per line. With typed_json (Envoy's typed_json_format and
  /// log_format.json_format) a value that is exactly one operator keeps its type (numbers
  /// stay numbers) and a missing one is null; otherwise every value is a string ("-" when
  /// missing), as Envoy's legacy json_format.
  std::vector<AccessLogJsonField> json_format;
  bool typed_json = false;
  std::vector<AccessLogFilter> filter;  ///< at most one; empty logs every stream
  std::function<void(const AccessLogRecord&)> callback;  ///< Sink::callback
  std::uint32_t queue_lines = 16384;  ///< lines waiting for the writer before drops
};

}  // namespace ferry
