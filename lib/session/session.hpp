// DownstreamSession: one coroutine per client connection. It reads requests (keep-alive,
// pipelined requests answered in order), runs the host filters, routes, picks an upstream
// host, forwards the request and streams both bodies with backpressure, then answers the
// next request. Limits and timeouts follow Envoy's HTTP connection manager.
//
// Thread safety: lives on one worker thread. The worker may call drain_if_idle() and
// force_close() from that same thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <ferry/filter.hpp>

#include "codec/http1_decoder.hpp"
#include "codec/http1_writer.hpp"
#include "router/decide.hpp"
#include "router/retry.hpp"
#include "server/worker.hpp"
#include "session/stream_buffers.hpp"
#include "upstream/conn_pool.hpp"

namespace ferry::tls {
class Connection;
class ClientTls;
}  // namespace ferry::tls

namespace ferry::observe {
class AccessLogSet;
}  // namespace ferry::observe

namespace ferry::session {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

/// Makes room in `in` for more input while a head is being decoded: compacts or grows the
/// buffer (up to `limit`). The decoder holds no views into a head until it is complete, so
/// the bytes may move. False when the head does not fit in `limit`.
inline bool make_room(detail::ReadBuffer& in, std::size_t limit) {
  std::size_t space = 0;
  in.space(space);
  if (space == 0) {
    if (in.capacity() >= limit) return false;
    in.grow(std::min(limit, in.capacity() * 2));
  }
  return true;
}

class Session final : public StreamContext, public std::enable_shared_from_this<Session> {
 public:
  /// `resumed`: the connection was parked (server/parked_connection.hpp) and its client
  /// has sent again; its connection stats were counted when it was accepted. `peer`: the
  /// client's address as accept() gave it (null: asked from the socket).
  Session(server::Worker& worker, const server::ListenerRuntime& listener, tcp::socket socket,
          const server::ParkedConnection* resumed = nullptr, const tcp::endpoint* peer = nullptr);
  ~Session() override;

  /// Runs the connection to its end. The caller keeps the Session alive until it
  /// completes (the worker passes a shared_ptr to co_spawn's completion handler).
  asio::awaitable<void> run();
  /// The worker is draining: close now if no request is in flight.
  void drain_if_idle();
  /// The drain timeout passed: close whatever is in flight.
  void force_close();
  /// Called by the worker about once a second: parks a connection that stays idle. A plain
  /// one is handed to the worker as a ParkedConnection and this Session ends; a TLS one
  /// gives its buffers back and waits for readiness.
  void on_sweep();
  /// A connection's close in its listener's stats (a Session's end, or a parked connection
  /// closed without waking up: drain, idle timeout, client gone). `idle_expired`: closed by
  /// its idle deadline, which may be what max_connection_duration left.
  static void count_closed_connection(server::Worker& worker, const server::ListenerRuntime& listener,
                                      Clock::time_point cx_start, bool idle_expired = false) noexcept;

  // StreamContext
  void send_local_reply(int status, std::string_view body) override;
  std::string_view downstream_remote_address() const override { return remote_; }
  std::string_view downstream_direct_remote_address() const override { return peer_; }
  std::string_view request_id() const override { return request_id_; }
  std::string_view upstream_cluster() const override { return cluster_name_; }
  std::uint32_t response_flags() const override { return flags_; }
  /// Why the last upstream TLS handshake failed (%UPSTREAM_TRANSPORT_FAILURE_REASON%).
  std::string_view upstream_transport_failure_reason() const noexcept { return upstream_transport_failure_reason_; }
  const RouteFilterConfig* route_filter_config(std::string_view filter_name) const override;
  /// The stream's route: the decided one, or before routing, the one the request matches as
  /// it is now (computed once per stream).
  const router::CompiledRoute* current_route() const;
  void http_call(std::string_view cluster, HttpCallRequest request, Duration timeout,
                 std::function<void(HttpCallResponse)> done) override;
  StreamResumer pause() override;
  void set_dynamic_metadata(std::string_view filter_namespace, std::string_view key, std::string json_value) override;
  const std::string* dynamic_metadata(std::string_view filter_namespace, std::string_view key) const override;
  std::string_view downstream_local_address() const override;
  std::uint16_t downstream_local_port() const override { return listener_.endpoint.port(); }
  const PeerCertificate* peer_certificate() const override;
  Stats* stats() const override { return &worker_.state().stats.stats(); }
  std::string_view stat_prefix() const override { return http_.stat_prefix; }
  /// A StreamResumer's post reached the worker (session_filters.cpp): wakes the paused
  /// stream if `target` is still its resumer.
  void on_resume(StreamResumer::Target& target, StreamResumer::Then then);

