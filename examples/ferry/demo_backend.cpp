#include "demo_backend.hpp"

#include <boost/asio.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdlib>
#include <string_view>

namespace ferry_cli {

namespace asio = boost::asio;
using asio::ip::tcp;
// Errors come back as values ([ec, n] = co_await ...), so a dropped client is no exception.
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::size_t kMaxHead = 16 * 1024;

struct RequestHead {
  bool keep_alive = true;
  bool is_head = false;
  std::size_t content_length = 0;
  bool chunked = false;  // not parsed here: answered, then the connection is closed
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

RequestHead parse_head(std::string_view head) {
  RequestHead out;
  auto line_end = head.find("\r\n");
  auto request_line = head.substr(0, line_end);
  out.is_head = request_line.starts_with("HEAD ");
  out.keep_alive = !request_line.ends_with("HTTP/1.0");  // 1.0 closes unless it asks
  for (auto pos = line_end; pos != std::string_view::npos && pos + 2 < head.size();) {
    auto next = head.find("\r\n", pos + 2);
    auto line = head.substr(pos + 2, next - pos - 2);
    pos = next;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length"))
      out.content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    else if (iequals(name, "transfer-encoding"))
      out.chunked = true;
    else if (iequals(name, "connection") && iequals(value, "close"))
      out.keep_alive = false;
    else if (iequals(name, "connection") && iequals(value, "keep-alive"))
      out.keep_alive = true;
  }
  return out;
}

std::string response(const std::string& body, const RequestHead& req) {
  std::string out = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: " +
                    std::to_string(body.size()) + "\r\n";
  if (!req.keep_alive || req.chunked) out += "connection: close\r\n";
  out += "\r\n";
  if (!req.is_head) out += body;
  return out;
}

asio::awaitable<void> serve(tcp::socket socket, std::shared_ptr<const std::string> body) {
  std::string buffer;
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(buffer, kMaxHead), "\r\n\r\n", use_tuple);
    if (ec) co_return;
    auto req = parse_head(std::string_view(buffer).substr(0, n));
    buffer.erase(0, n);
    // Skip the request body: the answer never depends on it.
    while (req.content_length > 0) {
      if (buffer.empty()) {
        char chunk[4096];
        auto [rec, got] = co_await socket.async_read_some(asio::buffer(chunk), use_tuple);
        if (rec) co_return;
        buffer.append(chunk, got);
      }
      auto skip = std::min(buffer.size(), req.content_length);
      buffer.erase(0, skip);
      req.content_length -= skip;
    }
    auto reply = response(*body, req);
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(reply), use_tuple);
    if (wec || !req.keep_alive || req.chunked) co_return;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor,
                                  std::shared_ptr<const std::string> body) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (!ec)
      asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), body), asio::detached);
  }
}

}  // namespace

DemoBackend::DemoBackend(std::string name)
    : name_(std::move(name)),
      acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  auto body = std::make_shared<const std::string>("hello from " + name_ + "\n");
  asio::co_spawn(ioc_, accept_loop(acceptor_, std::move(body)), asio::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

DemoBackend::~DemoBackend() {
  // stop() abandons the open connections' coroutines; their sockets close as the
  // io_context is destroyed.
  ioc_.stop();
  thread_.join();
}

}  // namespace ferry_cli
