#include <ferry/server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "admin/admin_server.hpp"
#include "admin/server_view.hpp"
#include "server/dns_runtime.hpp"
#include "server/server_state.hpp"
#include "server/outlier_runtime.hpp"
#include "server/worker.hpp"
#include "tls/server_tls.hpp"

namespace ferry {

struct Server::Impl {
  explicit Impl(ServerOptions options) : state(std::move(options)) {}
  ~Impl() { stop_health(); }

  server::ServerState state;
  /// Clusters, their host sets and health (thread-safe). Declared before the health
  /// context, whose checkers report to it, so it outlives them.
  upstream::ClusterManager clusters;
  /// The health thread: active health checks run here, off the workers.
  boost::asio::io_context health_io{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> health_work;
  std::thread health_thread;  ///< started only once some cluster needs it (ensure_health_thread)
  std::once_flag health_once;
  /// Outlier detectors; they decide on the health thread (declared after it: the context
  /// outlives them, so their interval timers end with it).
  server::OutlierRuntime outliers{clusters, health_io.get_executor(), state.stats.stats()};
  /// DNS discovery of STRICT_DNS / LOGICAL_DNS clusters, on the health thread (declared
  /// after it, like the outlier detectors).
  server::DnsRuntime dns{clusters, health_io.get_executor(), state.log};
  std::vector<Listener> listeners;
  std::vector<std::unique_ptr<server::Worker>> workers;
  /// The admin endpoint, when configured; declared after `workers`, so it stops first.
  std::unique_ptr<admin::AdminServer> admin;
  std::mutex mutex;  ///< start/stop, route publication and cluster removal once started
  bool started = false;
  bool stopped = false;

  void stop_workers(Duration drain);
  void stop_health();
  /// Starts the health thread the first time a cluster needs it (health checks, outlier
  /// detection, DNS): a server without them runs no thread besides its workers.
  void ensure_health_thread() {
    std::call_once(health_once, [this] { health_thread = std::thread([this] { health_io.run(); }); });
  }
  bool running() {
    std::lock_guard lock(mutex);
    return started && !stopped;
  }
  static bool needs_health_thread(const ClusterOptions& o) {
    return !o.health_checks.empty() || o.outlier_detection || o.type != ClusterType::static_;
  }
  /// Returns once every worker has run what was posted to it before (FIFO queues), unless
  /// called on a worker (which cannot wait for itself) or the server is not running.
  void sync_workers();
  /// True when a current route table of some listener sends traffic to cluster `id`.
  bool routes_name(std::uint32_t id, std::string& listener) const;
  std::uint32_t cluster_id(std::string_view name) const;
};

namespace {

// The clusters a table sends traffic to (targets and mirrors).
std::vector<std::uint32_t> clusters_of(const router::RouteTable& table) {
  std::vector<std::uint32_t> ids;
  for (const auto& vh : table.virtual_hosts())
    for (const auto& r : vh.routes) {
      for (const auto& t : r.targets) ids.push_back(t.cluster);
      for (const auto& m : r.mirrors) ids.push_back(m.cluster);
    }
  return ids;
}

bool table_names(const router::RouteTable& table, std::uint32_t id) {
  auto ids = clusters_of(table);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

bool Server::Impl::routes_name(std::uint32_t id, std::string& listener) const {
  for (const auto& l : state.listeners)
    if (l->routes && table_names(*l->routes, id)) {
      listener = l->options.name;
      return true;
    }
  return false;
}

std::uint32_t Server::Impl::cluster_id(std::string_view name) const {
  auto id = clusters.find(name);
  if (!id) throw ConfigError({{"clusters", "no cluster named " + quoted(name)}});
  return *id;
}

void Server::Impl::sync_workers() {
  std::shared_ptr<std::latch> done;
  {
    std::lock_guard lock(mutex);
    if (!started || stopped) return;
    for (auto& w : workers)
      if (w->io().get_executor().running_in_this_thread()) return;
    done = std::make_shared<std::latch>(std::ptrdiff_t(workers.size()));
    for (auto& w : workers) boost::asio::post(w->io(), [done] { done->count_down(); });
  }
  done->wait();
}

void Server::Impl::stop_health() {
  clusters.detach();
  health_work.reset();
  health_io.stop();
  if (health_thread.joinable() && health_thread.get_id() != std::this_thread::get_id()) health_thread.join();
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  auto* impl = impl_.get();
  impl_->state.stats.on_refresh = [impl] { admin::refresh_membership(impl->state.stats, impl->clusters); };
}

Server::~Server() {
  abort();
  wait();
}

void Server::add_cluster(ClusterOptions cluster) {
  std::vector<ConfigProblem> problems;
  auto path = "clusters[" + std::to_string(impl_->clusters.names().size()) + "]";
  bool health = Impl::needs_health_thread(cluster);
  if (!impl_->clusters.add(std::move(cluster), path, problems)) throw ConfigError(std::move(problems));
  if (health && impl_->running()) impl_->ensure_health_thread();
  impl_->sync_workers();
}

void Server::update_cluster(ClusterOptions cluster) {
  std::vector<ConfigProblem> problems;
  impl_->cluster_id(cluster.name);  // throws for an unknown name
  auto path = "clusters[" + quoted(cluster.name) + "]";
  bool health = Impl::needs_health_thread(cluster);
  if (!impl_->clusters.update(std::move(cluster), path, problems))
    throw ConfigError({{path, "no such cluster"}});  // removed meanwhile
  if (!problems.empty()) throw ConfigError(std::move(problems));
  if (health && impl_->running()) impl_->ensure_health_thread();
  impl_->sync_workers();
}

void Server::update_endpoints(std::string_view cluster, std::vector<Endpoint> endpoints) {
  std::vector<ConfigProblem> problems;
  auto id = impl_->cluster_id(cluster);
  auto path = "clusters[" + quoted(cluster) + "]";
  if (!impl_->clusters.replace_endpoints(id, endpoints, path, problems))
    throw ConfigError({{path, "no such cluster"}});
  if (!problems.empty()) throw ConfigError(std::move(problems));
  impl_->sync_workers();
}

void Server::remove_cluster(std::string_view name) {
  {
    // Under the server mutex, so that no route table naming the cluster is published
    // between the check and the removal (update_routes checks under the same mutex).
    std::lock_guard lock(impl_->mutex);
    auto id = impl_->cluster_id(name);
    std::string listener;
    if (impl_->routes_name(id, listener))
      throw ConfigError({{"clusters[" + quoted(name) + "]",
                          "cannot remove cluster " + quoted(name) + ": routes of listener " + quoted(listener) +
                              " still send traffic to it (update the routes first)"}});
    impl_->clusters.remove(id);
  }
  impl_->sync_workers();
}

std::vector<HostStatus> Server::cluster_hosts(std::string_view name) const {
  return impl_->clusters.host_status(impl_->cluster_id(name));
}

void Server::add_listener(Listener listener) {
  std::vector<ConfigProblem> problems;
  auto path = "listeners[" + std::to_string(impl_->listeners.size()) + "]";
  auto routes = router::RouteTable::build(listener.chain().router().config(), impl_->clusters.names(), path, problems);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(listener.options().address, ec);
  if (ec) problems.push_back({path + ".address", "not an IP address: \"" + listener.options().address + "\""});
  std::shared_ptr<tls::ServerTls> tls;  // reads certificate files here, never on a worker
  if (listener.options().tls)
    tls = tls::ServerTls::create(*listener.options().tls, path + ".tls", impl_->state.log, problems);
  std::vector<detail::Cidr> internal;
  const auto& cidrs = listener.options().http.internal_address_cidrs;
  for (std::size_t i = 0; i < cidrs.size(); ++i) {
    std::string error;
    if (auto c = detail::Cidr::parse(cidrs[i], error)) internal.push_back(*c);
    else problems.push_back({path + ".http.internal_address_cidrs[" + std::to_string(i) + "]", error});
  }
  if (listener.options().http.server_name.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    problems.push_back({path + ".http.server_name", "contains CR, LF or NUL, which a header value cannot hold"});
  if (listener.options().http.via.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    problems.push_back({path + ".http.via", "contains CR, LF or NUL, which a header value cannot hold"});
  std::shared_ptr<const observe::AccessLogSet> access_logs;
  if (problems.empty() && !listener.options().http.access_logs.empty()) {
    std::vector<std::pair<std::string, std::string>> log_problems;
    access_logs = observe::AccessLogSet::create(listener.options().http.access_logs, path + ".http.access_logs",
                                                &impl_->state.stats.stats(), log_problems);
    for (auto& [where, what] : log_problems) problems.push_back({std::move(where), std::move(what)});
  }
  std::shared_ptr<const observe::Tracing> tracing;
  if (const auto& t = listener.options().http.tracing) {
    std::vector<std::pair<std::string, std::string>> trace_problems;
    tracing = observe::Tracing::create(*t, path + ".http.tracing", impl_->clusters.names(), &impl_->state.stats.stats(),
                                       trace_problems);
    for (auto& [where, what] : trace_problems) problems.push_back({std::move(where), std::move(what)});
  }
  if (!problems.empty()) throw ConfigError(std::move(problems));
  auto rt = std::make_unique<server::ListenerRuntime>();
  rt->tracing = std::move(tracing);
  rt->internal_ranges = std::move(internal);
  rt->access_logs = std::move(access_logs);
  rt->tls = std::move(tls);
  rt->options = listener.options();
  if (rt->options.http.server_name.empty()) rt->options.http.server_name = "envoy";  // as Envoy
  rt->filters = listener.chain().factories();
  rt->routes = std::move(routes);
  rt->index = impl_->state.listeners.size();
  impl_->state.stats.add_listener(rt->index, listener.options().http.stat_prefix);
  rt->endpoint = {address, listener.options().port};
  impl_->state.listeners.push_back(std::move(rt));
  impl_->listeners.push_back(std::move(listener));
}

void Server::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->started) throw std::logic_error("ferry::Server::start called twice");
  unsigned n = impl_->state.options.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  auto* impl = impl_.get();
  // Before the workers, which ask it for trims (its thread is the only one added here).
  if (!impl_->state.trimmer) impl_->state.trimmer = std::make_unique<server::MemoryTrimmer>();
  // Workers are built from the clusters' snapshots and the publisher is installed in one
  // step under the manager's mutex, so no cluster change falls in between.
  auto build = [impl, n](const std::vector<upstream::ClusterSnapshot>& clusters) {
    for (unsigned i = 0; i < n; ++i) {
      impl->workers.push_back(std::make_unique<server::Worker>(impl->state, i, clusters));
      // Throws on bind failure; nothing has started yet, so unwinding leaves no thread.
      impl->workers.back()->open_listeners(impl->state.listeners, i == 0);
    }
    for (const auto& c : clusters) impl->dns.on_snapshot(c);
    for (const auto& c : clusters)  // outlier monitors travel with each host set
      if (auto monitors = impl->outliers.on_snapshot(c, n))
        for (auto& w : impl->workers) w->cluster(c.id).set_outlier(c.hosts, monitors);
  };
  auto publish = [impl, n](const upstream::ClusterSnapshot& snapshot) {
    // Called with the manager's mutex held; build() filled impl->workers under it before.
    // Posts queue up until the worker threads run.
    impl->dns.on_snapshot(snapshot);
    auto monitors = impl->outliers.on_snapshot(snapshot, n);
    for (auto& w : impl->workers)
      boost::asio::post(w->io(), [w = w.get(), snapshot, monitors] {
        w->apply_cluster(snapshot);
        w->cluster(snapshot.id).set_outlier(snapshot.hosts, monitors);
      });
  };
  if (impl_->state.options.admin) {  // bound first: a taken admin port fails the start cleanly
    auto workers = [impl] {
      std::lock_guard lock(impl->mutex);
      std::vector<server::Worker*> list;
      for (auto& w : impl->workers) list.push_back(w.get());
      return list;
    };
    impl_->admin = std::make_unique<admin::AdminServer>(
        *impl_->state.options.admin, admin::make_server_view(impl_->state, impl_->clusters, workers), impl_->state.log);
    impl_->admin->bind();
  }
  impl_->health_work.emplace(impl_->health_io.get_executor());
  try {
    impl_->clusters.attach(build, publish, impl_->health_io.get_executor());
  } catch (...) {
    impl_->workers.clear();
    impl_->health_work.reset();
    impl_->admin.reset();  // frees the admin port too
    throw;
  }
  // listener.<address>.* stats, now that every listener has its real port.
  for (auto& l : impl_->state.listeners)
    impl_->state.stats.bind_listener(l->index, l->endpoint.address().to_string(), l->endpoint.port());
  for (const auto& [name, id] : impl_->clusters.names())
    if (auto snap = impl_->clusters.snapshot(id); snap.info && Impl::needs_health_thread(snap.info->options)) {
      impl_->ensure_health_thread();
      break;
    }
  // Like Envoy's cluster warming: DNS clusters get their first hosts before traffic comes.
  // The workers start after it, so their first events are those host sets (connections the
  // kernel accepted meanwhile wait in the backlog).
  if (!impl_->dns.wait_first_answers(std::chrono::seconds(5)))
    FERRY_LOG(impl_->state.log, warn, "DNS clusters without answers after 5 s; starting anyway");
  for (auto& w : impl_->workers) w->start_thread();
  for (auto& l : impl_->state.listeners)
    if (l->tls) l->tls->start_watching();
  impl_->started = true;
  impl_->state.stats.mark_started(n);
  if (impl_->admin) impl_->admin->run();
  for (auto& l : impl_->state.listeners)
    FERRY_LOG(impl_->state.log, info, "listening on " << l->endpoint << " (" << n << " workers)");
}

std::vector<ConfigProblem> Server::reload_tls() {
  std::vector<ConfigProblem> problems;
  for (auto& l : impl_->state.listeners) {
    if (!l->tls) continue;
    for (auto& p : l->tls->reload()) problems.push_back(std::move(p));
  }
  return problems;
}

int Server::run() {
  start();
  wait();
  return 0;
}

void Server::wait() {
  for (auto& w : impl_->workers) w->join();
  if (impl_->admin) impl_->admin->stop();  // serves /ready (503) until the drain is over
  if (impl_->stopped) impl_->stop_health();
}

void Server::stop() { impl_->stop_workers(impl_->state.options.drain_timeout); }

void Server::abort() { impl_->stop_workers(Duration{0}); }

void Server::Impl::stop_workers(Duration drain) {
  std::lock_guard lock(mutex);
  if (!started || stopped) return;
  stopped = true;
  state.stats.draining = true;  // /ready answers 503 from now on
  for (auto& w : workers) w->request_stop(drain);
  // Health checks stop with the server; the thread is joined in wait() or ~Impl.
  clusters.detach();
  health_work.reset();
  health_io.stop();
}

void Server::update_routes(std::size_t listener_index, Router router) {
  auto& listeners = impl_->state.listeners;  // fixed in size once started
  if (listener_index >= listeners.size())
    throw std::out_of_range("ferry::Server::update_routes: no listener " + std::to_string(listener_index));
  // Compiled here, off the workers. The cluster index is fixed once the server has started
  // (and before, this runs on the controlling thread, like add_cluster).
  std::vector<ConfigProblem> problems;
  auto table = router::RouteTable::build(router.config(), impl_->clusters.names(),
                                         "listeners[" + std::to_string(listener_index) + "]", problems);
  if (!problems.empty()) throw ConfigError(std::move(problems));

  // Publication: under the mutex, so that concurrent calls post in one order to every
  // worker (each worker's queue is FIFO) and so that the workers are known to be running
  // (not stopped) when the posts are made: a handler posted then always runs, even if
  // stop() comes next, because a draining worker runs its queue out before it returns.
  // The wait for the workers happens outside the mutex, so a worker that calls
  // update_routes or stop() meanwhile is not blocked by it.
  std::shared_ptr<std::latch> switched;
  bool on_worker = false;
  {
    std::lock_guard lock(impl_->mutex);
    // A cluster removed since the table was compiled (remove_cluster holds this mutex).
    for (std::uint32_t id : clusters_of(*table))
      if (!impl_->clusters.alive(id))
        throw ConfigError({{"listeners[" + std::to_string(listener_index) + "]",
                            "a cluster these routes name was removed meanwhile"}});
    listeners[listener_index]->routes = table;
    if (!impl_->started || impl_->stopped) return;
    switched = std::make_shared<std::latch>(std::ptrdiff_t(impl_->workers.size()));
    for (auto& w : impl_->workers) {
      on_worker = on_worker || w->io().get_executor().running_in_this_thread();
      boost::asio::post(w->io(), [worker = w.get(), listener_index, table, switched] {
        worker->publish_routes(listener_index, table);
        switched->count_down();
      });
    }
  }
  if (!on_worker) switched->wait();
}

void Server::update_routes(std::string_view listener_name, Router router) {
  const server::ListenerRuntime* match = nullptr;
  std::size_t count = 0;
  for (const auto& l : impl_->state.listeners) {
    if (l->options.name != listener_name) continue;
    if (count++ == 0) match = l.get();
  }
  if (count != 1) {
    std::string quoted = "\"" + std::string(listener_name) + "\"";
    throw ConfigError({{"listeners", count ? "several listeners are named " + quoted : "no listener named " + quoted}});
  }
  update_routes(match->index, std::move(router));
}

std::uint16_t Server::listener_port(std::size_t index) const {
  return impl_->state.listeners.at(index)->endpoint.port();
}

unsigned Server::workers() const noexcept { return unsigned(impl_->workers.size()); }

Stats& Server::stats() noexcept { return impl_->state.stats.stats(); }

void Server::enable_admin(AdminOptions options) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->started) throw std::logic_error("ferry::Server::enable_admin called after start()");
  impl_->state.options.admin = std::move(options);
}

std::uint16_t Server::admin_port() const noexcept { return impl_->admin ? impl_->admin->port() : 0; }

}  // namespace ferry
