// Pieces of Asio's per-socket state that ferry sets itself, to save system calls Asio cannot
// know are useless.
//
// They are private to Asio and reached through lib/common/asio_socket_state.cpp for Boost
// 1.81's epoll reactor only (the version this was checked against); in other builds the
// functions do nothing and report it, and sockets behave as plain Asio.
//
// Thread-safety: a socket's state is touched only by the thread running its io_context
// (in ferry, the socket's worker).
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace ferry::detail {

/// Asio's "try a recv before waiting" flag for `s` (session/read_readiness.hpp), or nullptr.
bool* speculative_read_flag(boost::asio::ip::tcp::socket& s) noexcept;

/// Tells Asio what it cannot know about a socket whose descriptor came from accept() and is
/// never duplicated: close() needs no epoll_ctl(DEL), the kernel drops a closed descriptor from
/// the epoll set by itself (Asio assumes an assigned descriptor may be a dup). With
/// `non_blocking`, the descriptor already has O_NONBLOCK (accept4), so Asio's non-blocking
/// mode is recorded without the ioctl(FIONBIO) it would make. False when not applied.
bool adopt_accepted(boost::asio::ip::tcp::socket& s, bool non_blocking) noexcept;

}  // namespace ferry::detail
