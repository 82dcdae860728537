#include "support/fake_upstream.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>
#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <thread>

namespace ferry::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::string SeenRequest::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (lower(k) == lower(name)) return v;
  return {};
}

bool SeenRequest::has_header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (lower(k) == lower(name)) return true;
  return false;
}

std::size_t SeenRequest::count(const std::string& name) const {
  std::size_t n = 0;
  for (const auto& [k, v] : headers) n += lower(k) == lower(name);
  return n;
}

std::string ClientResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string{} : it->second;
}

std::size_t ClientResponse::count(const std::string& name) const {
  auto wanted = lower(name);
  return std::size_t(std::count_if(fields.begin(), fields.end(), [&](const auto& f) { return lower(f.first) == wanted; }));
}

struct FakeUpstream::Impl {
  Impl(FakeUpstream& owner, Handler h, std::size_t limit, const std::string& address = "127.0.0.1",
       std::uint16_t port = 0)
      : owner(owner), handler(std::move(h)), store_limit(limit), acceptor(io, {asio::ip::make_address(address), port}) {}

  FakeUpstream& owner;
  Handler handler;
  std::size_t store_limit;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread thread;
  mutable std::mutex mutex;
  std::vector<SeenRequest> seen;
  std::vector<std::thread> conns;
  std::vector<int> fds;  // open connection sockets, shut down on destruction
  bool closing = false;

  void accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s(io);
      acceptor.accept(s, ec);
      std::lock_guard lock(mutex);
      if (ec || closing) return;
      // Responses go out as head + body writes; without TCP_NODELAY, Nagle holds the body
      // until the proxy's delayed ACK (~40 ms on Linux) and every request takes that long.
      s.set_option(tcp::no_delay(true), ec);
      ++owner.connections_;
      fds.push_back(s.native_handle());
      conns.emplace_back([this, sock = std::move(s)]() mutable { serve(std::move(sock)); });
    }
  }

  bool read_request(tcp::socket& s, beast::flat_buffer& buf, SeenRequest& out) {
    http::request_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(1 << 20);
    boost::system::error_code ec;
    http::read_header(s, buf, parser, ec);
    if (ec) return false;
    const auto& h = parser.get();
    out.method = std::string(h.method_string());
    out.target = std::string(h.target());
    for (const auto& f : h) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    std::vector<char> scratch(64 * 1024);
    while (!parser.is_done()) {
      parser.get().body().data = scratch.data();
      parser.get().body().size = scratch.size();
      http::read(s, buf, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return false;
      std::size_t n = scratch.size() - parser.get().body().size;
      out.body_size += n;
      if (out.body.size() < store_limit) out.body.append(scratch.data(), std::min(n, store_limit - out.body.size()));
    }
    return true;
  }

  void write_response(tcp::socket& s, const FakeResponse& r, bool head) {
    boost::system::error_code ec;
    if (!r.raw.empty()) {
      asio::write(s, asio::buffer(r.raw), ec);
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\n";
    for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
    std::uint64_t len = r.generated_body ? r.generated_body : r.body.size();
    bool bodyless = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
    if (!bodyless) {
      if (r.chunked) out += "transfer-encoding: chunked\r\n";
      else if (!r.no_length) out += "content-length: " + std::to_string(len) + "\r\n";
    }
    if (r.close) out += "connection: close\r\n";
    out += "\r\n";
    // Head and body go out in one write where they can: an upstream that dies (a test
    // destroying it) then dies between responses, not inside one.
    if (!head && !bodyless && !r.generated_body) {
      if (r.chunked) {
        char hex[32];
        std::snprintf(hex, sizeof hex, "%zx\r\n", r.body.size());
        if (!r.body.empty()) out += std::string(hex) + r.body + "\r\n";
        out += "0\r\n\r\n";
      } else {
        out += r.body;
      }
    }
    asio::write(s, asio::buffer(out), ec);
    if (head || bodyless || ec || !r.generated_body) return;
    std::string block(64 * 1024, 'x');
    for (std::uint64_t left = len; left > 0 && !ec;) {
      auto n = std::min<std::uint64_t>(left, block.size());
      asio::write(s, asio::buffer(block.data(), n), ec);
      left -= n;
    }
  }

  void serve(tcp::socket s) {
    serve_requests(s);
    std::lock_guard lock(mutex);
    fds.erase(std::remove(fds.begin(), fds.end(), s.native_handle()), fds.end());
  }

  void serve_requests(tcp::socket& s) {
    beast::flat_buffer buf;
    for (;;) {
      SeenRequest req;
      if (!read_request(s, buf, req)) return;
      ++owner.requests_;
      FakeResponse r = handler ? handler(req) : FakeResponse{200, {}, "ok", 0};
      {
        std::lock_guard lock(mutex);
        seen.push_back(req);
      }
      if (r.delay.count() > 0) std::this_thread::sleep_for(r.delay);
      if (r.reset) return;
      if (r.cork) {
        // Held back until the shutdown below: the proxy gets the data and the FIN together.
        int one = 1;
        ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_CORK, &one, sizeof one);
      }
      write_response(s, r, req.method == "HEAD");
      if (r.close || r.close_quietly || r.no_length || !r.raw.empty()) {
        boost::system::error_code ec;
        s.shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
    }
  }
};

FakeUpstream::FakeUpstream(Handler handler, std::size_t store_limit)
    : impl_(std::make_unique<Impl>(*this, std::move(handler), store_limit)) {
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->thread = std::thread([this] { impl_->accept_loop(); });
}

FakeUpstream::FakeUpstream(Handler handler, const std::string& address, std::uint16_t port, std::size_t store_limit)
    : impl_(std::make_unique<Impl>(*this, std::move(handler), store_limit, address, port)) {
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->thread = std::thread([this] { impl_->accept_loop(); });
}

FakeUpstream::~FakeUpstream() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->closing = true;
  }
  // Wake the blocking accept by connecting once.
  boost::system::error_code ec;
  {
    tcp::socket s(impl_->io);
    s.connect({impl_->acceptor.local_endpoint(ec).address(), port_}, ec);
  }
  impl_->thread.join();
  std::vector<std::thread> conns;
  {
    std::lock_guard lock(impl_->mutex);
    conns.swap(impl_->conns);
    // Blocked readers return once their socket is shut down.
    for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : conns) t.join();
}

