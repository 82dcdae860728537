// Compiling and running Envoy access log formats (see access_log_format.hpp).
#include "observe/access_log_format.hpp"

#include <array>
#include <charconv>
#include <cstdio>
#include <utility>

#include <ferry/filter.hpp>

#include "common/time_format.hpp"
#include "observe/otlp_json.hpp"

namespace ferry::observe {

namespace {

using Kind = Op::Kind;

struct Named {
  std::string_view name;
  Kind kind;
};

// Operators without arguments.
constexpr std::array<Named, 19> kPlain{{
    {"PROTOCOL", Kind::protocol},
    {"RESPONSE_CODE", Kind::response_code},
    {"RESPONSE_FLAGS", Kind::response_flags},
    {"RESPONSE_CODE_DETAILS", Kind::response_code_details},
    {"BYTES_RECEIVED", Kind::bytes_received},
    {"BYTES_SENT", Kind::bytes_sent},
    {"DURATION", Kind::duration},
    {"REQUEST_DURATION", Kind::request_duration},
    {"RESPONSE_DURATION", Kind::response_duration},
    {"UPSTREAM_HOST", Kind::upstream_host},
    {"UPSTREAM_CLUSTER", Kind::upstream_cluster},
    {"UPSTREAM_TRANSPORT_FAILURE_REASON", Kind::upstream_transport_failure_reason},
    {"UPSTREAM_REQUEST_ATTEMPT_COUNT", Kind::attempt_count},
    {"DOWNSTREAM_REMOTE_ADDRESS", Kind::downstream_remote_address},
    {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", Kind::downstream_remote_address_without_port},
    {"DOWNSTREAM_LOCAL_ADDRESS", Kind::downstream_local_address},
    {"ROUTE_NAME", Kind::route_name},
    {"HOSTNAME", Kind::hostname},
    {"TRACE_ID", Kind::trace_id},
}};

bool is_name_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return r;
}

bool is_number(Kind k) {
  switch (k) {
    case Kind::response_code: case Kind::bytes_received: case Kind::bytes_sent: case Kind::duration:
    case Kind::request_duration: case Kind::response_duration: case Kind::attempt_count:
      return true;
    default:
      return false;
  }
}

std::string_view header(const HeaderMap* map, const RequestHeaders* req, std::string_view name) {
  if (!map) return {};
  if (req && !name.empty() && name[0] == ':') {
    if (name == ":method") return req->method();
    if (name == ":path") return req->path();
    if (name == ":authority") return req->authority();
    return {};
  }
  // HeaderMap::get, with the length test inline: most entries differ in length, and this
  // runs for every %REQ%/%RESP% of every line.
  for (const auto& e : *map)
    if (e.name.size() == name.size() && iequals(e.name, name)) return e.value;
  return {};
}

std::string_view number(std::uint64_t v, char* buf) {
  auto [end, ec] = std::to_chars(buf, buf + 24, v);
  (void)ec;
  return {buf, std::size_t(end - buf)};
}

/// The value of one operator, or an empty view when it has none ("-"). `buf` (>= 256 bytes)
/// holds formatted numbers and times; `owned` holds the flag string.
std::string_view value_of(const Op& op, const StreamInfo& s, char* buf, std::string& owned) {
  auto ms = [&](std::int64_t ns) { return ns < 0 ? std::string_view{} : number(std::uint64_t(ns / 1000000), buf); };
  switch (op.kind) {
    case Kind::literal: return op.text;
    case Kind::start_time: return {buf, detail::format_time(op.text, s.start_unix_ns, buf, 256)};
    case Kind::req: {
      auto v = header(s.request, s.request, op.text);
      if (v.empty() && !op.fallback.empty()) v = header(s.request, s.request, op.fallback);
      return v.substr(0, op.max_len);
    }
    case Kind::resp: return header(s.response, nullptr, op.text).substr(0, op.max_len);
    case Kind::protocol:
      if (!s.request) return {};
      return s.request->version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    case Kind::response_code: return number(std::uint64_t(s.response_code), buf);
    case Kind::response_flags:
      if (s.response_flags == 0) return "-";  // the usual case, without building a string
      owned = flags_to_string(s.response_flags);
      return owned;
    case Kind::response_code_details: return s.response_code_details;
    case Kind::bytes_received: return number(s.bytes_received, buf);
    case Kind::bytes_sent: return number(s.bytes_sent, buf);
    case Kind::duration: return ms(s.duration_ns);
    case Kind::request_duration: return ms(s.request_duration_ns);
    case Kind::response_duration: return ms(s.response_duration_ns);
    case Kind::upstream_host: return s.upstream_host;
    case Kind::upstream_cluster: return s.upstream_cluster;
    case Kind::upstream_transport_failure_reason: return s.upstream_transport_failure_reason;
    case Kind::attempt_count: return number(s.attempt_count, buf);
    case Kind::downstream_remote_address: return s.downstream_remote_address;
    case Kind::downstream_remote_address_without_port: return s.downstream_remote_ip;
    case Kind::downstream_local_address: return s.downstream_local_address;
    case Kind::route_name: return s.route_name;
    case Kind::hostname: return detail::host_name();
    case Kind::trace_id: return s.trace_id;
  }
  return {};
}

/// Parses the operator that starts at format[i] == '%'; advances i past it.
bool parse_op(std::string_view f, std::size_t& i, Op& op, std::string& error) {
  std::size_t p = i + 1;
  while (p < f.size() && is_name_char(f[p])) ++p;
  std::string_view name = f.substr(i + 1, p - i - 1);
  std::string_view arg;
  bool has_arg = false;
  if (p < f.size() && f[p] == '(') {
    auto close = f.find(')', p);
    if (close == std::string_view::npos) {
      error = "missing ')' in %" + std::string(name) + "(";
      return false;
    }
    arg = f.substr(p + 1, close - p - 1);
    has_arg = true;
    p = close + 1;
  }
  std::size_t max_len = std::string::npos;
  if (p < f.size() && f[p] == ':') {
    std::size_t q = p + 1, n = 0;
    while (q < f.size() && f[q] >= '0' && f[q] <= '9') n = n * 10 + std::size_t(f[q++] - '0');
    if (q == p + 1) {
      error = "bad length after %" + std::string(name) + "(...):";
      return false;
    }
    max_len = n;
    p = q;
  }
  if (p >= f.size() || f[p] != '%') {
    error = "unterminated command operator at offset " + std::to_string(i) + " (a literal % is written %%)";
    return false;
  }
  i = p + 1;
  if (name == "REQ" || name == "RESP" || name == "REQUEST_HEADER" || name == "RESPONSE_HEADER") {
    if (!has_arg || arg.empty()) {
      error = "%" + std::string(name) + "% needs a header name: %" + std::string(name) + "(name)%";
      return false;
    }
    op.kind = (name == "REQ" || name == "REQUEST_HEADER") ? Kind::req : Kind::resp;
    auto q = arg.find('?');
    op.text = lower(arg.substr(0, q));
    if (q != std::string_view::npos) op.fallback = lower(arg.substr(q + 1));
    op.max_len = max_len;
    return true;
  }
  if (max_len != std::string::npos) {
    error = "%" + std::string(name) + "% takes no :length";
    return false;
  }
  if (name == "START_TIME") {
    op.kind = Kind::start_time;
    op.text = std::string(arg);
    return true;
  }
  for (const auto& n : kPlain) {
    if (n.name != name) continue;
    if (has_arg) {
      error = "%" + std::string(name) + "% takes no argument";
      return false;
    }
    op.kind = n.kind;
    return true;
  }
  error = "unknown command operator %" + std::string(name) + "%";
  return false;
}

}  // namespace

bool FormatString::compile(std::string_view f, std::string& error) {
  ops_.clear();
  std::string literal;
  std::size_t i = 0;
  while (i < f.size()) {
    if (f[i] != '%') {
      literal += f[i++];
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '%') {
      literal += '%';
      i += 2;
      continue;
    }
    Op op;
    if (!parse_op(f, i, op, error)) return false;
    if (!literal.empty()) ops_.push_back({Kind::literal, std::exchange(literal, {}), {}, std::string::npos});
    ops_.push_back(std::move(op));
  }
  if (!literal.empty()) ops_.push_back({Kind::literal, std::move(literal), {}, std::string::npos});
  return true;
}

void FormatString::append(const StreamInfo& s, std::string& out) const {
  char buf[256];
  std::string owned;
  for (const auto& op : ops_) {
    auto v = value_of(op, s, buf, owned);
    if (v.empty() && op.kind != Kind::literal) out += '-';
    else out += v;
  }
}

void FormatString::append_json(const StreamInfo& s, bool typed, std::string& out) const {
  if (typed && ops_.size() == 1 && ops_[0].kind != Kind::literal) {
    char buf[256];
    std::string owned;
    auto v = value_of(ops_[0], s, buf, owned);
    if (v.empty()) {
      out += "null";
      return;
    }
    if (is_number(ops_[0].kind)) {
      out += v;
      return;
    }
  }
  std::string text;
  append(s, text);
  out += '"';
  append_json_text(text, out);
  out += '"';
}

bool Formatter::compile(const AccessLogOptions& o, const std::string& path, std::vector<std::pair<std::string, std::string>>& problems) {
  typed_ = o.typed_json;
  if (!o.json_format.empty()) {
    if (!o.format.empty()) {
      problems.push_back({path + ".format", "set together with json_format (only one format may be given)"});
      return false;
    }
    is_json_ = true;
    return compile_json(o.json_format, path + ".json_format", json_, problems);
  }
  std::string error;
  if (!text_.compile(o.format.empty() ? kDefaultFormat : std::string_view(o.format), error)) {
    problems.push_back({path + ".format", error});
    return false;
  }
  return true;
}

bool Formatter::compile_json(const std::vector<AccessLogJsonField>& fields, const std::string& path,
                             std::vector<JsonNode>& out, std::vector<std::pair<std::string, std::string>>& problems) {
  bool ok = true;
  for (const auto& f : fields) {
    JsonNode node;
    node.key = "\"";
    append_json_text(f.key, node.key);
    node.key += "\":";
    node.object = f.object;
    std::string where = path + "." + f.key;
    if (f.object) {
      ok = compile_json(f.fields, where, node.fields, problems) && ok;
    } else {
      std::string error;
      if (!node.value.compile(f.format, error)) {
        problems.push_back({where, error});
        ok = false;
      }
    }
    out.push_back(std::move(node));
  }
  return ok;
}

void Formatter::append_object(const std::vector<JsonNode>& nodes, const StreamInfo& s, std::string& out) const {
  out += '{';
  bool first = true;
  for (const auto& n : nodes) {
    if (!first) out += ',';
    first = false;
    out += n.key;
    if (n.object) append_object(n.fields, s, out);
    else n.value.append_json(s, typed_, out);
  }
  out += '}';
}

void Formatter::format(const StreamInfo& s, std::string& out) const {
  if (!is_json_) {
    text_.append(s, out);
    return;
  }
  append_object(json_, s, out);
  out += '\n';
}

}  // namespace ferry::observe
