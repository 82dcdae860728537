// A strict, hand-written HTTP/1.1 decoder (RFC 9112). It validates the grammar and the
// framing rules that matter for request smuggling (Content-Length vs Transfer-Encoding,
// chunk sizes and extensions, token characters, CRLF line endings, no obs-fold) and turns a
// message into ferry's codec-neutral header maps and body pieces without copying or
// allocating per field.
//
// The head is parsed in one pass once it is complete (a partial head is not rescanned: later
// reads only search their new bytes for the terminating blank line). The body is decoded
// by a state machine that can stop at any byte and resume with the next input.
//
// The header views point into the caller's input buffer until rebase() moves them onto a
// stable copy of the head. Body pieces point into the input passed to the last feed().
// Errors are Beast's http::error values, so callers compare as with Beast's parser.
//
// Thread safety: one owner (the connection's worker).
#pragma once

#include <array>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <memory_resource>
#include <string_view>
#include <type_traits>
#include <vector>

#include <ferry/headers.hpp>

namespace ferry::codec {

namespace http = boost::beast::http;
using boost::system::error_code;
/// Decoded body pieces of one feed().
using Pieces = std::pmr::vector<std::string_view>;

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
  bool upgrade = false;             ///< an Upgrade field came (it is not forwarded)
  bool connection_upgrade = false;  ///< Connection lists "upgrade"
  std::string_view upgrade_value;   ///< the first Upgrade field's value
  std::uint64_t content_length = 0;
  int host_count = 0;
  /// Responses: the first `server` and x-envoy-upstream-service-time fields' positions in
  /// the header list (index + 1; 0: none), and whether there are more of them, so that the
  /// session sets them without a scan of the list.
  std::uint32_t server_at = 0;
  std::uint32_t service_time_at = 0;
  bool server_many = false;
  bool service_time_many = false;
  bool has_date = false;  ///< responses: a `date` field came (the proxy adds one otherwise)
  /// Requests: the first x-forwarded-for, x-forwarded-proto and x-request-id fields'
  /// positions (index + 1; 0: none), and whether one of the three came more than once.
  std::uint32_t xff_at = 0;
  std::uint32_t xfp_at = 0;
  std::uint32_t request_id_at = 0;
  bool forwarding_many = false;
  /// Requests: the target was neither origin form ("/...") nor "OPTIONS *", and was kept
  /// as the path: absolute-form with absolute URLs not allowed, or an absolute URL whose
  /// path part does not start with '/' ("http://h?q"). Envoy answers 404
  /// absolute_path_rejected.
  bool non_relative_path = false;
  /// Requests: the target came in absolute form ("http://h/p"); Host now holds its
  /// authority and the path its path part.
  bool absolute_url = false;
};

template <bool isRequest>
class Decoder {
 public:
  using Headers = std::conditional_t<isRequest, RequestHeaders, ResponseHeaders>;

  /// `headers` is cleared and filled; `pieces` (owned by the connection so its capacity is
  /// reused) receives the body pieces of each feed(). Limits are Envoy's
  /// max_request_headers_kb and max_headers_count (trailer fields count too).
  Decoder(Headers& headers, Pieces& pieces, std::uint32_t max_header_bytes,
          std::uint32_t max_headers);

  /// Feeds input; returns the bytes consumed. `ec` is need_more when more input is needed.
  /// Until the head is complete nothing is consumed (feed the same bytes again with more
  /// appended); the call that completes the head consumes exactly the head. After that
  /// each call decodes as much body as given (the pieces point into `data`).
  std::size_t feed(const char* data, std::size_t size, error_code& ec);
  /// Tells the decoder the peer closed (ends a read-until-close body).
  void feed_eof(error_code& ec);

  /// Moves every header view from [old_base, old_base+len) onto `new_base`.
  void rebase(const char* old_base, const char* new_base, std::size_t len);

  const HeadInfo& info() const noexcept { return info_; }
  /// Decoded body pieces produced by the last feed().
  const Pieces& pieces() const noexcept { return pieces_; }
  /// The rejection to send for `ec` (a decode failure).
  DecodeError error_for(const error_code& ec) const;
  /// Keeps x-envoy-* request headers (an internal client); they are dropped by default.
  void keep_envoy_headers(bool keep) noexcept { keep_envoy_ = keep; }
  /// Request field names with '_' (Envoy's headers_with_underscores_action): 0 kept,
  /// 1 the request refused (400 http1.unexpected_underscore), 2 the field dropped.
  void underscores(std::uint8_t action) noexcept { underscores_ = action; }
  /// Fields dropped for an underscore in their name, and whether one refused the request.
  std::uint32_t dropped_underscores() const noexcept { return dropped_underscores_; }
  bool rejected_underscore() const noexcept { return rejected_underscore_; }
  /// Absolute-form targets ("GET http://h/p HTTP/1.1", Envoy's allow_absolute_url, on by
  /// default): the URL's authority replaces Host (RFC 9112 3.2.2) and its path becomes the
  /// path. When off, such a target is kept as the path (HeadInfo::non_relative_path).
  void absolute_urls(bool allow) noexcept { absolute_urls_ = allow; }
  /// The message has no body whatever its head says (a response to HEAD). Before feed().
  void skip(bool v) noexcept { skip_body_ = v; }

