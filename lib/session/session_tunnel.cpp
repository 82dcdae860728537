// HTTP/1.1 upgrades (WebSocket and the like), as Envoy's connection manager runs them for an
// HTTP/1.1 upstream: an upgrade request goes through only when the route or the connection
// manager allows its type (403 otherwise), its Connection/Upgrade fields go upstream, and a
// 101 answer turns the stream into a tunnel. Bytes then flow both ways, unparsed, until each
// side has closed (a close is passed on as a half-close) or one fails; the connection ends
// with the tunnel. The route timeout covers the handshake only (it stops at the 101, as in
// newer Envoy); the stream idle timeout and max_stream_duration cover the tunnel too.
//
// Thread-safety: a session runs on its worker's thread only; the two directions of a tunnel
// are coroutines of that thread.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "codec/http1_writer.hpp"
#include "router/upgrade.hpp"
#include "session/read_readiness.hpp"
#include "session/session.hpp"
#include "tls/connection.hpp"

namespace ferry::session {

bool Session::accept_upgrade(const codec::HeadInfo& info) {
  // Envoy's HTTP/1 codec drops an h2c upgrade (HTTP/2 over cleartext): served as HTTP/1.1.
  if (iequals(info.upgrade_value, "h2c")) return true;
  // Envoy keeps the fields of any other upgrade request, so routes may match them (the
  // decoder dropped both as hop-by-hop): they go back before the route is looked up.
  bufs_->req.append_view("connection", "upgrade");
  bufs_->req.append_view("upgrade", info.upgrade_value);
  const router::CompiledRoute* route = current_route();
  // No route matching (a 404 to come): the connection manager's word alone, as in Envoy.
  const std::span<const UpgradeConfig> own = route ? std::span<const UpgradeConfig>(route->upgrade_configs)
                                                   : std::span<const UpgradeConfig>();
  if (!router::upgrade_allowed(own, http_.upgrade_configs, info.upgrade_value)) {
    stats::bump(*http_stats_->ws_on_non_ws_route);
    return false;
  }
  upgrade_ = info.upgrade_value;
  // Counted when accepted, as Envoy counts them (upgradeFilterChainCreated); the stream's end
  // takes it off the gauge (count_stream_end).
  stats::bump(*http_stats_->cx_upgrades_total);
  stats::bump(*http_stats_->cx_upgrades_active);
  return true;
}

asio::awaitable<Session::Outcome> Session::tunnel(std::string_view upgrade) {
  auto& b = *bufs_;
  b.resp.append_view("connection", "upgrade");
  b.resp.append_view("upgrade", upgrade);
  b.out.clear();
  codec::append_response_head(b.out, b.resp, codec::Framing::none, false);
  count_response(101, true);
  response_started_ = true;
  keep_alive_ = false;
  clear_hard_deadline();  // the route timeout covered the handshake only (as newer Envoy does)
  asio::const_buffer head(b.out.data(), b.out.size());
  if (!co_await write_all(down_, std::span(&head, 1))) {
    using namespace boost::asio::experimental::awaitable_operators;
    // Bytes that came with the heads (a client's first frames, the upstream's) go first.
    co_await (pump(down_, up_->sock, b.in, bytes_received_) && pump(up_->sock, down_, b.up_in, bytes_sent_));
  }
  if (fired_ == Timeout::stream_idle) flags_ |= kStreamIdleTimeout;
  finish_upstream(false);
  upstream_completed_ = true;
  run_complete_filters();
  co_return Outcome::close;
}

asio::awaitable<void> Session::pump(tcp::socket& from, tcp::socket& to, detail::ReadBuffer& buf,
                                    std::uint64_t& moved) {
  error_code ec;
  while (!closing_) {
    if (!buf.empty()) {
      asio::const_buffer piece(buf.data(), buf.size());
      if ((ec = co_await write_all(to, std::span(&piece, 1)))) break;
      moved += buf.size();
      buf.consume(buf.size());
    }
    expect_eof(from);  // a FIN that came with the last bytes must not wait for another edge
    if ((ec = co_await read_some(from, buf))) break;
  }
  if (!ec) co_return;  // the other direction failed and stopped this one
  if (ec == asio::error::eof && !closing_) {
    // A close is passed on as a half-close: the other side may still have things to say.
    error_code ignored;
    if (auto* t = tls_of(to)) t->shutdown();
    to.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  // A reset, a timeout or a failed write ends both directions: the other one stops at its
  // next step (closing_) or in its pending wait (cancelled).
  closing_ = true;
  error_code ignored;
  from.cancel(ignored);
  to.cancel(ignored);
}

}  // namespace ferry::session
