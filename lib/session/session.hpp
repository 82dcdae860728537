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
#include <chrono>
#include <memory>
#include <span>

#include <ferry/filter.hpp>

#include "codec/http1_decoder.hpp"
#include "codec/http1_writer.hpp"
#include "router/decide.hpp"
#include "router/retry.hpp"
#include "server/worker.hpp"
#include "session/stream_buffers.hpp"
#include "upstream/conn_pool.hpp"

namespace ferry::session {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

/// Makes room in `in` for more input while a head is being decoded: compacts or grows the
/// buffer (up to `limit`) and moves the decoder's views along with the bytes. False when
/// the head does not fit in `limit`.
template <class Decoder>
bool make_room(detail::ReadBuffer& in, Decoder& dec, std::size_t parsed, std::size_t limit) {
  const char* before = in.data();
  std::size_t space = 0;
  in.space(space);
  if (space == 0) {
    if (in.capacity() >= limit) return false;
    in.grow(std::min(limit, in.capacity() * 2));
  }
  if (in.data() != before && parsed > 0) dec.rebase(before, in.data(), parsed);
  return true;
}

class Session final : public StreamContext, public std::enable_shared_from_this<Session> {
 public:
  Session(server::Worker& worker, const server::ListenerRuntime& listener, tcp::socket socket);
  ~Session() override;

  /// Runs the connection to its end. The caller keeps the Session alive until it
  /// completes (the worker passes a shared_ptr to co_spawn's completion handler).
  asio::awaitable<void> run();
  /// The worker is draining: close now if no request is in flight.
  void drain_if_idle();
  /// The drain timeout passed: close whatever is in flight.
  void force_close();
  /// Called by the worker about once a second: parks a connection that stays idle, giving
  /// its buffers back to the pool.
  void on_sweep();

  // StreamContext
  void send_local_reply(int status, std::string_view body) override;
  std::string_view downstream_remote_address() const override { return peer_; }
  std::string_view request_id() const override { return request_id_; }
  std::string_view upstream_cluster() const override { return cluster_name_; }
  std::uint32_t response_flags() const override { return flags_; }

  Session* prev = nullptr;  ///< worker's intrusive list
  Session* next = nullptr;

 private:
  enum class Timeout : std::uint8_t { none, idle, request_headers, stream_idle, request, route, connect, per_try };
  /// How one upstream attempt ended, when it did not answer the client itself.
  struct Attempt {
    bool stale = false;  ///< a reused connection turned out closed: resend, not a retry
    bool retry = false;  ///< the route's retry policy wants another attempt
  };
  enum class Outcome : std::uint8_t { keep_alive, close };

  asio::awaitable<Outcome> serve_stream();
  asio::awaitable<bool> read_request_head(codec::RequestDecoder& dec);
  void prepare_upstream_headers();
  bool run_request_header_filters(bool end_stream);
  bool run_request_body_filters(bool end_stream);
  bool run_response_header_filters(bool end_stream);
  void run_complete_filters();
  asio::awaitable<Outcome> forward(codec::RequestDecoder& dec, const router::CompiledRoute& route);
  asio::awaitable<bool> connect_upstream(upstream::HostPool& host, Duration connect_timeout);
  enum class SendResult : std::uint8_t { sent, upstream_failed, upstream_failed_retryable, downstream_failed, bad_request };
  asio::awaitable<SendResult> send_request(codec::RequestDecoder& dec);
  /// Reads the rest of a Content-Length body into the arena so that it can be sent again.
  asio::awaitable<SendResult> buffer_request_body(codec::RequestDecoder& dec);
  asio::awaitable<Outcome> send_failed(SendResult result, codec::RequestDecoder& dec);
  asio::awaitable<Outcome> timeout_reply();
  asio::awaitable<Outcome> relay_response(codec::RequestDecoder& dec, const router::CompiledRoute& route,
                                          const router::CompiledRetry* retry, Attempt& attempt);
  upstream::HostPool* pick_host(upstream::WorkerCluster& cluster, const router::CompiledRetry* retry,
                                std::span<upstream::HostPool* const> tried);
  void log_retries_off(const codec::HeadInfo& info, std::uint32_t limit) const;
  asio::awaitable<bool> back_off(const router::CompiledRetry& retry, std::uint32_t retry_number);
  asio::awaitable<Outcome> stream_response_body(codec::ResponseDecoder& rdec, codec::Framing framing,
                                                bool dechunk);
  asio::awaitable<Outcome> local_reply(int status, std::string_view body, std::uint32_t flag,
                                       std::string_view details);
  asio::awaitable<Outcome> reject(const codec::DecodeError& err);
  void finish_upstream(bool reusable);

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

  // Watchdog: one timer, re-armed only when a deadline moves earlier.
  void set_activity_deadline(Timeout kind, Duration d);
  void set_hard_deadline(Timeout kind, Duration d);
  void clear_hard_deadline() noexcept { hard_kind_ = Timeout::none; }
  // The attempt slot: connect timeout, then per-try timeout, of the current upstream attempt.
  void set_attempt_deadline(Timeout kind, Duration d);
  void clear_attempt_deadline() noexcept { attempt_kind_ = Timeout::none; }
  void ensure_timer(Clock::time_point at);
  void on_timer(const error_code& ec);
  void touch() { if (activity_kind_ != Timeout::none) activity_deadline_ = Clock::now() + activity_span_; }

  server::Worker& worker_;
  const server::ListenerRuntime& listener_;
  const HttpOptions& http_;
  tcp::socket down_;
  std::unique_ptr<StreamBuffers> bufs_;
  upstream::UpstreamConnPtr up_;
  asio::steady_timer timer_;
  Clock::time_point timer_at_ = Clock::time_point::max();
  Clock::time_point activity_deadline_{};
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
  std::uint8_t idle_sweeps_ = 0;
  bool closing_ = false;
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
  router::Decision route_decision_{};  ///< this stream's routing (see router/decide.hpp)
  std::size_t filters_run_ = 0;
  char peer_buf_[64];
  std::string_view peer_;     ///< "ip:port"
  std::string_view peer_ip_;  ///< "ip"
};

}  // namespace ferry::session
