// The JSON string escaper (common/json_text.hpp): the SSE2 scan for plain runs must find
// exactly the bytes the byte-wise rules escape, wherever they sit relative to its 16-, 8-
// and 4-byte loads, and write_json_text must write the same text as append_json_text.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_text.hpp"

using ferry::detail::append_json_text;
using ferry::detail::json_plain_prefix;
using ferry::detail::json_text_max_size;
using ferry::detail::write_json_text;

namespace {

// The escaper as it was before the SSE2 scan (byte by byte), as the reference.
// Written differently from the escaper's check on purpose: decode the code point, then
// apply Unicode's rules (shortest form, no surrogates, at most U+10FFFF).
std::size_t ref_utf8_length(std::string_view s, std::size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n;
  std::uint32_t cp;
  if ((b & 0xE0) == 0xC0) n = 2, cp = b & 0x1F;
  else if ((b & 0xF0) == 0xE0) n = 3, cp = b & 0x0F;
  else if ((b & 0xF8) == 0xF0) n = 4, cp = b & 0x07;
  else return 0;
  if (s.size() - i < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if (c >> 6 != 2) return 0;
    cp = cp << 6 | (c & 0x3F);
  }
  static constexpr std::uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kShortest[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

bool ref_plain(unsigned char u) { return !(u < 0x20 || u >= 0x80 || u == '"' || u == '\\'); }

std::string reference(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (ref_plain(u)) {
      out += s[i];
    } else if (u >= 0x80) {
      if (auto n = ref_utf8_length(s, i)) out.append(s.data() + i, n), i += n - 1;
      else out += "\\ufffd";
    } else if (u == '"') {
      out += "\\\"";
    } else if (u == '\\') {
      out += "\\\\";
    } else if (u == '\n') {
      out += "\\n";
    } else if (u == '\r') {
      out += "\\r";
    } else if (u == '\t') {
      out += "\\t";
    } else {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

std::size_t reference_prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && ref_plain(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

std::string appended(std::string_view s) {
  std::string out = "<";  // appends after what is there
  append_json_text(s, out);
  return out.substr(1);
}

// write_json_text into a buffer with guard bytes: nothing may be written past its end.
std::string written(std::string_view s) {
  std::vector<char> buf(json_text_max_size(s.size()) + 32, '\x7e');
  char* end = write_json_text(s, buf.data());
  std::size_t n = std::size_t(end - buf.data());
  REQUIRE(n <= json_text_max_size(s.size()));
  for (std::size_t i = n; i < buf.size(); ++i) REQUIRE(buf[i] == '\x7e');
  return {buf.data(), n};
}

void check_all_ways(const std::string& s) {
  INFO("input (" << s.size() << " bytes): " << reference(s));
  auto want = reference(s);
  CHECK(json_plain_prefix(s) == reference_prefix(s));
  CHECK(appended(s) == want);
  CHECK(written(s) == want);
}

}  // namespace

TEST_CASE("json text: escapes and replacements", "[json]") {
  CHECK(appended("plain text/with:punctuation~") == "plain text/with:punctuation~");
  CHECK(appended("a\"b\\c\n\r\t") == "a\\\"b\\\\c\\n\\r\\t");
  CHECK(appended(std::string_view("\x00\x01\x1f", 3)) == "\\u0000\\u0001\\u001f");
  CHECK(appended("\x7f") == "\x7f");                       // DEL is not escaped by JSON
  CHECK(appended("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(appended("bad\xff") == "bad\\ufffd");
  CHECK(appended("\xc3") == "\\ufffd");                    // truncated sequence
  CHECK(appended("\xc0\xaf") == "\\ufffd\\ufffd");          // overlong
  CHECK(appended("\xed\xa0\x80") == "\\ufffd\\ufffd\\ufffd");  // surrogate
  CHECK(written("a\"b\\c\n\r\t") == "a\\\"b\\\\c\\n\\r\\t");
  CHECK(written("") == "");
  CHECK(json_plain_prefix("abc\"def") == 3);
  CHECK(json_plain_prefix("0123456789abcdef0123456789\n") == 26);
}

TEST_CASE("json text: one special byte at every position of every length up to 48", "[json]") {
  // Each length exercises another mix of the 16-byte loop, the overlapping last block, the
  // 8+8 and 4+4 loads and the byte loop; each position another lane.
  const std::vector<std::string> specials = {"\"", "\\", "\n", "\x01", "\x1f", "\x80", "\xff", "\xc3\xa9",
                                             "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xe2\x82"};
  for (std::size_t len = 1; len <= 48; ++len)
    for (std::size_t pos = 0; pos < len; ++pos)
      for (const auto& sp : specials) {
        std::string s(len, 'x');
        for (std::size_t i = 0; i < len; ++i) s[i] = char('a' + i % 26);
        s.replace(pos, std::min(sp.size(), len - pos), sp.substr(0, len - pos));
        check_all_ways(s);
      }
}

TEST_CASE("json text: plain strings of every length, and the bytes at the edges of plain", "[json]") {
  for (std::size_t len = 0; len <= 70; ++len) {
    std::string s;
    for (std::size_t i = 0; i < len; ++i) s += char(0x20 + (i * 7) % 95);  // ' ' to '~'
    // '"' and '\\' are in that range: the reference says where the first one is.
    check_all_ways(s);
    std::string edges(len, ' ');
    for (std::size_t i = 0; i < len; ++i) edges[i] = "\x20\x7f\x21\x5b\x5d\x7e"[i % 6];
    check_all_ways(edges);
  }
}

TEST_CASE("json text: multi-byte UTF-8 across 4, 8 and 16 byte boundaries", "[json]") {
  const std::vector<std::string> seqs = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x90\x80\x80"};
  for (std::size_t len = 16; len <= 40; ++len)
    for (std::size_t start = 0; start + 1 < len; ++start)
      for (const auto& q : seqs) {
        std::string s(len, 'p');
        s.replace(start, std::min(q.size(), len - start), q.substr(0, len - start));
        check_all_ways(s);  // a sequence cut by the end of the string is replaced
      }
}

TEST_CASE("json text: random bytes agree with the byte-wise reference", "[json]") {
  std::uint64_t x = 0x9E3779B97F4A7C15ull;  // a fixed seed: the same inputs every run
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 3000; ++round) {
    std::size_t len = next() % 90;
    std::string s(len, '\0');
    // Mostly plain text with a few of everything else, as real values look.
    for (auto& c : s) {
      auto r = next();
      c = r % 8 != 0 ? char(0x20 + (r >> 8) % 95) : char(r >> 16);
    }
    check_all_ways(s);
  }
}
