// The internal HTTP client's request serialization (session/http_call.hpp).
#include <catch2/catch.hpp>

#include "session/http_call.hpp"

using ferry::HttpCallRequest;
using ferry::session::serialize_http_call;

TEST_CASE("http_call: requests serialize with host and framing of their own", "[http_call]") {
  std::string out, error;
  HttpCallRequest get;
  REQUIRE(serialize_http_call(get, "authz", out, error));
  CHECK(out == "GET / HTTP/1.1\r\nhost: authz\r\n\r\n");

  HttpCallRequest post{"POST", "/check?a=1", "svc", {{"X-A", "1"}, {"Host", "x"}, {"Content-Length", "99"},
                                                     {"transfer-encoding", "chunked"}}, "body"};
  REQUIRE(serialize_http_call(post, "authz", out, error));
  CHECK(out == "POST /check?a=1 HTTP/1.1\r\nhost: svc\r\nX-A: 1\r\ncontent-length: 4\r\n\r\nbody");

  // A caller's content-length asks for framing on a bodiless GET (ext_authz's check).
  HttpCallRequest check{"GET", "/", "", {{"content-length", "0"}}, ""};
  REQUIRE(serialize_http_call(check, "authz", out, error));
  CHECK(out == "GET / HTTP/1.1\r\nhost: authz\r\ncontent-length: 0\r\n\r\n");
  // PUT without a body still says so.
  REQUIRE(serialize_http_call(HttpCallRequest{"PUT", "/k", "", {}, ""}, "c", out, error));
  CHECK(out == "PUT /k HTTP/1.1\r\nhost: c\r\ncontent-length: 0\r\n\r\n");
}

TEST_CASE("http_call: what could split the message is refused", "[http_call]") {
  std::string out, error;
  CHECK_FALSE(serialize_http_call(HttpCallRequest{"GE T", "/", "", {}, ""}, "c", out, error));
  CHECK(error == "invalid method");
  CHECK_FALSE(serialize_http_call(HttpCallRequest{"GET", "/a b", "", {}, ""}, "c", out, error));
  CHECK(error == "invalid path");
  CHECK_FALSE(serialize_http_call(HttpCallRequest{"GET", "", "", {}, ""}, "c", out, error));
  CHECK(error == "invalid path");
  CHECK_FALSE(serialize_http_call(HttpCallRequest{"GET", "/", "a\r\nb", {}, ""}, "c", out, error));
  CHECK(error == "invalid authority");
  CHECK_FALSE(serialize_http_call(HttpCallRequest{"GET", "/", "", {{"x:y", "1"}}, ""}, "c", out, error));
  CHECK(error == "invalid header x:y");
  CHECK_FALSE(serialize_http_call(HttpCallRequest{"GET", "/", "", {{"x", "1\n2"}}, ""}, "c", out, error));
  CHECK(error == "invalid header x");
}
