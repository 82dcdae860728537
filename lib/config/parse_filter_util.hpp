// Small readers the built-in filters' config readers share (parse_filter_<name>.cpp).
//
// Thread safety: run on the loading thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/cidr.hpp"
#include "config/walk.hpp"

namespace ferry::config::detail {

/// core.v3.RuntimeFractionalPercent: default_value as a share of 1,000,000 (ferry has no
/// runtime layer; runtime_key is accepted and ignored).
inline std::optional<std::uint32_t> read_runtime_fraction(Context& ctx, const Field& f) {
  static constexpr std::string_view kFields[] = {"default_value", "runtime_key"};
  static constexpr std::string_view kFraction[] = {"numerator", "denominator"};
  static constexpr EnumValue kDenominators[] = {{"HUNDRED", 0, true}, {"TEN_THOUSAND", 1, true}, {"MILLION", 2, true}};
  if (!f) return std::nullopt;
  Object o(ctx, f, {kFields});
  if (!o.ok()) return std::nullopt;
  read_string(ctx, o.get("runtime_key"));
  Field dv = o.required("default_value");
  if (!dv) return std::nullopt;
  Object frac(ctx, dv, {kFraction});
  auto numerator = read_uint(ctx, frac.get("numerator"), 0, 0xffffffffu).value_or(0);
  auto denominator = read_enum(ctx, frac.get("denominator"), kDenominators).value_or("HUNDRED");
  std::uint64_t scale = denominator == "MILLION" ? 1 : denominator == "TEN_THOUSAND" ? 100 : 10000;
  return std::uint32_t(std::min<std::uint64_t>(numerator * scale, 1'000'000));
}

/// core.v3.DataSource: inline_string, or a file read now (on the loading thread). The other
/// cases are "not yet" problems.
inline std::optional<std::string> read_data_source(Context& ctx, const Field& f) {
  static constexpr std::string_view kFields[] = {"inline_string", "filename"};
  static constexpr std::string_view kNotYet[] = {"inline_bytes", "environment_variable", "watched_directory"};
  Object o(ctx, f, {kFields, kNotYet});
  if (!o.ok()) return std::nullopt;
  bool has_inline = bool(o.get("inline_string")), has_file = bool(o.get("filename"));
  if (has_inline && has_file) {
    ctx.problem(f, "\"inline_string\" and \"filename\" are both set; a data source takes exactly one");
    return std::nullopt;
  }
  if (!has_inline && !has_file) {
    ctx.problem(f, "a data source needs \"inline_string\" or \"filename\"");
    return std::nullopt;
  }
  if (has_inline) return read_string(ctx, o.get("inline_string"));
  auto name = read_string(ctx, o.get("filename"));
  if (!name) return std::nullopt;
  std::ifstream in(*name, std::ios::binary);
  if (!in) {
    ctx.problem(o.get("filename"), "cannot read the file " + in_quotes(*name));
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// core.v3.CidrRange as "prefix/len"; nullopt (reported) when invalid.
inline std::optional<std::string> read_cidr_range(Context& ctx, const Field& f) {
  static constexpr std::string_view kFields[] = {"address_prefix", "prefix_len"};
  Object o(ctx, f, {kFields});
  if (!o.ok()) return std::nullopt;
  auto prefix = read_string(ctx, o.required("address_prefix"));
  auto len = read_uint(ctx, o.get("prefix_len"), 0, 128).value_or(0);
  if (!prefix) return std::nullopt;
  std::string error;
  if (!ferry::detail::Cidr::parse(*prefix, std::uint32_t(len), error)) {
    ctx.problem(f, error);
    return std::nullopt;
  }
  return *prefix + "/" + std::to_string(len);
}

/// Reports problems whose paths are relative to `base` (proto field names), at base.path.
inline void report_under(Context& ctx, const Field& base, const std::vector<ConfigProblem>& problems) {
  for (const auto& p : problems) {
    std::string sep = p.path.empty() || p.path.front() == '[' ? "" : ".";
    ctx.problem(Field{nullptr, base.path + sep + p.path, base.canon + sep + p.path}, p.message);
  }
}

}  // namespace ferry::config::detail
