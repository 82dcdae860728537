// JSON string content from arbitrary bytes, shared by the admin endpoint, the OTLP span
// encoder and JSON access logs.
//
// Thread safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace ferry::detail {

/// Appends `s` as JSON string content: escapes, and U+FFFD for bytes that are not UTF-8
/// (header values may carry any octet; one bad byte must not spoil a document).
void append_json_text(std::string_view s, std::string& out);

}  // namespace ferry::detail
