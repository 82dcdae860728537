#include "codec/http1_decoder.hpp"
#include "common/ascii.hpp"
#include "common/token.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace ferry::codec {

namespace {

using detail::is_tchar;  // RFC 9110 5.6.2, one table lookup (common/token.hpp)
using detail::lower;
using Err = http::error;

// field-vchar / SP / HTAB: what a field value or a reason phrase may contain.
inline bool is_text(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x20 ? u != 0x7f : u == '\t';
}
inline bool is_ws(char c) noexcept { return c == ' ' || c == '\t'; }

inline int unhex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  auto l = static_cast<unsigned char>(c | 0x20);
  return (l >= 'a' && l <= 'f') ? l - 'a' + 10 : -1;
}

// First byte in [p, end) below `Below` or DEL (end if none): the end of a run of text.
// Bytes >= 0x80 (obs-text) are text. SSE2 checks 16 bytes per step; the last step re-reads
// bytes before p when [begin, end) holds at least 16, rather than going byte by byte.
#ifdef __SSE2__
template <unsigned Below>
inline int ctl_mask(const char* p) noexcept {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Signed compares: obs-text is negative, so "0 <= v < Below" or v == DEL.
  const __m128i ctl = _mm_and_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(Below))),
                                    _mm_cmpgt_epi8(v, _mm_set1_epi8(-1)));
  return _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
}
#endif

template <unsigned Below>
inline const char* find_ctl(const char* p, const char* end, const char* begin) noexcept {
#ifdef __SSE2__
  while (end - p >= 16) {
    int mask = ctl_mask<Below>(p);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
  if (p < end && end - begin >= 16) {
    unsigned mask = unsigned(ctl_mask<Below>(end - 16)) >> (16 - (end - p));
    return mask != 0 ? p + __builtin_ctz(mask) : end;
  }
#else
  (void)begin;
#endif
  for (; p < end; ++p) {
    auto u = static_cast<unsigned char>(*p);
    if (u < Below || u == 0x7f) break;
  }
  return p;
}

// The end of a field name: the first byte that is not a tchar. Names are mostly letters,
// digits and '-', which SSE2 checks 16 at a time; other tchars go through the table.
inline const char* scan_name(const char* p, const char* end) noexcept {
#ifdef __SSE2__
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i l = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(l, _mm_set1_epi8('z' + 1)));
    ok = _mm_or_si128(ok, _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1))));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    unsigned bad = ~unsigned(_mm_movemask_epi8(ok)) & 0xffffu;
    if (bad != 0) {
      p += __builtin_ctz(bad);
      break;
    }
    p += 16;
  }
#endif
  while (p < end && is_tchar(*p)) ++p;
  return p;
}

// The end of a field value or reason phrase starting at p: the first byte that is not text.
inline const char* scan_text(const char* p, const char* end, const char* begin) noexcept {
  for (;;) {
    p = find_ctl<0x20>(p, end, begin);
    if (p == end || *p != '\t') return p;
    ++p;
  }
}

inline std::uint32_t load4(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Compares the token at p (its length already checked) with a lower-case name made of
// letters and '-'. Setting bit 0x20 lower-cases letters and maps no other tchar onto a
// letter or '-', so this is an exact case-insensitive compare for tokens.
template <std::size_t N>
inline bool name_is(const char* p, const char (&lit)[N]) noexcept {
  constexpr std::size_t n = N - 1;
  if constexpr (n >= 8) {
    constexpr std::uint64_t fold = 0x2020202020202020ull;
    for (std::size_t i = 0; i + 8 <= n; i += 8)
      if ((load8(p + i) | fold) != load8(lit + i)) return false;
    if constexpr (n % 8 != 0) return (load8(p + n - 8) | fold) == load8(lit + n - 8);
    return true;
  } else if constexpr (n >= 4) {
    constexpr std::uint32_t fold = 0x20202020u;
    return (load4(p) | fold) == load4(lit) && (load4(p + n - 4) | fold) == load4(lit + n - 4);
  } else {
    for (std::size_t i = 0; i < n; ++i)
      if ((p[i] | 0x20) != lit[i]) return false;
    return true;
  }
}

// Calls fn(token) for each element of a comma-separated token list (RFC 9110 5.6.1: empty
// elements and OWS around them are allowed). False when an element is not a single token.
template <class Fn>
bool for_each_list_token(std::string_view list, Fn&& fn) {
  const char* p = list.data();
  const char* end = p + list.size();
  while (p < end) {
    if (*p == ',' || is_ws(*p)) {
      ++p;
      continue;
    }
    const char* t = p;
    while (p < end && is_tchar(*p)) ++p;
    if (p == t) return false;
    fn(std::string_view(t, std::size_t(p - t)));
    while (p < end && is_ws(*p)) ++p;
    if (p < end && *p != ',') return false;
  }
  return true;
}

// A checked "HTTP/d.d" at p: 10 * major + minor.
inline int parse_version(const char* p) noexcept { return 10 * (p[5] - '0') + (p[7] - '0'); }

// Checks the fixed-width start of a request line's version or a status line against
// `pattern` ('#' = a digit) as far as the input goes, so that a complete but short line is
// refused rather than waited on. True when all of it matched; false with `ec` unset when
// the input ended first. The version must be 1.0 or 1.1.
template <std::size_t N>
bool check_fixed(const char* p, const char* end, const char (&pattern)[N], http::error late,
                 Err& ec) noexcept {
  constexpr std::size_t n = N - 1;
  const std::size_t have = std::min<std::size_t>(n, std::size_t(end - p));
  for (std::size_t i = 0; i < have; ++i) {
    bool ok = pattern[i] == '#' ? (p[i] >= '0' && p[i] <= '9') : p[i] == pattern[i];
    if (i == 7 && ok) {
      int version = 10 * (p[5] - '0') + (p[7] - '0');
      ok = version == 10 || version == 11;
    }
    if (!ok) {
      ec = i < 9 ? http::error::bad_version : late;
      return false;
    }
  }
  return have == n;
}

/// RFC 3986 authority bytes (reg-name or IP literal, port), without '@': no userinfo.
constexpr bool is_authority_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~!$&'()*+,;=:[]%").find(c) != std::string_view::npos;
}