  Session* prev = nullptr;  ///< worker's intrusive list
  Session* next = nullptr;

 private:
  enum class Timeout : std::uint8_t {
    none, idle, request_headers, stream_idle, request, route, connect, per_try, handshake, max_stream
  };
  /// How one upstream attempt ended, when it did not answer the client itself.
  struct Attempt {
    bool stale = false;  ///< a reused connection turned out closed: resend, not a retry
    bool retry = false;  ///< the route's retry policy wants another attempt
    upstream::StreamBreaker* breaker = nullptr;  ///< the stream's circuit breaker units
  };
  enum class Outcome : std::uint8_t { keep_alive, close };

  asio::awaitable<Outcome> serve_stream();
  asio::awaitable<bool> read_request_head(codec::RequestDecoder& dec);
  void prepare_upstream_headers(const codec::HeadInfo& info);
  /// A route's max_stream_duration replaces the connection manager's (Envoy's
  /// refreshDurationTimeout), from the stream's start.
  void apply_route_stream_duration(const RouteAction::MaxStreamDuration& d);
  void use_forwarded_client(std::string_view ip);
  void join_repeated_fields(std::size_t& xff, std::size_t& xfp, std::size_t& rid);
  void append_forwarded_for(std::size_t xff);
  /// The address x-forwarded-for gets for this hop: the peer, or for a loopback peer the
  /// address it connected to (Envoy appends its own address then).
  std::string_view forwarded_for_self() const;
  void set_forwarded_proto(std::size_t xfp);
  void remove_envoy_headers();
  void set_request_id_in_response();
  void apply_connection_limits();
  bool past_max_duration() const;
  void close_if_past_max_duration();
  /// The idle timeout, shortened to what is left of max_connection_duration.
  Duration idle_limit() const {
    return http_.max_connection_duration.count() <= 0 ? http_.idle_timeout : idle_limit_of_old_connection();
  }
  Duration idle_limit_of_old_connection() const;
  /// Runs the request header hooks from the first filter not yet run (creating the
  /// filters first); Continue, Stop (a local reply is set) or Pause.
  FilterStatus run_request_header_filters(bool end_stream);
  /// A filter paused the stream (session_filters.cpp): waits for its resumer, the stream's
  /// timeouts or the client going away, then runs the rest of the request header hooks.
  /// Pause means the stream ended while paused (fired_ says whether by a timeout).
  asio::awaitable<FilterStatus> wait_resumed(bool end_stream);
  /// The request header hooks did not let the stream go on: the local reply, the timeout
  /// reply, or a close when the client left while the stream was paused.
  asio::awaitable<Outcome> filters_stopped(FilterStatus status);
  void read_while_paused();
  void end_pause() noexcept;
  bool run_request_body_filters(bool end_stream);
  bool run_response_header_filters(bool end_stream);
  void run_complete_filters();
  asio::awaitable<Outcome> forward(codec::RequestDecoder& dec, const router::CompiledRoute& route);
  asio::awaitable<bool> connect_upstream(upstream::HostPool& host, Duration connect_timeout);
  // The connection of an attempt within the circuit breakers (session_pool.cpp).
  /// failed: the connect failed; gave_up: the wait for a connection ended (fired_ says why).
  enum class PoolResult : std::uint8_t { ready, failed, overflow, gave_up, may_connect };
  asio::awaitable<PoolResult> obtain_connection(upstream::HostPool& host, upstream::PriorityResources& level,
                                                Duration connect_timeout);
  asio::awaitable<PoolResult> wait_for_connection(upstream::HostPool& host);
  asio::awaitable<Outcome> overflow_reply();
  /// The policy wants a retry: the cluster's max_retries / retry budget must allow it
  /// (upstream_rq_retry_overflow when not).
  bool may_retry(upstream::StreamBreaker* breaker) noexcept;
  /// `answered`: the upstream answered (a final response that is not a 2xx) or closed
  /// before the request body was all sent; the answer is read as the response.
  enum class SendResult : std::uint8_t {
    sent, answered, upstream_failed, upstream_failed_retryable, downstream_failed, bad_request
  };
  /// Writes request body bytes upstream, watching the upstream for an early answer while it
  /// takes no more (session_io.cpp). Returns {error, answered}.
  asio::awaitable<std::pair<error_code, bool>> write_body_upstream(std::span<asio::const_buffer> bufs);
  enum class Early : std::uint8_t { none, success, answer };
  /// Reads what the upstream sent so far into the stream's upstream buffer and tells what
  /// it is: nothing final yet (interim 1xx heads are skipped), a 2xx, or an answer.
  Early take_early_answer();
  asio::awaitable<SendResult> send_request(codec::RequestDecoder& dec);
  /// Reads the rest of a Content-Length body into the arena so that it can be sent again.
  asio::awaitable<SendResult> buffer_request_body(codec::RequestDecoder& dec);
  asio::awaitable<Outcome> send_failed(SendResult result, codec::RequestDecoder& dec);
  asio::awaitable<Outcome> timeout_reply();
  asio::awaitable<Outcome> relay_response(codec::RequestDecoder& dec, const router::CompiledRoute& route,
                                          const router::CompiledRetry* retry, Attempt& attempt);
  upstream::HostPool* pick_host(upstream::WorkerCluster& cluster, const router::CompiledRetry* retry,
                                std::span<upstream::HostPool* const> tried);
  void log_retries_off(const codec::HeadInfo& info, std::uint32_t limit, bool retries) const;
  asio::awaitable<bool> back_off(const router::CompiledRetry& retry, std::uint32_t retry_number);
  asio::awaitable<Outcome> stream_response_body(codec::ResponseDecoder& rdec, codec::Framing framing,
                                                bool dechunk);
  asio::awaitable<Outcome> local_reply(int status, std::string_view body, std::uint32_t flag,
                                       std::string_view details);
  asio::awaitable<Outcome> reject(const codec::DecodeError& err);
  void finish_upstream(bool reusable);
  /// Envoy tells an HTTP/1.0 client that its connection stays open (HTTP/1.0 closes by default).
  bool http10_keep_alive() const noexcept { return keep_alive_ && bufs_->req.version() == 10; }
  // Upgrades (session_tunnel.cpp).
  /// After routing: an upgrade request is let through (upgrade_ set) or refused (false).
  bool accept_upgrade(const codec::HeadInfo& info);
  /// The upstream said 101: its head goes to the client, then bytes flow both ways.
  asio::awaitable<Outcome> tunnel(std::string_view upgrade);
  /// Envoy's delayed close: FIN sent, what the client still sends read and dropped until it
  /// closes or HttpOptions::delayed_close_timeout passes (see session_io.cpp).
  asio::awaitable<void> linger();
  asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, detail::ReadBuffer& buf, std::uint64_t& moved);

