// The connection loop, the request side and the local replies of a downstream session.
// The upstream exchange lives in session_upstream.cpp, the watchdog and I/O helpers in
// session_io.cpp.
#include "session/session.hpp"

#include <arpa/inet.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/forwarded_for.hpp"
#include "router/stream_duration.hpp"
#include "tls/server_tls.hpp"

namespace ferry::session {

namespace {

void format_peer(const tcp::endpoint& ep, char* buf, std::size_t cap, std::string_view& peer,
                 std::string_view& ip) {
  char addr[INET6_ADDRSTRLEN] = "?";
  auto a = ep.address();
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    inet_ntop(AF_INET, b.data(), addr, sizeof addr);
  } else {
    auto b = a.to_v6().to_bytes();
    inet_ntop(AF_INET6, b.data(), addr, sizeof addr);
  }
  int n = a.is_v4() ? std::snprintf(buf, cap, "%s:%u", addr, unsigned(ep.port()))
                    : std::snprintf(buf, cap, "[%s]:%u", addr, unsigned(ep.port()));
  peer = {buf, std::size_t(n)};
  auto ip_len = std::strlen(addr);
  ip = a.is_v4() ? peer.substr(0, ip_len) : peer.substr(1, ip_len);
}

}  // namespace

Session::Session(server::Worker& worker, const server::ListenerRuntime& listener, tcp::socket socket,
                 const server::ParkedConnection* resumed, const tcp::endpoint* peer)
    : worker_(worker),
      listener_(listener),
      http_(listener.options.http),
      down_(std::move(socket)),
      timer_(worker.io()) {
  error_code ec;
  // A parked socket keeps its options; one from accept4 is non-blocking already.
  if (!resumed && !down_.non_blocking()) down_.non_blocking(true, ec);
  // TCP_NODELAY waits for the second write on plain connections (see before_second_write);
  // a TLS handshake writes several records at once, so TLS sets it now.
  if (listener.tls && !resumed) down_.set_option(tcp::no_delay(true), ec);
  down_nodelay_ = listener.tls != nullptr;
  // A resumed connection may or may not have it: the next write sets it (once per wake-up).
  down_wrote_ = resumed != nullptr;
  wake_ready_ = resumed != nullptr;
  requests_served_ = resumed ? resumed->requests : 0;
  auto ep = peer ? *peer : down_.remote_endpoint(ec);
  format_peer(ep, peer_buf_, sizeof peer_buf_, peer_, peer_ip_);
  peer_loopback_ = ep.address().is_loopback();
  access_logs_ = listener_.access_logs.get();
  if (listener.tls) {
    tls_ = listener.tls->accept(down_.native_handle());
    closing_ = !tls_;
  }
  worker_.add_session(this);
  count_connection_open(resumed);
}

Session::~Session() {
  end_pause();  // a resumer still held elsewhere finds no stream
  if (bufs_) worker_.release_buffers(std::move(bufs_));
  if (!parked_) count_connection_close();
  worker_.remove_session(this);
}

router::Downstream Session::downstream(bool upstream) const {
  router::Downstream d{remote_, remote_ip_, listener_.endpoint.port()};
  if (tls_) d.scheme = "https";
  if (!http_.scheme_to_overwrite.empty()) [[unlikely]] d.scheme = http_.scheme_to_overwrite;
  d.start_time_ns = start_unix_ns_;
  if (upstream && up_) d.upstream_address = up_->host->address();
  return d;
}

const router::CompiledRoute* Session::current_route() const {
  if (route_decision_.route || !route_table_ || !bufs_) return route_decision_.route;
  // Asked before routing: match once against the request as it is now.
  if (!early_route_done_) {
    early_route_done_ = true;
    const auto* vhost = route_table_->find_virtual_host(bufs_->req.authority());
    early_route_ = vhost ? vhost->match(router::RequestFacts{bufs_->req, downstream().scheme, bufs_->arena}) : nullptr;
  }
  return early_route_;
}

