// A small toolkit for walking a JSON document the way protobuf's JSON parser reads it:
// fields by their proto name or its lowerCamelCase form, unknown fields rejected, scalars
// checked, every problem recorded with the path the user wrote.
//
// Two paths travel with every value: the path as the user spelled it (for messages), and
// a canonical one with proto (snake_case) names. Checks that run after parsing
// (validate_route_config, validate_cluster) speak canonical paths; the Context maps them
// back to the user's spelling, and drops a later complaint about a spot that parsing
// already reported.
//
// nlohmann_json stays inside lib/config/ (DESIGN.md: no JSON past the loader).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include <ferry/types.hpp>

namespace ferry::config::detail {

using Json = nlohmann::ordered_json;  // keeps document order, so problems come in it too

/// Suffix of every "known Envoy field, not implemented yet" message.
inline constexpr std::string_view kNotYet = "not supported yet (see docs/ROADMAP.md)";

/// A value in the document (null when absent) and where it is.
struct Field {
  const Json* value = nullptr;
  std::string path;   ///< as written by the user
  std::string canon;  ///< with proto field names
  explicit operator bool() const noexcept { return value != nullptr; }

  Field member(std::string_view spelled, std::string_view proto_name, const Json* v) const;
  Field item(std::size_t index, const Json* v) const;
  /// A map entry, written `path["key"]` since keys often contain dots.
  Field entry(const std::string& key, const Json* v) const;
};

/// Collects problems for one load.
class Context {
 public:
  void problem(const Field& at, std::string message);
  /// Marks `canon` as already reported, so semantic checks stay quiet about it.
  void suppress(const std::string& canon) { reported_.insert(canon); }
  /// Adds problems found by a semantic check (canonical paths): translated to the user's
  /// spelling, dropping those at a path parsing already reported.
  void add_checked(const std::vector<ConfigProblem>& canonical);
  void remember_spelling(const Field& f);
  std::size_t count() const noexcept { return problems_.size(); }
  /// A cluster named by a built-in filter (ext_authz's server_uri, remote JWKS, ...): the
  /// loader checks it exists once every cluster is read. `at` is the field with the name.
  void cluster_ref(const Field& at, std::string name) { cluster_refs_.emplace_back(at.canon, std::move(name)); }
  /// {canonical path, cluster name} of every cluster_ref().
  const std::vector<std::pair<std::string, std::string>>& cluster_refs() const noexcept { return cluster_refs_; }
  std::vector<ConfigProblem> take() { return std::move(problems_); }
  /// `canon` as the user spelled it (for paths in warnings).
  std::string spelled(const std::string& canon) const;

 private:
  std::vector<ConfigProblem> problems_;
  std::unordered_set<std::string> reported_;
  std::unordered_map<std::string, std::string> spelling_;  // canon → user path, if they differ
  std::vector<std::pair<std::string, std::string>> cluster_refs_;
};

/// The fields a message understands, and the Envoy fields ferry knows but does not
/// implement yet (reported as such rather than as unknown).
struct Schema {
  std::span<const std::string_view> fields;
  std::span<const std::string_view> not_yet = {};
};

/// One JSON object checked against a Schema. Unknown and not-yet-supported fields are
/// reported as soon as the object is opened, so nothing is ever ignored silently.
class Object {
 public:
  Object(Context& ctx, const Field& self, const Schema& schema);

  /// The field called `proto_name` (snake_case), written either way; absent or JSON null
  /// gives an empty Field. `proto_name` must be in the schema's fields.
  Field get(std::string_view proto_name) const;
  /// Like get(), and reports `missing required field` when absent.
  Field required(std::string_view proto_name) const;
  bool ok() const noexcept { return ok_; }
  const Field& self() const noexcept { return self_; }
  Context& ctx() const noexcept { return ctx_; }

 private:
  Context& ctx_;
  Field self_;
  Schema schema_;
  bool ok_ = false;
  std::unordered_map<std::string_view, std::string> spelled_;  // proto name → key used
};

/// Whether the object `obj` sets `proto_name` (either spelling, non-null) — also for
/// fields a Schema lists as not supported yet, e.g. to tell which oneof case was used.
bool is_set(const Field& obj, std::string_view proto_name);

/// lowerCamelCase form of a proto field name ("port_value" → "portValue").
std::string camel_case(std::string_view proto_name);
std::string in_quotes(std::string_view s);

// Scalar readers: an absent field yields nullopt quietly; a wrong one yields nullopt and a
// problem at the field.
std::optional<std::string> read_string(Context& ctx, const Field& f);
std::optional<bool> read_bool(Context& ctx, const Field& f);
/// Unsigned integer in [min, max]; JSON numbers or decimal strings (protobuf's 64-bit form).
std::optional<std::uint64_t> read_uint(Context& ctx, const Field& f, std::uint64_t min,
                                       std::uint64_t max);
/// google.protobuf.Duration: "1.5s" or {"seconds": 1, "nanos": 500000000}; never negative.
std::optional<Duration> read_duration(Context& ctx, const Field& f);

/// One value of a proto enum: its name and number; unsupported ones are reported as not
/// supported yet.
struct EnumValue {
  std::string_view name;
  int number;
  bool supported;
};
/// Returns the name of the supported value the field selects (names or numbers accepted).
std::optional<std::string_view> read_enum(Context& ctx, const Field& f,
                                          std::span<const EnumValue> values);

/// Assigns a value read successfully and leaves the default otherwise. Integer reads come
/// back as uint64, already range-checked for the target type.
template <class T, class U>
void set_if(const std::optional<U>& v, T& out) {
  if (v) out = static_cast<T>(*v);
}

/// type.v3.Percent ({"value": 0..100}); an absent value reads as 0, as in proto3.
std::optional<double> read_percent(Context& ctx, const Field& f);

/// Calls fn(item) for each element of a JSON array; reports a non-array.
void for_each(Context& ctx, const Field& f, const std::function<void(const Field&)>& fn);

/// Checks a google.protobuf.Any's "@type" against the one type URL accepted here.
bool check_type_url(Context& ctx, const Object& any, std::string_view type_url);

}  // namespace ferry::config::detail
