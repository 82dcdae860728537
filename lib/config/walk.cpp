#include "config/walk.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace ferry::config::detail {

namespace {

std::string join(const std::string& base, std::string_view name) {
  return base.empty() ? std::string(name) : base + "." + std::string(name);
}

// A value as it appears in a message: strings quoted, anything else as compact JSON.
std::string shown(const Json& v) { return v.is_string() ? in_quotes(v.get<std::string>()) : v.dump(); }

// Protobuf's Duration range, so the millisecond count below cannot overflow.
constexpr std::uint64_t kMaxDurationSeconds = 315'576'000'000;

// Parses protobuf JSON's duration text: [-]digits[.1-9 digits]s. Sub-millisecond parts
// round up, so "0.0001s" stays a (tiny) timeout instead of becoming 0 = "disabled".
bool parse_seconds_text(std::string_view s, bool& negative, Duration& out) {
  negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.size() < 2 || s.back() != 's') return false;
  s.remove_suffix(1);
  auto dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && (frac.empty() || frac.size() > 9)))
    return false;
  std::uint64_t seconds = 0;
  auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc{} || end != whole.data() + whole.size() || seconds > kMaxDurationSeconds)
    return false;
  std::uint64_t nanos = 0;
  for (std::size_t i = 0; i < 9; ++i) {
    char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') return false;
    nanos = nanos * 10 + std::uint64_t(c - '0');
  }
  out = Duration(std::int64_t(seconds * 1000 + (nanos + 999'999) / 1'000'000));
  return true;
}

// For a duration written another way ("200ms", "5m", 10) the same amount in protobuf's
// form, to put in the message; "1.5s" when the text makes no sense at all.
std::string suggest_seconds(const Json& v) {
  double amount = 0;
  std::string_view unit;
  std::string text;
  if (v.is_number()) {
    amount = v.get<double>();
  } else if (v.is_string()) {
    text = v.get<std::string>();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
    if (ec != std::errc{}) return "1.5s";
    unit = std::string_view(end, std::size_t(text.data() + text.size() - end));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  } else {
    return "1.5s";
  }
  double factor = 0;
  if (unit.empty() || unit == "s") factor = 1;
  else if (unit == "ms") factor = 1e-3;
  else if (unit == "us" || unit == "\xC2\xB5s") factor = 1e-6;
  else if (unit == "ns") factor = 1e-9;
  else if (unit == "m" || unit == "min") factor = 60;
  else if (unit == "h") factor = 3600;
  else return "1.5s";
  double seconds = std::round(std::fabs(amount) * factor * 1e9) / 1e9;
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, seconds, std::chars_format::fixed);
  if (ec != std::errc{}) return "1.5s";
  return std::string(buf, end) + "s";
}

void bad_duration(Context& ctx, const Field& f) {
  ctx.problem(f, "invalid duration " + shown(*f.value) +
                     ": durations are written in seconds with an \"s\" suffix, e.g. \"" +
                     suggest_seconds(*f.value) + "\"");
}

constexpr std::string_view kSecondsFields[] = {"seconds", "nanos"};

std::optional<Duration> read_duration_object(Context& ctx, const Field& f) {
  Object o(ctx, f, {kSecondsFields});
  auto before = ctx.count();
  auto seconds = read_uint(ctx, o.get("seconds"), 0, kMaxDurationSeconds);
  auto nanos = read_uint(ctx, o.get("nanos"), 0, 999'999'999);
  if (ctx.count() != before) return std::nullopt;
  return Duration(std::int64_t(seconds.value_or(0) * 1000 + (nanos.value_or(0) + 999'999) / 1'000'000));
}

}  // namespace

std::string camel_case(std::string_view proto_name) {
  std::string out;
  bool upper = false;
  for (char c : proto_name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper && c >= 'a' && c <= 'z' ? char(c - 32) : c;
    upper = false;
  }
  return out;
}

bool is_set(const Field& obj, std::string_view proto_name) {
  if (!obj || !obj.value->is_object()) return false;
  for (const auto& key : {std::string(proto_name), camel_case(proto_name)}) {
    auto it = obj.value->find(key);
    if (it != obj.value->end() && !it->is_null()) return true;
  }
  return false;
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

// --- Field ------------------------------------------------------------------------------

Field Field::member(std::string_view spelled, std::string_view proto_name, const Json* v) const {
  return Field{v, join(path, spelled), join(canon, proto_name)};
}

Field Field::item(std::size_t index, const Json* v) const {
  auto suffix = "[" + std::to_string(index) + "]";
  return Field{v, path + suffix, canon + suffix};
}

Field Field::entry(const std::string& key, const Json* v) const {
  auto suffix = "[" + in_quotes(key) + "]";
  return Field{v, path + suffix, canon + suffix};
}

// --- Context ----------------------------------------------------------------------------

void Context::problem(const Field& at, std::string message) {
  problems_.push_back({at.path, std::move(message)});
  reported_.insert(at.canon);
}

void Context::remember_spelling(const Field& f) {
  if (f.path != f.canon) spelling_.emplace(f.canon, f.path);
}

std::string Context::spelled(const std::string& canon) const {
  // The longest prefix the walk saw spelled differently; what follows it was written in
  // proto names (or it would have an entry of its own).
  for (std::size_t end = canon.size(); end > 0;) {
    auto it = spelling_.find(canon.substr(0, end));
    if (it != spelling_.end()) return it->second + canon.substr(end);
    auto cut = canon.find_last_of(".[", end - 1);
    if (cut == std::string::npos) break;
    end = cut;
  }
  return canon;
}

void Context::add_checked(const std::vector<ConfigProblem>& canonical) {
  for (const auto& p : canonical)
    if (!reported_.count(p.path)) problems_.push_back({spelled(p.path), p.message});
}

// --- Object -----------------------------------------------------------------------------

Object::Object(Context& ctx, const Field& self, const Schema& schema)
    : ctx_(ctx), self_(self), schema_(schema) {
  if (!self.value) return;
  if (!self.value->is_object()) {
    ctx.problem(self, "expected an object");
    return;
  }
  ok_ = true;
  auto find = [](std::span<const std::string_view> names, const std::string& key) {
    for (auto name : names)
      if (key == name || key == camel_case(name)) return name;
    return std::string_view{};
  };
  for (const auto& [key, value] : self.value->items()) {
    if (auto name = find(schema.fields, key); !name.empty()) {
      auto [it, fresh] = spelled_.emplace(name, key);
      if (!fresh)
        ctx.problem(self, "field " + in_quotes(name) + " is set twice (as " + in_quotes(it->second) +
                              " and " + in_quotes(key) + ")");
    } else if (auto later = find(schema.not_yet, key); !later.empty()) {
      if (!value.is_null()) ctx.problem(self.member(key, later, &value), std::string(kNotYet));
    } else {
      ctx.problem(self, "unknown field " + in_quotes(key));
    }
  }
}

Field Object::get(std::string_view proto_name) const {
  // Asking for a field the schema lacks would silently ignore the one the user wrote.
  if (std::find(schema_.fields.begin(), schema_.fields.end(), proto_name) == schema_.fields.end())
    throw std::logic_error("config loader bug: \"" + std::string(proto_name) + "\" is not in the schema");
  auto it = spelled_.find(proto_name);
  if (it == spelled_.end()) return self_.member(proto_name, proto_name, nullptr);
  const Json& v = self_.value->at(it->second);
  // Protobuf's JSON mapping reads null as "not set".
  Field f = self_.member(it->second, proto_name, v.is_null() ? nullptr : &v);
  ctx_.remember_spelling(f);
  return f;
}

Field Object::required(std::string_view proto_name) const {
  Field f = get(proto_name);
  if (!f && ok_) ctx_.problem(self_, "missing required field " + in_quotes(proto_name));
  return f;
}

// --- scalars ----------------------------------------------------------------------------

std::optional<std::string> read_string(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  if (!f.value->is_string()) {
    ctx.problem(f, "expected a string");
    return std::nullopt;
  }
  return f.value->get<std::string>();
}

std::optional<bool> read_bool(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  if (!f.value->is_boolean()) {
    ctx.problem(f, "expected true or false");
    return std::nullopt;
  }
  return f.value->get<bool>();
}

std::optional<std::uint64_t> read_uint(Context& ctx, const Field& f, std::uint64_t min,
                                       std::uint64_t max) {
  if (!f) return std::nullopt;
  const Json& v = *f.value;
  std::uint64_t n = 0;
  bool ok = false;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>(), ok = true;
  } else if (v.is_number_integer()) {
    ok = v.get<std::int64_t>() >= 0;
    if (ok) n = std::uint64_t(v.get<std::int64_t>());
  } else if (v.is_number_float()) {
    double d = v.get<double>();
    ok = d >= 0 && d < 1.8e19 && std::floor(d) == d;
    if (ok) n = std::uint64_t(d);
  } else if (v.is_string()) {
    // Protobuf writes 64-bit integers as strings; accept that for every integer field.
    const auto& s = v.get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    ok = !s.empty() && ec == std::errc{} && end == s.data() + s.size();
  }
  if (!ok) {
    ctx.problem(f, "expected a non-negative integer, got " + shown(v));
    return std::nullopt;
  }
  if (n < min || n > max) {
    ctx.problem(f, std::to_string(n) + " is out of range " + std::to_string(min) + ".." +
                       std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<Duration> read_duration(Context& ctx, const Field& f) {
  if (!f) return std::nullopt;
  if (f.value->is_object()) return read_duration_object(ctx, f);
  bool negative = false;
  Duration d{0};
  if (!f.value->is_string() || !parse_seconds_text(f.value->get<std::string>(), negative, d)) {
    bad_duration(ctx, f);
    return std::nullopt;
  }
  if (negative) {
    ctx.problem(f, "invalid duration " + shown(*f.value) + ": must not be negative");
    return std::nullopt;
  }
  return d;
}

std::optional<std::string_view> read_enum(Context& ctx, const Field& f,
                                          std::span<const EnumValue> values) {
  if (!f) return std::nullopt;
  const EnumValue* hit = nullptr;
  for (const auto& e : values) {
    if ((f.value->is_string() && f.value->get<std::string>() == e.name) ||
        (f.value->is_number_integer() && f.value->get<std::int64_t>() == e.number))
      hit = &e;
  }
  if (!hit) {
    std::string names;
    for (const auto& e : values) names += (names.empty() ? "" : ", ") + std::string(e.name);
    ctx.problem(f, "unknown value " + shown(*f.value) + " (expected one of " + names + ")");
    return std::nullopt;
  }
  if (!hit->supported) {
    ctx.problem(f, in_quotes(hit->name) + " is " + std::string(kNotYet));
    return std::nullopt;
  }
  return hit->name;
}

void for_each(Context& ctx, const Field& f, const std::function<void(const Field&)>& fn) {
  if (!f) return;
  if (!f.value->is_array()) {
    ctx.problem(f, "expected a list");
    return;
  }
  for (std::size_t i = 0; i < f.value->size(); ++i) fn(f.item(i, &(*f.value)[i]));
}

bool check_type_url(Context& ctx, const Object& any, std::string_view type_url) {
  Field t = any.required("@type");
  auto url = read_string(ctx, t);
  if (!url) return false;
  if (*url != type_url) {
    ctx.problem(t, "expected " + in_quotes(type_url) + ", got " + in_quotes(*url));
    return false;
  }
  return true;
}

std::optional<double> read_percent(Context& ctx, const Field& f) {
  static constexpr std::string_view kPercentFields[] = {"value"};
  Object o(ctx, f, {kPercentFields});
  if (!o.ok()) return std::nullopt;
  Field v = o.get("value");
  if (!v) return 0.0;
  if (!v.value->is_number()) {
    ctx.problem(v, "expected a number");
    return std::nullopt;
  }
  auto d = v.value->get<double>();
  if (!std::isfinite(d) || d < 0 || d > 100) {
    ctx.problem(v, "must be a number between 0 and 100");
    return std::nullopt;
  }
  return d;
}

}  // namespace ferry::config::detail
