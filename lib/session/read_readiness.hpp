// Read readiness tracked across Asio's epoll reactor, to skip reads that can only fail.
//
// Asio 1.81's reactor tries a recv before it waits on epoll whenever it has seen an edge on
// the socket since... ever: it only stops trying after EOF. A proxy reads a socket right
// after draining it almost every time (the next request after a response, the response
// after a request), so two of the four recv calls per proxied request failed with EAGAIN.
//
// The reactor keeps a per-descriptor flag, "try a recv first", that it sets on every epoll
// edge. read_now() and read_waited() clear it when ferry knows the socket is drained (a recv returned less
// than asked, or EAGAIN) at a point where no epoll_wait can run in between: after a recv of
// its own, or inside the completion of a queued read (Asio invokes it inline, from the
// reactor's perform_io, when the handler's executor is the io_context's own). Any later edge
// sets the flag again, so a read never waits for data that is already there.
//
// The flag is private to Asio (lib/common/asio_socket_state.*: Boost 1.81's epoll reactor
// only); elsewhere speculative_read_flag() returns nullptr and reads behave as plain Asio.
//
// Thread-safety: a socket's flag is touched only by the thread running its io_context, which
// in ferry is the socket's worker (one thread per io_context).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>

#include "common/asio_socket_state.hpp"

namespace ferry::session {

/// A plain (non-TLS) socket read that skips the recv when no edge was seen since the socket
/// was last drained. Returns true when the read is over (n bytes, or ec set: EOF or an
/// error); false when it must wait: then the caller's async_read_some goes straight to epoll
/// and its completion calls read_waited().
bool read_now(boost::asio::ip::tcp::socket& s, boost::asio::mutable_buffer space, boost::system::error_code& ec,
              std::size_t& n) noexcept;

/// A short read drains the data, but it does not prove that no FIN came with it: data and a
/// FIN that arrive before epoll_wait collects the edge share that one edge, and no other
/// follows. Where the end of the stream matters (a tunnel, a body that ends at the close),
/// call this before the read so that it tries a recv, which sees the FIN, before waiting.
inline void expect_eof(boost::asio::ip::tcp::socket& s) noexcept {
  if (bool* flag = ferry::detail::speculative_read_flag(s)) *flag = true;
}

/// After a read that read_now() sent to epoll completed with n of `asked` bytes: a short
/// read drained the socket's data (see expect_eof for its FIN). Call it straight after the
/// completion, before any other await.
inline void read_waited(boost::asio::ip::tcp::socket& s, const boost::system::error_code& ec, std::size_t n,
                        std::size_t asked) noexcept {
  if (ec || n >= asked) return;
  if (bool* flag = ferry::detail::speculative_read_flag(s)) *flag = false;
}

}  // namespace ferry::session