inline std::string_view shift(std::string_view v, const char* old_base, const char* new_base,
                              std::size_t len) noexcept {
  if (v.data() >= old_base && v.data() < old_base + len)
    return {new_base + (v.data() - old_base), v.size()};
  return v;
}

}  // namespace

template <bool isRequest>
Decoder<isRequest>::Decoder(Headers& headers, Pieces& pieces, std::uint32_t max_header_bytes,
                            std::uint32_t max_headers)
    : headers_(headers), pieces_(pieces), max_header_bytes_(max_header_bytes), max_headers_(max_headers) {
  headers_.clear();
}

template <bool isRequest>
bool Decoder<isRequest>::keep_alive() const noexcept {
  if constexpr (!isRequest) {
    if (headers_.status() == 101) return false;  // the bytes that follow are not HTTP/1.1
  }
  if (version_ >= 11 ? close_ : !keep_alive_) return false;
  return !need_eof_;
}

template <bool isRequest>
std::size_t Decoder<isRequest>::feed(const char* data, std::size_t size, error_code& ec) {
  pieces_.clear();
  ec = {};
  switch (state_) {
    case State::head: {
      Err err{};  // a plain enum inside the head parser: cheaper to set and test per field
      auto used = parse_head(data, size, err);
      if (err != Err{}) ec = err;
      return used;
    }
    case State::length: {
      auto take = std::size_t(std::min<std::uint64_t>(remaining_, size));
      if (take > 0) pieces_.push_back({data, take});
      remaining_ -= take;
      if (remaining_ == 0) state_ = State::done;
      else ec = http::error::need_more;
      return take;
    }
    case State::until_eof:
      if (size > 0) pieces_.push_back({data, size});
      ec = http::error::need_more;
      return size;
    case State::chunked:
      return decode_chunked(data, size, ec);
    case State::done:
      break;
  }
  return 0;
}

template <bool isRequest>
void Decoder<isRequest>::feed_eof(error_code& ec) {
  pieces_.clear();  // the pieces of the last feed() were delivered with it
  ec = {};
  if (state_ == State::until_eof) state_ = State::done;
  else if (state_ != State::done) ec = http::error::partial_message;
}

template <bool isRequest>
void Decoder<isRequest>::reset_head() noexcept {
  headers_.clear();
  info_ = {};
  field_count_ = 0;
  connection_named_count_ = 0;
  connection_tokens_ = 0;
  too_many_ = bad_te_ = close_ = keep_alive_ = te_chunked_ = rejected_underscore_ = false;
  dropped_underscores_ = 0;
  bad_target_ = 0;
  absolute_authority_ = {};
}