std::vector<SeenRequest> FakeUpstream::seen() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->seen;
}

SeenRequest FakeUpstream::last() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->seen.empty()) throw std::runtime_error("no request seen");
  return impl_->seen.back();
}

struct TestClient::Impl {
  asio::io_context io;
  tcp::socket sock{io};
  beast::flat_buffer buf;
};

TestClient::TestClient(std::uint16_t port, const char* host, const char* source)
    : impl_(std::make_unique<Impl>()) {
  const asio::ip::tcp::endpoint to{asio::ip::make_address(host), port};
  if (source) {
    impl_->sock.open(to.protocol());
    impl_->sock.bind({asio::ip::make_address(source), 0});
  }
  impl_->sock.connect(to);
  set_timeout(std::chrono::milliseconds(10000));
}

TestClient::~TestClient() = default;

void TestClient::set_timeout(std::chrono::milliseconds t) {
  struct timeval tv {
    static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)
  };
  ::setsockopt(impl_->sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

void TestClient::send(const std::string& bytes) { asio::write(impl_->sock, asio::buffer(bytes)); }

ClientResponse TestClient::read_response(bool head) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.skip(head);
  http::read(impl_->sock, impl_->buf, parser);
  ClientResponse out;
  const auto& m = parser.get();
  out.status = m.result_int();
  for (const auto& f : m) {
    out.headers[lower(std::string(f.name_string()))] = std::string(f.value());
    out.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  out.body = m.body();
  out.keep_alive = m.keep_alive();
  return out;
}

ClientResponse TestClient::request(const std::string& method, const std::string& target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (lower(k) == "host") has_host = true;
  }
  if (!has_host) req += "host: localhost\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") req += "content-length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  send(req);
  return read_response(method == "HEAD");
}

bool TestClient::closed_by_peer(std::chrono::milliseconds wait) {
  set_timeout(wait);
  char c;
  boost::system::error_code ec;
  for (;;) {
    impl_->sock.read_some(asio::buffer(&c, 1), ec);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
    if (ec) return false;  // timeout: still open
  }
}

ClientResponse http_get(std::uint16_t port, const std::string& target, const std::string& host) {
  TestClient c(port);
  return c.request("GET", target, {{"host", host}});
}

int listen_loopback(int backlog, std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, backlog) != 0) {
    ::close(fd);
    throw std::runtime_error("listen_loopback: cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace ferry::test
