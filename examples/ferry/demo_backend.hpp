// A tiny HTTP/1.1 origin for the demo: answers every request with 200 and a short text
// naming itself. Keep-alive and Content-Length, nothing more; it is a test double, not a
// server to copy.
//
// Thread safety: runs on its own thread and io_context; port() may be called from any
// thread. The destructor stops and joins it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace ferry_cli {

class DemoBackend {
 public:
  /// Binds 127.0.0.1 on an ephemeral port and starts serving at once. Throws
  /// std::system_error if the socket cannot be opened.
  explicit DemoBackend(std::string name);
  ~DemoBackend();
  DemoBackend(const DemoBackend&) = delete;
  DemoBackend& operator=(const DemoBackend&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace ferry_cli