  // Stats (session_stats.cpp): a few adds into this worker's own slots per request.
  void count_connection_open(const server::ParkedConnection* resumed) noexcept;
  /// Leaves the connection to the worker's parked list (plain TCP, nothing in flight).
  bool park();
  void count_connection_close() noexcept;
  void count_stream_start() noexcept;
  void count_request() noexcept;  ///< downstream_rq_total, once per stream
  /// The response head is going out: downstream_rq_<N>xx; upstream_rq_<code> and
  /// upstream_rq_<N>xx when it came from (or stands for) the upstream.
  void count_response(int status, bool from_upstream) noexcept;
  void count_stream_end() noexcept;
  /// The stream is over: offer it to the listener's access logs (access_logs_ is set).
  void log_access();
  // Tracing (session_tracing.cpp), only when the listener traces (listener_.tracing).
  /// Reads the incoming trace context, decides sampling, sets the upstream's trace headers.
  void start_trace();
  /// The stream is over: a sampled one leaves its span in the worker's tracer.
  void end_trace();
  /// Keeps when the request was read completely (%REQUEST_DURATION%, and the start of
  /// x-envoy-upstream-service-time): one store, the read that ended it.
  void mark_request_done() noexcept {
    if (rq_done_ == Clock::time_point{}) rq_done_ = last_activity();
  }
  /// Envoy's router on a response head it forwards: x-envoy-upstream-service-time.
  /// `info`: the head's decoder's, which knows where an upstream-sent one is.
  void set_service_time(Clock::time_point head_at, const codec::HeadInfo& info);
  /// Envoy's HCM at encode time, after the response filters: `server` per
  /// server_header_transformation (a view of the listener's server_name, no copy).
  /// `unedited`: the decoder's facts of a head whose fields are still where the decoder
  /// put them (fields appended since are fine), so no scan is needed; null: scan.
  void set_server_header(const codec::HeadInfo* unedited = nullptr);
  /// Envoy's HCM at encode time: a `date` field when the response has none (a copy of the
  /// worker's per-second text in the stream arena, as the access log reads it later).
  void add_date_header();
  /// Envoy's HCM `via` (only when configured): appended to `h`'s via field, or added.
  void append_via(HeaderMap& h);
  void count_attempt(upstream::HostPool& host) noexcept;  ///< a request goes out on a connection
  void count_connect(upstream::HostPool& host) noexcept;  ///< a connection is being opened
  void count_connect_failure(upstream::HostPool& host) noexcept;
  void count_attempt_end(upstream::HostPool& host) noexcept;  ///< the attempt's connection is let go
  void count_timeout(Timeout kind) noexcept;
  void count_retries_abandoned() const noexcept;
  /// The attempt's answer is final: upstream_rq_retry_success when it came after retries.
  Outcome count_final(Outcome outcome, std::uint32_t retries) noexcept;
  /// When the watchdog last saw I/O (its last touch()), without reading the clock again.
  Clock::time_point last_activity() const noexcept {
    return last_io_ != Clock::time_point{} ? last_io_ : Clock::now();
  }
  /// The routing facts of this stream; `upstream` adds the chosen host's address.
  router::Downstream downstream(bool upstream = false) const;
  /// request_mirror_policies: sends the copies (the request and its body are complete).
  void start_mirrors(const router::CompiledRoute& route, const codec::RequestDecoder& dec);
  /// An internal client's x-envoy-* controls: sets route_timeout_ and returns the retry
  /// policy to use (the route's, or header_retry_); removes the headers.
  const router::CompiledRetry* apply_envoy_headers(const router::CompiledRoute& route);