// The head is parsed once it is all there. A first attempt walks what has arrived (a head
// usually comes in one read, and a broken start line is refused early); when it runs out
// of input, later calls only search the new bytes for the blank line before parsing again.
template <bool isRequest>
std::size_t Decoder<isRequest>::parse_head(const char* data, std::size_t size, Err& ec) {
  const std::size_t avail = std::min<std::size_t>(size, max_header_bytes_);
  auto need_more = [&] {
    reset_head();
    partial_ = true;
    scan_ = std::uint32_t(avail);
    ec = size >= max_header_bytes_ ? http::error::header_limit : http::error::need_more;
    return std::size_t(0);
  };
  if (size == 0) {
    ec = http::error::need_more;
    return 0;
  }
  if (partial_) {
    std::size_t from = scan_ > 3 ? scan_ - 3 : 0;
    if (avail < from + 4 || !::memmem(data + from, avail - from, "\r\n\r\n", 4)) return need_more();
  }
  const char* end = data + avail;
  const char* p = parse_start_line(data, end, ec);
  if (ec != Err{}) return 0;
  if (!p) return need_more();
  for (;;) {
    if (end - p < 2) return need_more();
    if (*p == '\r') {
      if (p[1] != '\n') {
        ec = http::error::bad_line_ending;
        return 0;
      }
      p += 2;
      break;
    }
    // field-line = field-name ":" OWS field-value OWS CRLF; no space before the colon.
    const char* name = p;
    p = scan_name(p, end);
    if (p == end) return need_more();
    if (*p != ':' || p == name) {
      // A line starting with whitespace is obs-fold (RFC 9112 5.2), refused rather than
      // unfolded so that a value is always a view (and before the first field, RFC 9112 2.2).
      ec = p == name && is_ws(*p) ? http::error::bad_obs_fold : http::error::bad_field;
      return 0;
    }
    std::string_view name_v(name, std::size_t(p - name));
    const char* value = ++p;
    p = scan_text(p, end, data);
    if (p == end) return need_more();
    if (*p != '\r') {
      ec = http::error::bad_value;  // a CTL, NUL or bare LF in the value
      return 0;
    }
    if (end - p < 2) return need_more();
    if (p[1] != '\n') {
      ec = http::error::bad_line_ending;
      return 0;
    }
    // Trim OWS; the value holds no byte below SP but HTAB, so one compare tells whitespace.
    const char* value_end = p;
    while (value < value_end && static_cast<unsigned char>(*value) <= ' ') ++value;
    while (value_end > value && static_cast<unsigned char>(value_end[-1]) <= ' ') --value_end;
    p += 2;
    on_field(name_v, std::string_view(value, std::size_t(value_end - value)), ec);
    if (ec != Err{}) return 0;
  }
  partial_ = false;
  finish_head(ec);
  if (ec != Err{}) return 0;
  return std::size_t(p - data);
}

// The request or status line; returns the first byte after its CRLF, or nullptr when the
// input ends first.
template <bool isRequest>
const char* Decoder<isRequest>::parse_start_line(const char* p, const char* end, Err& ec) {
  const char* const begin = p;
  if constexpr (isRequest) {
    // request-line = method SP request-target SP HTTP-version CRLF
    const char* method = p;
    p = scan_name(p, end);
    if (p == end) return nullptr;
    if (*p != ' ' || p == method) {
      ec = http::error::bad_method;
      return nullptr;
    }
    std::string_view method_v(method, std::size_t(p - method));
    const char* target = ++p;
    p = find_ctl<0x21>(p, end, begin);  // up to SP (or any CTL)
    if (p == end) return nullptr;
    if (*p != ' ' || p == target) {
      ec = http::error::bad_target;
      return nullptr;
    }
    std::string_view target_v(target, std::size_t(p - target));
    ++p;
    int version = 11;
    if (end - p < 10 || load8(p) != load8("HTTP/1.1") || p[8] != '\r' || p[9] != '\n') {
      if (!check_fixed(p, end, "HTTP/#.#\r\n", http::error::bad_version, ec)) return nullptr;
      version = parse_version(p);
    }
    if (target_v[0] != '/' && !parse_target(method_v, target_v, ec)) [[unlikely]]
      return nullptr;
    version_ = version;
    headers_.set_request_line(method_v, target_v, version);
    return p + 10;
  } else {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
    int version = 11;
    if (end - p < 13 || load8(p) != load8("HTTP/1.1") || p[8] != ' ' || unsigned(p[9] - '0') > 9 ||
        unsigned(p[10] - '0') > 9 || unsigned(p[11] - '0') > 9 || p[12] != ' ') {
      if (!check_fixed(p, end, "HTTP/#.# ### ", http::error::bad_status, ec)) return nullptr;
      version = parse_version(p);
    }
    const char* d = p + 9;  // the status code (13 bytes are there: checked above)
    // RFC 9110 15: three digits, 1xx to 5xx. Anything else has no defined meaning (and a
    // status below 100 would go out as "0 Unknown").
    if (d[0] < '1' || d[0] > '5') {
      ec = http::error::bad_status;
      return nullptr;
    }
    p = scan_text(d + 4, end, begin);
    if (p == end) return nullptr;
    if (*p != '\r') {
      ec = http::error::bad_reason;
      return nullptr;
    }
    if (p + 1 == end) return nullptr;
    if (p[1] != '\n') {
      ec = http::error::bad_line_ending;
      return nullptr;
    }
    version_ = version;
    headers_.set_status(100 * (d[0] - '0') + 10 * (d[1] - '0') + (d[2] - '0'));
    headers_.set_version(version);
    return p + 2;
  }
}

