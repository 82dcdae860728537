#include <ferry/server.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "server/server_state.hpp"
#include "server/worker.hpp"

namespace ferry {

struct Server::Impl {
  explicit Impl(ServerOptions options) : state(std::move(options)) {}

  server::ServerState state;
  std::vector<ClusterOptions> cluster_options;
  std::vector<Listener> listeners;
  std::unordered_map<std::string, std::uint32_t> cluster_index;
  std::vector<std::unique_ptr<server::Worker>> workers;
  std::mutex mutex;  ///< start/stop, and route publication once started
  bool started = false;
  bool stopped = false;

  void compile();
  void stop_workers(Duration drain);
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
  abort();
  wait();
}

void Server::add_cluster(ClusterOptions cluster) {
  std::vector<ConfigProblem> problems;
  auto path = "clusters[" + std::to_string(impl_->cluster_options.size()) + "]";
  if (impl_->cluster_index.count(cluster.name))
    problems.push_back({path + ".name", "duplicate cluster name \"" + cluster.name + "\""});
  auto info = upstream::make_cluster_info(cluster, problems, path);
  if (!problems.empty()) throw ConfigError(std::move(problems));
  impl_->cluster_index.emplace(cluster.name, std::uint32_t(impl_->state.clusters.size()));
  impl_->state.clusters.push_back(std::move(info));
  impl_->cluster_options.push_back(std::move(cluster));
}

void Server::add_listener(Listener listener) {
  std::vector<ConfigProblem> problems;
  auto path = "listeners[" + std::to_string(impl_->listeners.size()) + "]";
  auto routes = router::RouteTable::build(listener.chain().router().config(), impl_->cluster_index, path, problems);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(listener.options().address, ec);
  if (ec) problems.push_back({path + ".address", "not an IP address: \"" + listener.options().address + "\""});
  if (!problems.empty()) throw ConfigError(std::move(problems));
  auto rt = std::make_unique<server::ListenerRuntime>();
  rt->options = listener.options();
  rt->filters = listener.chain().factories();
  rt->routes = std::move(routes);
  rt->index = impl_->state.listeners.size();
  rt->endpoint = {address, listener.options().port};
  impl_->state.listeners.push_back(std::move(rt));
  impl_->listeners.push_back(std::move(listener));
}

void Server::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->started) throw std::logic_error("ferry::Server::start called twice");
  unsigned n = impl_->state.options.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<server::Worker>> workers;
  for (unsigned i = 0; i < n; ++i) {
    workers.push_back(std::make_unique<server::Worker>(impl_->state, i));
    // Throws on bind failure; nothing has started yet, so unwinding leaves no thread.
    workers.back()->open_listeners(impl_->state.listeners, i == 0);
  }
  for (auto& w : workers) w->start_thread();
  impl_->workers = std::move(workers);
  impl_->started = true;
  for (auto& l : impl_->state.listeners)
    FERRY_LOG(impl_->state.log, info, "listening on " << l->endpoint << " (" << n << " workers)");
}

int Server::run() {
  start();
  wait();
  return 0;
}

void Server::wait() {
  for (auto& w : impl_->workers) w->join();
}

void Server::stop() { impl_->stop_workers(impl_->state.options.drain_timeout); }

void Server::abort() { impl_->stop_workers(Duration{0}); }

void Server::Impl::stop_workers(Duration drain) {
  std::lock_guard lock(mutex);
  if (!started || stopped) return;
  stopped = true;
  for (auto& w : workers) w->request_stop(drain);
}

void Server::update_routes(std::size_t listener_index, Router router) {
  auto& listeners = impl_->state.listeners;  // fixed in size once started
  if (listener_index >= listeners.size())
    throw std::out_of_range("ferry::Server::update_routes: no listener " + std::to_string(listener_index));
  // Compiled here, off the workers. The cluster index is fixed once the server has started
  // (and before, this runs on the controlling thread, like add_cluster).
  std::vector<ConfigProblem> problems;
  auto table = router::RouteTable::build(router.config(), impl_->cluster_index,
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

}  // namespace ferry
