#include "session/http_call.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <optional>

#include "codec/http1_decoder.hpp"
#include "common/ascii.hpp"
#include "common/arena.hpp"
#include "common/log.hpp"
#include "common/token.hpp"
#include "server/worker.hpp"
#include "tls/client_tls.hpp"
#include "tls/connection.hpp"

namespace ferry::session {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxResponseHead = 96 * 1024;
constexpr std::uint32_t kMaxResponseHeaders = 200;

using detail::is_token;
bool is_field_value(std::string_view s) {
  for (unsigned char c : s)
    if (c == '\r' || c == '\n' || c == 0) return false;
  return true;
}
bool is_target(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f) return false;
  return true;
}
bool body_expected(std::string_view method) { return method == "POST" || method == "PUT" || method == "PATCH"; }

// Answers a call that never started: later, on the worker, as promised.
void answer_later(server::Worker& worker, std::function<void(HttpCallResponse)> done, std::string error) {
  asio::post(worker.io(), [done = std::move(done), error = std::move(error)]() mutable {
    done(HttpCallResponse{0, {}, {}, std::move(error)});
  });
}
}  // namespace

bool serialize_http_call(const HttpCallRequest& r, std::string_view default_authority, std::string& out,
                         std::string& error) {
  std::string_view authority = r.authority.empty() ? default_authority : std::string_view(r.authority);
  if (!is_token(r.method)) {
    error = "invalid method";
    return false;
  }
  if (!is_target(r.path)) {
    error = "invalid path";
    return false;
  }
  if (!is_field_value(authority)) {
    error = "invalid authority";
    return false;
  }
  out.clear();
  out.reserve(64 + r.path.size() + authority.size() + r.body.size() + 64 * r.headers.size());
  out.append(r.method).append(" ").append(r.path).append(" HTTP/1.1\r\nhost: ").append(authority).append("\r\n");
  bool framed = !r.body.empty() || body_expected(r.method);
  for (const auto& [name, value] : r.headers) {
    if (!is_token(name) || !is_field_value(value)) {
      error = "invalid header " + name;
      return false;
    }
    // Framing and the authority are this client's to set; a content-length from the caller
    // only asks for one (with the body's real size) on a bodiless request.
    if (iequals(name, "content-length")) framed = true;
    if (iequals(name, "host") || iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (framed)
    out.append("content-length: ").append(std::to_string(r.body.size())).append("\r\n");
  out.append("\r\n").append(r.body);
  return true;
}

void start_http_call(server::Worker& worker, std::string_view cluster, HttpCallRequest request, Duration timeout,
                     std::function<void(HttpCallResponse)> done) {
  if (!done) done = [](HttpCallResponse) {};
  if (worker.stopped()) return answer_later(worker, std::move(done), "cancelled: the worker is stopping");
  auto id = worker.find_cluster_id(cluster);
  if (!id) return answer_later(worker, std::move(done), "unknown cluster " + std::string(cluster));
  auto* c = worker.find_cluster(*id);
  UpstreamCall::Spec spec;
  spec.cluster = *id;
  spec.timeout = timeout;
  spec.head = request.method == "HEAD";
  std::string error;
  if (!serialize_http_call(request, c->name(), spec.request, error)) return answer_later(worker, std::move(done), error);
  spec.authority = request.authority.empty() ? c->name() : request.authority;
  auto keep = done;  // start() does not call a refused call's `done`
  spec.done = std::move(done);
  if (!UpstreamCall::start(worker, std::move(spec)))
    answer_later(worker, std::move(keep), "too many calls in flight on this worker");
}

bool UpstreamCall::start(server::Worker& worker, Spec spec) {
  if (worker.calls_in_flight() >= kMaxInFlight || worker.stopped()) return false;
  auto call = std::shared_ptr<UpstreamCall>(new UpstreamCall(worker, std::move(spec)));
  auto* raw = call.get();
  // The completion handler owns the call (and the deadline's handler, while it waits). A
  // call whose coroutine ends by an exception still answers; one destroyed unrun (the
  // io_context torn down) is dropped silently.
  asio::co_spawn(worker.io(), raw->run(), [c = std::move(call)](std::exception_ptr e) {
    if (e && !c->finished_) c->finish(HttpCallResponse{0, {}, {}, "internal error"});
  });
  return true;
}

UpstreamCall::UpstreamCall(server::Worker& worker, Spec spec)
    : worker_(worker), spec_(std::move(spec)), timer_(worker.io()) {
  worker_.add_call(this);
}

UpstreamCall::~UpstreamCall() { worker_.remove_call(this); }

void UpstreamCall::cancel() {
  if (ended_ == Ended::no) ended_ = Ended::cancelled;
  timer_.cancel();
  if (conn_) {
    error_code ec;
    conn_->sock.close(ec);  // the pending operation ends with an error
  }
}

void UpstreamCall::fail(HttpCallResponse& out, std::string_view what, const error_code& ec) const {
  out = HttpCallResponse{};
  if (ended_ == Ended::timeout) out.error = "timeout";
  else if (ended_ == Ended::cancelled) out.error = "cancelled: the worker is stopping";
  else if (ec) out.error = std::string(what) + ": " + ec.message();
  else out.error = std::string(what);
}

void UpstreamCall::finish(HttpCallResponse out) {
  finished_ = true;
  if (!spec_.done) {
    if (!out.error.empty()) FERRY_LOG(worker_.state().log, debug, "mirror: " << out.error);
    return;
  }
  auto done = std::move(spec_.done);
  try {
    done(std::move(out));
  } catch (const std::exception& e) {
    FERRY_LOG(worker_.state().log, error, "http_call: the completion threw: " << e.what());
  } catch (...) {
    FERRY_LOG(worker_.state().log, error, "http_call: the completion threw");
  }
}

asio::awaitable<void> UpstreamCall::run() {
  HttpCallResponse out;
  co_await exchange(out);
  timer_.cancel();
  finish(std::move(out));
}

asio::awaitable<void> UpstreamCall::exchange(HttpCallResponse& out) {
  if (ended_ != Ended::no) co_return fail(out, "");
  auto* cluster = worker_.find_cluster(spec_.cluster);
  auto* host = cluster ? cluster->pick() : nullptr;
  if (!host) co_return fail(out, "no healthy upstream");
  upstream::AttemptLoad load(*cluster, *host);  // keeps the pool alive, counts for LEAST_REQUEST
  if (spec_.timeout.count() > 0) {
    // The deadline closes the socket; the pending operation then ends with an error.
    timer_.expires_after(spec_.timeout);
    // The handler holds the call: it may be queued already when the exchange ends.
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->ended_ != Ended::no || self->finished_) return;
      self->ended_ = Ended::timeout;
      if (self->conn_) {
        error_code ignored;
        self->conn_->sock.close(ignored);
      }
    });
  }
  const tls::ClientTls* ctls = cluster->info().tls.get();
  conn_ = host->take();
  // A pooled connection of another transport (the cluster changed) or, with auto_sni,
  // opened for another server name is not reused.
  if (conn_ && (bool(conn_->tls) != bool(ctls) ||
                (ctls && ctls->options().auto_sni && conn_->tls->sni != ctls->sni_for(spec_.authority))))
    conn_.reset();
  for (int tries = 0; tries < 2; ++tries) {
    if (!conn_ && !co_await connect(*host, ctls, out)) co_return;
    bool stale = false;
    if (co_await attempt(*host, out, stale)) co_return;
    conn_.reset();
    if (!stale) co_return;
  }
}