// A target other than origin form: "OPTIONS *", or absolute form (RFC 9112 3.2.2), which
// clients send to a forward proxy. As Envoy does: the URL needs a scheme (http or https) and
// an authority; its path part (or "/" when it has none) becomes the path, and the authority
// replaces Host at the end of the head, so the target and Host can never disagree about
// where the request goes. Authority-form (CONNECT) is refused.
template <bool isRequest>
bool Decoder<isRequest>::parse_target(std::string_view method, std::string_view& target, Err& ec) {
  if (target == "*" && method == "OPTIONS") return true;
  if (!absolute_urls_ && method != "CONNECT") {
    info_.non_relative_path = true;  // kept as the path; the session answers 404
    return true;
  }
  auto refuse = [&](std::uint8_t why) {
    bad_target_ = why;
    ec = http::error::bad_target;
    return false;
  };
  if (method == "CONNECT") return refuse(1);
  std::size_t colon = target.find("://");
  if (colon == 0 || colon == std::string_view::npos) return refuse(1);
  std::string_view scheme = target.substr(0, colon);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return refuse(2);
  std::string_view rest = target.substr(colon + 3);
  std::size_t end = 0;
  while (end < rest.size() && is_authority_char(rest[end])) ++end;
  // An empty authority, userinfo ("u@h", which RFC 9110 4.2.4 forbids for http) or a
  // fragment has no place in a request target.
  if (end == 0 || (end < rest.size() && rest[end] != '/' && rest[end] != '?')) return refuse(1);
  absolute_authority_ = rest.substr(0, end);
  info_.absolute_url = true;
  std::string_view path = rest.substr(end);
  if (path.empty()) path = "/";
  if (path[0] != '/') info_.non_relative_path = true;  // "http://h?q": Envoy's 404 as well
  target = path;
  return true;
}

// Host becomes the absolute URL's authority (RFC 9112 3.2.2: a proxy ignores the Host that
// came and generates one from the target). The view points into the head, so rebase()
// moves it with the fields.
template <bool isRequest>
void Decoder<isRequest>::apply_absolute_authority() {
  for (auto& e : headers_.entries()) {
    if (e.name.size() == 4 && iequals(e.name, "host")) {
      e.value = absolute_authority_;
      return;
    }
  }
  headers_.append_view("host", absolute_authority_);
  info_.host_count = 1;
}

// Inlined into parse_head(), its only caller: a call per field costs more than the body.
template <bool isRequest>
[[gnu::always_inline]] inline void Decoder<isRequest>::on_field(std::string_view name, std::string_view value,
                                                                Err& ec) {
  enum class Kind : std::uint8_t {
    other, connection, proxy_connection, hop, upgrade, transfer_encoding, content_length, host,
    expect, envoy, server, service_time, date, xff, xfp, request_id
  };
  // Known names by length first, then one case-insensitive compare: no table lookup.
  Kind kind = Kind::other;
  const char* n = name.data();
  switch (name.size()) {
    case 2:
      if (name_is(n, "te")) kind = Kind::hop;
      break;
    case 4:
      if (name_is(n, "host")) kind = Kind::host;
      else if (!isRequest && name_is(n, "date")) kind = Kind::date;
      break;
    case 6:
      if (name_is(n, "expect")) kind = Kind::expect;
      else if (!isRequest && name_is(n, "server")) kind = Kind::server;
      break;
    case 7:
      if (name_is(n, "upgrade")) kind = Kind::upgrade;
      else if (name_is(n, "trailer")) kind = Kind::hop;
      break;
    case 10:
      if (name_is(n, "connection")) kind = Kind::connection;
      else if (name_is(n, "keep-alive")) kind = Kind::hop;
      break;
    case 12:
      if (isRequest && name_is(n, "x-request-id")) kind = Kind::request_id;
      break;
    case 14:
      if (name_is(n, "content-length")) kind = Kind::content_length;
      break;
    case 15:
      if (isRequest && name_is(n, "x-forwarded-for")) kind = Kind::xff;
      break;
    case 16:
      if (name_is(n, "proxy-connection")) kind = Kind::proxy_connection;
      break;
    case 17:
      if (name_is(n, "transfer-encoding")) kind = Kind::transfer_encoding;
      else if (isRequest && name_is(n, "x-forwarded-proto")) kind = Kind::xfp;
      break;
    case 29:
      if (!isRequest && name_is(n, "x-envoy-upstream-service-time")) kind = Kind::service_time;
      break;
    default:
      break;
  }
  if (isRequest && kind == Kind::other && name.size() > 8 && name_is(n, "x-envoy-")) kind = Kind::envoy;

  // Framing and connection fields are validated before the field is counted.
  switch (kind) {
    case Kind::connection:
    case Kind::proxy_connection:
      note_connection(kind == Kind::connection ? value : std::string_view(), ec);
      if (ec == Err{} && kind == Kind::proxy_connection) {
        // Proxy-Connection is not standard but clients send it: it only sets the flags.
        if (!for_each_list_token(value, [&](std::string_view t) {
              if (iequals(t, "close")) close_ = true;
              else if (iequals(t, "keep-alive")) keep_alive_ = true;
            }))
          ec = http::error::bad_value;
      }
      if (ec != Err{}) return;
      break;
    case Kind::content_length:
      note_content_length(value, ec);
      if (ec != Err{}) return;
      break;
    case Kind::transfer_encoding:
      note_transfer_encoding(value, ec);
      if (ec != Err{}) return;
      break;
    default:
      break;
  }
  if (++field_count_ > max_headers_) {
    too_many_ = true;
    ec = http::error::header_limit;
    return;
  }
  switch (kind) {
    // Hop-by-hop fields (RFC 9110 7.6.1) describe this connection only: they are recorded
    // and never forwarded.
    case Kind::connection:
    case Kind::proxy_connection:
    case Kind::hop:
      return;
    case Kind::upgrade:
      if (!info_.upgrade) info_.upgrade_value = value;
      info_.upgrade = true;
      return;
    case Kind::transfer_encoding:
      // A request whose final coding is not chunked has no knowable length (RFC 9112 6.3).
      if (isRequest && !info_.chunked) {
        bad_te_ = true;
        ec = http::error::bad_transfer_encoding;
      }
      return;
    case Kind::host:
      ++info_.host_count;
      break;
    case Kind::expect:
      if (isRequest && iequals(value, "100-continue")) {
        info_.expect_continue = true;
        return;  // answered by the proxy itself, like Envoy without proxy_100_continue
      }
      break;
    case Kind::envoy:
      // x-envoy-* control headers from clients are not trusted (Envoy strips them from
      // external requests).
      if (!keep_envoy_) return;
      break;
    case Kind::server:
      if (info_.server_at == 0) info_.server_at = std::uint32_t(headers_.size() + 1);
      else info_.server_many = true;
      break;
    case Kind::date:
      info_.has_date = true;
      break;
    case Kind::service_time:
      if (info_.service_time_at == 0) info_.service_time_at = std::uint32_t(headers_.size() + 1);
      else info_.service_time_many = true;
      break;
    case Kind::xff:
      if (info_.xff_at == 0) info_.xff_at = std::uint32_t(headers_.size() + 1);
      else info_.forwarding_many = true;
      break;
    case Kind::xfp:
      if (info_.xfp_at == 0) info_.xfp_at = std::uint32_t(headers_.size() + 1);
      else info_.forwarding_many = true;
      break;
    case Kind::request_id:
      if (info_.request_id_at == 0) info_.request_id_at = std::uint32_t(headers_.size() + 1);
      else info_.forwarding_many = true;
      break;
    default:
      break;
  }
  headers_.append_view(name, value);
}

