// The HTTP/1.1 decoder over a corpus of valid and invalid messages: each message decodes the
// same whether it arrives whole, split in two at every byte, or byte by byte, and every
// rejection rule answers the status error_for() gives.
#include "codec/http1_decoder.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace ferry;
using namespace ferry::codec;
namespace herr = boost::beast::http;

namespace {

constexpr std::uint32_t kMaxBytes = 4096;
constexpr std::uint32_t kMaxHeaders = 20;

// Everything observable about one decode, as plain strings.
struct Outcome {
  std::string head;  // request/status line and fields, one per line
  std::string body;  // the pieces concatenated
  std::string info;
  int error = 0;  // http::error value (0 = none)
  int status = 0; // error_for() status
  bool header_done = false, done = false, keep_alive = false;
  std::size_t consumed = 0;

  std::string describe() const {
    std::ostringstream o;
    o << "error=" << error << " status=" << status << " header_done=" << header_done << " done=" << done
      << " keep_alive=" << keep_alive << " consumed=" << consumed << "\n"
      << head << "info: " << info << "\nbody: " << body;
    return o.str();
  }
  bool operator==(const Outcome& o) const {
    return head == o.head && body == o.body && info == o.info && error == o.error && status == o.status &&
           header_done == o.header_done && done == o.done && keep_alive == o.keep_alive && consumed == o.consumed;
  }
};

template <bool isRequest>
std::string snapshot(const typename Decoder<isRequest>::Headers& h, const HeadInfo& i, std::string& info) {
  std::ostringstream o;
  if constexpr (isRequest) o << h.method() << ' ' << h.path() << ' ' << h.version() << '\n';
  else o << h.status() << ' ' << h.version() << '\n';
  for (const auto& e : h) o << e.name << '=' << e.value << '\n';
  std::ostringstream n;
  n << "close=" << i.connection_close << " ka=" << i.connection_keep_alive << " others=" << i.connection_names_others
    << " expect=" << i.expect_continue << " chunked=" << i.chunked << " cl=" << i.has_content_length << ':'
    << i.content_length << " te=" << i.has_transfer_encoding << " upgrade=" << i.upgrade << " hosts=" << i.host_count;
  info = n.str();
  return o.str();
}

// Delivers `msg` in the given slices the way the session does: the head is fed from its
// start until it is complete, then each feed() gets the unconsumed input. The peer closes
// after the last slice.
template <bool isRequest>
Outcome decode(const std::string& msg, const std::vector<std::size_t>& slices, bool head_request) {
  typename Decoder<isRequest>::Headers headers;
  Pieces pieces;
  Decoder<isRequest> dec(headers, pieces, kMaxBytes, kMaxHeaders);
  dec.skip(head_request);
  Outcome out;
  std::string in;
  std::size_t pos = 0, at = 0;
  error_code ec;
  for (std::size_t n : slices) {
    in.append(msg, at, n);
    at += n;
    while (!dec.is_done() && pos < in.size()) {
      bool had_head = dec.is_header_done();
      auto used = dec.feed(in.data() + pos, in.size() - pos, ec);
      if (!had_head && dec.is_header_done() && (!ec || ec == herr::error::need_more))
        out.head = snapshot<isRequest>(headers, dec.info(), out.info);
      for (auto piece : dec.pieces()) out.body.append(piece);  // also those before an error
      pos += used;
      if (ec && ec != herr::error::need_more) {
        out.error = ec.value();
        out.status = dec.error_for(ec).status;
        out.consumed = pos;
        return out;
      }
      if (used == 0) break;
    }
  }
  if (!dec.is_done()) {
    dec.feed_eof(ec);
    CHECK(dec.pieces().empty());
    if (ec) {
      out.error = ec.value();
      out.status = dec.error_for(ec).status;
    }
  }
  out.header_done = dec.is_header_done();
  out.done = dec.is_done();
  if (out.header_done) out.keep_alive = dec.keep_alive();
  out.consumed = pos;
  return out;
}

struct Case {
  const char* name;
  std::string bytes;
  bool request = true;
  bool head_request = false;
  int status = 0;  // expected error_for() status; 0 = decodes
  std::string body = {};  // expected body when it decodes
  bool keep_alive = true;
  std::string head = {};  // when set: the expected start line and forwarded fields
};

template <bool isRequest>
void check_splits(const Case& c) {
  INFO(c.name);
  const std::size_t n = c.bytes.size();
  Outcome whole = decode<isRequest>(c.bytes, {n}, c.head_request);
  INFO(whole.describe());
  CHECK(whole.status == c.status);
  if (c.status == 0) {
    CHECK(whole.error == 0);
    CHECK(whole.done);
    CHECK(whole.body == c.body);
    CHECK(whole.keep_alive == c.keep_alive);
    if (!c.head.empty()) CHECK(whole.head == c.head);
  }
  for (std::size_t cut = 1; cut < n; ++cut) {
    Outcome split = decode<isRequest>(c.bytes, {cut, n - cut}, c.head_request);
    if (!(split == whole)) {
      INFO("split at " << cut << ": " << split.describe());
      CHECK(split == whole);
      return;
    }
  }
  Outcome bytewise = decode<isRequest>(c.bytes, std::vector<std::size_t>(n, 1), c.head_request);
  INFO("byte by byte: " << bytewise.describe());
  CHECK(bytewise == whole);
}

const std::string kHost = "host: h\r\n";

std::vector<Case> request_corpus() {
  std::string big_ok = "GET / HTTP/1.1\r\nhost: h\r\n";
  for (int i = 0; i < 19; ++i) big_ok += "x-h" + std::to_string(i) + ": v\r\n";
  std::string many = big_ok + "x-one-more: v\r\n";
  return {
      {"simple GET", "GET /a?b=c HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n"},
      {"asterisk form", "OPTIONS * HTTP/1.1\r\n" + kHost + "\r\n"},
      {"OWS trimmed, empty value, obs-text", "GET / HTTP/1.1\r\n" + kHost + "x-a: \t v w \t\r\nx-e:\r\nx-o: \xc3\xa9\r\n\r\n"},
      {"20 fields is the limit", big_ok + "\r\n"},
      {"content-length body", "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\n\r\nhello", true, false, 0, "hello"},
      {"content-length 0", "POST / HTTP/1.1\r\n" + kHost + "content-length: 0\r\n\r\n"},
      {"chunked with extensions and trailers",
       "POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n"
       "5;a=b ; c ;d=\"q \\\" s\"\r\nhello\r\nA\r\n0123456789\r\n000;last\r\nx-t: 1\r\nx-u:\r\n\r\n",
       true, false, 0, "hello0123456789"},
      {"chunked, gzip then chunked",
       "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", true, false, 0, "abc"},
      {"HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", true, false, 0, "", false},
      {"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"},
      {"connection close", "GET / HTTP/1.1\r\n" + kHost + "connection: x-a, close\r\nx-a: 1\r\nx-b: 2\r\n\r\n", true, false, 0, "", false},
      {"proxy-connection close", "GET / HTTP/1.1\r\n" + kHost + "proxy-connection: close\r\n\r\n", true, false, 0, "", false},
      {"hop-by-hop and x-envoy dropped, expect recorded",
       "GET / HTTP/1.1\r\n" + kHost + "TE: trailers\r\nTrailer: x\r\nUpgrade: h2c\r\nKeep-Alive: 5\r\n"
       "X-Envoy-Retry-On: 5xx\r\nx-envoyish: kept\r\nExpect: 100-Continue\r\n\r\n"},
      // Absolute form (RFC 9112 3.2.2): the URL's authority replaces Host.
      {.name = "absolute-form target",
       .bytes = "GET http://evil:8080/a?b HTTP/1.1\r\nHost: other\r\nx: y\r\n\r\n",
       .head = "GET /a?b 11\nHost=evil:8080\nx=y\n"},
      {.name = "absolute-form target without Host or path",
       .bytes = "GET HTTPS://[::1]:9 HTTP/1.1\r\nx: y\r\n\r\n",
       .head = "GET / 11\nx=y\nhost=[::1]:9\n"},
      // Rejections.
      {"CL then TE", "POST / HTTP/1.1\r\n" + kHost + "content-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", true, false, 400},
      {"TE then CL", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n", true, false, 400},
      {"two content-lengths", "POST / HTTP/1.1\r\n" + kHost + "content-length: 1\r\ncontent-length: 2\r\n\r\nab", true, false, 400},
      {"two equal content-lengths", "POST / HTTP/1.1\r\n" + kHost + "content-length: 1\r\ncontent-length: 1\r\n\r\na", true, false, 400},
      {"content-length list", "POST / HTTP/1.1\r\n" + kHost + "content-length: 1, 1\r\n\r\na", true, false, 400},
      {"content-length not digits", "POST / HTTP/1.1\r\n" + kHost + "content-length: +1\r\n\r\na", true, false, 400},
      {"content-length overflow", "POST / HTTP/1.1\r\n" + kHost + "content-length: 18446744073709551616\r\n\r\n", true, false, 400},
      {"TE not chunked", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: gzip\r\n\r\nabc", true, false, 501},
      {"TE chunked not final", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked, gzip\r\n\r\n", true, false, 501},
      {"TE chunked twice in a list", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked, chunked\r\n\r\n", true, false, 501},
      {"TE chunked twice", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n", true, false, 400},
      {"TE not a token list", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked@\r\n\r\n", true, false, 501},
      {"authority-form target", "CONNECT h:443 HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"asterisk form with GET", "GET * HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"target neither a path nor a URL", "GET evil HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"absolute URL of another scheme", "GET ftp://h/ HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"absolute URL with userinfo", "GET http://u@evil/ HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"absolute URL without authority", "GET http:///a HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"absolute URL with a fragment", "GET http://h#f HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"CTL in target", "GET /a\x01 HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"method not a token", "G(T / HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"two spaces", "GET  / HTTP/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\n" + kHost + "\r\n", true, false, 400},
      {"short version", "GET / HTTP/1\r\n" + kHost + "\r\n", true, false, 400},
      {"short head", "GET / HTTP\r\n\r\n", true, false, 400},
      {"HTTP/1.2", "GET / HTTP/1.2\r\n" + kHost + "\r\n", true, false, 400},
      {"lower-case version", "GET / http/1.1\r\n" + kHost + "\r\n", true, false, 400},
      {"bare LF line ending", "GET / HTTP/1.1\n" + kHost + "\r\n", true, false, 400},
      {"bare LF in a field", "GET / HTTP/1.1\r\nhost: h\nx: y\r\n\r\n", true, false, 400},
      {"bare CR in a field", "GET / HTTP/1.1\r\nhost: h\rx: y\r\n\r\n", true, false, 400},
      {"NUL in a value", std::string("GET / HTTP/1.1\r\nhost: h\r\nx: a\0b\r\n\r\n", 35), true, false, 400},
      {"DEL in a value", "GET / HTTP/1.1\r\nhost: h\r\nx: a\x7f\r\n\r\n", true, false, 400},
      {"space before colon", "GET / HTTP/1.1\r\nhost : h\r\n\r\n", true, false, 400},
      {"space in a name", "GET / HTTP/1.1\r\nhost: h\r\nbad header: v\r\n\r\n", true, false, 400},
      {"empty name", "GET / HTTP/1.1\r\nhost: h\r\n: v\r\n\r\n", true, false, 400},
      {"obs-fold", "GET / HTTP/1.1\r\nhost: h\r\nx-a: 1\r\n  2\r\n\r\n", true, false, 400},
      {"whitespace before the first field", "GET / HTTP/1.1\r\n host: h\r\n\r\n", true, false, 400},
      {"no host on 1.1", "GET / HTTP/1.1\r\n\r\n", true, false, 400},
      {"two hosts", "GET / HTTP/1.1\r\nhost: a\r\nHost: b\r\n\r\n", true, false, 400},
      {"bad connection list", "GET / HTTP/1.1\r\nhost: h\r\nconnection: close x\r\n\r\n", true, false, 400},
      {"too many fields", many + "\r\n", true, false, 431},
      {"head too large", "GET / HTTP/1.1\r\nhost: h\r\nx: " + std::string(kMaxBytes, 'a') + "\r\n\r\n", true, false, 431},
      {"bad chunk size", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", true, false, 400},
      {"chunk size overflow", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n10000000000000000\r\n", true, false, 400},
      {"chunk data too long", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", true, false, 400},
      {"chunk size trailing space", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n2 \r\nab\r\n0\r\n\r\n", true, false, 400},
      {"chunk extension without name", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n2;=x\r\nab\r\n0\r\n\r\n", true, false, 400},
      {"chunk extension CTL in quotes", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n2;a=\"\x01\"\r\nab\r\n0\r\n\r\n", true, false, 400},
      {"chunk size bare LF", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n", true, false, 400},
      {"empty chunk size", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n\r\n", true, false, 400},
      {"content-length in trailer", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n", true, false, 400},
      {"obs-fold in trailer", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n0\r\nx: 1\r\n 2\r\n\r\n", true, false, 400},
      {"bad trailer name", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n0\r\nx y: 1\r\n\r\n", true, false, 400},
      {"too many trailers", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n0\r\n" + [] {
         std::string t;
         for (int i = 0; i < 20; ++i) t += "t: v\r\n";
         return t;
       }() + "\r\n", true, false, 431},
      {"truncated body", "POST / HTTP/1.1\r\n" + kHost + "content-length: 5\r\n\r\nhel", true, false, 400},
      {"truncated chunked body", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n5\r\nhel", true, false, 400},
      {"truncated head", "GET / HTTP/1.1\r\nhost: h\r\n", true, false, 400},
      // Security review fixes.
      {.name = "connection never removes content-length or host",
       .bytes = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\nConnection: content-length, HOST, x-a\r\n"
                "x-a: 1\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n",
       .body = "GET /admin HTTP/1.1\r\nHost: a\r\n",
       .head = "POST / 11\nHost=a\nContent-Length=30\n"},
      {.name = "connection never removes transfer-encoding",
       .bytes = "POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n0\r\n\r\n",
       .body = "abc",
       .head = "POST / 11\nHost=a\n"},
      {.name = "tokens of every connection field are removed",
       .bytes = "GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret\r\nConnection: keep-alive\r\nx-secret: 1\r\n"
                "x-b: 2\r\nConnection: close, X-B\r\nx-c: 3\r\n\r\n",
       .keep_alive = false,
       .head = "GET / 11\nHost=a\nx-c=3\n"},
      {.name = "eight connection fields naming others",
       .bytes = "GET / HTTP/1.1\r\nHost: a\r\n" + [] {
         std::string t;
         for (int i = 0; i < 8; ++i) t += "Connection: x-" + std::to_string(i) + "\r\nx-" + std::to_string(i) + ": v\r\n";
         return t;
       }() + "\r\n",
       .head = "GET / 11\nHost=a\n"},
      {"nine connection fields naming others", "GET / HTTP/1.1\r\nHost: a\r\n" + [] {
         std::string t;
         for (int i = 0; i < 9; ++i) t += "Connection: x-" + std::to_string(i) + "\r\n";
         return t;
       }() + "\r\n", true, false, 400},
      {"HTTP/1.0 with transfer-encoding chunked", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true, false, 400},
      {"HTTP/1.0 with transfer-encoding gzip", "POST / HTTP/1.0\r\nhost: h\r\ntransfer-encoding: gzip\r\n\r\n", true, false, 400},
      {"16-digit zero-padded chunk size", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n"
       "0000000000000001\r\na\r\n0000000000000000\r\n\r\n", true, false, 0, "a"},
      {"17-digit zero-padded chunk size", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n"
       "00000000000000001\r\na\r\n0\r\n\r\n", true, false, 400},
      {"17-digit zero last chunk", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n00000000000000000\r\n\r\n", true, false, 400},
      {"chunk size 2^63", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n8000000000000000\r\n", true, false, 400},
      {"chunk size 2^64-1", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\nffffffffffffffff\r\n", true, false, 400},
      {"host in trailer", "POST / HTTP/1.1\r\n" + kHost + "transfer-encoding: chunked\r\n\r\n0\r\nHost: evil\r\n\r\n", true, false, 400},
  };
}

std::vector<Case> response_corpus() {
  auto r = [](const char* name, std::string bytes, int status = 0, std::string body = "", bool ka = true,
              bool head = false) { return Case{name, std::move(bytes), false, head, status, std::move(body), ka}; };
  return {
      r("nginx-like", "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Thu, 26 Nov 2026 08:00:00 GMT\r\n"
                      "Content-Type: text/plain\r\nContent-Length: 13\r\nLast-Modified: x\r\n"
                      "Connection: keep-alive\r\nETag: \"5\"\r\nAccept-Ranges: bytes\r\n\r\nhello, world!", 0, "hello, world!"),
      r("empty reason", "HTTP/1.1 404 \r\ncontent-length: 0\r\n\r\n"),
      r("reason with tab and obs-text", "HTTP/1.1 200 O\tK \xff\r\ncontent-length: 1\r\n\r\nx", 0, "x"),
      r("until EOF", "HTTP/1.1 200 OK\r\n\r\nall of this", 0, "all of this", false),
      r("until EOF on non-chunked TE", "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nzzz", 0, "zzz", false),
      r("chunked", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx: y\r\n\r\n", 0, "abc"),
      r("HEAD response", "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", 0, "", true, true),
      r("204 ignores length", "HTTP/1.1 204 No Content\r\ncontent-length: 10\r\n\r\n"),
      r("304", "HTTP/1.1 304 Not Modified\r\n\r\n"),
      r("100 continue", "HTTP/1.1 100 Continue\r\n\r\n"),
      r("1.0 without keep-alive", "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nab", 0, "ab", false),
      r("1.1 close", "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nab", 0, "ab", false),
      r("no reason SP", "HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n", 400),
      r("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 400),
      r("not HTTP", "NOT HTTP AT ALL\r\n\r\n", 400),
      r("short garbage", "NOT HTTP\r\n\r\n", 400),
      r("short status", "HTTP/1.1 20\r\n\r\n", 400),
      r("HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n", 400),
      r("CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 400),
      r("CL then TE", "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", 400),
      r("TE not a token list", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked@\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
      r("TE then CL", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n", 400),
      r("two content-lengths", "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd", 400),
      r("truncated CL body", "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nab", 400),
      r("obs-fold", "HTTP/1.1 200 OK\r\nx: a\r\n\tb\r\ncontent-length: 0\r\n\r\n", 400),
      r("bad chunk", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 400),
      // Security review fixes.
      {.name = "connection never removes a response's content-length",
       .bytes = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: content-length\r\n\r\nhello",
       .request = false,
       .body = "hello",
       .head = "200 11\nContent-Length=5\n"},
      r("HTTP/1.0 response with transfer-encoding", "HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", 400),
      r("HTTP/1.0 response with transfer-encoding gzip", "HTTP/1.0 200 OK\r\ntransfer-encoding: gzip\r\n\r\nzz", 400),
      r("status 000", "HTTP/1.1 000 X\r\ncontent-length: 0\r\n\r\n", 400),
      r("status 099", "HTTP/1.1 099 X\r\ncontent-length: 0\r\n\r\n", 400),
      r("status 600", "HTTP/1.1 600 X\r\ncontent-length: 0\r\n\r\n", 400),
      r("status 599", "HTTP/1.1 599 X\r\ncontent-length: 0\r\n\r\n"),
      r("chunked twice in a list", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
      r("chunked in two fields", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\ntransfer-encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n", 400),
      r("chunked not final reads until close", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\nzz", 0, "zz", false),
      r("101 is not reusable", "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n", 0, "",
        false),
      r("host in trailer", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nhost: x\r\n\r\n", 400),
      r("transfer-encoding in trailer", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: x\r\n\r\n", 400),
  };
}

}  // namespace

TEST_CASE("requests decode the same whole, split anywhere, or byte by byte", "[codec]") {
  for (const auto& c : request_corpus()) check_splits<true>(c);
}

TEST_CASE("responses decode the same whole, split anywhere, or byte by byte", "[codec]") {
  for (const auto& c : response_corpus()) check_splits<false>(c);
}

TEST_CASE("decoder records hop-by-hop facts and drops those fields", "[codec]") {
  RequestHeaders headers;
  Pieces pieces;
  RequestDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
  std::string req = "GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\nUpgrade: h2c\r\nConnection: Upgrade, x-a\r\n"
                    "x-a: 1\r\nX-Envoy-Retry-On: 5xx\r\nx-envoyish: kept\r\nExpect: 100-Continue\r\n\r\n";
  error_code ec;
  CHECK(dec.feed(req.data(), req.size(), ec) == req.size());
  REQUIRE_FALSE(ec);
  CHECK(dec.is_done());
  CHECK(dec.info().upgrade);
  CHECK(dec.info().expect_continue);
  CHECK(dec.info().connection_names_others);
  CHECK(dec.info().host_count == 1);
  CHECK(headers.size() == 2);
  CHECK(headers.get("host") == "h");
  CHECK(headers.get("x-envoyish") == "kept");
}

TEST_CASE("decoder keeps x-envoy headers for internal clients", "[codec]") {
  RequestHeaders headers;
  Pieces pieces;
  RequestDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
  dec.keep_envoy_headers(true);
  std::string req = "GET / HTTP/1.1\r\nhost: h\r\nx-envoy-upstream-rq-timeout-ms: 5\r\n\r\n";
  error_code ec;
  dec.feed(req.data(), req.size(), ec);
  REQUIRE_FALSE(ec);
  CHECK(headers.get("x-envoy-upstream-rq-timeout-ms") == "5");
}

TEST_CASE("decoder stops after the head and leaves the body for the next feed", "[codec]") {
  RequestHeaders headers;
  Pieces pieces;
  RequestDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
  std::string head = "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 4\r\n\r\n";
  std::string req = head + "abcdGET / HTTP/1.1\r\n";
  error_code ec;
  CHECK(dec.feed(req.data(), req.size(), ec) == head.size());
  REQUIRE_FALSE(ec);
  CHECK(dec.is_header_done());
  CHECK_FALSE(dec.is_done());
  CHECK(dec.info().content_length == 4);
  CHECK(dec.feed(req.data() + head.size(), req.size() - head.size(), ec) == 4);  // not the next request
  CHECK_FALSE(ec);
  CHECK(dec.is_done());
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0] == "abcd");
}

TEST_CASE("a head over the limit is refused before its end arrives", "[codec]") {
  RequestHeaders headers;
  Pieces pieces;
  RequestDecoder dec(headers, pieces, 64, kMaxHeaders);
  std::string req = "GET / HTTP/1.1\r\nhost: h\r\nx: " + std::string(100, 'a');
  error_code ec;
  CHECK(dec.feed(req.data(), 40, ec) == 0);
  CHECK(ec == herr::error::need_more);
  dec.feed(req.data(), req.size(), ec);
  CHECK(ec == herr::error::header_limit);
  CHECK(dec.error_for(ec).status == 431);
}

TEST_CASE("a response body that ends at close is done at EOF", "[codec]") {
  ResponseHeaders headers;
  Pieces pieces;
  ResponseDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
  std::string res = "HTTP/1.1 200 OK\r\n\r\n";
  error_code ec;
  CHECK(dec.feed(res.data(), res.size(), ec) == res.size());
  CHECK_FALSE(dec.is_done());
  CHECK_FALSE(dec.keep_alive());
  dec.feed("abc", 3, ec);
  CHECK(pieces.size() == 1);
  dec.feed_eof(ec);
  CHECK_FALSE(ec);
  CHECK(dec.is_done());
  CHECK(pieces.empty());
}

TEST_CASE("each rejection answers its status", "[codec]") {
  // The corpus rejections, checked one by one with the error code the session sees.
  for (const auto& c : request_corpus()) {
    if (c.status == 0) continue;
    INFO(c.name);
    Outcome o = decode<true>(c.bytes, {c.bytes.size()}, false);
    CHECK(o.error != 0);
    CHECK(o.error != int(herr::error::need_more));
    CHECK(o.status == c.status);
  }
  RequestHeaders headers;
  Pieces pieces;
  RequestDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
  std::string te = "POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: gzip\r\n\r\n";
  error_code ec;
  dec.feed(te.data(), te.size(), ec);
  CHECK(ec == herr::error::bad_transfer_encoding);
  auto e = dec.error_for(ec);
  CHECK(e.status == 501);
  CHECK(e.detail == "http1.invalid_transfer_encoding");
}

TEST_CASE("request targets other than origin form", "[codec]") {
  RequestHeaders headers;
  Pieces pieces;
  std::string head;  // the header views point into it
  auto decode_head = [&](std::string bytes, bool allow_absolute, error_code& ec) {
    head = std::move(bytes);
    RequestDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
    dec.absolute_urls(allow_absolute);
    dec.feed(head.data(), head.size(), ec);
    return std::pair{dec.info(), std::string(ec ? dec.error_for(ec).detail : "")};
  };
  error_code ec;
  SECTION("refusals name what was wrong") {
    CHECK(decode_head("GET ftp://h/ HTTP/1.1\r\nhost: h\r\n\r\n", true, ec).second == "http1.invalid_scheme");
    CHECK(decode_head("GET evil HTTP/1.1\r\nhost: h\r\n\r\n", true, ec).second == "http1.invalid_url");
    CHECK(decode_head("CONNECT h:443 HTTP/1.1\r\nhost: h\r\n\r\n", false, ec).second == "http1.invalid_url");
  }
  SECTION("an absolute URL whose path part is a query is kept for the 404") {
    auto [info, detail] = decode_head("GET http://h?q HTTP/1.1\r\n\r\n", true, ec);
    CHECK(!ec);
    CHECK(info.absolute_url);
    CHECK(info.non_relative_path);
    CHECK(headers.path() == "?q");
    CHECK(headers.authority() == "h");
  }
  SECTION("with absolute URLs off the target is kept as the path") {
    auto [info, detail] = decode_head("GET http://evil/a HTTP/1.1\r\nhost: h\r\n\r\n", false, ec);
    CHECK(!ec);
    CHECK(!info.absolute_url);
    CHECK(info.non_relative_path);
    CHECK(headers.path() == "http://evil/a");
    CHECK(headers.authority() == "h");
  }
  SECTION("origin form and OPTIONS * are relative") {
    auto [info, detail] = decode_head("OPTIONS * HTTP/1.1\r\nhost: h\r\n\r\n", false, ec);
    CHECK(!ec);
    CHECK(!info.non_relative_path);
    CHECK(!decode_head("GET /a HTTP/1.1\r\nhost: h\r\n\r\n", true, ec).first.non_relative_path);
  }
}

TEST_CASE("a chunk size just below 2^63 is accepted", "[codec]") {
  RequestHeaders headers;
  Pieces pieces;
  RequestDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
  std::string req = "POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n";
  error_code ec;
  REQUIRE(dec.feed(req.data(), req.size(), ec) == req.size());
  std::string body = "7fffffffffffffff\r\nab";
  CHECK(dec.feed(body.data(), body.size(), ec) == body.size());
  CHECK(ec == herr::error::need_more);
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0] == "ab");
}

TEST_CASE("the connection tokens removal keeps framing and host fields", "[codec]") {
  RequestHeaders headers;
  headers.append_view("Host", "a");
  headers.append_view("Content-Length", "3");
  headers.append_view("x-a", "1");
  remove_connection_named(headers, "content-length, transfer-encoding, Host, x-a");
  CHECK(headers.size() == 2);
  CHECK(headers.get("host") == "a");
  CHECK(headers.get("content-length") == "3");
}

TEST_CASE("a chunk size of 2^63 or more is refused at once", "[codec]") {
  for (const char* size : {"8000000000000000", "ffffffffffffffff"}) {
    INFO(size);
    RequestHeaders headers;
    Pieces pieces;
    RequestDecoder dec(headers, pieces, kMaxBytes, kMaxHeaders);
    std::string req = "POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n";
    error_code ec;
    REQUIRE(dec.feed(req.data(), req.size(), ec) == req.size());
    std::string body = std::string(size) + "\r\nab";
    dec.feed(body.data(), body.size(), ec);
    CHECK(ec == herr::error::bad_chunk);
    CHECK(pieces.empty());
    CHECK(dec.error_for(ec).status == 400);
  }
}
