// The upstream half of a stream: pick a host, take a pooled connection or connect, send
// the request head and stream its body, read the response head and stream its body back.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/ascii.hpp"

#include "session/mirror.hpp"
#include "session/read_readiness.hpp"
#include "session/session.hpp"

namespace ferry::session {

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseHead = 96 * 1024;
constexpr std::uint32_t kMaxResponseHeaders = 200;
using boost::beast::http::error::need_more;

bool is_interim(int status) { return status >= 100 && status < 200 && status != 101; }

// Whether the route's response header edits may remove or insert fields (they run with the
// response filters); its location and set-cookie fields are appended.
bool edits_response(const router::Decision& d) noexcept {
  return (d.target_mutations && !d.target_mutations->response.empty()) ||
         (d.route && !d.route->response_mutations.empty());
}

// Outlier detection hears each attempt's result (Envoy's putHttpResponseCode / putResult):
// a few stores into this worker's counters when the cluster has it, else one branch.
void report_outlier(const upstream::WorkerCluster& cluster, const upstream::HostPool& host, unsigned worker,
                    int status) noexcept {
  if (auto* o = cluster.outlier(host)) o->http_status(worker, status);
}
void report_outlier(const upstream::WorkerCluster& cluster, const upstream::HostPool& host, unsigned worker,
                    upstream::LocalOrigin result) noexcept {
  if (auto* o = cluster.outlier(host)) o->local_origin(worker, result);
}
}  // namespace

