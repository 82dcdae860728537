// A minimal JSON writer for the admin endpoint's output (nlohmann stays in lib/config).
//
// Thread safety: a value type; one writer per thread.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/json_text.hpp"

namespace ferry::admin {

/// Appends `s` as a JSON string literal (the shared escaper, common/json_text.hpp: control
/// characters escaped, invalid UTF-8 replaced, so the output is always valid JSON).
inline void json_string(std::string& out, std::string_view s) {
  out += '"';
  detail::append_json_text(s, out);
  out += '"';
}

inline std::string json_quote(std::string_view s) {
  std::string out;
  json_string(out, s);
  return out;
}

/// A number; NaN and infinities (not JSON) become null.
inline void json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // whole numbers without an exponent
    std::snprintf(buf, sizeof buf, "%.0f", v);
    out += buf;
    return;
  }
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Shortest form that reads back the same, like %g for typical values.
  for (int precision = 1; precision < 17; ++precision) {
    char probe[32];
    std::snprintf(probe, sizeof probe, "%.*g", precision, v);
    if (std::strtod(probe, nullptr) == v) {
      out += probe;
      return;
    }
  }
  out += buf;
}

}  // namespace ferry::admin