const RouteFilterConfig* Session::route_filter_config(std::string_view filter_name) const {
  const router::CompiledRoute* route = current_route();
  return route ? route->filter_config(filter_name) : nullptr;
}

std::string_view Session::downstream_local_address() const {
  auto& x = extras();
  if (x.local.empty()) {
    // Asked by a filter now and then: computed once per connection, not per accept.
    error_code ec;
    auto ep = down_.local_endpoint(ec);
    if (!ec) format_peer(ep, x.local_buf, sizeof x.local_buf, x.local, x.local_ip);
  }
  return x.local;
}

std::string_view Session::forwarded_for_self() const {
  if (!peer_loopback_) [[likely]]
    return peer_ip_;
  downstream_local_address();
  return extras().local_ip.empty() ? peer_ip_ : extras().local_ip;
}

asio::awaitable<void> Session::run() {
  if (tls_ && !closing_) closing_ = !co_await tls_accept();
  // A new plain connection reads its first request straight away, as between requests: the
  // request is usually in already (one recv, no readiness wait to arm); a client that stays
  // silent is parked by the sweeps like any idle connection.
  if (!tls_ && !wake_ready_ && !bufs_) bufs_ = worker_.acquire_buffers();
  bool unread = false;  // the connection ends with client bytes unread
  while (!closing_ && !worker_.draining()) {
    if (!bufs_) {
      // Parked (a new TLS connection, or idle for a while): no buffers, a readiness wait.
      // Awaited inline, not through a helper coroutine: a parked connection should hold as
      // few coroutine frames as possible.
      error_code ec;
      if (!std::exchange(wake_ready_, false)) {
        idle_ = true;
        set_activity_deadline(Timeout::idle, idle_limit());
        // A TLS connection may hold decrypted bytes already: no wait then.
        if (!tls_ || !tls_->pending())
          std::tie(ec) = co_await down_.async_wait(tcp::socket::wait_read, asio::as_tuple(asio::use_awaitable));
        idle_ = false;
      }
      if (ec || closing_ || fired_ != Timeout::none) break;
      bufs_ = worker_.acquire_buffers();
    } else if (bufs_->in.empty()) {
      // Between requests: read straight into the buffers we hold (no epoll re-arm). If the
      // connection stays idle, the worker's sweep parks it and the buffers go back.
      idle_ = true;
      idle_sweeps_ = 0;
      set_activity_deadline(Timeout::idle, idle_limit());
      auto ec = co_await read_some(down_, bufs_->in);
      idle_ = false;
      if (ec == asio::error::operation_aborted && park_requested_ && !closing_ && fired_ == Timeout::none) {
        park_requested_ = false;
        worker_.release_buffers(std::move(bufs_), /*idle=*/true);
        if (park()) co_return;
        continue;
      }
      if (ec || closing_) break;
    }
    auto outcome = co_await serve_stream();
    stream_deadline_ = Clock::time_point::max();
    count_stream_end();
    if (outcome == Outcome::close) {
      // A request body not read to its end, or requests pipelined behind this one.
      unread = bufs_ && ((!request_complete_ && !bufs_->req_head.empty()) || !bufs_->in.empty());
      break;
    }
  }
  // An idle connection closed by what was left of max_connection_duration.
  if (fired_ == Timeout::idle && http_stats_ && past_max_duration()) [[unlikely]]
    stats::bump(*http_stats_->cx_max_duration_reached);
  error_code ec;
  timer_.cancel();
  // Not after a forced close: that one must end now.
  if (unread && !tls_ && !closing_ && http_.delayed_close_timeout.count() > 0) [[unlikely]]
    co_await linger();
  // close() sends the FIN by itself; a TLS connection says close_notify first.
  if (tls_) {
    tls_->shutdown();
    down_.shutdown(tcp::socket::shutdown_both, ec);
  }
  down_.close(ec);
  if (up_) finish_upstream(false);
  // A watchdog wake-up that came due with the connection's end was not cancelled above (its
  // handler was queued already); it must not re-arm and keep this Session alive.
  ended_ = true;
}

