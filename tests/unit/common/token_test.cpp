// The tchar table against RFC 9110 5.6.2, written out here by hand rather than built the way
// the table is, for every byte value.
#include "common/token.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using ferry::detail::is_tchar;
using ferry::detail::is_token;

namespace {

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
//         / "~" / DIGIT / ALPHA   (DIGIT %x30-39, ALPHA %x41-5A / %x61-7A, RFC 5234)
constexpr std::string_view kRfc9110Tchars =
    "!#$%&'*+-.^_`|~"
    "0123456789"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "abcdefghijklmnopqrstuvwxyz";

}  // namespace

TEST_CASE("tchar table matches RFC 9110 for all 256 byte values", "[common][token]") {
  REQUIRE(kRfc9110Tchars.size() == 15 + 10 + 26 + 26);
  int count = 0;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool expected = kRfc9110Tchars.find(c) != std::string_view::npos;
    INFO("byte 0x" << std::hex << b);
    CHECK(is_tchar(c) == expected);
    CHECK(is_token(std::string_view(&c, 1)) == expected);
    count += is_tchar(c);
  }
  CHECK(count == 77);
  // Delimiters, whitespace, controls, DEL and obs-text are not tchars.
  for (char c : std::string_view("\"(),/:;<=>?@[\\]{} \t\r\n\x7f\x80\xff", 24)) {
    INFO("byte 0x" << std::hex << int(static_cast<unsigned char>(c)));
    CHECK_FALSE(is_tchar(c));
  }
  CHECK_FALSE(is_tchar('\0'));
}

TEST_CASE("a token is one or more tchars", "[common][token]") {
  CHECK(is_token("GET"));
  CHECK(is_token("x-request-id"));
  CHECK(is_token("!#$%&'*+-.^_`|~09AZaz"));
  CHECK_FALSE(is_token(""));
  CHECK_FALSE(is_token("x request"));
  CHECK_FALSE(is_token("host:"));
  CHECK_FALSE(is_token(std::string("a\0b", 3)));
  CHECK_FALSE(is_token("caf\xc3\xa9"));
  CHECK_FALSE(is_token("trailing\t"));
}