asio::awaitable<Session::Outcome> Session::forward(codec::RequestDecoder& dec,
                                                   const router::CompiledRoute& route) {
  auto& cluster = worker_.cluster(route_decision_.cluster);
  cluster_name_ = cluster.name();
  cluster_stats_ = &worker_.stats().clusters[route_decision_.cluster];
  // Circuit breakers: max_requests holds for the whole stream, all attempts; a stream over
  // it is answered at once, before its body is read (see session_pool.cpp).
  upstream::StreamBreaker breaker;
  if (!breaker.begin(cluster.info().breakers->at(route.priority))) co_return co_await overflow_reply();
  if (dec.info().expect_continue && !dec.is_done()) {
    // Like Envoy without proxy_100_continue: the proxy tells the client to go on.
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::const_buffer buf(kContinue, sizeof kContinue - 1);
    if (co_await write_all(down_, std::span(&buf, 1))) co_return Outcome::close;
  }
  // Only a request without a body can go out again (bodies stream, they are not kept), and
  // one that is not idempotent only if it never reached an upstream.
  // Envoy's usingNewTimeouts: a route with max_stream_duration has no route timeout (only
  // x-envoy-upstream-rq-timeout-ms sets one).
  route_timeout_ = route.max_stream_duration ? Duration{0} : route.timeout;
  const router::CompiledRetry* policy = internal_ ? apply_envoy_headers(route) : route.retry.get();
  if (!upgrade_.empty()) [[unlikely]]
    policy = nullptr;  // an upgrade's request runs on as the tunnel: it cannot go out twice
  bool replayable = dec.is_done();
  // Mirrors need the whole body up front too.
  if ((policy || !route.mirrors.empty()) && !replayable) {
    const auto& info = dec.info();
    auto limit = route.buffer_limit ? route.buffer_limit : listener_.options.per_connection_buffer_limit_bytes;
    if (info.has_content_length && info.content_length <= limit) {
      auto kept = co_await buffer_request_body(dec);
      if (kept != SendResult::sent) co_return co_await send_failed(kept, dec);
      replayable = true;
    } else {
      log_retries_off(info, limit, policy != nullptr);
    }
  }
  if (!route.mirrors.empty() && replayable && upgrade_.empty()) start_mirrors(route, dec);
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
    // An idle pooled connection is taken inline: no extra coroutine frame per request.
    up_ = host->take();
    if (up_ && up_->tls) [[unlikely]]
      check_pooled_tls();
    auto pooled = PoolResult::ready;
    if (!up_) pooled = co_await obtain_connection(*host, breaker.level(), cluster.info().options.connect_timeout);
    if (pooled == PoolResult::overflow) co_return co_await overflow_reply();
    if (pooled == PoolResult::gave_up) co_return co_await timeout_reply();  // not the host's doing
    if (pooled != PoolResult::ready) {
      if (fired_ != Timeout::none && fired_ != Timeout::connect) co_return co_await timeout_reply();
      report_outlier(cluster, *host, worker_.index(),
                     fired_ == Timeout::connect ? upstream::LocalOrigin::timeout : upstream::LocalOrigin::connect_failed);
      fired_ = Timeout::none;
      if (can_retry && can_retry->retries(router::AttemptFailure::connect_failure) && may_retry(&breaker)) {
        if (!co_await back_off(*policy, ++retries)) co_return co_await timeout_reply();
        continue;
      }
      co_return co_await local_reply(503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                                     kUpstreamConnectionFailure,
                                     "upstream_reset_before_response_started{connection_failure}");
    }
    report_outlier(cluster, *host, worker_.index(), upstream::LocalOrigin::connect_success);
    count_attempt(*host);
    auto sent = co_await send_request(dec);
    if (sent == SendResult::upstream_failed_retryable && !stale_resend) {
      stale_resend = true;  // a pooled connection closed under us: resend once
      finish_upstream(false);
      bufs_->up_in.consume(bufs_->up_in.size());  // anything that connection said
      continue;
    }
    if (sent == SendResult::upstream_failed || sent == SendResult::upstream_failed_retryable)
      report_outlier(cluster, *host, worker_.index(), upstream::LocalOrigin::connect_failed);
    if (sent != SendResult::sent && sent != SendResult::answered) co_return co_await send_failed(sent, dec);
    Attempt attempt;
    attempt.breaker = &breaker;
    auto outcome = co_await relay_response(dec, route, idempotent ? can_retry : nullptr, attempt);
    if (attempt.stale) {
      if (!stale_resend) {
        stale_resend = true;
        continue;
      }
      // A second pooled connection closed under us (its host died): nothing was answered,
      // so it is an upstream reset like any other, not a silent close.
      if (!(idempotent && can_retry && can_retry->retries(router::AttemptFailure::reset) && may_retry(attempt.breaker)))
        co_return co_await local_reply(502, "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                                       kUpstreamConnectionTermination,
                                       "upstream_reset_before_response_started{connection_termination}");
      attempt.retry = true;
    }
    if (!attempt.retry) co_return count_final(outcome, retries);
    if (!co_await back_off(*policy, ++retries)) co_return co_await timeout_reply();
  }
}

void Session::log_retries_off(const codec::HeadInfo& info, std::uint32_t limit, bool retries) const {
  if (retries) count_retries_abandoned();  // Envoy's retry_or_shadow_abandoned
  // Outside the coroutine: g++ 12 misreports string temporaries in coroutine frames.
  FERRY_LOG(worker_.state().log, info,
            (retries ? "retries" : "mirrors") << " off for this request: its body is streamed, not buffered ("
                << (info.chunked ? std::string("chunked") : std::to_string(info.content_length) + " bytes")
                << ", replay limit " << limit << " bytes)");
}

upstream::HostPool* Session::pick_host(upstream::WorkerCluster& cluster, const router::CompiledRetry* retry,
                                       std::span<upstream::HostPool* const> tried) {
  const upstream::LbContext ctx{route_decision_.hash};
  auto* host = cluster.pick(ctx);
  if (!retry || !retry->avoid_previous_hosts) return host;
  // previous_hosts: re-pick while the choice was already tried, a bounded number of times.
  for (std::uint32_t n = 0; host && n < retry->host_selection_retry_max_attempts; ++n) {
    if (std::find(tried.begin(), tried.end(), host) == tried.end()) break;
    host = cluster.pick(ctx);
  }
  return host;
}