bool Session::park() {
  // TLS state lives in OpenSSL objects this Session owns; such connections stay as they are.
  if (tls_ || up_ || closing_ || worker_.draining()) return false;
  auto deadline = activity_kind_ == Timeout::idle ? activity_deadline_ : Clock::time_point::max();
  timer_.cancel();
  parked_ = true;
  worker_.park(listener_, std::move(down_), cx_start_, deadline, requests_served_);
  return true;
}

void Session::on_sweep() {
  // Two sweeps in a row found it idle with buffers: park it.
  if (!idle_ || !bufs_ || park_requested_ || ++idle_sweeps_ < 2) return;
  park_requested_ = true;
  error_code ec;
  down_.cancel(ec);
}

void Session::drain_if_idle() {
  if (!idle_) return;
  closing_ = true;
  error_code ec;
  down_.cancel(ec);
}

void Session::force_close() {
  closing_ = true;
  fired_ = Timeout::idle;
  error_code ec;
  down_.cancel(ec);
  if (up_) up_->sock.cancel(ec);
  if (extras_ && extras_->paused) extras_->pause_wake.cancel();
}

asio::awaitable<Session::Outcome> Session::serve_stream() {
  auto& b = *bufs_;
  b.reset_stream();
  flags_ = 0;
  local_status_ = 0;
  request_id_ = cluster_name_ = details_ = upstream_transport_failure_reason_ = upgrade_ = {};
  remote_ = peer_;  // until prepare_upstream_headers looks at x-forwarded-for
  remote_ip_ = peer_ip_;
  internal_ = false;
  route_decision_ = {};
  route_table_ = nullptr;
  early_route_ = nullptr;
  early_route_done_ = false;
  filters_run_ = 0;
  if (extras_) [[unlikely]]
    extras_->metadata.clear();
  response_started_ = request_complete_ = route_timer_started_ = body_buffered_ = false;
  replay_body_ = {};
  clear_attempt_deadline();

  codec::RequestDecoder dec(b.req, b.pieces, http_.max_request_headers_kb * 1024, http_.max_headers_count);
  // With internal ranges, x-envoy-* fields wait until the request is known internal or not.
  dec.keep_envoy_headers(!listener_.internal_ranges.empty());
  dec.underscores(std::uint8_t(http_.headers_with_underscores_action));
  dec.absolute_urls(http_.allow_absolute_url);
  count_stream_start();
  if (!co_await read_request_head(dec)) co_return Outcome::close;
  count_request();
  if (http_.max_stream_duration.count() > 0) [[unlikely]] {
    stream_deadline_ = detail::saturating_add(detail::coarse_now(), http_.max_stream_duration);
    ensure_timer(stream_deadline_);
  }
  // Headers that did not arrive in time get 408 (when something arrived at all).
  if (fired_ != Timeout::none) co_return co_await timeout_reply();
  if (closing_) co_return Outcome::close;
  if (hard_kind_ == Timeout::request_headers) {
    // The headers are in, so their timeout is over; request_timeout (when set) keeps running
    // until the whole request has been read (the route timeout then takes the slot).
    clear_hard_deadline();
    if (request_deadline_ != Clock::time_point::max()) {
      hard_kind_ = Timeout::request;
      hard_deadline_ = request_deadline_;
    }
  }
  keep_alive_ = dec.keep_alive() && !worker_.draining();
  if (http_.max_requests_per_connection != 0 || http_.max_connection_duration.count() > 0) [[unlikely]]
    apply_connection_limits();
  request_complete_ = dec.is_done();
  if (request_complete_) mark_request_done();
  if (dec.info().non_relative_path) [[unlikely]] {
    // Envoy routes origin-form paths only.
    stats::bump(*http_stats_->rq_non_relative_path);
    co_return co_await local_reply(404, "", kNoFlags, "absolute_path_rejected");
  }
  prepare_upstream_headers(dec.info());
  // Host and path normalisation come before the filters, so filters and routes judge the
  // same request (and that request is what goes upstream).
  const router::Downstream down = downstream();
  auto& decision = route_decision_;
  decision = router::normalize_request(http_, b.req, down, b.arena);
  if (!decision.forward())
    co_return co_await local_reply(decision.status, decision.body, decision.flags, decision.details);

  // The stream routes with the worker's current table and holds it until the stream ends
  // (the decision points into it), even if a newer table is published meanwhile. It is
  // taken before the filters, which may ask for their per-route config.
  const server::RouteLease routes(worker_, listener_.index);
  route_table_ = &routes.table();
  // Envoy decides an upgrade as it builds the stream's filter chain, before any filter runs,
  // with the route the request matches then.
  if (dec.info().upgrade && dec.info().connection_upgrade) [[unlikely]] {
    if (!accept_upgrade(dec.info())) {
      keep_alive_ = false;  // the client may already be sending what follows the upgrade
      co_return co_await local_reply(403, "", kNoFlags, "upgrade_failed");
    }
  }
  bool end_stream = dec.is_done();
  auto filtered = run_request_header_filters(end_stream);
  if (filtered == FilterStatus::Pause) [[unlikely]]
    filtered = co_await wait_resumed(end_stream);
  if (filtered != FilterStatus::Continue) [[unlikely]]
    co_return co_await filters_stopped(filtered);

  decision = router::decide(routes.table(), b.req, down, b.arena, worker_.random().next());
  if (!decision.forward())
    co_return co_await local_reply(decision.status, decision.body, decision.flags, decision.details);
  if (access_logs_) [[unlikely]] route_name_ = b.arena.copy(decision.route->name);
  if (decision.route->max_stream_duration) [[unlikely]]
    apply_route_stream_duration(*decision.route->max_stream_duration);
  co_return co_await forward(dec, *decision.route);
}

