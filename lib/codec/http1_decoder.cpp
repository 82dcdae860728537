#include "codec/http1_decoder.hpp"
#include "common/ascii.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

namespace ferry::codec {

namespace {

using detail::lower;


inline bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != prefix[i]) return false;
  return true;
}

// Calls fn(token) for each comma-separated token, trimmed of optional whitespace.
template <class Fn>
void for_each_token(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto token = list.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty()) fn(token);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

inline std::string_view shift(std::string_view v, const char* old_base, const char* new_base,
                              std::size_t len) noexcept {
  if (v.data() >= old_base && v.data() < old_base + len)
    return {new_base + (v.data() - old_base), v.size()};
  return v;
}

}  // namespace

template <bool isRequest>
Decoder<isRequest>::Decoder(Headers& headers, Pieces& pieces,
                            std::uint32_t max_header_bytes, std::uint32_t max_headers)
    : headers_(headers), max_headers_(max_headers), pieces_(pieces) {
  headers_.clear();
  this->header_limit(max_header_bytes);
  this->body_limit(boost::none);  // bodies stream; size limits belong to filters
  this->eager(false);             // stop after the head so the session can route first
}

template <bool isRequest>
std::size_t Decoder<isRequest>::feed(const char* data, std::size_t size, error_code& ec) {
  pieces_.clear();
  if (this->is_header_done()) this->eager(true);
  return this->put(boost::asio::const_buffer(data, size), ec);
}

template <bool isRequest>
void Decoder<isRequest>::rebase(const char* old_base, const char* new_base, std::size_t len) {
  for (auto& e : headers_.entries()) {
    e.name = shift(e.name, old_base, new_base, len);
    e.value = shift(e.value, old_base, new_base, len);
  }
  info_.connection_value = shift(info_.connection_value, old_base, new_base, len);
  if constexpr (isRequest) {
    headers_.set_request_line(shift(headers_.method(), old_base, new_base, len),
                              shift(headers_.path(), old_base, new_base, len), headers_.version());
  }
}

template <bool isRequest>
DecodeError Decoder<isRequest>::error_for(const error_code& ec) const {
  if (ec == http::error::header_limit || too_many_) return {431, "http1.headers_too_large"};
  if (bad_te_) return {501, "http1.invalid_transfer_encoding"};
  return {400, "http1.codec_error"};
}

template <bool isRequest>
void Decoder<isRequest>::on_request_impl(http::verb, bsv method_b,
                                         bsv target_b, int version, error_code& ec) {
  std::string_view method = sv(method_b), target = sv(target_b);
  // Origin form ("/path") and asterisk form ("OPTIONS *") only: an absolute URL would let
  // the target and Host disagree about where the request goes.
  if (target.empty() || (target[0] != '/' && target != "*")) {
    bad_target_ = true;
    ec = http::error::bad_target;
    return;
  }
  if constexpr (isRequest) headers_.set_request_line(method, target, version);
}

template <bool isRequest>
void Decoder<isRequest>::on_response_impl(int code, bsv, int version, error_code&) {
  if constexpr (!isRequest) {
    headers_.set_status(code);
    headers_.set_version(version);
  }
}

template <bool isRequest>
void Decoder<isRequest>::on_field_impl(http::field f, bsv name_b, bsv value_b,
                                       error_code& ec) {
  std::string_view name = sv(name_b), value = sv(value_b);
  if (++field_count_ > max_headers_) {
    too_many_ = true;
    ec = http::error::header_limit;
    return;
  }
  switch (f) {
    // Hop-by-hop fields (RFC 9110 7.6.1) describe this connection only: they are recorded
    // here and never forwarded.
    case http::field::connection:
      note_connection(value);
      return;
    case http::field::proxy_connection:
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
      return;
    case http::field::upgrade:
      info_.upgrade = true;
      return;
    case http::field::transfer_encoding:
      info_.has_transfer_encoding = true;
      info_.chunked = this->chunked();
      // A request whose final coding is not chunked has no knowable length (RFC 9112 6.3).
      if (isRequest && !info_.chunked) {
        bad_te_ = true;
        ec = http::error::bad_transfer_encoding;
      }
      return;
    case http::field::content_length:
      info_.has_content_length = true;
      break;
    case http::field::host:
      ++info_.host_count;
      break;
    case http::field::expect:
      if (isRequest && value.size() == 12 && starts_with_icase(value, "100-continue")) {
        info_.expect_continue = true;
        return;  // answered by the proxy itself, like Envoy without proxy_100_continue
      }
      break;
    default:
      // x-envoy-* control headers from clients are not trusted (Envoy strips them from
      // external requests).
      if (isRequest && !keep_envoy_ && name.size() > 8 && starts_with_icase(name, "x-envoy-")) return;
      break;
  }
  headers_.append_view(name, value);
}

template <bool isRequest>
void Decoder<isRequest>::note_connection(std::string_view value) {
  info_.connection_value = value;
  for_each_token(value, [&](std::string_view token) {
    if (token.size() == 5 && starts_with_icase(token, "close"))
      info_.connection_close = true;
    else if (token.size() == 10 && starts_with_icase(token, "keep-alive"))
      info_.connection_keep_alive = true;
    else if (!(token.size() == 7 && starts_with_icase(token, "upgrade")))
      info_.connection_names_others = true;
  });
}

template <bool isRequest>
void Decoder<isRequest>::on_header_impl(error_code& ec) {
  if constexpr (isRequest) {
    // RFC 9112 3.2: a 1.1 request needs exactly one Host; two Hosts would let routing and
    // the upstream disagree.
    if (info_.host_count > 1 || (info_.host_count == 0 && headers_.version() >= 11)) {
      ec = http::error::bad_field;
      return;
    }
  }
  if (info_.connection_names_others) remove_connection_named(headers_, info_.connection_value);
  info_.chunked = this->chunked();
  if (auto len = this->content_length()) info_.content_length = *len;
}

template <bool isRequest>
void Decoder<isRequest>::on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) {}

template <bool isRequest>
std::size_t Decoder<isRequest>::on_body_impl(bsv body_b, error_code&) {
  std::string_view body = sv(body_b);
  pieces_.push_back(body);
  return body.size();
}

template <bool isRequest>
void Decoder<isRequest>::on_chunk_header_impl(std::uint64_t, bsv, error_code&) {}

template <bool isRequest>
std::size_t Decoder<isRequest>::on_chunk_body_impl(std::uint64_t, bsv body_b,
                                                   error_code&) {
  std::string_view body = sv(body_b);
  pieces_.push_back(body);
  return body.size();
}

template <bool isRequest>
void Decoder<isRequest>::on_finish_impl(error_code&) {}

void remove_connection_named(HeaderMap& headers, std::string_view connection_value) {
  for_each_token(connection_value, [&](std::string_view token) { headers.remove(token); });
}

template class Decoder<true>;
template class Decoder<false>;

}  // namespace ferry::codec
