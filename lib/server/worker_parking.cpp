// Starting sessions, and parking idle keep-alive connections (server/parked_connection.hpp).
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>

#include "server/worker.hpp"
#include "session/session.hpp"

namespace ferry::server {

void Worker::start_session(const ListenerRuntime& listener, asio::ip::tcp::socket socket,
                           const ParkedConnection* resumed, const asio::ip::tcp::endpoint* peer) {
  auto s = std::make_shared<session::Session>(*this, listener, std::move(socket), resumed, peer);
  auto* raw = s.get();
  // The completion handler owns the session, so no extra coroutine frame is needed
  // just to hold it.
  asio::co_spawn(io_, raw->run(), [s = std::move(s)](std::exception_ptr) {});
}

void Worker::park(const ListenerRuntime& listener, asio::ip::tcp::socket socket,
                  std::chrono::steady_clock::time_point cx_start,
                  std::chrono::steady_clock::time_point idle_deadline, std::uint32_t requests) {
  auto* p = new ParkedConnection(std::move(socket), listener, cx_start, idle_deadline, requests);
  p->next = parked_;
  if (parked_) parked_->prev = p;
  parked_ = p;
  ++parked_count_;
  // The Session, its frames and Asio state it held go back to the heap: count them toward
  // the next malloc_trim, like parked buffers.
  note_freed(4096);
  arm_parked_wait(*p);
}

void Worker::arm_parked_wait(ParkedConnection& p) {
  p.sock.async_wait(asio::ip::tcp::socket::wait_read,
                    asio::bind_allocator(ExactAllocator<void>{}, [this, &p](const boost::system::error_code& ec) {
                      on_parked_ready(p, ec);
                    }));
}

void Worker::on_parked_ready(ParkedConnection& p, const boost::system::error_code& ec) {
  if (p.prev) p.prev->next = p.next;
  else parked_ = p.next;
  if (p.next) p.next->prev = p.prev;
  --parked_count_;
  if (ec || p.closing || draining_) {
    boost::system::error_code ignored;
    p.sock.close(ignored);
    session::Session::count_closed_connection(*this, *p.listener, p.cx_start, p.idle_expired);
    delete &p;
    if (draining_) finish_if_drained();
    return;
  }
  // Readable: the client sent its next request (or closed; the Session finds out).
  start_session(*p.listener, std::move(p.sock), &p);
  delete &p;
}

void Worker::close_parked(ParkedConnection& p) noexcept {
  if (p.closing) return;
  p.closing = true;
  boost::system::error_code ignored;
  p.sock.cancel(ignored);  // the wait completes with operation_aborted and frees the record
}

void Worker::close_idle_parked(std::chrono::steady_clock::time_point now) noexcept {
  for (auto* p = parked_; p; p = p->next)
    if (p->idle_deadline <= now) {
      p->idle_expired = true;
      close_parked(*p);
    }
}

}  // namespace ferry::server