asio::awaitable<bool> Session::read_request_head(codec::RequestDecoder& dec) {
  auto& in = bufs_->in;
  request_deadline_ = http_.request_timeout.count() > 0 ? Clock::now() + http_.request_timeout
                                                        : Clock::time_point::max();
  if (http_.request_headers_timeout.count() > 0)
    set_hard_deadline(Timeout::request_headers, http_.request_headers_timeout);
  if (http_.request_timeout.count() > 0) set_hard_deadline(Timeout::request, http_.request_timeout);
  set_activity_deadline(Timeout::stream_idle, http_.stream_idle_timeout);
  // The decoder consumes nothing until the head is complete (so make_room may move the
  // bytes); then `parsed` bytes at the front of `in` are the head, copied below with the
  // header views rebased onto the copy.
  std::size_t parsed = 0;
  for (;;) {
    error_code ec = boost::beast::http::error::need_more;
    if (in.size() > parsed) parsed += dec.feed(in.data() + parsed, in.size() - parsed, ec);
    if (!ec && dec.is_header_done()) {
      if (dec.dropped_underscores() != 0) [[unlikely]]
        stats::bump(*http_stats_->dropped_underscores, dec.dropped_underscores());
      bufs_->req_head.assign(in.data(), parsed);
      dec.rebase(in.data(), bufs_->req_head.data(), parsed);
      in.consume(parsed);
      co_return true;
    }
    if (ec != boost::beast::http::error::need_more) {
      if (dec.rejected_underscore()) stats::bump(*http_stats_->rejected_underscores);
      co_await reject(dec.error_for(ec));
      co_return false;
    }
    if (!make_room(in, std::size_t(http_.max_request_headers_kb) * 1024 + 1024)) {
      co_await reject({431, "http1.headers_too_large"});
      co_return false;
    }
    auto rec = co_await read_some(down_, in);
    if (rec) {
      // A timeout is answered by the caller; a close before a full head just ends.
      co_return fired_ != Timeout::none && !in.empty();
    }
  }
}

