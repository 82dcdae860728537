// The admin endpoint's JSON strings: always valid JSON, whatever bytes a stat name, host
// or config value carries.
#include <catch2/catch.hpp>

#include "admin/json.hpp"

using ferry::admin::json_quote;

TEST_CASE("admin json: strings are escaped and invalid UTF-8 is replaced", "[admin][json]") {
  CHECK(json_quote("plain") == "\"plain\"");
  CHECK(json_quote("a\"b\\c\n\t") == "\"a\\\"b\\\\c\\n\\t\"");
  CHECK(json_quote(std::string_view("\x01", 1)) == "\"\\u0001\"");
  CHECK(json_quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");  // valid UTF-8 passes through
  CHECK(json_quote("bad\xff") == "\"bad\\ufffd\"");      // a lone 0xff is not UTF-8
}
