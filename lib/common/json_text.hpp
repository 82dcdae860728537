// JSON string content from arbitrary bytes, shared by the admin endpoint, the OTLP span
// encoder and JSON access logs.
//
// Plain printable ASCII (nearly every byte of a header value, path or key) is found sixteen
// bytes at a time (SSE2) and copied as a run; only the bytes that need work (control
// characters, '"', '\\', anything >= 0x80) take the byte-wise path.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::detail {

/// Appends `s` as JSON string content: escapes, and U+FFFD for bytes that are not UTF-8
/// (header values may carry any octet; one bad byte must not spoil a document).
void append_json_text(std::string_view s, std::string& out);

/// The most bytes write_json_text writes for `n` input bytes (a control character or a
/// byte that is not UTF-8 becomes six).
constexpr std::size_t json_text_max_size(std::size_t n) noexcept { return 6 * n; }

/// append_json_text into raw memory: writes at `out`, which has room for
/// json_text_max_size(s.size()) bytes, and returns the end of what was written.
char* write_json_text(std::string_view s, char* out) noexcept;

/// The length of the longest prefix of `s` that is copied as is (printable ASCII other than
/// '"' and '\\'). Exposed for tests.
std::size_t json_plain_prefix(std::string_view s) noexcept;

}  // namespace ferry::detail
