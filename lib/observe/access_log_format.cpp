// Compiling and running Envoy access log formats (see access_log_format.hpp).
#include "observe/access_log_format.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include <ferry/filter.hpp>

#include "common/ascii.hpp"
#include "common/time_format.hpp"
#include "common/json_text.hpp"

namespace ferry::observe {

namespace {

using Kind = Op::Kind;

struct Named {
  std::string_view name;
  Kind kind;
};

// Operators without arguments.
constexpr std::array<Named, 21> kPlain{{
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
    {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS", Kind::downstream_direct_remote_address},
    {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT", Kind::downstream_direct_remote_address_without_port},
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

Op::Pseudo pseudo_of(std::string_view name) {
  if (name.empty() || name[0] != ':') return Op::Pseudo::none;
  if (name == ":method") return Op::Pseudo::method;
  if (name == ":path") return Op::Pseudo::path;
  if (name == ":authority") return Op::Pseudo::authority;
  return Op::Pseudo::other;  // no value in HTTP/1 (":scheme" and the like)
}

std::string_view pseudo_header(const RequestHeaders* req, Op::Pseudo p) {
  switch (p) {
    case Op::Pseudo::method: return req->method();
    case Op::Pseudo::path: return req->path();
    case Op::Pseudo::authority: return req->authority();
    default: return {};
  }
}

std::string_view header(const HeaderMap* map, std::string_view name) { return map ? map->get(name) : std::string_view{}; }

/// The values of a format's %REQ%/%RESP% headers, found in one pass over each map instead
/// of one pass per operator.
struct HeaderValues {
  std::array<std::string_view, FormatString::kMaxSlots> req, resp;
};

void find_all(const HeaderMap* map, const std::vector<std::string>& names,
              std::array<std::string_view, FormatString::kMaxSlots>& out) {
  if (names.empty()) return;
  std::fill_n(out.begin(), names.size(), std::string_view{});
  if (!map) return;
  std::uint32_t missing = (1u << names.size()) - 1;
  // Bit L set: some wanted name is L bytes long (63: any longer). Most fields fail this test.
  std::uint64_t lengths = 0;
  for (const auto& n : names) lengths |= std::uint64_t(1) << std::min<std::size_t>(n.size(), 63);
  for (const auto& e : *map) {
    if (!((lengths >> std::min<std::size_t>(e.name.size(), 63)) & 1)) continue;
    for (std::uint32_t m = missing; m != 0; m &= m - 1) {
      auto i = unsigned(__builtin_ctz(m));
      // Most names differ in length: the byte compare runs rarely. The first field wins.
      if (e.name.size() == names[i].size() && detail::equals_lower(e.name.data(), names[i])) {
        out[i] = e.value;
        missing &= ~(1u << i);
      }
    }
    if (missing == 0) return;
  }
}

/// Room an operator's formatted value may need (a time, a number, the flag list).
constexpr std::size_t kOpRoom = 256;

/// Copies `n` bytes with at most two overlapping loads and stores per size class instead of
/// a call to memcpy: most pieces of a log line are a few bytes long, and the medium ones
/// (a request id is 36, a traceparent 55) cost a call and its dispatch more than the copy.
/// Reads stay within [src, src + n).
inline char* copy_small(char* p, const char* src, std::size_t n) {
  if (n > 16) {
    if (n > 64) [[unlikely]] {
      std::memcpy(p, src, n);
      return p + n;
    }
    // 16-byte blocks, the last one overlapping the one before it.
    char block[16];
    for (std::size_t i = 0; i + 16 < n; i += 16) {
      std::memcpy(block, src + i, 16);
      std::memcpy(p + i, block, 16);
    }
    std::memcpy(block, src + n - 16, 16);
    std::memcpy(p + n - 16, block, 16);
  } else if (n >= 8) {
    std::uint64_t a, b;
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(p, &a, 8);
    std::memcpy(p + n - 8, &b, 8);
  } else if (n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(p, &a, 4);
    std::memcpy(p + n - 4, &b, 4);
  } else if (n > 0) {
    p[0] = src[0];
    p[n / 2] = src[n / 2];
    p[n - 1] = src[n - 1];
  }
  return p + n;
}

/// Decimal digits of `v` at `p`: small values (status codes, most sizes and durations)
/// without a division loop.
inline char* put_uint(char* p, std::uint64_t v) {
  if (v < 10) {
    *p = char('0' + v);
    return p + 1;
  }
  if (v < 100) {
    p[0] = char('0' + v / 10);
    p[1] = char('0' + v % 10);
    return p + 2;
  }
  if (v < 1000) {
    p[0] = char('0' + v / 100);
    p[1] = char('0' + v / 10 % 10);
    p[2] = char('0' + v % 10);
    return p + 3;
  }
  return std::to_chars(p, p + 20, v).ptr;
}

std::string_view number(std::uint64_t v, char* buf) { return {buf, std::size_t(put_uint(buf, v) - buf)}; }

/// Writes a line into a LineBuffer through a raw cursor: one capacity test per operator
/// and plain stores, where appending piece by piece would test and maybe grow per piece.
class LineWriter {
 public:
  static constexpr std::size_t kInitialRoom = 512;
  explicit LineWriter(LineBuffer& out) : out_(out) {
    p_ = out_.room(kInitialRoom);
    end_ = p_ + out_.room_left();
  }
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;
  ~LineWriter() { out_.commit(std::size_t(p_ - (out_.data() + out_.size()))); }
  /// Makes room for `n` bytes at cursor().
  char* room(std::size_t n) {
    if (std::size_t(end_ - p_) < n) [[unlikely]] grow(n);
    return p_;
  }
  /// Moves the cursor past `n` bytes written at room()'s pointer.
  void advance(std::size_t n) { p_ += n; }
  /// Appends a literal of `n` bytes at `src`, which has at least 16 readable bytes; room()
  /// was called with at least 16.
  void put_padded(const char* src, std::size_t n) {
    if (n > 16) return put({src, n});
    std::memcpy(p_, src, 16);
    p_ += n;
  }
  /// Appends `v` unless it already sits at the cursor (formatted there through room()).
  void put(std::string_view v) {
    if (v.data() == p_) {
      p_ += v.size();
      return;
    }
    room(v.size());
    p_ = copy_small(p_, v.data(), v.size());
  }

 private:
  void grow(std::size_t n) {
    // Commit what is written so far; the buffer keeps it when it grows (nothing is cleared).
    out_.commit(std::size_t(p_ - (out_.data() + out_.size())));
    p_ = out_.room(n + kInitialRoom);
    end_ = p_ + out_.room_left();
  }
  LineBuffer& out_;
  char* p_;
  char* end_;
};

std::string_view request_value(const Op& op, const StreamInfo& s, const HeaderValues& hv) {
  if (!s.request) return {};
  auto one = [&](const std::string& name, std::uint8_t slot, Op::Pseudo pseudo) {
    if (pseudo != Op::Pseudo::none) return pseudo_header(s.request, pseudo);
    if (slot != Op::kNoSlot) return hv.req[slot];
    return header(s.request, name);
  };
  auto v = one(op.text, op.slot, op.pseudo);
  if (v.empty() && !op.fallback.empty()) v = one(op.fallback, op.fallback_slot, op.fallback_pseudo);
  return v;
}

/// The value of one operator, or an empty view when it has none ("-"). `buf` has kOpRoom
/// bytes for formatted numbers, times and flags.
std::string_view value_of(const Op& op, const StreamInfo& s, const HeaderValues& hv, char* buf) {
  auto ms = [&](std::int64_t ns) { return ns < 0 ? std::string_view{} : number(std::uint64_t(ns / 1000000), buf); };
  switch (op.kind) {
    case Kind::literal: return op.text;
    case Kind::start_time: return {buf, detail::format_time(op.text, s.start_unix_ns, buf, kOpRoom)};
    case Kind::req: return request_value(op, s, hv).substr(0, op.max_len);
    case Kind::resp: {
      if (op.pseudo != Op::Pseudo::none) return {};
      auto v = op.slot != Op::kNoSlot ? hv.resp[op.slot] : header(s.response, op.text);
      return v.substr(0, op.max_len);
    }
    case Kind::protocol:
      if (!s.request) return {};
      return s.request->version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
    case Kind::response_code: return number(std::uint64_t(s.response_code), buf);
    case Kind::response_flags: {
      if (s.response_flags == 0) return "-";  // the usual case, without building a string
      auto flags = flags_to_string(s.response_flags);
      auto n = std::min(flags.size(), kOpRoom);
      std::memcpy(buf, flags.data(), n);
      return {buf, n};
    }
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
    case Kind::downstream_direct_remote_address: return s.downstream_direct_remote_address;
    case Kind::downstream_direct_remote_address_without_port: return s.downstream_direct_remote_ip;
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

bool FormatString::compile(std::string_view f, std::string& error, bool fast_default) {
  ops_.clear();
  default_ = fast_default && f == kDefaultFormat;
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
  plan_slots();
  return true;
}

std::uint8_t FormatString::slot_for(std::vector<std::string>& names, const std::string& name) {
  if (name.empty() || name[0] == ':') return Op::kNoSlot;  // pseudo-headers are read directly
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return std::uint8_t(i);
  if (names.size() == kMaxSlots) return Op::kNoSlot;  // a rare format with many: looked up alone
  names.push_back(name);
  return std::uint8_t(names.size() - 1);
}

void FormatString::plan_slots() {
  req_names_.clear();
  resp_names_.clear();
  literal_pool_.clear();
  for (auto& op : ops_) {
    if (op.kind == Kind::literal) {
      op.literal_at = std::uint32_t(literal_pool_.size());
      literal_pool_ += op.text;
    }
    if (op.kind != Kind::req && op.kind != Kind::resp) continue;
    auto& names = op.kind == Kind::req ? req_names_ : resp_names_;
    op.pseudo = pseudo_of(op.text);
    op.slot = slot_for(names, op.text);
    if (op.fallback.empty()) continue;
    op.fallback_pseudo = pseudo_of(op.fallback);
    op.fallback_slot = slot_for(names, op.fallback);
  }
  literal_pool_.append(16, '\0');
}

void FormatString::append(const StreamInfo& s, std::string& out) const {
  LineBuffer line;
  append(s, line);
  out += line.view();
}

void FormatString::append_ops(const StreamInfo& s, LineBuffer& out) const {
  HeaderValues hv;
  find_all(s.request, req_names_, hv.req);
  find_all(s.response, resp_names_, hv.resp);
  LineWriter w(out);
  for (const auto& op : ops_) {
    char* at = w.room(kOpRoom);
    if (op.kind == Kind::literal) {
      w.put_padded(literal_pool_.data() + op.literal_at, op.text.size());
      continue;
    }
    // Numbers, times and flags are formatted in place; other values are views, copied.
    auto v = value_of(op, s, hv, at);
    w.put(v.empty() ? std::string_view("-") : v);
  }
}

void FormatString::append_default(const StreamInfo& s, LineBuffer& out) const {
  // Envoy's default format, unrolled (most access logs use it): the same text as the
  // general path gives for kDefaultFormat, which a unit test checks on random streams.
  std::string_view original_path, forwarded_for, user_agent, request_id, service_time, authority;
  if (s.request) {
    unsigned found = 0;  // the first field of a name wins, as in the general path
    auto take = [&](const HeaderEntry& e, std::string_view lower, unsigned bit, std::string_view& v) {
      if (!(found & bit) && detail::equals_lower(e.name.data(), lower)) v = e.value, found |= bit;
    };
    // Told apart by length first (the switch), then one compare: most fields match no case.
    for (const auto& e : *s.request) {
      switch (e.name.size()) {
        case 4: take(e, "host", 16, authority); break;  // RequestHeaders::authority()
        case 10: take(e, "user-agent", 1, user_agent); break;
        case 12: take(e, "x-request-id", 2, request_id); break;
        case 15: take(e, "x-forwarded-for", 4, forwarded_for); break;
        case 21: take(e, "x-envoy-original-path", 8, original_path); break;
        default: break;
      }
    }
  }
  if (s.response)
    for (const auto& e : *s.response)
      if (e.name.size() == 29 && detail::equals_lower(e.name.data(), "x-envoy-upstream-service-time")) {
        service_time = e.value;
        break;
      }
  std::string_view method, path, protocol;
  if (s.request) {
    method = s.request->method();
    path = original_path.empty() ? s.request->path() : original_path;
    protocol = s.request->version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
  }
  // Flags are rare: the usual "-" costs no string.
  std::string flags_text;
  std::string_view flags;  // empty: "-"
  if (s.response_flags != 0) [[unlikely]] flags = flags_text = flags_to_string(s.response_flags);

  std::size_t views = method.size() + path.size() + service_time.size() + forwarded_for.size() +
                      user_agent.size() + request_id.size() + s.upstream_host.size() + flags.size();
  views += authority.size();
  LineWriter w(out);
  // A time (24 bytes; 64 for years past 9999), 5 numbers of at most 20, 40 bytes of
  // literals and dashes.
  char* p = w.room(views + 64 + 5 * 20 + 40);
  char* const start = p;
  // A value, or "-" for a missing one: most lines have several (no X-Forwarded-For,
  // User-Agent or upstream service time), and one store beats a copy of a 1-byte view.
  // Inlined: as calls, these eleven pieces cost more than they save.
  auto value = [&](std::string_view v) __attribute__((always_inline)) {
    if (v.empty()) *p++ = '-';
    else p = copy_small(p, v.data(), v.size());
  };
  auto quoted = [&](std::string_view v) __attribute__((always_inline)) {
    std::memcpy(p, " \"", 2);
    p += 2;
    value(v);
    *p++ = '"';
  };
  *p++ = '[';
  p += detail::format_default_time(s.start_unix_ns, p, 64);
  std::memcpy(p, "] \"", 3);
  p += 3;
  value(method);
  *p++ = ' ';
  value(path);
  *p++ = ' ';
  value(protocol);
  std::memcpy(p, "\" ", 2);
  p += 2;
  p = put_uint(p, std::uint64_t(s.response_code));
  *p++ = ' ';
  value(flags);
  *p++ = ' ';
  p = put_uint(p, s.bytes_received);
  *p++ = ' ';
  p = put_uint(p, s.bytes_sent);
  *p++ = ' ';
  if (s.duration_ns < 0) *p++ = '-';
  else p = put_uint(p, std::uint64_t(s.duration_ns / 1000000));
  *p++ = ' ';
  value(service_time);
  quoted(forwarded_for);
  quoted(user_agent);
  quoted(request_id);
  quoted(authority);
  quoted(s.upstream_host);
  *p++ = '\n';
  w.advance(std::size_t(p - start));
}

void FormatString::append_json(const StreamInfo& s, bool typed, LineBuffer& out) const {
  if (typed && ops_.size() == 1 && ops_[0].kind != Kind::literal) {
    HeaderValues hv;
    find_all(s.request, req_names_, hv.req);
    find_all(s.response, resp_names_, hv.resp);
    char buf[kOpRoom];
    auto v = value_of(ops_[0], s, hv, buf);
    if (v.empty()) {
      out.append("null");
      return;
    }
    if (is_number(ops_[0].kind)) {
      out.append(v);
      return;
    }
  }
  // The field's text in a scratch buffer per thread (no allocation per field once the
  // thread has formatted one), escaped straight into the line.
  thread_local LineBuffer text;
  text.clear();
  append(s, text);
  char* const start = out.room(detail::json_text_max_size(text.size()) + 2);
  char* p = start;
  *p++ = '"';
  p = detail::write_json_text(text.view(), p);
  *p++ = '"';
  out.commit(std::size_t(p - start));
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
    detail::append_json_text(f.key, node.key);
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

void Formatter::append_object(const std::vector<JsonNode>& nodes, const StreamInfo& s, LineBuffer& out) const {
  out.append('{');
  bool first = true;
  for (const auto& n : nodes) {
    if (!first) out.append(',');
    first = false;
    out.append(n.key);
    if (n.object) append_object(n.fields, s, out);
    else n.value.append_json(s, typed_, out);
  }
  out.append('}');
}

bool Formatter::uses(const std::vector<JsonNode>& nodes, Op::Kind k) {
  for (const auto& n : nodes) {
    if (n.object ? uses(n.fields, k) : std::any_of(n.value.ops().begin(), n.value.ops().end(),
                                                   [k](const Op& op) { return op.kind == k; }))
      return true;
  }
  return false;
}

bool Formatter::uses(Op::Kind k) const {
  if (is_json_) return uses(json_, k);
  return std::any_of(text_.ops().begin(), text_.ops().end(), [k](const Op& op) { return op.kind == k; });
}

void Formatter::format_json(const StreamInfo& s, LineBuffer& out) const {
  append_object(json_, s, out);
  out.append('\n');
}

void Formatter::format(const StreamInfo& s, std::string& out) const {
  LineBuffer line;
  format(s, line);
  out += line.view();
}

}  // namespace ferry::observe