// Connection (an empty `value` for Proxy-Connection, which is validated by the caller).
template <bool isRequest>
void Decoder<isRequest>::note_connection(std::string_view value, Err& ec) {
  if (value.data() == nullptr) return;
  // A value is free of CTLs, so name_is() compares it exactly too.
  if (value.size() == 10 && name_is(value.data(), "keep-alive")) {
    info_.connection_keep_alive = keep_alive_ = true;
    return;
  }
  if (value.size() == 5 && name_is(value.data(), "close")) {
    info_.connection_close = close_ = true;
    return;
  }
  bool names_others = false;
  bool ok = for_each_list_token(value, [&](std::string_view token) {
    ++connection_tokens_;
    if (token.size() == 5 && name_is(token.data(), "close")) {
      info_.connection_close = close_ = true;
    } else if (token.size() == 10 && name_is(token.data(), "keep-alive")) {
      info_.connection_keep_alive = keep_alive_ = true;
    } else if (token.size() == 7 && name_is(token.data(), "upgrade")) {
      info_.connection_upgrade = true;
    } else {
      names_others = true;
    }
  });
  if (!ok || connection_tokens_ > kMaxConnectionTokens) {
    ec = http::error::bad_value;
    return;
  }
  if (!names_others) return;
  // The tokens of every Connection field count (RFC 9110 7.6.1). The named fields may come
  // later in the head, so the values are kept (views, no allocation) and applied at its end.
  if (connection_named_count_ == connection_named_.size()) {
    ec = http::error::bad_field;
    return;
  }
  connection_named_[connection_named_count_++] = value;
  info_.connection_names_others = true;
}

// Content-Length = 1*DIGIT. A second Content-Length (even an equal one, or a list) and any
// Content-Length next to Transfer-Encoding are refused: both are smuggling shapes.
template <bool isRequest>
void Decoder<isRequest>::note_content_length(std::string_view value, Err& ec) {
  if (info_.has_transfer_encoding || info_.has_content_length) {
    ec = info_.has_content_length ? http::error::multiple_content_length : http::error::bad_content_length;
    return;
  }
  // Digits only (no sign, no space: from_chars takes neither), at least one, no overflow.
  std::uint64_t v = 0;
  auto [end, rc] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (rc != std::errc{} || end != value.data() + value.size()) {
    ec = http::error::bad_content_length;
    return;
  }
  info_.has_content_length = true;
  info_.content_length = v;
}

