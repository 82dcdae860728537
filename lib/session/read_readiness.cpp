#include "session/read_readiness.hpp"

#include <boost/asio/error.hpp>
#include <boost/version.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace ferry::session {

// Checked against Boost 1.81's epoll reactor (boost/asio/detail/impl/epoll_reactor.ipp:
// start_op skips the speculative perform while try_speculative_[read_op] is false, and
// descriptor_state::perform_io sets it on every edge before running the queued ops).
#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && \
    !defined(BOOST_ASIO_DISABLE_EPOLL)
#define FERRY_READ_READINESS 1
#endif

#ifdef FERRY_READ_READINESS
namespace {

using Reactor = boost::asio::detail::epoll_reactor;
using Socket = boost::asio::ip::tcp::socket;

// A pointer to a private member, obtained where access checks do not apply: the template
// arguments of an explicit instantiation ([temp.spec.general]).
struct TrySpeculative {
  using type = bool (Reactor::descriptor_state::*)[Reactor::max_ops];
  friend type member(TrySpeculative);
};
template <typename Tag, typename Tag::type M>
struct Expose {
  friend typename Tag::type member(Tag) { return M; }
};
template struct Expose<TrySpeculative, &Reactor::descriptor_state::try_speculative_>;

// basic_socket's implementation object is protected: a derived class may name it.
struct SocketImpl : Socket {
  using Socket::impl_;
};

}  // namespace

bool* speculative_read_flag(Socket& s) noexcept {
  auto& impl = (s.*&SocketImpl::impl_).get_implementation();
  Reactor::descriptor_state* state = impl.reactor_data_;
  if (!state) return nullptr;
  return &(state->*member(TrySpeculative{}))[Reactor::read_op];
}
#else
bool* speculative_read_flag(boost::asio::ip::tcp::socket&) noexcept { return nullptr; }
#endif

bool read_now(boost::asio::ip::tcp::socket& s, boost::asio::mutable_buffer space, boost::system::error_code& ec,
              std::size_t& n) noexcept {
  bool* flag = speculative_read_flag(s);
  if (!flag || !*flag || space.size() == 0) return false;
  for (;;) {
    ssize_t r = ::recv(s.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
    if (r > 0) {
      n = std::size_t(r);
      if (n < space.size()) *flag = false;  // a stream socket returns less only when drained
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