// Envoy's ConnectionManagerUtility::mutateRequestHeaders, for HTTP/1.1: who the client
// is, whether the request is internal, and the x-forwarded-*, x-envoy-* and x-request-id
// fields that follow from it. The decoder noted where the fields are (index + 1), which
// spares scans of the list: values are edited in place and fields appended before any
// field is removed.
void Session::prepare_upstream_headers(const codec::HeadInfo& info) {
  auto& req = bufs_->req;
  auto& entries = req.entries();
  std::size_t xff = info.xff_at, xfp = info.xfp_at, rid = info.request_id_at;
  if (info.forwarding_many) [[unlikely]]
    join_repeated_fields(xff, xfp, rid);
  const auto hops = http_.xff_num_trusted_hops;
  bool known = true;    // Envoy ended with an address (false: no usable x-forwarded-for)
  bool single = false;  // Envoy's "single XFF address", the only kind that can be internal
  if (http_.use_remote_address) {
    single = xff == 0;
    if (hops > 0 && xff) use_forwarded_client(detail::last_xff_address(entries[xff - 1].value, hops - 1).ip);
    if (!http_.skip_xff_append) append_forwarded_for(xff);
    // The prior hop is trusted with x-forwarded-proto (and -port) only when it is a trusted proxy.
    if (hops == 0 || !xfp) set_forwarded_proto(xfp);
  } else {
    auto from = xff ? detail::last_xff_address(entries[xff - 1].value, hops) : detail::XffAddress{};
    known = !from.ip.empty();
    single = from.single;
    use_forwarded_client(from.ip);
    if (!xfp) set_forwarded_proto(0);
  }
  internal_ = known && single && listener_.is_internal(remote_ip_);
  const bool edge = !internal_ && http_.use_remote_address;
  request_id_ = rid ? entries[rid - 1].value : std::string_view();
  if (http_.generate_request_id && (!rid || (edge && !http_.preserve_external_request_id))) {
    char* id = bufs_->arena.allocate(36);
    worker_.random().uuid4(id);
    request_id_ = {id, 36};
    if (rid) entries[rid - 1].value = request_id_;
    else req.append_view("x-request-id", request_id_);
  }
  // From here on fields may be removed (HeaderMap::set drops repeats): no noted place is used.
  if (http_.append_x_forwarded_port && http_.use_remote_address &&
      (hops == 0 || !req.has("x-forwarded-port"))) [[unlikely]] {
    char port[8];
    auto [end, ignored] = std::to_chars(port, port + sizeof port, listener_.endpoint.port());
    req.set("x-forwarded-port", std::string_view(port, std::size_t(end - port)));
  }
  // Client x-envoy-* fields are gone already (the decoder drops them) unless internal
  // ranges are set: then they waited for the request's standing.
  if (internal_) [[unlikely]]
    req.set("x-envoy-internal", "true");
  else if (!listener_.internal_ranges.empty()) [[unlikely]]
    remove_envoy_headers();
  if (edge) req.append_view("x-envoy-external-address", remote_ip_);
  apply_client_cert_header();
  if (!http_.via.empty()) [[unlikely]] append_via(req);
  if (listener_.tracing) [[unlikely]] start_trace();
}

// Envoy's max_requests_per_connection and max_connection_duration: the response to the
// request that reaches either closes the connection.
void Session::apply_connection_limits() {
  const auto max = http_.max_requests_per_connection;
  if (max != 0 && ++requests_served_ >= max) {
    if (requests_served_ == max) stats::bump(*http_stats_->cx_max_requests_reached);
    keep_alive_ = false;
  }
  close_if_past_max_duration();
}

// A connection that outlived max_connection_duration during a stream says so in the
// response (Connection: close), as Envoy's drain does for HTTP/1.
void Session::close_if_past_max_duration() {
  if (keep_alive_ && past_max_duration()) {
    stats::bump(*http_stats_->cx_max_duration_reached);
    keep_alive_ = false;
  }
}

bool Session::past_max_duration() const {
  const auto limit = http_.max_connection_duration;
  return limit.count() > 0 && Clock::now() - cx_start_ >= limit;
}

