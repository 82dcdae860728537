#include "server/worker.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sstream>
#include <sys/socket.h>
#include <system_error>

#include "observe/tracer_export.hpp"
#include "session/http_call.hpp"
#include "session/session.hpp"

namespace ferry::server {

namespace {
constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxFreeBuffers = 64;
constexpr std::size_t kKeepFreeBuffers = 4;  ///< kept through idle periods (trim_free_buffers)
constexpr auto kHousekeepingPeriod = std::chrono::seconds(1);
constexpr std::size_t kTrimThreshold = 1 << 20;
}  // namespace

Worker::Worker(const ServerState& state, unsigned index, const std::vector<upstream::ClusterSnapshot>& clusters)
    // One thread runs this context and every socket is used from it, so the reactor's
    // per-descriptor locking is pure overhead (posting from other threads stays safe).
    : state_(state),
      index_(index),
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      drain_timer_(io_),
      housekeeping_timer_(io_) {
  stats_.resolve(state.stats, index);
  for (const auto& c : clusters) apply_cluster(c);
  routes_.reserve(state.listeners.size());
  for (const auto& l : state.listeners) routes_.push_back(std::make_unique<RouteSnapshot>(l->routes));
  for (const auto& l : state.listeners)
    tracers_.push_back(l->tracing ? observe::make_worker_tracer(*this, *l->tracing) : nullptr);
}

Worker::~Worker() {
  join();
  // A worker that stopped without draining may still have parked connections: their
  // waits die with io_ (the handlers are destroyed, not called), so free them here.
  while (parked_) {
    auto* next = parked_->next;
    delete parked_;
    parked_ = next;
  }
}

void Worker::open_listeners(std::vector<std::unique_ptr<ListenerRuntime>>& listeners, bool first) {
  for (auto& l : listeners) {
    auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io_);
    boost::system::error_code ec;
    acceptor->open(l->endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    int one = 1;
    // Each worker has its own accept socket; the kernel spreads connections over them.
    if (!ec && ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      ec.assign(errno, boost::system::generic_category());
    if (!ec) acceptor->bind(l->endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::ostringstream where;
      where << l->endpoint;
      throw std::system_error(ec.value(), std::generic_category(),
                              "listener \"" + l->options.name + "\" cannot listen on " + where.str());
    }
    if (first) l->endpoint = acceptor->local_endpoint();  // port 0 becomes the real port
    acceptor_listeners_.push_back(l.get());
    acceptors_.push_back(std::move(acceptor));
  }
}

void Worker::start_thread() {
  work_.emplace(io_.get_executor());
  for (std::size_t i = 0; i < acceptors_.size(); ++i)
    asio::co_spawn(io_, accept_loop(*acceptors_[i], *acceptor_listeners_[i]), asio::detached);
  housekeeping();
  stats_.resolve_listeners(state_.stats);
  thread_ = std::thread([this] {
    stats::bind_thread(state_.stats.store(), index_);  // host handles used here write this block
    detail::mark_worker_thread();  // default log lines go through the stderr writer
    io_.run();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::publish_routes(std::size_t listener, std::shared_ptr<const router::RouteTable> table) {
  auto& slot = routes_[listener];
  slot->current = false;
  // Streams routing with the old table keep it until they end; otherwise it goes now.
  if (slot->streams != 0) retired_routes_.push_back(std::move(slot));
  slot = std::make_unique<RouteSnapshot>(std::move(table));
}

void Worker::apply_cluster(const upstream::ClusterSnapshot& snapshot) {
  if (snapshot.info) stats_.resolve_cluster(state_.stats, snapshot.id, snapshot.info->options.name);
  if (snapshot.id >= clusters_.size()) clusters_.resize(snapshot.id + 1);
  auto& slot = clusters_[snapshot.id];
  if (!slot) {
    slot = std::make_unique<upstream::WorkerCluster>(snapshot.info,
                                                     snapshot.hosts ? snapshot.hosts : std::make_shared<const upstream::HostSet>(),
                                                     random_.next());
    return;
  }
  if (snapshot.hosts)
    slot->update(snapshot.info, snapshot.hosts);
  else
    slot->retire();
}

void Worker::drop_retired_routes(RouteSnapshot& snapshot) noexcept {
  for (auto& r : retired_routes_) {
    if (r.get() != &snapshot) continue;
    std::swap(r, retired_routes_.back());
    retired_routes_.pop_back();  // frees the snapshot (and the table, if no other worker holds it)
    return;
  }
}

std::unique_ptr<session::StreamBuffers> Worker::acquire_buffers() {
  if (free_buffers_.empty()) return std::make_unique<session::StreamBuffers>();
  auto b = std::move(free_buffers_.back());
  free_buffers_.pop_back();
  free_low_water_ = std::min(free_low_water_, free_buffers_.size());
  return b;
}

void Worker::release_buffers(std::unique_ptr<session::StreamBuffers> buffers, bool idle) {
  // A connection that went idle gives its buffers back for good once a few are pooled:
  // after a burst, the pool would otherwise keep up to kMaxFreeBuffers until the next
  // sweeps trim it.
  if (free_buffers_.size() >= (idle ? kKeepFreeBuffers : kMaxFreeBuffers)) {
    note_freed(buffers->in.capacity() + buffers->up_in.capacity());
    return;
  }
  buffers->reset_stream();
  // A buffer grown for a huge head goes back to its normal size.
  if (buffers->in.capacity() != session::kDownstreamBufferSize) buffers->in.reset(session::kDownstreamBufferSize);
  if (buffers->up_in.capacity() != session::kUpstreamBufferSize) buffers->up_in.reset(session::kUpstreamBufferSize);
  buffers->in.consume(buffers->in.size());
  free_buffers_.push_back(std::move(buffers));
}

void Worker::add_session(session::Session* s) noexcept {
  s->next = sessions_;
  if (sessions_) sessions_->prev = s;
  sessions_ = s;
  ++session_count_;
}

std::optional<std::uint32_t> Worker::find_cluster_id(std::string_view name) const noexcept {
  for (std::size_t i = clusters_.size(); i-- > 0;)
    if (clusters_[i] && clusters_[i]->name() == name) return std::uint32_t(i);
  return std::nullopt;
}

void Worker::add_call(session::UpstreamCall* c) noexcept {
  c->next = calls_;
  if (calls_) calls_->prev = c;
  calls_ = c;
  ++call_count_;
}

void Worker::remove_call(session::UpstreamCall* c) noexcept {
  if (c->prev) c->prev->next = c->next;
  else calls_ = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
  --call_count_;
}

void Worker::remove_session(session::Session* s) noexcept {
  if (s->prev) s->prev->next = s->next;
  else sessions_ = s->next;
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  --session_count_;
  if (draining_) finish_if_drained();
}

void Worker::request_stop(Duration drain_timeout) {
  asio::post(io_, [this, drain_timeout] { begin_drain(drain_timeout); });
}

void Worker::begin_drain(Duration drain_timeout) {
  if (draining_) return;
  draining_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  // Idle keep-alive connections close now; busy ones finish their request with
  // `connection: close`.
  for (auto* s = sessions_; s;) {
    auto* next = s->next;
    s->drain_if_idle();
    s = next;
  }
  for (auto* p = parked_; p; p = p->next) close_parked(*p);
  drain_timer_.expires_after(drain_timeout);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) close_everything();
  });
  finish_if_drained();
}

void Worker::finish_if_drained() {
  if (session_count_ != 0 || parked_count_ != 0) return;
  drain_timer_.cancel();
  housekeeping_timer_.cancel();
  // Mirrors are fire-and-forget and calls have no stream left to serve: nobody waits for
  // them at shutdown (a cancelled call still answers its `done`, with an error).
  for (auto& t : tracers_)  // buffered spans are dropped (counted), not exported at exit
    if (t) t->stop();
  for (auto* c = calls_; c; c = c->next) c->cancel();
  for (auto& c : clusters_)
    if (c) c->for_each_pool([](upstream::HostPool& h) { h.close_all(); });
  work_.reset();  // run() returns once the last handlers have run
}

void Worker::close_everything() {
  for (auto* s = sessions_; s;) {
    auto* next = s->next;
    s->force_close();
    s = next;
  }
  for (auto* p = parked_; p; p = p->next) close_parked(*p);
  // Streams queued for an upstream connection (circuit breakers) wait on their pool.
  for (auto& c : clusters_)
    if (c) c->for_each_pool([](upstream::HostPool& h) { h.cancel_waiters(); });
  finish_if_drained();
}

// Buffers nobody took during a whole sweep period are surplus from a burst: give them back
// (their pages are mmap'd, so RSS drops at once), keeping a few for the next connections.
void Worker::trim_free_buffers() noexcept {
  std::size_t spare = free_low_water_ > kKeepFreeBuffers ? free_low_water_ - kKeepFreeBuffers : 0;
  for (std::size_t i = 0; i < spare && !free_buffers_.empty(); ++i) {
    auto bytes = free_buffers_.back()->in.capacity() + free_buffers_.back()->up_in.capacity();
    free_buffers_.pop_back();
    note_freed(bytes);
  }
  free_low_water_ = free_buffers_.size();
}

// Buffers given back by many parked connections leave holes in the heap that malloc keeps;
// those pages go back to the kernel so that idle connections cost almost nothing. The trim
// is asked for as soon as the threshold is crossed (not at the next sweep): after a burst,
// every worker parks in the same sweep, so their requests fold into one trim.
void Worker::note_freed(std::size_t bytes) noexcept {
  freed_since_trim_ += bytes;
  if (freed_since_trim_ < kTrimThreshold) return;
  freed_since_trim_ = 0;
  if (state_.trimmer) state_.trimmer->request();
}

void Worker::housekeeping() {
  wall_.refresh();
  for (auto* s = sessions_; s; s = s->next) s->on_sweep();
  trim_free_buffers();
  auto now = std::chrono::steady_clock::now();
  close_idle_parked(now);
  // Closes upstream connections idle longer than their cluster's idle_timeout.
  for (auto& c : clusters_) {
    if (!c) continue;
    auto idle = c->info().options.idle_timeout;
    c->for_each_pool([&](upstream::HostPool& h) {
      if (idle.count() > 0) h.close_idle_before(now - idle);
      h.watch_idle_before(now - kHousekeepingPeriod);
    });
    c->free_retired_pools();  // pools of removed hosts, once their last request is done
  }
  // On a fixed schedule from the worker's start (all workers start together), not a period
  // after this sweep's work: the workers' sweeps stay in step, so what they free after a
  // burst asks for one trim (note_freed). A worker more than a period late starts afresh.
  auto next = housekeeping_timer_.expiry() + kHousekeepingPeriod;
  housekeeping_timer_.expires_at(next > now ? next : now + kHousekeepingPeriod);
  housekeeping_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !draining_) housekeeping();
  });
}

}  // namespace ferry::server
