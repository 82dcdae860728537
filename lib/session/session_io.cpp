// Socket I/O helpers and the per-connection watchdog timer.
//
// The watchdog keeps at most one timer wait armed per connection. Deadlines are plain
// time points that the session moves freely; the timer is re-armed only when a deadline
// moves earlier than the armed time, and when it fires early it re-arms itself to the
// current earliest deadline. Busy connections therefore touch the timer queue rarely.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "session/session.hpp"

namespace ferry::session {

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
}

asio::mutable_buffer Session::read_space(detail::ReadBuffer& b) {
  if (fired_ != Timeout::none) return {};
  std::size_t space = 0;
  char* p = b.space(space);
  return {p, space};
}

error_code Session::after_read(detail::ReadBuffer& b, error_code ec, std::size_t n) {
  if (ec) return ec;
  if (fired_ != Timeout::none) return asio::error::operation_aborted;
  if (n == 0) return asio::error::no_buffer_space;  // only an empty buffer reads nothing
  b.commit(n);
  touch();
  return {};
}

asio::awaitable<error_code> Session::read_some(tcp::socket& s, detail::ReadBuffer& b) {
  // async_read_some lets Asio skip the speculative recv once a socket was drained, so a
  // waiting read costs one recv when data arrives.
  auto [ec, n] = co_await s.async_read_some(read_space(b), token);
  co_return after_read(b, ec, n);
}

bool Session::write_now(tcp::socket& s, std::span<asio::const_buffer>& bufs, error_code& ec) {
  if (fired_ != Timeout::none) {
    ec = asio::error::operation_aborted;
    return true;
  }
  for (;;) {
    while (!bufs.empty() && bufs.front().size() == 0) bufs = bufs.subspan(1);
    if (bufs.empty()) {
      touch();
      ec = {};
      return true;
    }
    // A non-blocking gather write: the common case completes without suspending.
    std::size_t n = s.write_some(bufs, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return false;
    if (ec) return true;
    for (std::size_t i = 0; n > 0 && i < bufs.size(); ++i) {
      std::size_t take = std::min(n, bufs[i].size());
      bufs[i] += take;
      n -= take;
    }
  }
}

asio::awaitable<error_code> Session::write_all(tcp::socket& s, std::span<asio::const_buffer> bufs) {
  error_code ec;
  while (!write_now(s, bufs, ec)) {
    auto [wec] = co_await s.async_wait(tcp::socket::wait_write, token);
    if (wec) co_return wec;
  }
  co_return ec;
}

void Session::set_activity_deadline(Timeout kind, Duration d) {
  if (d.count() <= 0) {
    activity_kind_ = Timeout::none;
    return;
  }
  activity_kind_ = kind;
  activity_span_ = d;
  activity_deadline_ = Clock::now() + d;
  ensure_timer(activity_deadline_);
}

void Session::set_hard_deadline(Timeout kind, Duration d) {
  if (d.count() <= 0) return;
  auto at = Clock::now() + d;
  // Keep the earlier of two hard deadlines (e.g. request_timeout and headers timeout).
  if (hard_kind_ != Timeout::none && hard_deadline_ <= at) return;
  hard_kind_ = kind;
  hard_deadline_ = at;
  ensure_timer(at);
}

void Session::set_attempt_deadline(Timeout kind, Duration d) {
  if (d.count() <= 0) {
    attempt_kind_ = Timeout::none;
    return;
  }
  attempt_kind_ = kind;
  attempt_deadline_ = Clock::now() + d;
  ensure_timer(attempt_deadline_);
}

void Session::ensure_timer(Clock::time_point at) {
  if (at >= timer_at_) return;  // an earlier wake-up is already armed
  timer_at_ = at;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
}

void Session::on_timer(const error_code& ec) {
  if (ec == asio::error::operation_aborted) return;  // re-armed earlier, or closing
  timer_at_ = Clock::time_point::max();
  if (closing_ && fired_ != Timeout::none) return;
  auto now = Clock::now();
  Timeout expired = Timeout::none;
  if (hard_kind_ != Timeout::none && hard_deadline_ <= now)
    expired = hard_kind_;
  else if (attempt_kind_ != Timeout::none && attempt_deadline_ <= now)
    expired = attempt_kind_;
  else if (activity_kind_ != Timeout::none && activity_deadline_ <= now)
    expired = activity_kind_;
  if (expired == Timeout::none) {
    auto next = Clock::time_point::max();
    if (hard_kind_ != Timeout::none) next = std::min(next, hard_deadline_);
    if (attempt_kind_ != Timeout::none) next = std::min(next, attempt_deadline_);
    if (activity_kind_ != Timeout::none) next = std::min(next, activity_deadline_);
    if (next != Clock::time_point::max()) ensure_timer(next);
    return;
  }
  fired_ = expired;
  error_code ignored;
  down_.cancel(ignored);
  if (up_) up_->sock.cancel(ignored);
}

}  // namespace ferry::session
