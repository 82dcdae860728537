// The upstream half of a stream: pick a host, take a pooled connection or connect, send
// the request head and stream its body, read the response head and stream its body back.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>

#include "session/session.hpp"

namespace ferry::session {

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseHead = 96 * 1024;
constexpr std::uint32_t kMaxResponseHeaders = 200;
using boost::beast::http::error::need_more;

bool is_interim(int status) { return status >= 100 && status < 200 && status != 101; }
}  // namespace

asio::awaitable<Session::Outcome> Session::forward(codec::RequestDecoder& dec,
                                                   const router::CompiledRoute& route) {
  auto& cluster = worker_.cluster(route.pick_cluster(worker_.random().next()));
  cluster_name_ = cluster.info().options.name;
  if (dec.info().expect_continue && !dec.is_done()) {
    // Like Envoy without proxy_100_continue: the proxy tells the client to go on.
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::const_buffer buf(kContinue, sizeof kContinue - 1);
    if (co_await write_all(down_, std::span(&buf, 1))) co_return Outcome::close;
  }
  // Only a request without a body can go out again (bodies stream, they are not kept), and
  // one that is not idempotent only if it never reached an upstream.
  const router::CompiledRetry* policy = route.retry.get();
  bool replayable = dec.is_done();
  if (policy && !replayable) {
    const auto& info = dec.info();
    auto limit = listener_.options.per_connection_buffer_limit_bytes;
    if (info.has_content_length && info.content_length <= limit) {
      auto kept = co_await buffer_request_body(dec);
      if (kept != SendResult::sent) co_return co_await send_failed(kept, dec);
      replayable = true;
    } else {
      log_retries_off(info, limit);
    }
  }
  const bool idempotent = router::is_idempotent(bufs_->req.method()) || (policy && policy->retry_non_idempotent);
  std::array<upstream::HostPool*, 8> tried{};
  std::uint32_t retries = 0;
  bool stale_resend = false;
  for (;;) {
    const router::CompiledRetry* can_retry =
        (policy && replayable && retries < policy->num_retries) ? policy : nullptr;
    auto* host = pick_host(cluster, policy, std::span(tried.data(), std::min<std::size_t>(retries, tried.size())));
    if (!host) co_return co_await local_reply(503, "no healthy upstream", kNoHealthyUpstream, "no_healthy_upstream");
    if (retries < tried.size()) tried[retries] = host;
    upstream::AttemptLoad load(cluster, *host);  // active count and latency sample, per attempt
    up_ = host->take();
    if (!up_ && !co_await connect_upstream(*host, cluster.info().options.connect_timeout)) {
      if (fired_ != Timeout::none && fired_ != Timeout::connect) co_return co_await timeout_reply();
      fired_ = Timeout::none;
      if (can_retry && can_retry->retries(router::AttemptFailure::connect_failure)) {
        if (!co_await back_off(*policy, ++retries)) co_return co_await timeout_reply();
        continue;
      }
      co_return co_await local_reply(503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                                     kUpstreamConnectionFailure,
                                     "upstream_reset_before_response_started{connection_failure}");
    }
    auto sent = co_await send_request(dec);
    if (sent == SendResult::upstream_failed_retryable && !stale_resend) {
      stale_resend = true;  // a pooled connection closed under us: resend once
      finish_upstream(false);
      continue;
    }
    if (sent != SendResult::sent) co_return co_await send_failed(sent, dec);
    Attempt attempt;
    auto outcome = co_await relay_response(dec, route, idempotent ? can_retry : nullptr, attempt);
    if (attempt.stale && !stale_resend) {
      stale_resend = true;
      continue;
    }
    if (!attempt.retry) co_return outcome;
    if (!co_await back_off(*policy, ++retries)) co_return co_await timeout_reply();
  }
}

void Session::log_retries_off(const codec::HeadInfo& info, std::uint32_t limit) const {
  // Outside the coroutine: g++ 12 misreports string temporaries in coroutine frames.
  FERRY_LOG(worker_.state().log, info,
            "retries off for this request: its body is streamed, not buffered ("
                << (info.chunked ? std::string("chunked") : std::to_string(info.content_length) + " bytes")
                << ", replay limit " << limit << " bytes)");
}

upstream::HostPool* Session::pick_host(upstream::WorkerCluster& cluster, const router::CompiledRetry* retry,
                                       std::span<upstream::HostPool* const> tried) {
  auto* host = cluster.pick();
  if (!retry || !retry->avoid_previous_hosts) return host;
  // previous_hosts: re-pick while the choice was already tried, a bounded number of times.
  for (std::uint32_t n = 0; host && n < retry->host_selection_retry_max_attempts; ++n) {
    if (std::find(tried.begin(), tried.end(), host) == tried.end()) break;
    host = cluster.pick();
  }
  return host;
}

