// Running the host filters of a stream: request hooks in order, response hooks in reverse
// over the filters that saw the request (as Envoy's encoder filters), and the services a
// filter gets from its StreamContext beyond the basics: pausing the stream for
// asynchronous work, internal HTTP calls, dynamic metadata, connection facts.
//
// Pausing: a request header hook takes a StreamResumer with pause() and returns Pause. The
// stream then waits on a timer of its own (wait_resumed) for one of: the resumer's post (any
// thread; it reaches the worker through the io_context), the watchdog (request_timeout,
// stream idle timeout, the drain's force close), or the client going away (a read-
// readiness wait on the socket; bytes that arrive meanwhile are kept in the input buffer,
// not decoded: the body is neither read nor forwarded while paused, and pipelined
// requests stay queued behind the stream). A resumer belongs to one pause of one stream:
// the session detaches it when the pause ends (resumed, timed out, client gone, session
// destroyed), after which resume() does nothing. Nothing of this runs for streams whose
// filters never pause.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/x509v3.h>

#include <atomic>
#include <mutex>

#include "session/http_call.hpp"
#include "session/session.hpp"
#include "tls/connection.hpp"

namespace ferry {

/// The link between a StreamResumer and its paused stream. `session` is written on the
/// worker thread under `mutex`; resume() reads it under `mutex` from any thread, so it
/// never posts for a stream that is gone (and while `session` is set, the worker's
/// io_context is alive: a session ends before its worker's io_context does).
struct StreamResumer::Target {
  Target(session::Session* s, boost::asio::io_context& context) noexcept : session(s), io(context) {}
  std::mutex mutex;
  session::Session* session;  ///< null once the pause is over
  boost::asio::io_context& io;
  std::atomic<bool> used{false};
};

void StreamResumer::resume(Then then) const {
  if (!target_ || target_->used.exchange(true)) return;
  std::lock_guard lock(target_->mutex);
  if (!target_->session) return;
  boost::asio::post(target_->io, [t = target_, then = std::move(then)]() mutable {
    // On the worker: only this thread writes `session`, so no lock is needed to read it.
    if (t->session) t->session->on_resume(*t, std::move(then));
  });
}

}  // namespace ferry

namespace ferry::session {

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);

std::unique_ptr<PeerCertificate> read_peer_certificate(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) return nullptr;
  auto cert = std::make_unique<PeerCertificate>();
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type != GEN_URI && n->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = n->type == GEN_URI ? n->d.uniformResourceIdentifier : n->d.dNSName;
      std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), std::size_t(ASN1_STRING_length(s)));
      (n->type == GEN_URI ? cert->uri_sans : cert->dns_sans).push_back(std::move(value));
    }
    GENERAL_NAMES_free(names);
  }
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    if (n > 0) cert->subject.assign(data, std::size_t(n));
    BIO_free(bio);
  }
  return cert;
}
}  // namespace

Session::FilterExtras& Session::extras() const {
  if (!extras_) extras_ = std::make_unique<FilterExtras>(worker_.io());
  return *extras_;
}

FilterStatus Session::run_request_header_filters(bool end_stream) {
  const auto& factories = listener_.filters;
  if (factories.empty()) return FilterStatus::Continue;
  auto& filters = bufs_->filters;
  if (filters_run_ == 0)
    for (const auto& make : factories) filters.push_back(make());
  // After a pause, the hooks go on with the filter after the one that paused.
  in_request_headers_ = true;
  while (filters_run_ < filters.size()) {
    auto& f = filters[filters_run_++];
    auto status = f->on_request_headers(bufs_->req, end_stream, *this);
    if (status == FilterStatus::Continue) {
      if (extras_ && extras_->pause_target) [[unlikely]]
        end_pause();  // a resumer taken by a filter that did not pause is void
      continue;
    }
    in_request_headers_ = false;
    if (status == FilterStatus::Pause) return status;
    end_pause();
    if (local_status_ == 0) send_local_reply(500, "filter stopped without a reply");
    return FilterStatus::Stop;
  }
  in_request_headers_ = false;
  return FilterStatus::Continue;
}

asio::awaitable<FilterStatus> Session::wait_resumed(bool end_stream) {
  auto& x = extras();
  for (;;) {
    if (!x.pause_target) {
      // Nothing could ever resume it: answer rather than wait for a timeout.
      FERRY_LOG(worker_.state().log, warn, "a filter returned Pause without taking a resumer");
      send_local_reply(500, "filter paused without a resumer");
      co_return FilterStatus::Stop;
    }
    x.paused = true;
    while (!x.resumed && fired_ == Timeout::none && !closing_ && !x.client_gone) {
      std::size_t space = 0;
      if (!x.read_armed && (bufs_->in.space(space), space > 0)) {
        // Tells a client that went away (or sent more bytes) while the stream waits.
        x.read_armed = true;
        down_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
          auto& e = *self->extras_;
          e.read_armed = false;
          if (!ec) e.readable = true;
          e.pause_wake.cancel();
        });
      }
      x.pause_wake.expires_at(Clock::time_point::max());
      co_await x.pause_wake.async_wait(token);  // cancelled by any of the wake-ups above
      if (x.readable) {
        x.readable = false;
        read_while_paused();
      }
    }
    x.paused = false;
    if (x.read_armed) {
      error_code ec;
      down_.cancel(ec);  // its handler only wakes pause_wake, which nothing waits on now
    }
    const bool resumed = x.resumed;
    x.resumed = false;
    auto then = std::move(x.resume_then);
    x.resume_then = nullptr;
    end_pause();
    if (!resumed) co_return FilterStatus::Pause;
    if (then) {
      in_request_headers_ = true;
      auto status = then(bufs_->req, *this);
      in_request_headers_ = false;
      if (status == FilterStatus::Pause) continue;  // it paused again (with a new resumer)
      end_pause();
      if (status == FilterStatus::Stop) {
        if (local_status_ == 0) send_local_reply(500, "filter stopped without a reply");
        co_return FilterStatus::Stop;
      }
    }
    auto status = run_request_header_filters(end_stream);
    if (status != FilterStatus::Pause) co_return status;
  }
}