asio::awaitable<bool> Session::back_off(const router::CompiledRetry& retry, std::uint32_t retry_number) {
  auto delay = router::backoff_delay(retry_number, retry.base_interval, retry.max_interval, worker_.random().next());
  FERRY_LOG(worker_.state().log, debug, "retry " << retry_number << " after " << delay.count() << " ms");
  if (cluster_stats_) stats::bump(*cluster_stats_->rq_retry);
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
  count_connect(host);
  set_attempt_deadline(Timeout::connect, connect_timeout);
  auto [ec] = co_await up_->sock.async_connect(host.endpoint(), token);
  clear_attempt_deadline();
  ++host.connections_opened;
  if (ec || fired_ != Timeout::none) {
    FERRY_LOG(worker_.state().log, debug, "connect to " << host.address() << " failed: " << ec.message());
    count_connect_failure(host);
    up_.reset();
    co_return false;
  }
  error_code ignored;
  up_->sock.set_option(tcp::no_delay(true), ignored);
  up_->sock.non_blocking(true, ignored);
  if (const auto* ctls = worker_.cluster(route_decision_.cluster).info().tls.get()) {
    // Envoy's connect_timeout covers the TLS handshake too.
    set_attempt_deadline(Timeout::connect, connect_timeout);
    bool ok = co_await tls_connect(host, *ctls);
    clear_attempt_deadline();
    if (!ok) {
      up_.reset();
      co_return false;
    }
  }
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
  bytes_received_ = have;
  mark_request_done();
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
      for (auto piece : b.pieces) bytes_received_ += piece.size();
    }
    std::array<asio::const_buffer, 2> bufs{asio::const_buffer(b.out.data(), first ? b.out.size() : 0),
                                           asio::const_buffer(b.in.data(), used)};
    std::span<asio::const_buffer> pending(bufs);
    error_code wec;
    bool answered = false;
    if (!write_now(up_->sock, pending, wec)) std::tie(wec, answered) = co_await write_body_upstream(pending);
    // An upstream that refuses an upload (413, 401...) answers after the head and stops
    // reading, or closes (the answer is then in the socket ahead of the reset). Its answer
    // goes to the client, and what is left of the body is not sent.
    if (answered || (wec && (!first || !b.up_in.empty()) && fired_ == Timeout::none &&
                     (wec == asio::error::broken_pipe || wec == asio::error::connection_reset)))
      co_return SendResult::answered;
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
  mark_request_done();
  co_return SendResult::sent;
}

