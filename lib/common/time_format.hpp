// Envoy's %START_TIME% date formatting: strftime extended with fractional seconds.
//
// Thread safety: pure functions (gmtime_r), callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::detail {

/// Formats `unix_ns` (UTC) with `format`: strftime conversions plus Envoy's extensions
/// %f (nanoseconds, 9 digits), %1f..%9f (that many fractional digits), %E3S-style
/// %E<n>S (seconds with n fractional digits) and %s (seconds since the epoch). An empty
/// `format` gives Envoy's default, RFC 3339 with milliseconds: 2026-11-26T02:41:50.123Z.
/// Writes at most `cap` bytes to `out` and returns the length (0 if it did not fit).
std::size_t format_time(std::string_view format, std::int64_t unix_ns, char* out, std::size_t cap);

/// format_time with the default format (every default access-log line's %START_TIME%),
/// without looking at a format first. Same contract as format_time.
std::size_t format_default_time(std::int64_t unix_ns, char* out, std::size_t cap);

/// RFC 9110's IMF-fixdate of `unix_seconds` (the HTTP `date` field), e.g.
/// "Sun, 06 Nov 1994 08:49:37 GMT": kHttpDateSize bytes written to `out`.
inline constexpr std::size_t kHttpDateSize = 29;
void format_http_date(std::int64_t unix_seconds, char* out);

/// The HTTP date of the current second, formatted once per second. One per thread (a
/// worker's): not thread-safe.
class HttpDateCache {
 public:
  /// The date of `unix_ns`, valid until the next call.
  std::string_view get(std::int64_t unix_ns) noexcept {
    std::int64_t sec = unix_ns / 1000000000;
    if (sec != second_) {
      format_http_date(sec, text_);
      second_ = sec;
    }
    return {text_, kHttpDateSize};
  }

 private:
  std::int64_t second_ = -1;
  char text_[kHttpDateSize] = {};
};

/// Convenience: the same into a std::string (tests, logs off the hot path).
std::string format_time(std::string_view format, std::int64_t unix_ns);

/// This machine's host name (gethostname), read once.
std::string_view host_name();

}  // namespace ferry::detail
