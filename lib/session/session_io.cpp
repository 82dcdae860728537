// Socket I/O helpers, TLS transport, and the per-connection watchdog timer.
//
// Plain and TLS streams share these helpers. A plain socket has no tls::Connection and
// takes the same path as before TLS existed (one pointer test more); a TLS one goes
// through its Connection, which reads and writes the socket's descriptor itself and tells
// which readiness to await.
//
// The watchdog keeps at most one timer wait armed per connection. Deadlines are plain
// time points that the session moves freely; the timer is re-armed only when a deadline
// moves earlier than the armed time, and when it fires early it re-arms itself to the
// current earliest deadline. Busy connections therefore touch the timer queue rarely.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/coarse_clock.hpp"
#include "session/read_readiness.hpp"
#include "session/session.hpp"
#include "tls/client_tls.hpp"
#include "tls/server_tls.hpp"

namespace ferry::session {

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
/// Small pieces (a head and a short body) are sealed into one TLS record: one record and
/// one send instead of one per piece.
constexpr std::size_t kTlsCoalesce = 4096;
constexpr std::string_view kXfcc = "x-forwarded-client-cert";

error_code tls_error() { return asio::error::connection_reset; }
}  // namespace

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
  if (auto* t = tls_of(s)) [[unlikely]]
    co_return co_await tls_read_some(s, *t, b);
  // No recv when the socket is known drained (read_readiness.hpp): 4 -> 2 recv calls per
  // proxied request at 64 connections, -4% CPU per request.
  auto space = read_space(b);
  error_code ec;
  std::size_t n = 0;
  if (!read_now(s, space, ec, n)) {
    std::tie(ec, n) = co_await s.async_read_some(space, token);
    read_waited(s, ec, n, space.size());
  }
  co_return after_read(b, ec, n);
}

