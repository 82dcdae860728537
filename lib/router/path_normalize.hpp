// Request path normalisation (Envoy's HCM normalize_path, merge_slashes and
// path_with_escaped_slashes_action). These decide which route a request takes, so they are
// security features: "/a/../admin" must meet the rules written for "/admin".
//
// Every function works on the path part only (up to the first '?') and keeps the query as
// it is. None of them makes a path longer, so each writes into a caller-provided buffer of
// `in.size()` bytes (the stream's arena) and returns the length written.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace ferry::router {

/// %2F, %2f → '/' and %5C, %5c → '\'. `found` tells whether any was there.
std::size_t unescape_slashes(std::string_view in, char* out, bool& found);
bool has_escaped_slash(std::string_view path) noexcept;

/// RFC 3986 section 5.2.4 remove_dot_segments, never climbing above "/". Like the Chromium
/// canonicaliser Envoy uses, "%2e" (any case) counts as '.', and '\' as a separator ('/').
std::size_t remove_dot_segments(std::string_view in, char* out);
/// Whether remove_dot_segments could change `path` (a quick scan, no writes).
bool may_have_dot_segments(std::string_view path) noexcept;

/// Runs of '/' become one '/'.
std::size_t merge_slashes(std::string_view in, char* out);
bool has_double_slash(std::string_view path) noexcept;

}  // namespace ferry::router