Duration Session::idle_limit_of_old_connection() const {
  const auto limit = http_.max_connection_duration;
  auto left = std::chrono::duration_cast<Duration>(cx_start_ + limit - Clock::now());
  if (left.count() <= 0) left = Duration(1);  // due now (a zero span would mean "no timeout")
  return http_.idle_timeout.count() > 0 ? std::min(left, http_.idle_timeout) : left;
}

void Session::set_request_id_in_response() {
  // Envoy's HCM copies the request's id over any the upstream sent.
  if (!request_id_.empty()) bufs_->resp.set("x-request-id", request_id_);
}

void Session::use_forwarded_client(std::string_view ip) {
  if (ip.empty()) return;
  remote_ip_ = ip;
  // Envoy's address from x-forwarded-for carries port 0.
  bool v6 = ip.find(':') != std::string_view::npos;
  std::size_t n = ip.size() + (v6 ? 4 : 2);
  char* text = bufs_->arena.allocate(n);
  char* p = text;
  if (v6) *p++ = '[';
  std::memcpy(p, ip.data(), ip.size());
  p += ip.size();
  if (v6) *p++ = ']';
  std::memcpy(p, ":0", 2);
  remote_ = std::string_view(text, n);
}

void Session::apply_route_stream_duration(const RouteAction::MaxStreamDuration& d) {
  auto& req = bufs_->req;
  std::optional<Duration> grpc;
  if (d.grpc_timeout_header_max.count() >= 0)
    if (auto v = req.get("grpc-timeout"); !v.empty()) grpc = router::parse_grpc_timeout(v);
  const auto limit = router::stream_duration_limit(d, http_.max_stream_duration, grpc);
  // Envoy's hasGrpcContentType: exactly application/grpc, or application/grpc+<codec>.
  std::string_view type = req.get("content-type");
  const bool grpc_request = type.starts_with("application/grpc") && (type.size() == 16 || type[16] == '+');
  if (limit.disabled) {
    if (grpc_request && stream_deadline_ != Clock::time_point::max()) req.remove("grpc-timeout");
    stream_deadline_ = Clock::time_point::max();
    return;
  }
  if (grpc_request) {
    char text[12];
    req.set("grpc-timeout", {text, router::format_grpc_timeout(limit.limit, text)});
  }
  // An expired limit fires at once: 408, as Envoy's zero-length timer gives.
  stream_deadline_ = detail::saturating_add(rq_start_, limit.limit);
  ensure_timer(stream_deadline_);
}

void Session::join_repeated_fields(std::size_t& xff, std::size_t& xfp, std::size_t& rid) {
  // Envoy's header map holds each of these once: a field that comes again is joined to the
  // first with ",". Then the places are noted again.
  auto& entries = bufs_->req.entries();
  for (std::string_view name : {"x-forwarded-for", "x-forwarded-proto", "x-request-id"}) {
    auto same = [name](const HeaderEntry& e) { return e.name.size() == name.size() && iequals(e.name, name); };
    auto first = std::find_if(entries.begin(), entries.end(), same);
    if (first == entries.end() || std::count_if(first + 1, entries.end(), same) == 0) continue;
    std::size_t n = 0;
    for (auto it = first; it != entries.end(); ++it)
      if (same(*it)) n += it->value.size() + 1;
    char* joined = bufs_->arena.allocate(n);
    char* p = joined;
    for (auto it = first; it != entries.end(); ++it) {
      if (!same(*it)) continue;
      if (p != joined) *p++ = ',';
      std::memcpy(p, it->value.data(), it->value.size());
      p += it->value.size();
    }
    first->value = std::string_view(joined, std::size_t(p - joined));
    entries.erase(std::remove_if(first + 1, entries.end(), same), entries.end());
  }
  xff = xfp = rid = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto name = entries[i].name;
    if (iequals(name, "x-forwarded-for")) xff = i + 1;
    else if (iequals(name, "x-forwarded-proto")) xfp = i + 1;
    else if (iequals(name, "x-request-id")) rid = i + 1;
  }
}

