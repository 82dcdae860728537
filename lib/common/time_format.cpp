#include "common/time_format.hpp"

#include <unistd.h>

#include <cstring>
#include <limits>
#include <ctime>

namespace ferry::detail {

namespace {

constexpr std::string_view kDefault = "%Y-%m-%dT%H:%M:%E3SZ";

// Appends `digits` leading digits of the nanosecond fraction.
bool put_fraction(std::int64_t nanos, int digits, char* out, std::size_t cap, std::size_t& n) {
  if (n + std::size_t(digits) > cap) return false;
  char all[9];
  for (int i = 8; i >= 0; --i, nanos /= 10) all[i] = char('0' + nanos % 10);
  std::memcpy(out + n, all, std::size_t(digits));
  n += std::size_t(digits);
  return true;
}

// strftime on one run of plain conversions (it cannot tell "did not fit" from "empty", so
// empty runs are skipped by the caller).
bool put_strftime(const std::string& run, const std::tm& tm, char* out, std::size_t cap, std::size_t& n) {
  if (run.empty()) return true;
  std::size_t len = std::strftime(out + n, cap - n, run.c_str(), &tm);
  if (len == 0) return false;
  n += len;
  return true;
}

// Howard Hinnant's days_from_civil inverse: the UTC date of a day count since 1970-01-01.
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = std::int64_t(yoe) + era * 400 + (m <= 2);
}

void put2(char* p, unsigned v) {
  p[0] = char('0' + v / 10);
  p[1] = char('0' + v % 10);
}

// The default format (every access log line's %START_TIME%) without gmtime_r, which takes
// glibc's time zone lock, and strftime: "2026-11-26T02:41:50.123Z", 24 bytes.
std::size_t format_default(std::int64_t secs, std::int64_t nanos, char* out, std::size_t cap) {
  if (cap < 24) return 0;
  // Lines of one second share "2026-11-26T02:41:50.": formatted once per second and thread.
  thread_local std::int64_t cached_secs = std::numeric_limits<std::int64_t>::min();  // no second
  thread_local char cached[20];
  if (secs != cached_secs) {
    std::int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) rem += 86400, --days;
    std::int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    if (y < 0 || y > 9999) return 0;
    auto yy = unsigned(y);
    put2(cached, yy / 100);
    put2(cached + 2, yy % 100);
    cached[4] = '-';
    put2(cached + 5, m);
    cached[7] = '-';
    put2(cached + 8, d);
    cached[10] = 'T';
    put2(cached + 11, unsigned(rem / 3600));
    cached[13] = ':';
    put2(cached + 14, unsigned(rem / 60 % 60));
    cached[16] = ':';
    put2(cached + 17, unsigned(rem % 60));
    cached[19] = '.';
    cached_secs = secs;
  }
  std::memcpy(out, cached, 20);
  auto ms = unsigned(nanos / 1000000);
  out[20] = char('0' + ms / 100);
  put2(out + 21, ms % 100);
  out[23] = 'Z';
  return 24;
}

}  // namespace

void format_http_date(std::int64_t unix_seconds, char* out) {
  // By hand: strftime's %a and %b follow the locale, and the field must be English.
  static constexpr char kDays[] = "ThuFriSatSunMonTueWed";  // 1970-01-01 was a Thursday
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  std::time_t t = std::time_t(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  auto days = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  auto two = [](char* p, int v) {
    p[0] = char('0' + v / 10);
    p[1] = char('0' + v % 10);
  };
  std::memcpy(out, kDays + ((days % 7 + 7) % 7) * 3, 3);
  std::memcpy(out + 3, ", ", 2);
  two(out + 5, tm.tm_mday);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths + tm.tm_mon * 3, 3);
  out[11] = ' ';
  int year = (tm.tm_year + 1900) % 10000;
  two(out + 12, year / 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, tm.tm_hour);
  out[19] = ':';
  two(out + 20, tm.tm_min);
  out[22] = ':';
  two(out + 23, tm.tm_sec);
  std::memcpy(out + 25, " GMT", 4);
}

std::size_t format_default_time(std::int64_t unix_ns, char* out, std::size_t cap) {
  std::int64_t secs = unix_ns / 1000000000;
  std::int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) nanos += 1000000000, --secs;
  if (auto n = format_default(secs, nanos, out, cap)) [[likely]]
    return n;
  return format_time(kDefault, unix_ns, out, cap);  // years outside 0..9999, or no room
}

std::size_t format_time(std::string_view format, std::int64_t unix_ns, char* out, std::size_t cap) {
  if (format.empty()) format = kDefault;
  std::int64_t secs = unix_ns / 1000000000;
  std::int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) nanos += 1000000000, --secs;
  if (format == kDefault) {
    auto n = format_default(secs, nanos, out, cap);
    if (n != 0) return n;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::size_t n = 0;
  std::string run;  // plain strftime text collected between extensions
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      run.push_back(format[i]);
      continue;
    }
    char c = format[i + 1];
    int digits = -1;
    bool with_seconds = false;
    std::size_t skip = 1;
    if (c == 'f') {
      digits = 9;
    } else if (c >= '1' && c <= '9' && i + 2 < format.size() && format[i + 2] == 'f') {
      digits = c - '0', skip = 2;
    } else if (c == 'E' && i + 3 < format.size() && format[i + 3] == 'S' &&
               ((format[i + 2] >= '1' && format[i + 2] <= '9') || format[i + 2] == '*')) {
      digits = format[i + 2] == '*' ? 9 : format[i + 2] - '0', with_seconds = true, skip = 3;
    } else if (c == 's') {
      if (!put_strftime(run, tm, out, cap, n)) return 0;
      run.clear();
      auto s = std::to_string(secs);
      if (n + s.size() > cap) return 0;
      std::memcpy(out + n, s.data(), s.size());
      n += s.size();
      ++i;
      continue;
    } else {
      run.append(format.substr(i, 2));
      ++i;
      continue;
    }
    if (with_seconds) run += "%S.";
    if (!put_strftime(run, tm, out, cap, n) || !put_fraction(nanos, digits, out, cap, n)) return 0;
    run.clear();
    i += skip;
  }
  if (!put_strftime(run, tm, out, cap, n)) return 0;
  return n;
}

std::string format_time(std::string_view format, std::int64_t unix_ns) {
  char buf[512];
  return std::string(buf, format_time(format, unix_ns, buf, sizeof buf));
}

std::string_view host_name() {
  static const std::string name = [] {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return std::string("-");
    return std::string(buf);
  }();
  return name;
}

}  // namespace ferry::detail
