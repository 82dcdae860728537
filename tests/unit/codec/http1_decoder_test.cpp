#include "codec/http1_decoder.hpp"

#include <catch2/catch.hpp>

using namespace ferry;
using namespace ferry::codec;

namespace {
struct Parsed {
  RequestHeaders headers;
  codec::Pieces pieces;
  error_code ec;
  std::size_t used = 0;
};

// Feeds `bytes` in slices of `step`, as socket reads would deliver them.
void feed_in_steps(RequestDecoder& dec, const std::string& bytes, std::size_t step, Parsed& p) {
  // Consumed bytes must not be fed again (a head is consumed only once it is complete).
  std::size_t have = 0;
  p.used = 0;
  while (have < bytes.size()) {
    have = std::min(bytes.size(), have + step);
    p.used += dec.feed(bytes.data() + p.used, have - p.used, p.ec);
    if (p.ec != boost::beast::http::error::need_more) return;
  }
}
}  // namespace

TEST_CASE("decoder reads a head delivered in pieces", "[codec]") {
  Parsed p;
  RequestDecoder dec(p.headers, p.pieces, 60 * 1024, 100);
  std::string req = "GET /a HTTP/1.1\r\nhost: h\r\nx-big: " + std::string(50 * 1024, 'a') + "\r\n\r\n";
  feed_in_steps(dec, req, 16 * 1024, p);
  REQUIRE_FALSE(p.ec);
  CHECK(dec.is_header_done());
  CHECK(p.used == req.size());
  CHECK(p.headers.get("x-big").size() == 50 * 1024);
  CHECK(p.headers.path() == "/a");
}

TEST_CASE("decoder drops hop-by-hop fields and those Connection names", "[codec]") {
  Parsed p;
  RequestDecoder dec(p.headers, p.pieces, 60 * 1024, 100);
  std::string req = "GET / HTTP/1.1\r\nhost: h\r\nconnection: close, x-a\r\nx-a: 1\r\nkeep-alive: 1\r\nx-b: 2\r\n\r\n";
  feed_in_steps(dec, req, req.size(), p);
  REQUIRE_FALSE(p.ec);
  CHECK(dec.info().connection_close);
  CHECK_FALSE(p.headers.has("x-a"));
  CHECK_FALSE(p.headers.has("connection"));
  CHECK_FALSE(p.headers.has("keep-alive"));
  CHECK(p.headers.get("x-b") == "2");
}

TEST_CASE("decoder rejects smuggling shapes", "[codec]") {
  for (std::string req : {"POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
                          "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
                          "POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked, gzip\r\n\r\n"}) {
    Parsed p;
    RequestDecoder dec(p.headers, p.pieces, 60 * 1024, 100);
    feed_in_steps(dec, req, req.size(), p);
    INFO(req);
    CHECK(p.ec);
    CHECK(dec.error_for(p.ec).status >= 400);
  }
}

TEST_CASE("response decoder notes where server and x-envoy-upstream-service-time are", "[codec]") {
  ResponseHeaders headers;
  codec::Pieces pieces;
  // A view of a literal: the decoded fields are views into the head, which must outlive them.
  auto decode = [&](std::string_view head) {
    ResponseDecoder dec(headers, pieces, 60 * 1024, 100);
    error_code ec;
    dec.feed(head.data(), head.size(), ec);
    REQUIRE_FALSE(ec);
    REQUIRE(dec.is_header_done());
    return dec.info();
  };
  // Hop-by-hop fields are not in the list: positions count the fields that are.
  auto one = decode("HTTP/1.1 200 OK\r\nconnection: keep-alive\r\nx-a: 1\r\nSERVER: up\r\n"
                    "X-Envoy-Upstream-Service-Time: 7\r\ncontent-length: 0\r\n\r\n");
  REQUIRE(one.server_at == 2);
  CHECK(headers.entries()[one.server_at - 1].value == "up");
  REQUIRE(one.service_time_at == 3);
  CHECK(headers.entries()[one.service_time_at - 1].value == "7");
  CHECK_FALSE(one.server_many);
  CHECK_FALSE(one.service_time_many);
  auto two = decode("HTTP/1.1 200 OK\r\nserver: a\r\nexpect: x\r\nserver: b\r\nx-envoy-upstream-service-time: 1\r\n"
                    "x-envoy-upstream-service-time: 2\r\ncontent-length: 0\r\n\r\n");
  CHECK(two.server_at == 1);
  CHECK(two.server_many);
  CHECK(two.service_time_at == 4);
  CHECK(two.service_time_many);
  auto none = decode("HTTP/1.1 204 No Content\r\nservers: x\r\n\r\n");
  CHECK(none.server_at == 0);
  CHECK(none.service_time_at == 0);
}
