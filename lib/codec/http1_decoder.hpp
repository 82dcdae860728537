// HTTP/1.1 decoding on top of Beast's basic_parser: Beast validates the grammar and the
// framing (Content-Length vs Transfer-Encoding, chunk sizes, token characters); this
// class turns its callbacks into ferry's codec-neutral header maps and body pieces
// without copying or allocating per field.
//
// The header views point into the caller's input buffer until rebase() moves them onto a
// stable copy of the head. Body pieces point into the input passed to the last put().
//
// Thread safety: one owner (the connection's worker).
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <optional>
#include <string_view>
#include <memory_resource>
#include <vector>

#include <ferry/headers.hpp>

namespace ferry::codec {

namespace http = boost::beast::http;
using boost::beast::error_code;
using bsv = boost::beast::string_view;
/// Decoded body pieces of one feed().
using Pieces = std::pmr::vector<std::string_view>;
inline std::string_view sv(bsv s) noexcept { return {s.data(), s.size()}; }

/// Why a message was rejected: the status a downstream client gets, and a detail string
/// for %RESPONSE_CODE_DETAILS%.
struct DecodeError {
  int status = 0;  ///< 400, 431, 501 (0 = no error)
  std::string_view detail;
};

/// Facts about the head that the session needs beyond the header map.
struct HeadInfo {
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_names_others = false;  ///< Connection lists headers to drop
  bool expect_continue = false;
  bool chunked = false;
  bool has_content_length = false;
  bool has_transfer_encoding = false;
  bool upgrade = false;
  std::uint64_t content_length = 0;
  int host_count = 0;
  std::string_view connection_value;  ///< last Connection field value (for token removal)
};

template <bool isRequest>
class Decoder final : public http::basic_parser<isRequest> {
 public:
  using Headers = std::conditional_t<isRequest, RequestHeaders, ResponseHeaders>;

  /// `headers` is cleared and filled; `pieces` (owned by the connection so its capacity is
  /// reused) receives the body pieces of each feed(). Limits are Envoy's
  /// max_request_headers_kb and max_headers_count.
  Decoder(Headers& headers, Pieces& pieces, std::uint32_t max_header_bytes,
          std::uint32_t max_headers);

  /// Feeds input; returns the bytes consumed. `ec` is need_more when more input is needed.
  std::size_t feed(const char* data, std::size_t size, error_code& ec);
  /// Tells the parser the peer closed (ends a read-until-close body).
  void feed_eof(error_code& ec) { this->put_eof(ec); }

  /// Moves every header view from [old_base, old_base+len) onto `new_base`.
  void rebase(const char* old_base, const char* new_base, std::size_t len);

  const HeadInfo& info() const noexcept { return info_; }
  /// Decoded body pieces produced by the last feed().
  const Pieces& pieces() const noexcept { return pieces_; }
  /// The rejection to send for `ec` (a decode failure).
  DecodeError error_for(const error_code& ec) const;
  bool too_many_headers() const noexcept { return too_many_; }
  /// Keeps x-envoy-* request headers (an internal client); they are dropped by default.
  void keep_envoy_headers(bool keep) noexcept { keep_envoy_ = keep; }

 private:
  void on_request_impl(http::verb, bsv method, bsv target, int version,
                       error_code& ec) override;
  void on_response_impl(int code, bsv reason, int version, error_code& ec) override;
  void on_field_impl(http::field f, bsv name, bsv value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code& ec) override;
  std::size_t on_body_impl(bsv body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, bsv extensions,
                            error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, bsv body,
                                 error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  void note_connection(std::string_view value);

  Headers& headers_;
  std::uint32_t max_headers_;
  std::uint32_t field_count_ = 0;
  bool too_many_ = false;
  bool keep_envoy_ = false;
  bool bad_te_ = false;
  bool bad_target_ = false;
  HeadInfo info_;
  Pieces& pieces_;
};

using RequestDecoder = Decoder<true>;
using ResponseDecoder = Decoder<false>;

/// Removes the fields a Connection header names (RFC 9110 7.6.1).
void remove_connection_named(HeaderMap& headers, std::string_view connection_value);

}  // namespace ferry::codec