void Session::append_forwarded_for(std::size_t xff) {
  const std::string_view self = forwarded_for_self();
  if (!xff) {
    bufs_->req.append_view("x-forwarded-for", self);
    return;
  }
  // Envoy appends with "," (no space); the joined value goes in the stream's arena.
  auto& value = bufs_->req.entries()[xff - 1].value;
  std::size_t n = value.size() + 1 + self.size();
  char* joined = bufs_->arena.allocate(n);
  std::memcpy(joined, value.data(), value.size());
  joined[value.size()] = ',';
  std::memcpy(joined + value.size() + 1, self.data(), self.size());
  value = std::string_view(joined, n);
}

void Session::set_forwarded_proto(std::size_t xfp) {
  std::string_view scheme = tls_ ? "https" : "http";
  if (xfp) bufs_->req.entries()[xfp - 1].value = scheme;
  else bufs_->req.append_view("x-forwarded-proto", scheme);
}

void Session::remove_envoy_headers() {
  auto& entries = bufs_->req.entries();
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const HeaderEntry& e) {
                                 return e.name.size() > 8 && iequals(e.name.substr(0, 8), "x-envoy-");
                               }),
                entries.end());
}

asio::awaitable<Session::Outcome> Session::local_reply(int status, std::string_view body,
                                                       std::uint32_t flag, std::string_view details) {
  flags_ |= flag;
  details_ = details;
  if (response_started_) co_return Outcome::close;  // too late for a reply: reset
  // A reply sent before the request body was read leaves unread bytes: close after it.
  if (!request_complete_ && !bufs_->req_head.empty()) keep_alive_ = false;
  if (http_.max_connection_duration.count() > 0) [[unlikely]] close_if_past_max_duration();
  auto& resp = bufs_->resp;
  resp.clear();
  resp.set_status(status);
  char len[24];
  auto [end, ignored] = std::to_chars(len, len + sizeof len, body.size());
  resp.add("content-length", std::string_view(len, std::size_t(end - len)));
  resp.append_view("content-type", "text/plain");
  // Envoy's router marks a circuit breaker overflow for the client (and for retrying proxies).
  if (flag == kUpstreamOverflow && !http_.suppress_envoy_headers) resp.append_view("x-envoy-overloaded", "true");
  run_response_header_filters(true);
  set_server_header();
  if (http_.always_set_request_id_in_response) [[unlikely]] set_request_id_in_response();
  if (!resp.has("date")) add_date_header();
  if (!http_.via.empty()) append_via(resp);
  auto& out = bufs_->out;
  out.clear();
  codec::append_response_head(out, resp, codec::Framing::content_length, !keep_alive_, http10_keep_alive());
  count_response(status, false);
  response_started_ = true;
  // A reply to HEAD announces the body's length but carries none (RFC 9110 9.3.2).
  bool head = bufs_->req.method() == "HEAD";
  bytes_sent_ = head ? 0 : body.size();
  std::array<asio::const_buffer, 2> bufs{asio::const_buffer(out.data(), out.size()),
                                         asio::const_buffer(body.data(), head ? 0 : body.size())};
  auto ec = co_await write_all(down_, bufs);
  run_complete_filters();
  co_return (ec || !keep_alive_) ? Outcome::close : Outcome::keep_alive;
}

asio::awaitable<Session::Outcome> Session::reject(const codec::DecodeError& err) {
  // A malformed request is never forwarded, and the connection cannot be trusted after it.
  keep_alive_ = false;
  flags_ |= kDownstreamProtocolError;
  std::string_view body = err.status == 431 ? "request headers too large" : "bad request";
  if (err.status == 501) body = "unsupported transfer encoding";
  co_return co_await local_reply(err.status, body, kDownstreamProtocolError, err.detail);
}

void Session::send_local_reply(int status, std::string_view body) {
  local_status_ = status;
  local_body_ = bufs_ ? bufs_->arena.copy(body) : std::string_view{};
}

}  // namespace ferry::session
