#include "common/time_format.hpp"

#include <unistd.h>

#include <cstring>
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

}  // namespace

std::size_t format_time(std::string_view format, std::int64_t unix_ns, char* out, std::size_t cap) {
  if (format.empty()) format = kDefault;
  std::int64_t secs = unix_ns / 1000000000;
  std::int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) nanos += 1000000000, --secs;
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