  bool is_header_done() const noexcept { return state_ != State::head; }
  bool is_done() const noexcept { return state_ == State::done; }
  /// The connection may carry another message after this one (valid once the head is done).
  /// Never after a 101 response: the connection then belongs to the new protocol.
  bool keep_alive() const noexcept;

  /// Connection fields naming other fields that one head may carry; more are refused
  /// (400 for a request, 502 for a response). Real peers send one.
  static constexpr std::size_t kMaxConnectionFields = 8;
  /// Tokens all Connection fields of one head may list: each named field costs a pass over
  /// the head's fields at its end, so a long list would be work out of proportion to the head.
  static constexpr std::size_t kMaxConnectionTokens = 32;

 private:
  enum class State : std::uint8_t { head, length, until_eof, chunked, done };
  // Chunked-body sub-states; see decode_chunked().
  enum class Chunk : std::uint8_t {
    size0, size, ext_ws, ext_name0, ext_name, ext_name_ws, ext_value0, ext_token, ext_end, ext_quoted,
    ext_escape, size_lf, data, data_cr, data_lf, trailer0, trailer_name, trailer_value,
    trailer_lf, end_lf
  };

  using Err = http::error;  // {} = no error
  std::size_t parse_head(const char* data, std::size_t size, Err& ec);
  const char* parse_start_line(const char* p, const char* end, Err& ec);
  bool parse_target(std::string_view method, std::string_view& target, Err& ec);
  void apply_absolute_authority();
  void on_field(std::string_view name, std::string_view value, Err& ec);
  void finish_head(Err& ec);
  void remove_fields(Err& ec);
  void renote_positions() noexcept;
  void reset_head() noexcept;
  void note_connection(std::string_view value, Err& ec);
  void note_transfer_encoding(std::string_view value, Err& ec);
  void note_content_length(std::string_view value, Err& ec);
  std::size_t decode_chunked(const char* data, std::size_t size, error_code& ec);
  Err end_trailer_name();

  Headers& headers_;
  Pieces& pieces_;
  std::uint32_t max_header_bytes_;
  std::uint32_t max_headers_;
  std::uint32_t field_count_ = 0;
  std::uint32_t scan_ = 0;  // head bytes already searched for the blank line (partial head)
  State state_ = State::head;
  Chunk chunk_ = Chunk::size0;
  int version_ = 11;
  bool partial_ = false;  // a previous feed() saw an incomplete head
  bool skip_body_ = false;
  bool too_many_ = false;
  bool keep_envoy_ = false;
  bool bad_te_ = false;
  bool rejected_underscore_ = false;
  bool absolute_urls_ = true;
  /// Why a request target was refused: 1 not a URL (http1.invalid_url), 2 a scheme other
  /// than http or https (http1.invalid_scheme).
  std::uint8_t bad_target_ = 0;
  std::string_view absolute_authority_{};
  std::uint8_t underscores_ = 0;
  std::uint32_t dropped_underscores_ = 0;
  bool close_ = false;       // Connection or Proxy-Connection: close
  bool keep_alive_ = false;  // Connection or Proxy-Connection: keep-alive
  bool need_eof_ = false;    // the body ends when the peer closes
  bool te_chunked_ = false;  // a Transfer-Encoding field so far listed chunked
  std::uint8_t connection_named_count_ = 0;
  std::uint16_t connection_tokens_ = 0;  ///< tokens listed by this head's Connection fields
  std::uint8_t chunk_digits_ = 0;  // hex digits of the current chunk size
  // Connection field values that name other fields: those are removed when the head ends.
  std::array<std::string_view, kMaxConnectionFields> connection_named_{};
  std::uint64_t remaining_ = 0;  // Content-Length left, or the current chunk's size left
  std::uint32_t trailer_bytes_ = 0;
  std::uint8_t trailer_name_len_ = 0;
  char trailer_name_[18] = {};  // lower-cased start of the trailer field being read
  HeadInfo info_;
};

using RequestDecoder = Decoder<true>;
using ResponseDecoder = Decoder<false>;

/// Removes the fields a Connection field value names (RFC 9110 7.6.1), except
/// Content-Length, Transfer-Encoding and Host, which a Connection token never removes.
void remove_connection_named(HeaderMap& headers, std::string_view connection_value);

}  // namespace ferry::codec
