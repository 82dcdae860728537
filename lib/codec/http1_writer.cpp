#include "codec/http1_writer.hpp"

#include <charconv>
#include <cstring>

namespace ferry::codec {

namespace {

void append_headers(std::pmr::string& out, const HeaderMap& headers) {
  // One size computation and raw copies: appending field by field re-checks capacity
  // four times per header.
  std::size_t total = 0;
  for (const auto& h : headers) total += h.name.size() + h.value.size() + 4;
  std::size_t at = out.size();
  out.resize(at + total);
  char* p = out.data() + at;
  for (const auto& h : headers) {
    std::memcpy(p, h.name.data(), h.name.size());
    p += h.name.size();
    *p++ = ':';
    *p++ = ' ';
    std::memcpy(p, h.value.data(), h.value.size());
    p += h.value.size();
    *p++ = '\r';
    *p++ = '\n';
  }
}

void append_framing(std::pmr::string& out, Framing framing) {
  if (framing == Framing::chunked) out.append("transfer-encoding: chunked\r\n");
}

void append_number(std::pmr::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, std::size_t(end - buf));
}

}  // namespace

void append_request_head(std::pmr::string& out, const RequestHeaders& headers, Framing framing) {
  out.append(headers.method());
  out.push_back(' ');
  out.append(headers.path());
  out.append(" HTTP/1.1\r\n", 11);
  append_headers(out, headers);
  append_framing(out, framing);
  out.append("\r\n", 2);
}

void append_response_head(std::pmr::string& out, const ResponseHeaders& headers, Framing framing,
                          bool close, bool announce_keep_alive) {
  out.append("HTTP/1.1 ", 9);
  append_number(out, std::uint64_t(headers.status()));
  out.push_back(' ');
  out.append(reason_phrase(headers.status()));
  out.append("\r\n", 2);
  append_headers(out, headers);
  append_framing(out, framing);
  if (close) out.append("connection: close\r\n");
  else if (announce_keep_alive) [[unlikely]] out.append("connection: keep-alive\r\n");
  out.append("\r\n", 2);
}

void append_chunk_header(std::pmr::string& out, std::uint64_t size) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, size, 16);
  out.append(buf, std::size_t(end - buf));
  out.append("\r\n", 2);
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

}  // namespace ferry::codec