asio::awaitable<bool> Session::back_off(const router::CompiledRetry& retry, std::uint32_t retry_number) {
  auto delay = router::backoff_delay(retry_number, retry.base_interval, retry.max_interval, worker_.random().next());
  FERRY_LOG(worker_.state().log, debug, "retry " << retry_number << " after " << delay.count() << " ms");
  if (delay.count() > 0) {
    asio::steady_timer wait(worker_.io());
    wait.expires_after(delay);
    co_await wait.async_wait(token);
  }
  // The route timeout covers every attempt and the pauses between them.
  if (hard_kind_ == Timeout::route && hard_deadline_ <= Clock::now()) fired_ = Timeout::route;
  co_return fired_ == Timeout::none;
}

asio::awaitable<bool> Session::connect_upstream(upstream::HostPool& host, Duration connect_timeout) {
  up_ = std::make_unique<upstream::UpstreamConn>(worker_.io().get_executor(), host);
  set_attempt_deadline(Timeout::connect, connect_timeout);
  auto [ec] = co_await up_->sock.async_connect(host.endpoint(), token);
  clear_attempt_deadline();
  ++host.connections_opened;
  if (ec || fired_ != Timeout::none) {
    FERRY_LOG(worker_.state().log, debug, "connect to " << host.address() << " failed: " << ec.message());
    up_.reset();
    co_return false;
  }
  error_code ignored;
  up_->sock.set_option(tcp::no_delay(true), ignored);
  up_->sock.non_blocking(true, ignored);
  co_return true;
}

asio::awaitable<Session::SendResult> Session::buffer_request_body(codec::RequestDecoder& dec) {
  auto& b = *bufs_;
  auto size = std::size_t(dec.info().content_length);
  char* body = b.arena.allocate(size);
  std::size_t have = 0;
  while (!dec.is_done()) {
    if (b.in.empty() && co_await read_some(down_, b.in)) co_return SendResult::downstream_failed;
    error_code ec;
    auto used = dec.feed(b.in.data(), b.in.size(), ec);
    if (ec && ec != need_more) co_return SendResult::bad_request;
    if (!run_request_body_filters(dec.is_done())) co_return SendResult::bad_request;
    for (auto piece : b.pieces) {
      std::memcpy(body + have, piece.data(), piece.size());
      have += piece.size();
    }
    b.in.consume(used);
  }
  replay_body_ = {body, have};
  body_buffered_ = true;
  co_return SendResult::sent;
}

asio::awaitable<Session::SendResult> Session::send_request(codec::RequestDecoder& dec) {
  auto& b = *bufs_;
  const auto& info = dec.info();
  if (body_buffered_) {
    // A kept body goes out whole with the head, on every attempt.
    b.out.clear();
    codec::append_request_head(b.out, b.req, codec::Framing::content_length);
    std::array<asio::const_buffer, 2> bufs{asio::const_buffer(b.out.data(), b.out.size()),
                                           asio::const_buffer(replay_body_.data(), replay_body_.size())};
    std::span<asio::const_buffer> pending(bufs);
    error_code wec;
    if (!write_now(up_->sock, pending, wec)) wec = co_await write_all(up_->sock, pending);
    if (wec) co_return fired_ != Timeout::none ? SendResult::downstream_failed
                       : up_->reused           ? SendResult::upstream_failed_retryable
                                               : SendResult::upstream_failed;
    request_complete_ = true;
    co_return SendResult::sent;
  }
  codec::Framing framing = dec.is_done()
                               ? (info.has_content_length ? codec::Framing::content_length : codec::Framing::none)
                               : (info.chunked ? codec::Framing::chunked : codec::Framing::content_length);
  b.out.clear();
  codec::append_request_head(b.out, b.req, framing);
  bool first = true;
  for (;;) {
    // Body bytes go upstream exactly as received (already validated by the decoder), so
    // the framing is preserved without re-encoding.
    std::size_t used = 0;
    if (!dec.is_done() && !b.in.empty()) {
      error_code ec;
      used = dec.feed(b.in.data(), b.in.size(), ec);
      if (ec && ec != need_more) co_return SendResult::bad_request;
      if (!run_request_body_filters(dec.is_done())) co_return SendResult::bad_request;
    }
    std::array<asio::const_buffer, 2> bufs{asio::const_buffer(b.out.data(), first ? b.out.size() : 0),
                                           asio::const_buffer(b.in.data(), used)};
    std::span<asio::const_buffer> pending(bufs);
    error_code wec;
    if (!write_now(up_->sock, pending, wec)) wec = co_await write_all(up_->sock, pending);
    if (wec) {
      if (fired_ != Timeout::none) co_return SendResult::downstream_failed;
      co_return (first && up_->reused) ? SendResult::upstream_failed_retryable : SendResult::upstream_failed;
    }
    first = false;
    b.in.consume(used);
    if (dec.is_done()) break;
    if (co_await read_some(down_, b.in)) co_return SendResult::downstream_failed;
  }
  request_complete_ = true;
  co_return SendResult::sent;
}