// Transfer-Encoding: the body is chunked when "chunked" is the final coding and appears once
// (RFC 9112 6.1). Refused next to Content-Length, after a Transfer-Encoding that already
// ended in chunked, when chunked is listed twice (across fields too), and in an HTTP/1.0
// message, whose framing RFC 9112 6.1 says to treat as faulty (400; 502 for a response).
template <bool isRequest>
void Decoder<isRequest>::note_transfer_encoding(std::string_view value, Err& ec) {
  if (info_.chunked || info_.has_content_length || version_ < 11) {
    ec = http::error::bad_transfer_encoding;
    return;
  }
  int chunked = 0;
  bool last_chunked = false;
  bool ok = for_each_list_token(value, [&](std::string_view coding) {
    last_chunked = iequals(coding, "chunked");
    chunked += last_chunked;
  });
  if (!ok) {
    // Not a list of codings: no final chunked either, so a request gets 501 like any other
    // coding it cannot frame (a response is refused: 502).
    bad_te_ = isRequest;
    ec = http::error::bad_transfer_encoding;
    return;
  }
  if (chunked + int(te_chunked_) > 1) {
    // A response would otherwise be read until close while a peer that honours the first
    // chunked reads it as chunked. A request gets 501 like a non-final chunked.
    bad_te_ = isRequest;
    ec = http::error::bad_transfer_encoding;
    return;
  }
  te_chunked_ = chunked > 0;
  info_.has_transfer_encoding = true;
  info_.chunked = last_chunked && chunked == 1;
}

// Fields with an underscore in their name (headers_with_underscores_action), checked once
// the head is in so that the usual setting costs nothing per field, and fields that
// Connection names.
template <bool isRequest>
[[gnu::noinline]] void Decoder<isRequest>::remove_fields(Err& ec) {
  auto& fields = headers_.entries();
  if (isRequest && underscores_ != 0) {
    auto has_underscore = [](const HeaderEntry& e) { return e.name.find('_') != std::string_view::npos; };
    if (underscores_ == 1 && std::any_of(fields.begin(), fields.end(), has_underscore)) {
      rejected_underscore_ = true;
      ec = http::error::bad_field;
      return;
    }
    auto before = fields.size();
    fields.erase(std::remove_if(fields.begin(), fields.end(), has_underscore), fields.end());
    dropped_underscores_ = std::uint32_t(before - fields.size());
  }
  for (std::size_t i = 0; i < connection_named_count_; ++i) remove_connection_named(headers_, connection_named_[i]);
  if (connection_named_count_ != 0 || dropped_underscores_ != 0) renote_positions();
}

// Fields that Connection named (or with an underscore) are gone, so the places noted while parsing may have moved
// (or named a removed field): note them again from the list as it is now.
template <bool isRequest>
void Decoder<isRequest>::renote_positions() noexcept {
  info_.server_at = info_.service_time_at = info_.xff_at = info_.xfp_at = info_.request_id_at = 0;
  info_.server_many = info_.service_time_many = info_.forwarding_many = info_.has_date = false;
  auto note = [](std::uint32_t& at, bool* many, std::uint32_t here) {
    if (at == 0) at = here;
    else if (many) *many = true;
  };
  std::uint32_t here = 0;
  for (const auto& e : headers_) {
    ++here;
    if constexpr (isRequest) {
      if (iequals(e.name, "x-forwarded-for")) note(info_.xff_at, &info_.forwarding_many, here);
      else if (iequals(e.name, "x-forwarded-proto")) note(info_.xfp_at, &info_.forwarding_many, here);
      else if (iequals(e.name, "x-request-id")) note(info_.request_id_at, &info_.forwarding_many, here);
    } else {
      if (iequals(e.name, "server")) note(info_.server_at, &info_.server_many, here);
      else if (iequals(e.name, "x-envoy-upstream-service-time")) note(info_.service_time_at, &info_.service_time_many, here);
      else if (iequals(e.name, "date")) info_.has_date = true;
    }
  }
}

template <bool isRequest>
void Decoder<isRequest>::finish_head(Err& ec) {
  if constexpr (isRequest) {
    // RFC 9112 3.2: a 1.1 request needs exactly one Host; two Hosts would let routing and
    // the upstream disagree.
    if (info_.host_count > 1 || (info_.host_count == 0 && version_ >= 11 && !info_.absolute_url)) {
      ec = http::error::bad_field;
      return;
    }
    if (info_.absolute_url) [[unlikely]]
      apply_absolute_authority();
  }
  if ((connection_named_count_ | underscores_) != 0) [[unlikely]] {
    remove_fields(ec);
    if (ec != Err{}) return;
  }
  bool no_body = skip_body_;
  if constexpr (!isRequest) {
    int status = headers_.status();
    no_body = no_body || status / 100 == 1 || status == 204 || status == 304;
  }
  if (no_body) {
    state_ = State::done;
  } else if (info_.has_content_length) {
    remaining_ = info_.content_length;
    state_ = remaining_ > 0 ? State::length : State::done;
  } else if (info_.chunked) {
    chunk_ = Chunk::size0;
    state_ = State::chunked;
  } else if (isRequest) {
    state_ = State::done;
  } else {
    need_eof_ = true;  // RFC 9112 6.3 rule 8: the body ends when the connection closes
    state_ = State::until_eof;
  }
}

// chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1), one byte at a time
// except chunk data. Everything given is consumed until the message ends, so the caller
// never has to keep a partial chunk line.
template <bool isRequest>
std::size_t Decoder<isRequest>::decode_chunked(const char* data, std::size_t size, error_code& ec) {
  const char* p = data;
  const char* end = data + size;
  auto fail = [&](http::error e) {
    ec = e;
    return std::size_t(p - data);
  };
  for (; p < end; ++p) {
    const char c = *p;
    switch (chunk_) {
      case Chunk::data: {
        auto take = std::size_t(std::min<std::uint64_t>(remaining_, std::size_t(end - p)));
        pieces_.push_back({p, take});
        remaining_ -= take;
        if (remaining_ == 0) chunk_ = Chunk::data_cr;
        p += take - 1;
        break;
      }
      case Chunk::size0: {
        int d = unhex(c);
        if (d < 0) return fail(http::error::bad_chunk);
        remaining_ = std::uint64_t(d);
        chunk_digits_ = 1;
        chunk_ = Chunk::size;
        break;
      }
      case Chunk::size: {
        int d = unhex(c);
        if (d >= 0) {
          // At most 16 digits (leading zeros included) and below 2^63: a next hop that reads
          // the size as a signed 64-bit number (the line is forwarded as received) agrees.
          if (++chunk_digits_ > 16 || (remaining_ >> 59) != 0) return fail(http::error::bad_chunk);
          remaining_ = remaining_ * 16 + std::uint64_t(d);
        } else if (c == ';') {
          chunk_ = Chunk::ext_name0;
        } else if (is_ws(c)) {
          chunk_ = Chunk::ext_ws;
        } else if (c == '\r') {
          chunk_ = Chunk::size_lf;
        } else {
          return fail(http::error::bad_chunk);
        }
        break;
      }
      // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ); whitespace
      // must lead somewhere (no trailing BWS before the CRLF).
      case Chunk::ext_ws:
        if (c == ';') chunk_ = Chunk::ext_name0;
        else if (!is_ws(c)) return fail(http::error::bad_chunk_extension);
        break;
      case Chunk::ext_name0:
        if (is_tchar(c)) chunk_ = Chunk::ext_name;
        else if (!is_ws(c)) return fail(http::error::bad_chunk_extension);
        break;
      case Chunk::ext_name:
        if (is_tchar(c)) break;
        if (c == ';') chunk_ = Chunk::ext_name0;
        else if (c == '=') chunk_ = Chunk::ext_value0;
        else if (is_ws(c)) chunk_ = Chunk::ext_name_ws;
        else if (c == '\r') chunk_ = Chunk::size_lf;
        else return fail(http::error::bad_chunk_extension);
        break;
      case Chunk::ext_name_ws:
        if (c == ';') chunk_ = Chunk::ext_name0;
        else if (c == '=') chunk_ = Chunk::ext_value0;
        else if (!is_ws(c)) return fail(http::error::bad_chunk_extension);
        break;
      case Chunk::ext_value0:
        if (c == '"') chunk_ = Chunk::ext_quoted;
        else if (is_tchar(c)) chunk_ = Chunk::ext_token;
        else if (!is_ws(c)) return fail(http::error::bad_chunk_extension);
        break;
      case Chunk::ext_token:
        if (is_tchar(c)) break;
        [[fallthrough]];
      case Chunk::ext_end:
        if (c == ';') chunk_ = Chunk::ext_name0;
        else if (is_ws(c)) chunk_ = Chunk::ext_ws;
        else if (c == '\r') chunk_ = Chunk::size_lf;
        else return fail(http::error::bad_chunk_extension);
        break;
      case Chunk::ext_quoted:
        // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
        if (c == '"') chunk_ = Chunk::ext_end;
        else if (c == '\\') chunk_ = Chunk::ext_escape;
        else if (!is_text(c)) return fail(http::error::bad_chunk_extension);
        break;
      case Chunk::ext_escape:
        if (!is_text(c)) return fail(http::error::bad_chunk_extension);
        chunk_ = Chunk::ext_quoted;
        break;
      case Chunk::size_lf:
        if (c != '\n') return fail(http::error::bad_chunk);
        chunk_ = remaining_ > 0 ? Chunk::data : Chunk::trailer0;
        break;
      case Chunk::data_cr:
        if (c != '\r') return fail(http::error::bad_chunk);
        chunk_ = Chunk::data_lf;
        break;
      case Chunk::data_lf:
        if (c != '\n') return fail(http::error::bad_chunk);
        chunk_ = Chunk::size0;
        break;
      // Trailer fields are validated like header fields and counted against the same
      // limits. They are not decoded into headers: the session forwards a chunked body as
      // received, trailers included (dropped only when it removes the chunked framing for
      // an HTTP/1.0 client), so fields that must not be in a trailer are refused here.
      case Chunk::trailer0:
        if (c == '\r') {
          chunk_ = Chunk::end_lf;
          break;
        }
        if (!is_tchar(c)) return fail(is_ws(c) ? http::error::bad_obs_fold : http::error::bad_field);
        trailer_name_len_ = 0;
        chunk_ = Chunk::trailer_name;
        [[fallthrough]];
      case Chunk::trailer_name:
        if (++trailer_bytes_ > max_header_bytes_) return fail(http::error::header_limit);
        if (is_tchar(c)) {
          // REJECT_REQUEST covers trailer names too, as in Envoy's codec. DROP_HEADER cannot
          // drop one: trailers are forwarded as received (docs/ROADMAP.md).
          if constexpr (isRequest) {
            if (c == '_' && underscores_ == 1) [[unlikely]] {
              rejected_underscore_ = true;
              return fail(http::error::bad_field);
            }
          }
          if (trailer_name_len_ < sizeof trailer_name_) trailer_name_[trailer_name_len_++] = lower(c);
          else trailer_name_len_ = sizeof trailer_name_;
          break;
        }
        if (c != ':') return fail(http::error::bad_field);
        if (auto e = end_trailer_name(); e != Err{}) return fail(e);
        chunk_ = Chunk::trailer_value;
        break;
      case Chunk::trailer_value:
        if (++trailer_bytes_ > max_header_bytes_) return fail(http::error::header_limit);
        if (c == '\r') chunk_ = Chunk::trailer_lf;
        else if (!is_text(c)) return fail(http::error::bad_value);
        break;
      case Chunk::trailer_lf:
        if (c != '\n') return fail(http::error::bad_line_ending);
        if (++field_count_ > max_headers_) {
          too_many_ = true;
          return fail(http::error::header_limit);
        }
        chunk_ = Chunk::trailer0;
        break;
      case Chunk::end_lf:
        if (c != '\n') return fail(http::error::bad_line_ending);
        state_ = State::done;
        return std::size_t(p + 1 - data);
    }
  }
  ec = http::error::need_more;
  return size;
}