void Session::read_while_paused() {  // extras_ exists: the stream is paused
  auto& in = bufs_->in;
  std::size_t space = 0;
  char* p = in.space(space);
  if (space == 0) return;
  std::size_t n = 0;
  if (tls_) {
    auto r = tls_->read(p, space, n);
    if (r == tls::Io::eof || r == tls::Io::error) extras_->client_gone = true;
    if (r != tls::Io::ok) return;
  } else {
    error_code ec;
    n = down_.read_some(asio::buffer(p, space), ec);  // the socket is non-blocking
    if (ec == asio::error::would_block || ec == asio::error::try_again) return;
    if (ec) {
      extras_->client_gone = true;
      return;
    }
  }
  in.commit(n);
  touch();  // bytes from the client are stream activity
}

asio::awaitable<Session::Outcome> Session::filters_stopped(FilterStatus status) {
  if (status == FilterStatus::Stop)
    co_return co_await local_reply(local_status_, local_body_, kNoFlags, "filter_local_reply");
  // The stream ended while paused.
  if (fired_ != Timeout::none) co_return co_await timeout_reply();
  flags_ |= kDownstreamConnectionTermination;
  details_ = "downstream_remote_disconnect";
  run_complete_filters();
  co_return Outcome::close;
}

void Session::end_pause() noexcept {
  if (!extras_ || !extras_->pause_target) return;
  auto& target = *extras_->pause_target;
  {
    std::lock_guard lock(target.mutex);
    target.session = nullptr;
  }
  extras_->pause_target.reset();
}

StreamResumer Session::pause() {
  if (!in_request_headers_) return {};
  auto& x = extras();
  if (!x.pause_target) x.pause_target = std::make_shared<StreamResumer::Target>(this, worker_.io());
  return StreamResumer(x.pause_target);
}

void Session::on_resume(StreamResumer::Target& target, StreamResumer::Then then) {
  if (!extras_ || &target != extras_->pause_target.get()) return;  // a resumer of an earlier pause
  extras_->resume_then = std::move(then);
  extras_->resumed = true;
  extras_->pause_wake.cancel();
}

void Session::http_call(std::string_view cluster, HttpCallRequest request, Duration timeout,
                        std::function<void(HttpCallResponse)> done) {
  start_http_call(worker_, cluster, std::move(request), timeout, std::move(done));
}

void Session::set_dynamic_metadata(std::string_view filter_namespace, std::string_view key, std::string json_value) {
  auto& metadata = extras().metadata;
  for (auto& e : metadata) {
    if (e[0] == filter_namespace && e[1] == key) {
      e[2] = std::move(json_value);
      return;
    }
  }
  metadata.push_back({std::string(filter_namespace), std::string(key), std::move(json_value)});
}

const std::string* Session::dynamic_metadata(std::string_view filter_namespace, std::string_view key) const {
  if (!extras_) return nullptr;
  for (const auto& e : extras_->metadata)
    if (e[0] == filter_namespace && e[1] == key) return &e[2];
  return nullptr;
}

const PeerCertificate* Session::peer_certificate() const {
  if (!tls_ || !tls_->mutual) return nullptr;
  auto& x = extras();
  if (!x.peer_cert_done) {
    x.peer_cert_done = true;  // once per connection: the certificate does not change
    x.peer_cert = read_peer_certificate(tls_->ssl());
  }
  return x.peer_cert.get();
}

bool Session::run_request_body_filters(bool end_stream) {
  auto& filters = bufs_->filters;
  if (filters.empty()) return true;
  const auto& pieces = bufs_->pieces;
  for (std::size_t i = 0; i < filters_run_; ++i) {
    if (pieces.empty() && end_stream) {
      if (filters[i]->on_request_body({}, true, *this) == FilterStatus::Stop) return false;
      continue;
    }
    for (std::size_t p = 0; p < pieces.size(); ++p) {
      bool last = end_stream && p + 1 == pieces.size();
      if (filters[i]->on_request_body(pieces[p], last, *this) == FilterStatus::Stop) {
        if (local_status_ == 0) send_local_reply(500, "filter stopped without a reply");
        return false;
      }
    }
  }
  return true;
}

bool Session::run_response_header_filters(bool end_stream) {
  // The route's response header edits come first, so host filters see the final head.
  router::apply_response_headers(route_decision_, bufs_->resp, bufs_->req, downstream(true), bufs_->arena);
  auto& filters = bufs_->filters;
  for (std::size_t i = filters_run_; i-- > 0;)
    if (filters[i]->on_response_headers(bufs_->resp, end_stream, *this) == FilterStatus::Stop)
      return false;
  return true;
}

void Session::run_complete_filters() {
  auto& filters = bufs_->filters;
  for (std::size_t i = filters_run_; i-- > 0;) filters[i]->on_stream_complete(bufs_->resp, *this);
  filters_run_ = 0;
}

}  // namespace ferry::session
