#include "common/asio_socket_state.hpp"

#include <boost/version.hpp>

namespace ferry::detail {

// Checked against Boost 1.81 (boost/asio/detail/impl/epoll_reactor.ipp: start_op skips the
// speculative perform while try_speculative_[read_op] is false, perform_io sets it on every
// edge; reactive_socket_service_base.ipp: do_assign marks possible_dup, close() deregisters
// with epoll_ctl only for possible_dup, start_op sets non-blocking mode only when the state
// lacks it).
#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && \
    !defined(BOOST_ASIO_DISABLE_EPOLL)
namespace {

using Reactor = boost::asio::detail::epoll_reactor;
using Socket = boost::asio::ip::tcp::socket;
namespace ops = boost::asio::detail::socket_ops;

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

auto& implementation(Socket& s) noexcept { return (s.*&SocketImpl::impl_).get_implementation(); }

}  // namespace

bool* speculative_read_flag(Socket& s) noexcept {
  Reactor::descriptor_state* state = implementation(s).reactor_data_;
  if (!state) return nullptr;
  return &(state->*member(TrySpeculative{}))[Reactor::read_op];
}

bool adopt_accepted(Socket& s, bool non_blocking) noexcept {
  auto& impl = implementation(s);
  if (impl.socket_ == boost::asio::detail::invalid_socket) return false;
  impl.state_ &= ~ops::state_type(ops::possible_dup);
  if (non_blocking) impl.state_ |= ops::non_blocking;
  return true;
}
#else
bool* speculative_read_flag(boost::asio::ip::tcp::socket&) noexcept { return nullptr; }
bool adopt_accepted(boost::asio::ip::tcp::socket&, bool) noexcept { return false; }
#endif

}  // namespace ferry::detail