// Framing fields are not allowed in a trailer section (RFC 9110 6.5.1), and neither is Host
// (a next hop that merges trailers into the head would see it after the one-Host check).
template <bool isRequest>
http::error Decoder<isRequest>::end_trailer_name() {
  std::string_view name(trailer_name_, trailer_name_len_);
  if (name == "content-length") return http::error::bad_content_length;
  if (name == "transfer-encoding") return http::error::bad_transfer_encoding;
  if (name == "host") return http::error::bad_field;
  return {};
}

template <bool isRequest>
void Decoder<isRequest>::rebase(const char* old_base, const char* new_base, std::size_t len) {
  for (auto& e : headers_.entries()) {
    e.name = shift(e.name, old_base, new_base, len);
    e.value = shift(e.value, old_base, new_base, len);
  }
  info_.upgrade_value = shift(info_.upgrade_value, old_base, new_base, len);
  if constexpr (isRequest) {
    headers_.set_request_line(shift(headers_.method(), old_base, new_base, len),
                              shift(headers_.path(), old_base, new_base, len), headers_.version());
  }
}

template <bool isRequest>
DecodeError Decoder<isRequest>::error_for(const error_code& ec) const {
  if (ec == http::error::header_limit || too_many_) return {431, "http1.headers_too_large"};
  if (rejected_underscore_) return {400, "http1.unexpected_underscore"};
  if (bad_te_) return {501, "http1.invalid_transfer_encoding"};
  if (bad_target_ == 1) return {400, "http1.invalid_url"};
  if (bad_target_ == 2) return {400, "http1.invalid_scheme"};
  return {400, "http1.codec_error"};
}

void remove_connection_named(HeaderMap& headers, std::string_view connection_value) {
  for_each_list_token(connection_value, [&](std::string_view token) {
    // Removing Content-Length or Transfer-Encoding would forward the body unframed (the next
    // hop reads it as another message: request smuggling), and Host was checked already.
    // Such tokens are ignored, as HAProxy does.
    if (iequals(token, "content-length") || iequals(token, "transfer-encoding") ||
        iequals(token, "host"))
      return;
    headers.remove(token);
  });
}

template class Decoder<true>;
template class Decoder<false>;

}  // namespace ferry::codec
