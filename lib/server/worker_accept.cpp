// Accepting connections. Asio treats an accepted descriptor as one that may be duplicated, so
// closing it would cost an epoll_ctl(DEL) that the kernel makes unnecessary: the loop tells
// Asio it is not (common/asio_socket_state.hpp).
//
// Tried and not kept (2026-11-26): taking the rest of the backlog with accept4(SOCK_NONBLOCK)
// after each Asio accept, which also saved the ioctl(FIONBIO) of most connections (10.7 -> 8.5
// syscalls per Connection: close request). CPU per request did not move: sessions started in
// bursts of up to 64, and stream buffers were mapped and unmapped (0.13 mmap + 0.13 munmap
// per request, with their first-touch page faults), likely because more were needed at once.
// Also tried (ninth session): accept4 one connection per turn of the loop (a post between
// two, as Asio's accept paces itself). It saved every connection's ioctl (9 -> 8 syscalls
// per Connection: close request) but measured 1.3% and 1.7% more CPU per request in two
// runs of 6 alternating pairs against this loop.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/asio_socket_state.hpp"
#include "server/worker.hpp"

namespace ferry::server {

asio::awaitable<void> Worker::accept_loop(asio::ip::tcp::acceptor& acceptor, const ListenerRuntime& listener) {
  for (;;) {
    // The peer address comes with accept(): no getpeername() per connection.
    asio::ip::tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor.async_accept(peer, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: log and go on; the listener must survive bad moments.
      FERRY_LOG(state_.log, warn, "accept failed: " << ec.message());
      continue;
    }
    detail::adopt_accepted(socket, false);
    start_session(listener, std::move(socket), nullptr, &peer);
  }
}

}  // namespace ferry::server