  // I/O over the non-blocking sockets; every wait also ends when the watchdog fires.
  asio::awaitable<error_code> read_some(tcp::socket& s, detail::ReadBuffer& b);
  // The two halves of read_some, for hot paths that await the read inline (one coroutine
  // frame less): where to read (empty once the watchdog fired or the buffer is full), and
  // the bookkeeping after it.
  asio::mutable_buffer read_space(detail::ReadBuffer& b);
  error_code after_read(detail::ReadBuffer& b, error_code ec, std::size_t n);
  asio::awaitable<error_code> write_all(tcp::socket& s, std::span<asio::const_buffer> bufs);
  /// Writes what it can without blocking and advances `bufs`; true when done or failed
  /// (`ec` tells), false when the socket is full. Lets hot paths skip a coroutine frame.
  bool write_now(tcp::socket& s, std::span<asio::const_buffer>& bufs, error_code& ec);

  // TLS (session_io.cpp): null transports mean plain TCP and the calls above go straight
  // to the socket; otherwise they go through the socket's tls::Connection.
  tls::Connection* tls_of(const tcp::socket& s) const noexcept;
  asio::awaitable<error_code> tls_read_some(tcp::socket& s, tls::Connection& t, detail::ReadBuffer& b);
  bool tls_write_now(tls::Connection& t, std::span<asio::const_buffer>& bufs, error_code& ec);
  void before_second_write();
  asio::awaitable<bool> tls_handshake(tcp::socket& s, tls::Connection& t);
  /// The downstream handshake, under the listener's handshake timeout.
  asio::awaitable<bool> tls_accept();
  /// The upstream handshake on a fresh connection (inside the connect timeout); on failure
  /// the reason is kept for %UPSTREAM_TRANSPORT_FAILURE_REASON%.
  asio::awaitable<bool> tls_connect(upstream::HostPool& host, const tls::ClientTls& ctls);
  /// A pooled TLS connection opened for another server name (auto_sni) is not reused.
  void check_pooled_tls();
  /// x-forwarded-client-cert per forward_client_cert_details.
  void apply_client_cert_header();

