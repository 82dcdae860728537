#include "session/mirror.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "codec/http1_decoder.hpp"
#include "common/arena.hpp"
#include "common/log.hpp"
#include "server/worker.hpp"

namespace ferry::session {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseHead = 96 * 1024;
}  // namespace

std::string shadow_host(std::string_view host) {
  auto colon = host.rfind(':');
  auto bracket = host.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && bracket > colon))
    return std::string(host) + "-shadow";
  return std::string(host.substr(0, colon)) + "-shadow" + std::string(host.substr(colon));
}

bool MirrorTask::start(server::Worker& worker, std::uint32_t cluster, std::string request, Duration timeout,
                       bool head_request) {
  if (worker.mirrors_in_flight() >= kMaxInFlight || worker.draining()) return false;
  auto task = std::unique_ptr<MirrorTask>(new MirrorTask(worker, cluster, std::move(request), timeout, head_request));
  auto* raw = task.get();
  asio::co_spawn(worker.io(), raw->run(), [t = std::move(task)](std::exception_ptr) {});
  return true;
}

MirrorTask::MirrorTask(server::Worker& worker, std::uint32_t cluster, std::string request, Duration timeout,
                       bool head)
    : worker_(worker),
      cluster_(cluster),
      request_(std::move(request)),
      timeout_(timeout),
      head_(head),
      timer_(worker.io()) {
  worker_.add_mirror(this);
}

MirrorTask::~MirrorTask() { worker_.remove_mirror(this); }

void MirrorTask::cancel() {
  timer_.cancel();
  if (conn_) {
    boost::system::error_code ec;
    conn_->sock.close(ec);
  }
}

// Outside the coroutine: g++ 12 misreports string temporaries in coroutine frames.
void MirrorTask::log_skipped_tls(std::string_view cluster) const {
  FERRY_LOG(worker_.state().log, debug, "mirror: cluster " << cluster << " uses TLS, not mirrored");
}

asio::awaitable<void> MirrorTask::run() {
  auto& cluster = worker_.cluster(cluster_);
  // Mirrors speak plain HTTP/1.1 only: a TLS cluster is skipped rather than sent cleartext.
  if (cluster.info().tls) {
    log_skipped_tls(cluster.name());
    co_return;
  }
  auto* host = cluster.pick();
  if (!host) co_return;
  // The deadline closes the socket; the pending operation then ends with an error.
  timer_.expires_after(timeout_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) cancel();
  });
  conn_ = host->take();
  if (!conn_) {
    conn_ = std::make_unique<upstream::UpstreamConn>(worker_.io().get_executor(), *host);
    auto [ec] = co_await conn_->sock.async_connect(host->endpoint(), token);
    ++host->connections_opened;
    if (ec) {
      FERRY_LOG(worker_.state().log, debug, "mirror: connect to " << host->address() << " failed: " << ec.message());
      co_return;
    }
    boost::system::error_code ignored;
    conn_->sock.set_option(tcp::no_delay(true), ignored);
  }
  auto [wec, n] = co_await asio::async_write(conn_->sock, asio::buffer(request_), token);
  if (wec) co_return;
  request_ = {};  // the bytes are out; free them while the answer comes
  bool reusable = co_await read_response();
  timer_.cancel();
  if (reusable && conn_->sock.is_open()) {
    ++conn_->requests;
    host->put(std::move(conn_));
  }
}

// Reads the answer to its end; true when the connection may be reused.
asio::awaitable<bool> MirrorTask::read_response() {
  detail::Arena arena(1024);
  ResponseHeaders headers(&arena);
  codec::Pieces pieces;  // default resource: the mirror path is not allocation-free anyway
  codec::ResponseDecoder dec(headers, pieces, kMaxResponseHead, 200);
  if (head_) dec.skip(true);
  std::string in;
  char buf[8192];
  for (;;) {
    auto [ec, n] = co_await conn_->sock.async_read_some(asio::buffer(buf), token);
    if (ec) {
      if (ec != asio::error::eof) co_return false;
      boost::system::error_code eof_ec;
      dec.feed_eof(eof_ec);
      co_return false;
    }
    in.append(buf, n);
    std::size_t used = 0;
    for (;;) {
      boost::system::error_code fec;
      auto u = dec.feed(in.data() + used, in.size() - used, fec);
      used += u;
      if (fec == boost::beast::http::error::need_more || (!fec && u == 0 && !dec.is_done())) break;
      if (fec) co_return false;
      if (dec.is_done()) {
        // An interim 1xx answer leaves the connection in a state not worth recovering.
        int status = int(headers.status());
        co_return status >= 200 && dec.keep_alive() && used == in.size();
      }
    }
    in.erase(0, used);
    if (in.size() > kMaxResponseHead) co_return false;
  }
}

}  // namespace ferry::session
