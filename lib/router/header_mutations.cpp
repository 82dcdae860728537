#include "router/header_mutations.hpp"
#include "common/ascii.hpp"
#include "common/token.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/arena.hpp"
#include "common/time_format.hpp"
#include "router/matchers.hpp"

namespace ferry::router {

namespace {

using detail::lower;
using detail::to_lower;



// Envoy commands ferry knows but does not format yet: reported as such, not as unknown.
constexpr std::string_view kNotYetCommands[] = {
    "UPSTREAM_HOST", "RESP", "TRAILER", "DOWNSTREAM_LOCAL_ADDRESS",
    "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_LOCAL_PORT", "DOWNSTREAM_REMOTE_PORT",
    "DOWNSTREAM_DIRECT_REMOTE_ADDRESS", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
    "UPSTREAM_METADATA", "DYNAMIC_METADATA", "FILTER_STATE", "PER_REQUEST_STATE",
    "REQUEST_HEADERS_BYTES", "UPSTREAM_CLUSTER", "ROUTE_NAME", "STREAM_ID", "ENVIRONMENT",
    "DOWNSTREAM_PEER_URI_SAN", "DOWNSTREAM_LOCAL_URI_SAN", "DOWNSTREAM_PEER_SUBJECT",
    "DOWNSTREAM_TLS_VERSION", "REQUESTED_SERVER_NAME", "CEL", "METADATA"};

constexpr std::string_view kSupported =
    "%DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %PROTOCOL%, %REQ(name)%, "
    "%UPSTREAM_REMOTE_ADDRESS%, %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %START_TIME%, %HOSTNAME%";

// "ip" of "ip:port" or "[ip]:port".
std::string_view without_port(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return address;
  auto ip = address.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return ip;
}

bool is_command_char(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// Splits "NAME(args):len" into its parts; false when the shape is wrong.
bool split_command(std::string_view cmd, std::string_view& name, std::string_view& args, bool& has_args,
                   std::string_view& length) {
  std::size_t i = 0;
  while (i < cmd.size() && is_command_char(cmd[i])) ++i;
  name = cmd.substr(0, i);
  has_args = i < cmd.size() && cmd[i] == '(';
  if (has_args) {
    auto close = cmd.find(')', i);
    if (close == std::string_view::npos) return false;
    args = cmd.substr(i + 1, close - i - 1);
    i = close + 1;
  }
  length = {};
  if (i < cmd.size()) {
    if (cmd[i] != ':' || i + 1 == cmd.size()) return false;
    length = cmd.substr(i + 1);
    if (!std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  }
  return !name.empty();
}

}  // namespace

// --- ValueFormat ------------------------------------------------------------------------

bool ValueFormat::parse_command(std::string_view cmd, Piece& out, std::string& error) {
  std::string_view name, args, length;
  bool has_args = false;
  if (!split_command(cmd, name, args, has_args, length)) {
    error = "malformed substitution \"%" + std::string(cmd) + "%\"";
    return false;
  }
  if (!length.empty()) out.max_length = std::stoul(std::string(length.substr(0, 9)));
  using K = Piece::Kind;
  if (name == "REQ" && has_args) {
    auto q = args.find('?');
    out.kind = K::request_header;
    out.text = to_lower(args.substr(0, q));
    if (q != std::string_view::npos) out.alternative = to_lower(args.substr(q + 1));
    if (out.text.empty()) error = "%REQ()% needs a header name, e.g. %REQ(x-request-id)%";
    return error.empty();
  }
  if (name == "START_TIME") {
    out.kind = K::start_time;
    out.text = std::string(args);  // empty: Envoy's default format
    return true;
  }
  if (!has_args && name == "DOWNSTREAM_REMOTE_ADDRESS") out.kind = K::remote_address;
  else if (!has_args && name == "HOSTNAME") out.kind = K::hostname;
  else if (!has_args && name == "UPSTREAM_REMOTE_ADDRESS") out.kind = K::upstream_address;
  else if (!has_args && name == "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT") out.kind = K::upstream_ip;
  else if (!has_args && name == "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT") out.kind = K::remote_ip;
  else if (!has_args && name == "PROTOCOL") out.kind = K::protocol;
  else if (std::find(std::begin(kNotYetCommands), std::end(kNotYetCommands), name) != std::end(kNotYetCommands))
    error = "substitution %" + std::string(name) + "% is not supported yet (see docs/ROADMAP.md)";
  else
    error = "unknown substitution \"%" + std::string(cmd) + "%\" (supported: " + std::string(kSupported) + ")";
  return error.empty();
}

// Envoy's substitution grammar: "%%" is a '%', "%COMMAND%" a substitution, any other '%'
// an error.
bool ValueFormat::compile(std::string_view text, ValueFormat& out, std::string& error) {
  out = ValueFormat{};
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    out.pieces_.push_back({Piece::Kind::literal, std::move(literal), {}, std::string::npos});
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      literal.push_back(text[i]);
      continue;
    }
    auto close = text.find('%', i + 1);
    // Arguments may hold '%' themselves (%START_TIME(%Y-%m-%d)%): look past the ')'.
    auto j = i + 1;
    while (j < text.size() && is_command_char(text[j])) ++j;
    if (j > i + 1 && j < text.size() && text[j] == '(') {
      auto paren = text.find(')', j);
      close = paren == std::string_view::npos ? paren : text.find('%', paren);
    }
    if (close == i + 1) {
      literal.push_back('%');
      i = close;
      continue;
    }
    if (close == std::string_view::npos) {
      error = "unterminated substitution at offset " + std::to_string(i) + " (write \"%%\" for a \"%\")";
      return false;
    }
    flush();
    Piece p;
    if (!parse_command(text.substr(i + 1, close - i - 1), p, error)) return false;
    out.pieces_.push_back(std::move(p));
    out.is_literal_ = false;
    i = close;
  }
  flush();
  if (out.is_literal_) {
    for (const auto& p : out.pieces_) out.literal_ += p.text;
    out.pieces_.clear();
  }
  return true;
}

std::string_view ValueFormat::piece_value(const Piece& p, const FormatContext& ctx) const {
  std::string_view v;
  switch (p.kind) {
    case Piece::Kind::literal: v = p.text; break;
    case Piece::Kind::remote_address: v = ctx.down.remote_address; break;
    case Piece::Kind::remote_ip: v = ctx.down.remote_ip; break;
    case Piece::Kind::protocol: v = ctx.req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1"; break;
    case Piece::Kind::hostname: v = detail::host_name(); break;
    case Piece::Kind::upstream_address: v = ctx.down.upstream_address; break;
    case Piece::Kind::upstream_ip: v = without_port(ctx.down.upstream_address); break;
    case Piece::Kind::start_time: {
      if (ctx.down.start_time_ns == 0) break;
      constexpr std::size_t kCap = 256;
      char* out = ctx.arena.allocate(kCap);
      v = {out, detail::format_time(p.text, ctx.down.start_time_ns, out, kCap)};
      break;
    }
    case Piece::Kind::request_header: {
      auto h = request_value(ctx.req, p.text, ctx.down.scheme, ctx.arena);
      if (!h && !p.alternative.empty()) h = request_value(ctx.req, p.alternative, ctx.down.scheme, ctx.arena);
      v = h.value_or(std::string_view{});
      break;
    }
  }
  return v.substr(0, p.max_length);
}

std::string_view ValueFormat::format(const FormatContext& ctx) const {
  if (is_literal_) return literal_;
  if (pieces_.size() == 1) return piece_value(pieces_[0], ctx);  // already stable storage
  std::size_t total = 0;
  for (const auto& p : pieces_) total += piece_value(p, ctx).size();
  char* out = ctx.arena.allocate(total);
  std::size_t n = 0;
  for (const auto& p : pieces_) {
    auto v = piece_value(p, ctx);
    if (!v.empty()) std::memcpy(out + n, v.data(), v.size());
    n += v.size();
  }
  return {out, n};
}

// --- MutationSet ------------------------------------------------------------------------

std::string_view mutation_name_problem(std::string_view name) noexcept {
  if (name.empty()) return "a header name must not be empty";
  if (name.front() == ':' || iequals(name, "host"))
    return "pseudo-headers and Host cannot be changed here (use the route's rewrites)";
  if (!detail::is_token(name)) return "not a valid header name";
  return {};
}

bool MutationSet::compile(const std::vector<HeaderValueOption>& add, const std::vector<std::string>& remove,
                          std::string& error, std::size_t& error_index) {
  for (std::size_t i = 0; i < add.size(); ++i) {
    Add a{to_lower(add[i].key), {}, add[i].append_action, add[i].keep_empty_value};
    if (!ValueFormat::compile(add[i].value, a.value, error)) {
      error_index = i;
      return false;
    }
    add_.push_back(std::move(a));
  }
  for (const auto& r : remove) remove_.push_back(to_lower(r));
  return true;
}

void set_header_view(HeaderMap& map, std::string_view name, std::string_view value) {
  auto& entries = map.entries();
  auto it = std::find_if(entries.begin(), entries.end(), [&](const HeaderEntry& e) { return iequals(e.name, name); });
  if (it == entries.end()) {
    map.append_view(name, value);
    return;
  }
  it->value = value;
  entries.erase(std::remove_if(it + 1, entries.end(), [&](const HeaderEntry& e) { return iequals(e.name, name); }),
                entries.end());
}

void MutationSet::apply(HeaderMap& target, const FormatContext& ctx) const {
  for (const auto& name : remove_) target.remove(name);
  if (add_.empty()) return;
  // Every value is formatted against the headers as they are before this level adds
  // anything (so %REQ(x)% never sees a value added next to it), as Envoy does.
  constexpr std::size_t kInline = 16;
  std::string_view inline_values[kInline];
  std::string_view* values = inline_values;
  if (add_.size() > kInline) {
    void* raw = ctx.arena.allocate(add_.size() * sizeof(std::string_view) + alignof(std::string_view));
    std::size_t space = add_.size() * sizeof(std::string_view) + alignof(std::string_view);
    values = static_cast<std::string_view*>(std::align(alignof(std::string_view), add_.size() * sizeof(std::string_view), raw, space));
    std::uninitialized_default_construct_n(values, add_.size());
  }
  using A = HeaderValueOption::AppendAction;
  for (std::size_t i = 0; i < add_.size(); ++i) {
    const auto& a = add_[i];
    auto v = a.value.format(ctx);
    bool skip = (v.empty() && !a.keep_empty) || (a.action == A::add_if_absent && target.has(a.key)) ||
                (a.action == A::overwrite_if_exists && !target.has(a.key));
    // A skipped entry is marked by a null data pointer; a kept "" gets a non-null one.
    values[i] = skip ? std::string_view() : (v.data() ? v : std::string_view("", 0));
  }
  for (std::size_t i = 0; i < add_.size(); ++i) {
    const auto& a = add_[i];
    if (values[i].data() && (a.action == A::overwrite_if_exists_or_add || a.action == A::overwrite_if_exists))
      set_header_view(target, a.key, values[i]);
  }
  for (std::size_t i = 0; i < add_.size(); ++i) {
    const auto& a = add_[i];
    if (values[i].data() && (a.action == A::append_if_exists_or_add || a.action == A::add_if_absent))
      target.append_view(a.key, values[i]);
  }
}

}  // namespace ferry::router