asio::awaitable<bool> UpstreamCall::connect(upstream::HostPool& host, const tls::ClientTls* ctls,
                                            HttpCallResponse& out) {
  conn_ = std::make_unique<upstream::UpstreamConn>(worker_.io().get_executor(), host);
  auto [ec] = co_await conn_->sock.async_connect(host.endpoint(), token);
  ++host.connections_opened;
  if (ec || ended_ != Ended::no) {
    fail(out, "connect to " + host.address() + " failed", ec);
    conn_.reset();
    co_return false;
  }
  error_code ignored;
  conn_->sock.set_option(tcp::no_delay(true), ignored);
  if (!ctls) co_return true;
  // The TLS connection reads and writes the descriptor itself: it must not block.
  conn_->sock.non_blocking(true, ignored);
  conn_->tls = ctls->connect(conn_->sock.native_handle(), spec_.authority, &host.tls_sessions);
  if (!conn_->tls) {
    fail(out, "cannot create a TLS connection");
    conn_.reset();
    co_return false;
  }
  for (;;) {
    auto r = conn_->tls->handshake();
    if (r == tls::Io::ok) co_return true;
    if (r != tls::Io::want_read && r != tls::Io::want_write) {
      fail(out, "TLS handshake with " + host.address() + " failed: " + conn_->tls->error());
      conn_.reset();
      co_return false;
    }
    if (auto wec = co_await wait(r == tls::Io::want_read)) {
      fail(out, "TLS handshake with " + host.address() + " failed", wec);
      conn_.reset();
      co_return false;
    }
  }
}

asio::awaitable<error_code> UpstreamCall::wait(bool for_read) {
  auto [ec] = co_await conn_->sock.async_wait(for_read ? tcp::socket::wait_read : tcp::socket::wait_write, token);
  if (!ec && ended_ != Ended::no) ec = asio::error::operation_aborted;
  co_return ec;
}

