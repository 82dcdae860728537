#include "config/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::config::detail {

namespace {

template <class T>
bool parse_number(std::string_view s, T& out, int base = 10) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  std::from_chars_result r;
  if constexpr (std::is_floating_point_v<T>)
    r = std::from_chars(s.data(), s.data() + s.size(), out);
  else
    r = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool looks_like_float(std::string_view s) {
  // from_chars also takes "inf", "nan" and hex floats; YAML's core schema does not.
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') digit = true;
    else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') return false;
  }
  return digit;
}

// Resolves a plain (unquoted) scalar the way YAML 1.2's core schema does.
Json plain_scalar(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "Null" || s == "NULL" || s == "~") return nullptr;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  // Integers too large for 64 bits stay strings, as protobuf's JSON form writes them.
  if (parse_number(s, i)) return i;
  if (parse_number(s, u)) return u;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    if (parse_number(std::string_view(s).substr(2), u, s[1] == 'x' ? 16 : 8)) return u;
  }
  double d = 0;
  if (looks_like_float(s) && parse_number(s, d)) return d;
  return s;
}

Json convert(const YAML::Node& node);

void merge_into(Json& out, const YAML::Node& source) {
  // `<<: *base` or `<<: [*a, *b]`: keys already present win, earlier sources win.
  if (source.IsSequence()) {
    for (const auto& s : source) merge_into(out, s);
    return;
  }
  if (!source.IsMap()) throw YAML::ParserException(source.Mark(), "a merge key (<<) needs a map");
  Json extra = convert(source);
  for (auto& [k, v] : extra.items())
    if (!out.contains(k)) out[k] = v;
}

Json convert_map(const YAML::Node& node) {
  Json out = Json::object();
  // Copies of the node handles (Node's operator= would rebind the anchored node itself).
  std::vector<YAML::Node> merges;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) throw YAML::ParserException(kv.first.Mark(), "map keys must be scalars");
    const auto& key = kv.first.Scalar();
    if (key == "<<" && kv.first.Tag() != "!") {
      merges.push_back(kv.second);  // applied after the explicit keys, which take precedence
      continue;
    }
    out[key] = convert(kv.second);
  }
  for (const auto& m : merges) merge_into(out, m);
  return out;
}

Json convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted scalars "!" and leaves plain ones "?"; !!str forces a string.
      if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return node.Scalar();
      return plain_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& item : node) out.push_back(convert(item));
      return out;
    }
    case YAML::NodeType::Map:
      return convert_map(node);
  }
  return nullptr;
}

}  // namespace

Json parse_yaml(std::string_view text) {
  return convert(YAML::Load(std::string(text)));
}

}  // namespace ferry::config::detail
