// Path normalisation: RFC 3986 dot segments, merged slashes, escaped slashes. These decide
// which route a request takes, so the cases include the classic bypass attempts.
#include <catch2/catch.hpp>

#include <string>

#include "router/path_normalize.hpp"

using namespace ferry::router;

namespace {

std::string dots(std::string_view in) {
  std::string out(in.size(), '\0');
  out.resize(remove_dot_segments(in, out.data()));
  return out;
}

std::string merged(std::string_view in) {
  std::string out(in.size(), '\0');
  out.resize(merge_slashes(in, out.data()));
  return out;
}

std::string unescaped(std::string_view in, bool& found) {
  std::string out(in.size(), '\0');
  out.resize(unescape_slashes(in, out.data(), found));
  return out;
}

}  // namespace

TEST_CASE("normalize: dot segments are removed as RFC 3986 says", "[router][normalize]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"/", "/"},
      {"/a/b/c", "/a/b/c"},
      {"/a/../admin", "/admin"},
      {"/a/./b", "/a/b"},
      {"/a/b/../../c", "/c"},
      {"/../admin", "/admin"},        // never above the root
      {"/../../../etc/passwd", "/etc/passwd"},
      {"/a/..", "/"},
      {"/a/b/..", "/a/"},
      {"/a/.", "/a/"},
      {"/a/b/", "/a/b/"},
      {"/a//../b", "/a/b"},           // the empty segment is the one removed
      {"/a/%2e%2e/admin", "/admin"},  // "%2e" is a dot
      {"/a/%2E./admin", "/admin"},
      {"/a/.%2e/admin", "/admin"},
      {"/a/%2e/b", "/a/b"},
      {"/a\\..\\admin", "/admin"},    // backslash is a separator
      {"/a/...", "/a/..."},           // three dots are a name
      {"/a/..b/c", "/a/..b/c"},
      {"/.hidden/x", "/.hidden/x"},
      {"/a/../b?x=/../y", "/b?x=/../y"},  // the query is left alone
      {"/a/b/..?q", "/a/?q"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(dots(c.in) == c.out);
  }
  CHECK(may_have_dot_segments("/a/../b"));
  CHECK(may_have_dot_segments("/a/%2E%2e/b"));
  CHECK(may_have_dot_segments("/a\\b"));
  CHECK_FALSE(may_have_dot_segments("/a/b.c/d"));
  CHECK_FALSE(may_have_dot_segments("/a/b?x=/../"));
}

TEST_CASE("normalize: merge_slashes", "[router][normalize]") {
  CHECK(merged("//admin") == "/admin");
  CHECK(merged("/a///b//c/") == "/a/b/c/");
  CHECK(merged("/a/b") == "/a/b");
  CHECK(merged("/a//b?x=//y") == "/a/b?x=//y");
  CHECK(has_double_slash("/a//b"));
  CHECK_FALSE(has_double_slash("/a/b?x=//"));
}

TEST_CASE("normalize: escaped slashes", "[router][normalize]") {
  bool found = false;
  CHECK(unescaped("/a%2Fb%2fc", found) == "/a/b/c");
  CHECK(found);
  CHECK(unescaped("/a%5Cb%5cc", found) == "/a\\b\\c");
  CHECK(found);
  CHECK(unescaped("/a%2Xb%2", found) == "/a%2Xb%2");
  CHECK_FALSE(found);
  CHECK(unescaped("/a?x=%2F", found) == "/a?x=%2F");  // the query keeps its escapes
  CHECK_FALSE(found);
  CHECK(has_escaped_slash("/x%2fy"));
  CHECK_FALSE(has_escaped_slash("/x%41?y=%2F"));
}