asio::awaitable<error_code> UpstreamCall::write_request() {
  if (!conn_->tls) {
    auto [ec, n] = co_await asio::async_write(conn_->sock, asio::buffer(spec_.request), token);
    co_return ec;
  }
  std::size_t off = 0;
  while (off < spec_.request.size()) {
    std::size_t n = 0;
    // A retry after want_* offers the same bytes, as OpenSSL requires.
    auto r = conn_->tls->write(spec_.request.data() + off, spec_.request.size() - off, n);
    if (r == tls::Io::ok) {
      off += n;
      continue;
    }
    if (r == tls::Io::eof || r == tls::Io::error) co_return asio::error::connection_reset;
    if (auto ec = co_await wait(r == tls::Io::want_read)) co_return ec;
  }
  co_return error_code{};
}

asio::awaitable<error_code> UpstreamCall::read_some(std::string& in) {
  if (!conn_->tls) {
    auto [ec, n] = co_await conn_->sock.async_read_some(asio::buffer(buf_), token);
    if (!ec) in.append(buf_, n);
    co_return ec;
  }
  for (;;) {
    std::size_t n = 0;
    auto r = conn_->tls->read(buf_, sizeof buf_, n);
    if (r == tls::Io::ok) {
      in.append(buf_, n);
      co_return error_code{};
    }
    if (r == tls::Io::eof) co_return asio::error::eof;
    if (r == tls::Io::error) co_return asio::error::connection_reset;
    if (auto ec = co_await wait(r == tls::Io::want_read)) co_return ec;
  }
}

// Sends the request and reads the answer; true when the call is answered (or failed for
// good), false with `stale` when a reused connection was found closed.
asio::awaitable<bool> UpstreamCall::attempt(upstream::HostPool& host, HttpCallResponse& out, bool& stale) {
  const bool reused = conn_->reused;
  if (auto ec = co_await write_request()) {
    stale = reused && ended_ == Ended::no;
    fail(out, "write to " + host.address() + " failed", ec);
    co_return !stale;
  }
  detail::Arena arena(1024);
  ResponseHeaders headers(&arena);
  codec::Pieces pieces;  // default resource: calls are not on the allocation-free path
  std::optional<codec::ResponseDecoder> dec;
  dec.emplace(headers, pieces, kMaxResponseHead, kMaxResponseHeaders);
  dec->skip(spec_.head);
  std::string in;
  std::size_t used = 0;    // decoded bytes at the front of `in`
  bool have_head = false;  // status and headers copied into `out`
  bool received = false;
  out = HttpCallResponse{};
  for (;;) {
    while (used < in.size()) {
      error_code ec;
      auto u = dec->feed(in.data() + used, in.size() - used, ec);
      used += u;
      if (ec && ec != boost::beast::http::error::need_more) {
        fail(out, "invalid response from " + host.address());
        co_return true;
      }
      if (!have_head && dec->is_header_done()) {
        int status = headers.status();
        if (status >= 100 && status < 200) {
          // An interim answer: the final one follows.
          in.erase(0, used);
          used = 0;
          dec.emplace(headers, pieces, kMaxResponseHead, kMaxResponseHeaders);
          dec->skip(spec_.head);
          continue;
        }
        have_head = true;
        out.status = status;
        if (spec_.done)
          for (const auto& e : headers.entries()) out.headers.emplace_back(ferry::detail::to_lower(e.name), std::string(e.value));
      }
      for (auto piece : pieces) {
        if (!spec_.done) continue;
        if (out.body.size() + piece.size() > kMaxBody) {
          fail(out, "response body over " + std::to_string(kMaxBody) + " bytes");
          co_return true;
        }
        out.body.append(piece);
      }
      if (dec->is_done()) {
        if (dec->keep_alive() && used == in.size() && conn_->sock.is_open()) {
          ++conn_->requests;
          host.put(std::move(conn_));
        }
        co_return true;
      }
      if (ec || u == 0) break;
    }
    if (have_head) {
      in.erase(0, used);  // body bytes are copied out; head views are no longer needed
      used = 0;
    } else if (in.size() > kMaxResponseHead) {
      fail(out, "response head from " + host.address() + " too large");
      co_return true;
    }
    const char* before = in.data();
    auto ec = co_await read_some(in);
    if (ec) {
      if (ec == asio::error::eof && have_head && ended_ == Ended::no) {
        error_code eof_ec;
        dec->feed_eof(eof_ec);  // a body that ends at close
        // feed_eof() decodes nothing new: the body's bytes were taken (and capped) above.
        if (!eof_ec && dec->is_done()) co_return true;
      }
      stale = reused && !received && ended_ == Ended::no;
      fail(out, "connection to " + host.address() + " ended before the answer did", ec);
      co_return !stale;
    }
    received = true;
    if (in.data() != before && used > 0) dec->rebase(before, in.data(), used);
  }
}

}  // namespace ferry::session