asio::awaitable<Session::Outcome> Session::send_failed(SendResult result, codec::RequestDecoder& dec) {
  finish_upstream(false);
  if (result == SendResult::bad_request) {
    if (local_status_ != 0) co_return co_await local_reply(local_status_, local_body_, kNoFlags, "filter_local_reply");
    error_code ec = boost::beast::http::error::bad_chunk;
    co_return co_await reject(dec.error_for(ec));
  }
  if (result == SendResult::downstream_failed) {
    if (fired_ != Timeout::none) co_return co_await timeout_reply();
    flags_ |= kDownstreamConnectionTermination;
    co_return Outcome::close;
  }
  co_return co_await local_reply(502, "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                                 kUpstreamConnectionTermination,
                                 "upstream_reset_before_response_started{connection_termination}");
}

asio::awaitable<Session::Outcome> Session::timeout_reply() {
  auto kind = fired_;
  fired_ = Timeout::none;
  clear_hard_deadline();
  keep_alive_ = false;
  switch (kind) {
    case Timeout::route:
    case Timeout::per_try:
      co_return co_await local_reply(504, "upstream request timeout", kUpstreamRequestTimeout, "upstream_response_timeout");
    case Timeout::stream_idle:
      co_return co_await local_reply(408, "stream timeout", kStreamIdleTimeout, "stream_idle_timeout");
    case Timeout::request:
      co_return co_await local_reply(408, "request timeout", kNoFlags, "request_overall_timeout");
    case Timeout::request_headers:
      co_return co_await local_reply(408, "request timeout", kNoFlags, "request_header_timeout");
    default:
      co_return Outcome::close;
  }
}

asio::awaitable<Session::Outcome> Session::relay_response(codec::RequestDecoder& dec,
                                                          const router::CompiledRoute& route,
                                                          const router::CompiledRetry* retry, Attempt& attempt) {
  auto& b = *bufs_;
  if (!route_timer_started_) {
    // Envoy starts the route timeout once the request is sent, and it spans all attempts.
    route_timer_started_ = true;
    clear_hard_deadline();
    set_hard_deadline(Timeout::route, route.timeout);
  }
  if (retry) set_attempt_deadline(Timeout::per_try, retry->per_try_timeout);
  if (route.idle_timeout.count() >= 0) set_activity_deadline(Timeout::stream_idle, route.idle_timeout);
  auto& ub = b.up_in;
  bool head_request = b.req.method() == "HEAD";
  std::optional<codec::ResponseDecoder> rdec;
  rdec.emplace(b.resp, b.pieces, kMaxResponseHead, kMaxResponseHeaders);
  rdec->skip(head_request);
  std::size_t parsed = 0;  // decoded head bytes at the front of `ub` (see read_request_head)
  for (;;) {
    error_code ec = need_more;
    if (ub.size() > parsed) parsed += rdec->feed(ub.data() + parsed, ub.size() - parsed, ec);
    if (!ec && rdec->is_header_done()) {
      if (!is_interim(b.resp.status())) break;
      ub.consume(parsed);  // 1xx interim responses are not forwarded
      parsed = 0;
      rdec.emplace(b.resp, b.pieces, kMaxResponseHead, kMaxResponseHeaders);
      rdec->skip(head_request);
      continue;
    }
    if (ec != need_more || !make_room(ub, *rdec, parsed, kMaxResponseHead)) {
      finish_upstream(false);
      co_return co_await local_reply(502, "upstream sent an invalid response", kUpstreamProtocolError,
                                     "upstream_reset_before_response_started{protocol_error}");
    }
    auto [rec0, rn] = co_await up_->sock.async_read_some(read_space(ub), token);
    if (auto rec = after_read(ub, rec0, rn)) {
      // Nothing received on a reused connection for a bodiless request: the upstream
      // closed it while idle, so the request can safely go out again on a fresh one.
      bool resendable = body_buffered_ || (dec.info().content_length == 0 && !dec.info().chunked);
      bool stale = ub.empty() && up_->reused && resendable;
      finish_upstream(false);
      ub.consume(ub.size());
      if (fired_ == Timeout::per_try && retry && retry->retries(router::AttemptFailure::timeout)) {
        fired_ = Timeout::none;
        attempt.retry = true;
        co_return Outcome::close;
      }
      if (fired_ != Timeout::none) co_return co_await timeout_reply();
      attempt.stale = stale;
      if (stale) co_return Outcome::close;
      if (retry && retry->retries(router::AttemptFailure::reset)) {
        attempt.retry = true;
        co_return Outcome::close;
      }
      co_return co_await local_reply(502, "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                                     kUpstreamConnectionTermination,
                                     "upstream_reset_before_response_started{connection_termination}");
    }
  }
  clear_attempt_deadline();
  if (retry && retry->retries(router::AttemptFailure::status, b.resp.status())) {
    // Not forwarded: this connection's response body is unread, so it is closed.
    FERRY_LOG(worker_.state().log, debug, "upstream answered " << b.resp.status() << ": retrying");
    finish_upstream(false);
    ub.consume(ub.size());
    attempt.retry = true;
    co_return Outcome::close;
  }
  std::size_t used = parsed;
  b.resp_head.assign(ub.data(), used);
  rdec->rebase(ub.data(), b.resp_head.data(), used);
  ub.consume(used);
  bool no_body = rdec->is_done();
  if (!run_response_header_filters(no_body)) keep_alive_ = false;
  codec::Framing framing = codec::Framing::none;
  bool dechunk = false;
  if (!no_body) {
    if (rdec->info().chunked && b.req.version() >= 11) framing = codec::Framing::chunked;
    else if (rdec->info().has_content_length) framing = codec::Framing::content_length;
    else {
      framing = codec::Framing::until_close;  // the client learns the end from our close
      dechunk = rdec->info().chunked;
      keep_alive_ = false;
    }
  }
  if (worker_.draining()) keep_alive_ = false;
  b.out.clear();
  codec::append_response_head(b.out, b.resp, framing, !keep_alive_);
  response_started_ = true;
  co_return co_await stream_response_body(*rdec, framing, dechunk);
}

