#include "router/path_normalize.hpp"
#include "common/ascii.hpp"

#include <cstring>

namespace ferry::router {

namespace {

using detail::lower;

std::size_t path_end(std::string_view p) noexcept {
  auto q = p.find('?');
  return q == std::string_view::npos ? p.size() : q;
}


// "%2f"/"%5c" at p[i] (case-insensitive hex): the character it stands for, or 0.
char escaped_slash_at(std::string_view p, std::size_t i) noexcept {
  if (p.size() < 3 || i > p.size() - 3 || p[i] != '%') return 0;
  char hi = p[i + 1], lo = lower(p[i + 2]);
  if (hi == '2' && lo == 'f') return '/';
  if (hi == '5' && lo == 'c') return '\\';
  return 0;
}

// A segment that means "." or "..", with '.' possibly written "%2e".
int dots_in(std::string_view seg) noexcept {
  int dots = 0;
  for (std::size_t i = 0; i < seg.size();) {
    if (seg[i] == '.') {
      ++i;
    } else if (seg.size() - i >= 3 && seg[i] == '%' && seg[i + 1] == '2' && lower(seg[i + 2]) == 'e') {
      i += 3;
    } else {
      return 0;
    }
    if (++dots > 2) return 0;
  }
  return dots;
}

std::size_t copy_query(std::string_view in, std::size_t from, char* out, std::size_t n) {
  std::size_t rest = in.size() - from;
  if (rest) std::memcpy(out + n, in.data() + from, rest);
  return n + rest;
}

}  // namespace

bool has_escaped_slash(std::string_view path) noexcept {
  auto end = path_end(path);
  for (auto i = path.find('%'); i < end; i = path.find('%', i + 1))
    if (escaped_slash_at(path.substr(0, end), i)) return true;
  return false;
}

std::size_t unescape_slashes(std::string_view in, char* out, bool& found) {
  auto end = path_end(in);
  auto path = in.substr(0, end);
  std::size_t n = 0;
  found = false;
  for (std::size_t i = 0; i < end;) {
    if (char c = escaped_slash_at(path, i)) {
      out[n++] = c;
      i += 3;
      found = true;
    } else {
      out[n++] = in[i++];
    }
  }
  return copy_query(in, end, out, n);
}

bool may_have_dot_segments(std::string_view path) noexcept {
  auto p = path.substr(0, path_end(path));
  // A dot segment starts right after a separator with '.' or "%2e"; '\' is rewritten too.
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') return true;
    if (p[i] != '/' || i + 1 >= p.size()) continue;
    char next = p[i + 1];
    if (next == '.' || (next == '%' && i + 3 < p.size() && p[i + 2] == '2' && lower(p[i + 3]) == 'e'))
      return true;
  }
  return false;
}

std::size_t remove_dot_segments(std::string_view in, char* out) {
  auto end = path_end(in);
  if (end == 0 || (in[0] != '/' && in[0] != '\\')) {
    // Not origin-form: nothing to anchor the segments to, leave it alone.
    std::memcpy(out, in.data(), in.size());
    return in.size();
  }
  std::size_t n = 0;
  out[n++] = '/';  // `out` ends with '/' between segments
  for (std::size_t i = 1; i <= end;) {
    std::size_t j = i;
    while (j < end && in[j] != '/' && in[j] != '\\') ++j;
    auto seg = in.substr(i, j - i);
    bool last = j >= end;
    int dots = dots_in(seg);
    if (dots == 2 && n > 1) {
      // Back to just after the previous separator (the root stays).
      --n;
      while (out[n - 1] != '/') --n;
    } else if (dots == 0) {
      std::memcpy(out + n, seg.data(), seg.size());
      n += seg.size();
      if (!last) out[n++] = '/';
    }
    i = j + 1;
  }
  return copy_query(in, end, out, n);
}

bool has_double_slash(std::string_view path) noexcept {
  return path.substr(0, path_end(path)).find("//") != std::string_view::npos;
}

std::size_t merge_slashes(std::string_view in, char* out) {
  auto end = path_end(in);
  std::size_t n = 0;
  for (std::size_t i = 0; i < end; ++i)
    if (in[i] != '/' || n == 0 || out[n - 1] != '/') out[n++] = in[i];
  return copy_query(in, end, out, n);
}

}  // namespace ferry::router
