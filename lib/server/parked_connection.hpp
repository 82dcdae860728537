// A parked connection: a plain keep-alive client connection that stayed idle through two
// worker sweeps. Its Session, coroutine frames and buffers are gone; only the socket and
// the few facts its next Session needs remain, with one readiness wait armed. When the
// client sends again, the worker builds a fresh Session around the socket.
//
// Why: an idle connection held as a suspended Session costs ~4 KiB (Session, coroutine
// frames, Asio ops in recycled blocks); a parked one costs the ~100-byte record, Asio's
// descriptor state and one small wait operation (docs/PERFORMANCE.md, "Idle memory").
// Plain TCP only: a TLS connection's state lives in OpenSSL objects, so it idles as a
// Session that has given its buffers back.
//
// Thread safety: owned and used by one worker thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <new>

namespace ferry::server {

struct ListenerRuntime;

struct ParkedConnection {
  using Clock = std::chrono::steady_clock;

  ParkedConnection(boost::asio::ip::tcp::socket s, const ListenerRuntime& l, Clock::time_point start,
                   Clock::time_point deadline, std::uint32_t served) noexcept
      : sock(std::move(s)), listener(&l), cx_start(start), idle_deadline(deadline), requests(served) {}

  boost::asio::ip::tcp::socket sock;
  const ListenerRuntime* listener;
  Clock::time_point cx_start;       ///< when the connection was accepted (cx_length_ms)
  Clock::time_point idle_deadline;  ///< the listener's idle_timeout ends; max() if none
  bool closing = false;             ///< closed by the worker; the wait ends with an error
  bool idle_expired = false;        ///< closed because idle_deadline passed
  std::uint32_t requests = 0;       ///< requests served so far (max_requests_per_connection)
  ParkedConnection* prev = nullptr;  ///< worker's intrusive list
  ParkedConnection* next = nullptr;
};

/// Allocates exactly what is asked from the heap. The parked wait uses it so that its
/// operation (~200 bytes) is not placed in one of Asio's recycled blocks, which may be
/// ~1 KiB (a whole coroutine frame) and would then stay pinned while the connection idles.
template <class T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() noexcept = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <class U>
  bool operator==(const ExactAllocator<U>&) const noexcept { return true; }
};

}  // namespace ferry::server
