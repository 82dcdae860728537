// HTTP/1.1 head serialization into a reusable per-connection string (no allocation once
// its capacity has grown), plus chunked framing helpers.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <string>
#include <string_view>

#include <ferry/headers.hpp>

namespace ferry::codec {

/// How a body is delimited on the wire.
enum class Framing {
  none,            ///< no body
  content_length,  ///< the map carries content-length
  chunked,         ///< add transfer-encoding: chunked
  until_close,     ///< body ends when the connection closes
};

/// Appends "METHOD path HTTP/1.1", every header of `headers`, the framing header and the
/// blank line.
void append_request_head(std::pmr::string& out, const RequestHeaders& headers, Framing framing);

/// Appends "HTTP/1.1 status reason", headers, framing, and `connection: close` if asked, or
/// `connection: keep-alive` with `announce_keep_alive` (an HTTP/1.0 client's persistent
/// connection, which HTTP/1.0 does not assume).
void append_response_head(std::pmr::string& out, const ResponseHeaders& headers, Framing framing,
                          bool close, bool announce_keep_alive = false);

/// Appends a chunk-size line ("1a2b\r\n").
void append_chunk_header(std::pmr::string& out, std::uint64_t size);

/// The standard reason phrase for `status` ("Unknown" if none).
std::string_view reason_phrase(int status) noexcept;

}  // namespace ferry::codec