  // Watchdog: one timer, re-armed only when a deadline moves earlier.
  void set_activity_deadline(Timeout kind, Duration d);
  void set_hard_deadline(Timeout kind, Duration d);
  void clear_hard_deadline() noexcept { hard_kind_ = Timeout::none; }
  // The attempt slot: connect timeout, then per-try timeout, of the current upstream attempt.
  void set_attempt_deadline(Timeout kind, Duration d);
  void clear_attempt_deadline() noexcept { attempt_kind_ = Timeout::none; }
  void ensure_timer(Clock::time_point at);
  void on_timer(const error_code& ec);
  void touch() {
    last_io_ = Clock::now();
    if (activity_kind_ != Timeout::none) activity_deadline_ = last_io_ + activity_span_;
  }

  server::Worker& worker_;
  const server::ListenerRuntime& listener_;
  const HttpOptions& http_;
  tcp::socket down_;
  std::unique_ptr<tls::Connection> tls_;  ///< downstream TLS; null for plain TCP
  std::unique_ptr<StreamBuffers> bufs_;
  upstream::UpstreamConnPtr up_;
  asio::steady_timer timer_;
  Clock::time_point timer_at_ = Clock::time_point::max();
  /// max_stream_duration's end for the stream in progress (max(): none). Apart from the
  /// hard slot, which the request and route timeouts take in turn.
  Clock::time_point stream_deadline_ = Clock::time_point::max();
  Clock::time_point activity_deadline_{};
  Clock::time_point last_io_{};  ///< the last touch(): the precise time of the last I/O
  Clock::time_point hard_deadline_{};
  Duration activity_span_{0};
  Timeout activity_kind_ = Timeout::none;
  Timeout hard_kind_ = Timeout::none;
  Clock::time_point attempt_deadline_{};
  Timeout attempt_kind_ = Timeout::none;
  Clock::time_point request_deadline_{};  ///< when request_timeout ends, or max()
  bool route_timer_started_ = false;  ///< the route timeout runs once per stream, over all attempts
  bool body_buffered_ = false;        ///< the request body is in replay_body_, not streamed
  std::string_view replay_body_;
  Timeout fired_ = Timeout::none;
  bool idle_ = true;
  bool park_requested_ = false;
  bool parked_ = false;  ///< the socket went to the worker's parked list; nothing to close
  bool down_wrote_ = false;    ///< the downstream socket was written to (see before_second_write)
  bool down_nodelay_ = false;  ///< TCP_NODELAY is set on the downstream socket
  bool wake_ready_ = false;  ///< resumed from parking: the socket is readable already
  std::uint8_t idle_sweeps_ = 0;
  bool closing_ = false;
  bool ended_ = false;  ///< run() is over: the watchdog must not re-arm
  bool keep_alive_ = true;
  bool response_started_ = false;
  bool request_complete_ = false;