asio::awaitable<Session::Outcome> Session::send_failed(SendResult result, codec::RequestDecoder& dec) {
  finish_upstream(false);
  if (result == SendResult::bad_request) {
    if (local_status_ != 0) co_return co_await local_reply(local_status_, local_body_, kNoFlags, "filter_local_reply");
    error_code ec = boost::beast::http::error::bad_chunk;
    if (dec.rejected_underscore()) stats::bump(*http_stats_->rejected_underscores);
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
  count_timeout(kind);
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
    case Timeout::max_stream:
      co_return co_await local_reply(408, "downstream duration timeout", kNoFlags, "max_duration_timeout");
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
    set_hard_deadline(Timeout::route, route_timeout_);
  }
  if (retry) set_attempt_deadline(Timeout::per_try, retry->per_try_timeout);
  if (route.idle_timeout.count() >= 0) set_activity_deadline(Timeout::stream_idle, route.idle_timeout);
  auto& ub = b.up_in;
  bool head_request = b.req.method() == "HEAD";
  auto& rdec = b.rdec;  // not in this frame: see StreamBuffers::rdec
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
    if (ec != need_more || !make_room(ub, kMaxResponseHead)) {
      report_outlier(worker_.cluster(route_decision_.cluster), *up_->host, worker_.index(),
                     upstream::LocalOrigin::connect_failed);  // Envoy: a protocol error resets the stream
      finish_upstream(false);
      co_return co_await local_reply(502, "upstream sent an invalid response", kUpstreamProtocolError,
                                     "upstream_reset_before_response_started{protocol_error}");
    }
    error_code read_ec;
    if (up_->tls) [[unlikely]] {
      read_ec = co_await tls_read_some(up_->sock, *up_->tls, ub);
    } else {
      auto space = read_space(ub);
      error_code rec0;
      std::size_t rn = 0;
      if (!read_now(up_->sock, space, rec0, rn)) {
        std::tie(rec0, rn) = co_await up_->sock.async_read_some(space, token);
        read_waited(up_->sock, rec0, rn, space.size());
      }
      read_ec = after_read(ub, rec0, rn);
    }
    if (auto rec = read_ec) {
      // Nothing received on a reused connection for a bodiless request: the upstream
      // closed it while idle, so the request can safely go out again on a fresh one.
      bool resendable = body_buffered_ || (dec.info().content_length == 0 && !dec.info().chunked);
      bool stale = ub.empty() && up_->reused && resendable;
      // A stale pooled connection is not the host's fault; timeouts other than the
      // attempt's own (per-try, route) are not either.
      if (!stale && (fired_ == Timeout::none || fired_ == Timeout::per_try || fired_ == Timeout::route))
        report_outlier(worker_.cluster(route_decision_.cluster), *up_->host, worker_.index(),
                       fired_ == Timeout::none ? upstream::LocalOrigin::connect_failed : upstream::LocalOrigin::timeout);
      finish_upstream(false);
      ub.consume(ub.size());
      if (fired_ == Timeout::per_try && retry && retry->retries(router::AttemptFailure::timeout) &&
          may_retry(attempt.breaker)) {
        count_timeout(Timeout::per_try);
        fired_ = Timeout::none;
        attempt.retry = true;
        co_return Outcome::close;
      }
      if (fired_ != Timeout::none) co_return co_await timeout_reply();
      attempt.stale = stale;
      if (stale) co_return Outcome::close;
      if (retry && retry->retries(router::AttemptFailure::reset) && may_retry(attempt.breaker)) {
        attempt.retry = true;
        co_return Outcome::close;
      }
      co_return co_await local_reply(502, "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                                     kUpstreamConnectionTermination,
                                     "upstream_reset_before_response_started{connection_termination}");
    }
  }
  clear_attempt_deadline();
  attempt_status_ = b.resp.status();
  resp_at_ = last_activity();  // the read that completed the head
  report_outlier(worker_.cluster(route_decision_.cluster), *up_->host, worker_.index(), attempt_status_);
  if (retry &&
      (retry->retries(router::AttemptFailure::status, b.resp.status()) || retry->retries_headers(b.resp, b.arena)) &&
      may_retry(attempt.breaker)) {
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
  // A 101 to an upgrade goes on as a tunnel: its headers do not end the stream.
  bool no_body = rdec->is_done() && (upgrade_.empty() || b.resp.status() != 101);
  const auto& head = rdec->info();
  if (!http_.suppress_envoy_headers) set_service_time(resp_at_, head);
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
  // The client's request body is not read to its end: this connection ends with the response.
  if (worker_.draining() || !request_complete_) keep_alive_ = false;
  if (http_.max_connection_duration.count() > 0) [[unlikely]] close_if_past_max_duration();
  // Fields stay where the decoder put them unless response filters, the route's response
  // header edits or the removal of a second service-time field moved them.
  bool moved = filters_run_ != 0 || edits_response(route_decision_) ||
               (head.service_time_many && !http_.suppress_envoy_headers);
  set_server_header(moved ? nullptr : &head);
  if (http_.always_set_request_id_in_response) [[unlikely]] set_request_id_in_response();
  if (moved ? !b.resp.has("date") : !head.has_date) [[unlikely]] add_date_header();
  if (!http_.via.empty()) [[unlikely]] append_via(b.resp);
  if (!upgrade_.empty()) [[unlikely]] {
    if (b.resp.status() == 101) co_return co_await tunnel(head.upgrade ? head.upgrade_value : upgrade_);
    keep_alive_ = false;  // a refused upgrade: what the client sends next may not be HTTP
  }
  b.out.clear();
  codec::append_response_head(b.out, b.resp, framing, !keep_alive_, http10_keep_alive());
  count_response(b.resp.status(), true);
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
    error_code wec;
    if (first) bufs[n++] = asio::const_buffer(b.out.data(), b.out.size());
    if (!rdec.is_done() && !ub.empty()) {
      error_code ec;
      used = rdec.feed(ub.data(), ub.size(), ec);
      if (ec && ec != need_more) {
        flags_ |= kUpstreamProtocolError;
        finish_upstream(false);
        co_return Outcome::close;  // headers are out: all we can do is reset
      }
      for (auto piece : b.pieces) bytes_sent_ += piece.size();
      if (dechunk) {
        for (auto piece : b.pieces) {
          if (n == bufs.size()) {
            // One read can hold many small chunks: write them in rounds, none is dropped.
            std::span<asio::const_buffer> round(bufs.data(), n);
            if (!write_now(down_, round, wec)) wec = co_await write_all(down_, round);
            if (wec) break;
            n = 0;
          }
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
    if (!wec && n > 0 && !write_now(down_, pending, wec)) wec = co_await write_all(down_, pending);
    if (wec) {
      flags_ |= kDownstreamConnectionTermination;
      finish_upstream(false);
      co_return Outcome::close;
    }
    first = false;
    ub.consume(used);
    if (rdec.is_done()) break;
    error_code read_ec;
    if (up_->tls) [[unlikely]] {
      read_ec = co_await tls_read_some(up_->sock, *up_->tls, ub);
    } else {
      auto space = read_space(ub);
      error_code rec;
      std::size_t rn = 0;
      if (framing == codec::Framing::until_close) [[unlikely]]
        expect_eof(up_->sock);  // the body ends with the FIN, which may have come with its last bytes
      if (!read_now(up_->sock, space, rec, rn)) {
        std::tie(rec, rn) = co_await up_->sock.async_read_some(space, token);
        read_waited(up_->sock, rec, rn, space.size());
      }
      read_ec = after_read(ub, rec, rn);
    }
    if (auto ec = read_ec) {
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
  upstream_completed_ = true;
  // A connection whose request was cut short cannot carry another one.
  if (up_) finish_upstream(rdec.keep_alive() && ub.empty() && request_complete_);
  run_complete_filters();
  co_return keep_alive_ ? Outcome::keep_alive : Outcome::close;
}

void Session::set_server_header(const codec::HeadInfo* unedited) {
  using T = HttpOptions::ServerHeaderTransformation;
  auto& resp = bufs_->resp;
  switch (http_.server_header_transformation) {
    case T::overwrite:
      if (unedited && !unedited->server_many) {
        if (unedited->server_at == 0) resp.append_view("server", http_.server_name);
        else resp.entries()[unedited->server_at - 1].value = http_.server_name;
      } else {
        resp.set("server", http_.server_name);  // rare: moved fields or several
      }
      break;
    case T::append_if_absent:
      if (unedited ? unedited->server_at == 0 : !resp.has("server")) resp.append_view("server", http_.server_name);
      break;
    case T::pass_through:
      break;
  }
}

void Session::append_via(HeaderMap& h) {
  const auto& via = http_.via;
  for (auto& e : h.entries()) {
    if (e.name.size() != 3 || !iequals(e.name, "via")) continue;
    // The first field gets ", " and ours (Envoy appends to the existing value).
    char* joined = bufs_->arena.allocate(e.value.size() + 2 + via.size());
    std::memcpy(joined, e.value.data(), e.value.size());
    std::memcpy(joined + e.value.size(), ", ", 2);
    std::memcpy(joined + e.value.size() + 2, via.data(), via.size());
    e.value = std::string_view(joined, e.value.size() + 2 + via.size());
    return;
  }
  h.append_view("via", via);
}

void Session::add_date_header() {
  auto date = worker_.http_date(last_activity());
  char* text = bufs_->arena.allocate(date.size());
  std::memcpy(text, date.data(), date.size());
  bufs_->resp.append_view("date", std::string_view(text, date.size()));
}

void Session::set_service_time(Clock::time_point head_at, const codec::HeadInfo& info) {
  // Envoy's router: from the downstream request's end to the response head, when the
  // request ended first (it always has here: its body is sent before the response is read).
  if (rq_done_ == Clock::time_point{}) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(head_at - rq_done_).count();
  char* text = bufs_->arena.allocate(20);
  auto [end, ignored] = std::to_chars(text, text + 20, std::max<std::int64_t>(ms, 0));
  std::string_view value(text, std::size_t(end - text));
  // Set, not appended: a field of that name from the upstream is replaced.
  if (info.service_time_at == 0) bufs_->resp.append_view("x-envoy-upstream-service-time", value);
  else if (!info.service_time_many) bufs_->resp.entries()[info.service_time_at - 1].value = value;
  else bufs_->resp.set("x-envoy-upstream-service-time", value);
}

void Session::finish_upstream(bool reusable) {
  if (!up_) return;
  auto* host = up_->host;
  count_attempt_end(*host);
  ++up_->requests;
  if (reusable) {
    up_->reused = false;
    host->put(std::move(up_));
  }
  up_.reset();
}

void Session::start_mirrors(const router::CompiledRoute& route, const codec::RequestDecoder& dec) {
  auto& req = bufs_->req;
  const auto original_host = req.authority();
  auto framing = body_buffered_ || dec.info().has_content_length ? codec::Framing::content_length : codec::Framing::none;
  // Envoy's route timeout bounds the shadow too; a disabled one still gets a bound here.
  auto timeout = route_timeout_.count() > 0 ? route_timeout_ : Duration(std::chrono::seconds(15));
  for (const auto& m : route.mirrors) {
    if (m.per_million < 1000000 && worker_.random().next() % 1000000 >= m.per_million) continue;
    std::string host = m.host_suffix && !original_host.empty() ? shadow_host(original_host) : std::string(original_host);
    if (!original_host.empty()) router::set_header_view(req, "host", host);
    std::pmr::string head;
    codec::append_request_head(head, req, framing);
    if (!original_host.empty()) router::set_header_view(req, "host", original_host);
    std::string copy;
    copy.reserve(head.size() + replay_body_.size());
    copy.append(head.data(), head.size()).append(replay_body_);
    if (!MirrorTask::start(worker_, m.cluster, std::move(copy), host, timeout, req.method() == "HEAD"))
      FERRY_LOG(worker_.state().log, debug, "mirror dropped: too many in flight or draining");
  }
}

const router::CompiledRetry* Session::apply_envoy_headers(const router::CompiledRoute& route) {
  auto& req = bufs_->req;
  auto timeout = req.get("x-envoy-upstream-rq-timeout-ms");
  std::uint64_t ms = 0;
  auto [end, ec] = std::from_chars(timeout.data(), timeout.data() + timeout.size(), ms);
  if (!timeout.empty() && ec == std::errc() && end == timeout.data() + timeout.size())
    route_timeout_ = Duration(std::int64_t(std::min<std::uint64_t>(ms, std::uint64_t(1) << 40)));
  const router::CompiledRetry* policy = route.retry.get();
  if (router::apply_retry_headers(policy, req.get("x-envoy-retry-on"), req.get("x-envoy-max-retries"), header_retry_))
    policy = &header_retry_;
  // Control headers are for this proxy, not for the upstream (Envoy removes them too).
  for (auto name : {"x-envoy-upstream-rq-timeout-ms", "x-envoy-retry-on", "x-envoy-max-retries"}) req.remove(name);
  return policy;
}

}  // namespace ferry::session