bool Session::write_now(tcp::socket& s, std::span<asio::const_buffer>& bufs, error_code& ec) {
  if (fired_ != Timeout::none) {
    ec = asio::error::operation_aborted;
    return true;
  }
  if (auto* t = tls_of(s)) [[unlikely]]
    return tls_write_now(*t, bufs, ec);
  if (&s == &down_ && !down_nodelay_) [[unlikely]]
    before_second_write();
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

// Nagle's algorithm holds a small segment back only while earlier data is unacknowledged, so
// the first write on a connection never waits for it: TCP_NODELAY is set just before the
// second one. A Connection: close exchange writes once and saves the setsockopt.
void Session::before_second_write() {
  if (!std::exchange(down_wrote_, true)) return;
  error_code ec;
  down_.set_option(tcp::no_delay(true), ec);
  down_nodelay_ = true;
}

asio::awaitable<error_code> Session::write_all(tcp::socket& s, std::span<asio::const_buffer> bufs) {
  error_code ec;
  while (!write_now(s, bufs, ec)) {
    auto* t = tls_of(s);
    auto [wec] = co_await s.async_wait(t && t->write_wants_read() ? tcp::socket::wait_read : tcp::socket::wait_write,
                                       token);
    if (wec) co_return wec;
  }
  co_return ec;
}

// While the upstream takes no more request body, ferry also watches it for an answer: an
// upstream that refuses an upload (413, 401...) often answers after the head and stops
// reading, and waiting for writability alone would stall until a timeout. What came is
// looked at before every wait (an edge spent while a write still went through, or one
// that made both waits ready at once, would otherwise be missed). Complete interim 1xx
// heads are dropped; a 2xx lets the upload go on (the upstream may still want the body)
// with the response read afterwards, as before.
asio::awaitable<std::pair<error_code, bool>> Session::write_body_upstream(std::span<asio::const_buffer> bufs) {
  using namespace boost::asio::experimental::awaitable_operators;
  auto& s = up_->sock;
  error_code ec;
  if (up_->tls) [[unlikely]]
    co_return std::pair{co_await write_all(s, bufs), false};
  while (!write_now(s, bufs, ec)) {
    Early e = take_early_answer();
    if (e == Early::answer) co_return std::pair{error_code{}, true};
    if (e == Early::success) co_return std::pair{co_await write_all(s, bufs), false};
    auto r = co_await (s.async_wait(tcp::socket::wait_write, token) || s.async_wait(tcp::socket::wait_read, token));
    auto [wec] = r.index() == 0 ? std::get<0>(r) : std::get<1>(r);
    if (wec) co_return std::pair{wec, false};  // a timeout cancels both waits
  }
  co_return std::pair{ec, false};
}

Session::Early Session::take_early_answer() {
  auto& ub = bufs_->up_in;
  // Until EAGAIN, not just a short read: a FIN that came with the data shares its edge.
  for (;;) {
    std::size_t room = 0;
    char* p = ub.space(room);
    if (room == 0) return Early::answer;  // a head this large: relay_response refuses it
    auto n = ::recv(up_->sock.native_handle(), p, room, MSG_DONTWAIT);
    if (n > 0) {
      ub.commit(std::size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return Early::answer;  // closed or reset: relay_response reads the end (or what came)
  }
  // "HTTP/1.1 100 ...": complete interim heads are dropped, as relay_response would drop
  // them (a 101 is final: it answers an upgrade).
  for (;;) {
    std::string_view v(ub.data(), ub.size());
    if (v.size() < 12) return Early::none;
    if (v.compare(0, 7, "HTTP/1.") != 0) return Early::answer;  // relay_response refuses it
    if (v[9] != '1' || v.compare(10, 2, "01") == 0) return v[9] == '2' ? Early::success : Early::answer;
    auto end = v.find("\r\n\r\n");
    if (end == std::string_view::npos) return Early::none;
    ub.consume(end + 4);
  }
}

// Closing a socket whose receive queue holds unread bytes makes the kernel send a reset,
// and a reset can make the client drop the response it has not read yet (or fail the
// upload it is still writing before it ever reads the answer). So when ferry answers
// before the request is all in (a 404 or 413 on an upload, a malformed request, requests
// pipelined behind a Connection: close), it sends its FIN and reads and drops what comes
// until the client closes, as Envoy's delayed close (delayed_close_timeout, 1 s by
// default) and nginx's lingering close do. A connection that closes with nothing unread
// skips this.
asio::awaitable<void> Session::linger() {
  using namespace boost::asio::experimental::awaitable_operators;
  error_code ec;
  down_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  auto drain = [this]() -> asio::awaitable<void> {
    bufs_->in.consume(bufs_->in.size());
    for (;;) {
      std::size_t room = 0;
      char* p = bufs_->in.space(room);
      if (room == 0) co_return;
      auto [rec, n] = co_await down_.async_read_some(asio::buffer(p, room), token);
      if (rec) co_return;  // the client's FIN (or a reset): done
    }
  };
  asio::steady_timer limit(down_.get_executor(), http_.delayed_close_timeout);
  co_await (drain() || limit.async_wait(token));
}

// --- TLS --------------------------------------------------------------------------------

tls::Connection* Session::tls_of(const tcp::socket& s) const noexcept {
  if (&s == &down_) return tls_.get();
  return up_ ? up_->tls.get() : nullptr;
}

asio::awaitable<error_code> Session::tls_read_some(tcp::socket& s, tls::Connection& t, detail::ReadBuffer& b) {
  for (;;) {
    auto space = read_space(b);
    if (space.size() == 0) co_return after_read(b, {}, 0);
    std::size_t n = 0;
    // Decrypted bytes may already wait in OpenSSL: always try before awaiting the socket.
    auto r = t.read(static_cast<char*>(space.data()), space.size(), n);
    if (r == tls::Io::ok) co_return after_read(b, {}, n);
    if (r == tls::Io::eof) co_return asio::error::eof;
    if (r == tls::Io::error) co_return tls_error();
    auto [ec] = co_await s.async_wait(r == tls::Io::want_write ? tcp::socket::wait_write : tcp::socket::wait_read,
                                      token);
    if (ec) co_return after_read(b, ec, 0);
  }
}

bool Session::tls_write_now(tls::Connection& t, std::span<asio::const_buffer>& bufs, error_code& ec) {
  char stage[kTlsCoalesce];
  for (;;) {
    while (!bufs.empty() && bufs.front().size() == 0) bufs = bufs.subspan(1);
    if (bufs.empty()) {
      touch();
      ec = {};
      return true;
    }
    // The same spans give the same staged bytes on a retry, as OpenSSL requires after a
    // write that could not finish.
    const void* p = bufs.front().data();
    std::size_t len = bufs.front().size();
    if (bufs.size() > 1 && len < sizeof stage) {
      len = 0;
      for (std::size_t i = 0; i < bufs.size() && len < sizeof stage; ++i) {
        std::size_t take = std::min(bufs[i].size(), sizeof stage - len);
        std::memcpy(stage + len, bufs[i].data(), take);
        len += take;
      }
      p = stage;
    }
    std::size_t n = 0;
    switch (t.write(p, len, n)) {
      case tls::Io::ok: break;
      case tls::Io::want_read:
      case tls::Io::want_write: return false;
      case tls::Io::eof:
      case tls::Io::error:
        ec = tls_error();
        return true;
    }
    for (std::size_t i = 0; n > 0 && i < bufs.size(); ++i) {
      std::size_t take = std::min(n, bufs[i].size());
      bufs[i] += take;
      n -= take;
    }
  }
}

asio::awaitable<bool> Session::tls_handshake(tcp::socket& s, tls::Connection& t) {
  for (;;) {
    auto r = t.handshake();
    if (r == tls::Io::ok) co_return true;
    if (r != tls::Io::want_read && r != tls::Io::want_write) co_return false;
    auto [ec] = co_await s.async_wait(r == tls::Io::want_read ? tcp::socket::wait_read : tcp::socket::wait_write,
                                      token);
    if (ec || fired_ != Timeout::none) co_return false;
  }
}

asio::awaitable<bool> Session::tls_accept() {
  const auto& server = *listener_.tls;
  set_hard_deadline(Timeout::handshake, server.options().handshake_timeout);
  bool ok = co_await tls_handshake(down_, *tls_);
  clear_hard_deadline();
  if (!ok) {
    FERRY_LOG(worker_.state().log, debug,
              "TLS handshake from " << peer_ << " failed: "
                                    << (fired_ == Timeout::handshake ? std::string("timeout") : tls_->error()));
    co_return false;
  }
  // The client's certificate element is computed once per connection, not per request.
  auto mode = http_.forward_client_cert_details;
  if (mode == ForwardClientCert::append_forward || mode == ForwardClientCert::sanitize_set)
    tls_->client_cert_element = server.client_cert_element(*tls_, http_.set_current_client_cert_details);
  tls_->mutual = SSL_get0_peer_certificate(tls_->ssl()) && SSL_get_verify_result(tls_->ssl()) == X509_V_OK;
  co_return true;
}

asio::awaitable<bool> Session::tls_connect(upstream::HostPool& host, const tls::ClientTls& ctls) {
  up_->tls = ctls.connect(up_->sock.native_handle(), bufs_->req.authority(), &host.tls_sessions);
  bool ok = up_->tls && co_await tls_handshake(up_->sock, *up_->tls);
  if (ok) co_return true;
  std::string_view reason = !up_->tls ? std::string_view("TLS_error:|cannot create a TLS connection:TLS_error_end")
                            : fired_ != Timeout::none ? std::string_view("TLS_error:|handshake timeout:TLS_error_end")
                                                      : std::string_view(up_->tls->error());
  upstream_transport_failure_reason_ = bufs_->arena.copy(reason);
  FERRY_LOG(worker_.state().log, debug, "TLS handshake with " << host.address() << " failed: " << reason);
  co_return false;
}

void Session::check_pooled_tls() {
  // Envoy keys pools by the transport socket options (SNI among them); ferry's pool is per
  // host, so a connection for another name is closed instead of reused.
  const auto* ctls = worker_.cluster(route_decision_.cluster).info().tls.get();
  if (ctls && ctls->options().auto_sni && up_->tls->sni != ctls->sni_for(bufs_->req.authority())) up_.reset();
}

void Session::apply_client_cert_header() {
  // Envoy's forward_client_cert_details; "mTLS" means a verified client certificate.
  auto mode = http_.forward_client_cert_details;
  if (mode == ForwardClientCert::always_forward_only) return;
  auto& req = bufs_->req;
  if (!tls_ || !tls_->mutual || mode == ForwardClientCert::sanitize) {
    req.remove(kXfcc);
    return;
  }
  if (mode == ForwardClientCert::forward_only) return;
  const auto& element = tls_->client_cert_element;
  auto existing = req.get(kXfcc);
  if (mode == ForwardClientCert::sanitize_set || existing.empty()) {
    req.set(kXfcc, element);
    return;
  }
  char* joined = bufs_->arena.allocate(existing.size() + 1 + element.size());
  std::memcpy(joined, existing.data(), existing.size());
  joined[existing.size()] = ',';
  std::memcpy(joined + existing.size() + 1, element.data(), element.size());
  req.set(kXfcc, {joined, existing.size() + 1 + element.size()});
}

void Session::set_activity_deadline(Timeout kind, Duration d) {
  if (d.count() <= 0) {
    activity_kind_ = Timeout::none;
    return;
  }
  activity_kind_ = kind;
  activity_span_ = d;
  activity_deadline_ = detail::coarse_now() + d;
  ensure_timer(activity_deadline_);
}

void Session::set_hard_deadline(Timeout kind, Duration d) {
  if (d.count() <= 0) return;
  auto at = detail::coarse_now() + d;
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
  attempt_deadline_ = detail::coarse_now() + d;
  ensure_timer(attempt_deadline_);
}

void Session::ensure_timer(Clock::time_point at) {
  if (at >= timer_at_ || ended_) return;  // an earlier wake-up is armed, or the connection is over
  timer_at_ = at;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
}

void Session::on_timer(const error_code& ec) {
  if (ec == asio::error::operation_aborted || ended_) return;  // re-armed earlier, or closing
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
  else if (stream_deadline_ <= now) [[unlikely]]
    expired = Timeout::max_stream;
  if (expired == Timeout::none) {
    auto next = stream_deadline_;
    if (hard_kind_ != Timeout::none) next = std::min(next, hard_deadline_);
    if (attempt_kind_ != Timeout::none) next = std::min(next, attempt_deadline_);
    if (activity_kind_ != Timeout::none) next = std::min(next, activity_deadline_);
    if (next != Clock::time_point::max()) ensure_timer(next);
    return;
  }
  fired_ = expired;
  if (expired == Timeout::max_stream) {
    stream_deadline_ = Clock::time_point::max();
    stats::bump(*http_stats_->rq_max_duration_reached);  // answered with 408, or reset when too late
  }
  error_code ignored;
  down_.cancel(ignored);
  if (up_) up_->sock.cancel(ignored);
  if (extras_ && extras_->paused) extras_->pause_wake.cancel();  // a paused stream ends now
}

}  // namespace ferry::session