  // Per-stream facts for filters and (later) access logs.
  std::uint32_t flags_ = 0;
  int local_status_ = 0;
  std::string_view local_body_;
  std::string_view request_id_;
  std::string_view cluster_name_;
  std::string_view details_;
  std::string_view upstream_transport_failure_reason_;  ///< in the stream arena
  router::Decision route_decision_{};  ///< this stream's routing (see router/decide.hpp)
  const router::RouteTable* route_table_ = nullptr;  ///< the leased table, while routing
  mutable const router::CompiledRoute* early_route_ = nullptr;  ///< route_filter_config's match
  mutable bool early_route_done_ = false;
  std::int64_t start_unix_ns_ = 0;  ///< when the request head was in (%START_TIME%)
  bool internal_ = false;  ///< Envoy's internal request (see prepare_upstream_headers)
  std::uint32_t requests_served_ = 0;  ///< on this connection, counted with max_requests_per_connection
  Duration route_timeout_{0};       ///< the route's timeout, or x-envoy-upstream-rq-timeout-ms
  router::CompiledRetry header_retry_{};  ///< the route's policy changed by x-envoy-retry-* headers
  std::size_t filters_run_ = 0;
  /// What only filters using the further StreamContext services need (session_filters.cpp),
  /// allocated on first use per connection so that other connections stay small.
  struct FilterExtras {
    explicit FilterExtras(asio::io_context& io) : pause_wake(io) {}
    // A paused stream waits on pause_wake, which its resumer's post, the watchdog and a
    // client read-readiness wait cancel.
    std::shared_ptr<StreamResumer::Target> pause_target;  ///< the current pause's resumer
    StreamResumer::Then resume_then;
    asio::steady_timer pause_wake;
    bool paused = false;
    bool resumed = false;
    bool read_armed = false;
    bool readable = false;
    bool client_gone = false;
    bool peer_cert_done = false;
    /// Dynamic metadata of the stream: {namespace, key, JSON value}, cleared per stream.
    std::vector<std::array<std::string, 3>> metadata;
    std::unique_ptr<PeerCertificate> peer_cert;  ///< computed on first use per connection
    char local_buf[64];
    std::string_view local;     ///< "ip:port", computed on first use
    std::string_view local_ip;  ///< its "ip"
  };
  FilterExtras& extras() const;
  mutable std::unique_ptr<FilterExtras> extras_;
  bool in_request_headers_ = false;  ///< pause() is allowed (a request header hook runs)
  // Stats of this connection and stream (session_stats.cpp).
  stats::HttpStats* http_stats_ = nullptr;
  stats::ListenerStats* listener_stats_ = nullptr;
  const stats::ClusterStats* cluster_stats_ = nullptr;  ///< the stream's cluster, once chosen
  Clock::time_point cx_start_{};
  Clock::time_point rq_start_{};
  int attempt_status_ = 0;           ///< response status of the current attempt, 0 before its head
  bool rq_counted_ = false;          ///< downstream_rq_total/active counted for this stream
  bool upstream_completed_ = false;  ///< an upstream response was relayed to its end
  bool upstream_answered_ = false;   ///< the response going out came from the upstream
  // Access log facts (lib/observe/): plain stores and adds; clocks read only with logs.
  const observe::AccessLogSet* access_logs_ = nullptr;  ///< the listener's, null without logs
  std::uint64_t bytes_received_ = 0;  ///< request body bytes (%BYTES_RECEIVED%)
  std::uint64_t bytes_sent_ = 0;      ///< response body bytes (%BYTES_SENT%)
  std::uint32_t attempts_ = 0;        ///< upstream attempts (%UPSTREAM_REQUEST_ATTEMPT_COUNT%)
  const upstream::HostPool* last_host_ = nullptr;  ///< the last attempt's host (%UPSTREAM_HOST%)
  Clock::time_point rq_done_{};   ///< the request was read completely
  Clock::time_point resp_at_{};   ///< the upstream response head arrived
  /// %ROUTE_NAME%, copied into the stream arena: the route table lease ends before the log.
  std::string_view route_name_;
  char peer_buf_[64];
  std::string_view peer_;     ///< "ip:port"
  std::string_view peer_ip_;  ///< "ip"
  bool peer_loopback_ = false;
  /// The client as Envoy trusts it, per request: the peer, or an x-forwarded-for entry
  /// ("ip:0" then, as Envoy shows it).
  std::string_view remote_;
  std::string_view remote_ip_;
  /// The Upgrade value of an allowed upgrade request in progress (empty: none).
  std::string_view upgrade_;
};

}  // namespace ferry::session