asio::awaitable<Session::Outcome> Session::stream_response_body(codec::ResponseDecoder& rdec,
                                                                codec::Framing framing, bool dechunk) {
  auto& b = *bufs_;
  auto& ub = b.up_in;
  bool first = true;
  std::array<asio::const_buffer, 16> bufs;
  for (;;) {
    std::size_t used = 0, n = 0;
    if (first) bufs[n++] = asio::const_buffer(b.out.data(), b.out.size());
    if (!rdec.is_done() && !ub.empty()) {
      error_code ec;
      used = rdec.feed(ub.data(), ub.size(), ec);
      if (ec && ec != need_more) {
        flags_ |= kUpstreamProtocolError;
        finish_upstream(false);
        co_return Outcome::close;  // headers are out: all we can do is reset
      }
      if (dechunk) {
        for (auto piece : b.pieces) {
          if (n == bufs.size()) break;
          bufs[n++] = asio::const_buffer(piece.data(), piece.size());
        }
      } else {
        bufs[n++] = asio::const_buffer(ub.data(), used);
      }
      if (!b.filters.empty())
        for (std::size_t i = filters_run_; i-- > 0;)
          for (auto piece : b.pieces) b.filters[i]->on_response_body(piece, rdec.is_done(), *this);
    }
    std::span<asio::const_buffer> pending(bufs.data(), n);
    error_code wec;
    if (n > 0 && !write_now(down_, pending, wec)) wec = co_await write_all(down_, pending);
    if (wec) {
      flags_ |= kDownstreamConnectionTermination;
      finish_upstream(false);
      co_return Outcome::close;
    }
    first = false;
    ub.consume(used);
    if (rdec.is_done()) break;
    auto [rec, rn] = co_await up_->sock.async_read_some(read_space(ub), token);
    if (auto ec = after_read(ub, rec, rn)) {
      if (framing == codec::Framing::until_close && (ec == asio::error::eof)) {
        finish_upstream(false);
        break;
      }
      flags_ |= fired_ == Timeout::route ? kUpstreamRequestTimeout : kUpstreamConnectionTermination;
      finish_upstream(false);
      co_return Outcome::close;
    }
  }
  clear_hard_deadline();
  if (up_) finish_upstream(rdec.keep_alive() && ub.empty());
  run_complete_filters();
  co_return keep_alive_ ? Outcome::keep_alive : Outcome::close;
}

void Session::finish_upstream(bool reusable) {
  if (!up_) return;
  auto* host = up_->host;
  ++up_->requests;
  if (reusable) {
    up_->reused = false;
    host->put(std::move(up_));
  }
  up_.reset();
}

}  // namespace ferry::session
