#include "session/read_readiness.hpp"

#include <boost/asio/error.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace ferry::session {

bool read_now(boost::asio::ip::tcp::socket& s, boost::asio::mutable_buffer space, boost::system::error_code& ec,
              std::size_t& n) noexcept {
  bool* flag = ferry::detail::speculative_read_flag(s);
  if (!flag || !*flag || space.size() == 0) return false;
  for (;;) {
    ssize_t r = ::recv(s.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
    if (r > 0) {
      n = std::size_t(r);
      if (n < space.size()) *flag = false;  // drained of data (a FIN may be in: see expect_eof)
      ec = {};
      return true;
    }
    if (r == 0) {
      n = 0;
      ec = boost::asio::error::eof;
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *flag = false;  // the async read that follows goes straight to epoll
      return false;
    }
    n = 0;
    ec.assign(errno, boost::asio::error::get_system_category());
    return true;
  }
}

}  // namespace ferry::session
