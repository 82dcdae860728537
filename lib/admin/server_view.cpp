#include "admin/server_view.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "admin/json.hpp"
#include "server/server_state.hpp"
#include "server/worker.hpp"
#include "upstream/cluster_manager.hpp"

namespace ferry::admin {

namespace {

/// How long /clusters waits for a worker to answer (a stopped worker never does).
constexpr auto kWorkerWait = std::chrono::milliseconds(500);

/// Per-host counters of one worker, by cluster name and host address.
struct HostCounters {
  std::string cluster, address;
  std::uint64_t rq_total, rq_success, rq_error, rq_timeout, rq_active, cx_total, cx_active, cx_connect_fail;
};

// Runs on a worker thread: reads its own pools (plain integers only it writes).
std::vector<HostCounters> read_worker(server::Worker& w, const std::vector<std::pair<std::uint32_t, std::string>>& ids) {
  std::vector<HostCounters> out;
  for (const auto& [id, name] : ids) {
    auto* c = w.find_cluster(id);
    if (!c) continue;
    for (const auto& p : c->pools())
      out.push_back({name, p->address(), p->rq_total, p->rq_success, p->rq_error, p->rq_timeout, p->attempts,
                     p->connections_opened, p->live_connections, p->cx_connect_fail});
  }
  return out;
}

std::vector<ClusterView> collect_clusters(const upstream::ClusterManager& manager, const WorkerList& workers) {
  std::vector<std::pair<std::uint32_t, std::string>> ids;
  for (const auto& [name, id] : manager.names()) ids.emplace_back(id, name);
  std::sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) { return a.second < b.second; });

  // Ask every worker at once, then wait (bounded) for the answers.
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    std::vector<HostCounters> rows;
    std::size_t answered = 0;
  };
  auto shared = std::make_shared<Shared>();
  auto list = workers ? workers() : std::vector<server::Worker*>{};
  std::size_t asked = 0;
  for (auto* w : list) {
    if (w->io().stopped()) continue;
    ++asked;
    boost::asio::post(w->io(), [w, ids, shared] {
      auto rows = read_worker(*w, ids);
      std::lock_guard lock(shared->m);
      for (auto& r : rows) shared->rows.push_back(std::move(r));
      ++shared->answered;
      shared->cv.notify_all();
    });
  }
  std::vector<HostCounters> rows;
  {
    std::unique_lock lock(shared->m);
    shared->cv.wait_for(lock, kWorkerWait, [&] { return shared->answered == asked; });
    rows = shared->rows;
  }

  std::vector<ClusterView> out;
  for (const auto& [id, name] : ids) {
    ClusterView c;
    c.name = name;
    for (const auto& h : manager.host_status(id)) {
      HostView v;
      v.address = h.address;
      v.weight = h.weight;
      v.priority = h.priority;
      v.flags = h.flags;
      for (const auto& r : rows) {
        if (r.cluster != name || r.address != h.address) continue;
        v.rq_total += r.rq_total;
        v.rq_success += r.rq_success;
        v.rq_error += r.rq_error;
        v.rq_timeout += r.rq_timeout;
        v.rq_active += r.rq_active;
        v.cx_total += r.cx_total;
        v.cx_active += r.cx_active;
        v.cx_connect_fail += r.cx_connect_fail;
      }
      c.hosts.push_back(std::move(v));
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string seconds(Duration d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  std::string out;
  json_number(out, double(ms) / 1000.0);
  return out + "s";
}

std::string_view lb_name(LbPolicy p) {
  switch (p) {
    case LbPolicy::round_robin: return "ROUND_ROBIN";
    case LbPolicy::least_request: return "LEAST_REQUEST";
    case LbPolicy::random: return "RANDOM";
    case LbPolicy::ring_hash: return "RING_HASH";
    case LbPolicy::maglev: return "MAGLEV";
    case LbPolicy::peak_ewma: return "PEAK_EWMA";
  }
  return "ROUND_ROBIN";
}

std::string socket_address(const std::string& address, std::uint16_t port) {
  return "{\"socket_address\":{\"address\":" + json_quote(address) + ",\"port_value\":" + std::to_string(port) + "}}";
}

}  // namespace

void refresh_membership(const stats::ServerStats& stats, const upstream::ClusterManager& clusters) {
  auto& s = stats.stats();
  for (const auto& [name, id] : clusters.names()) {
    auto hosts = clusters.host_status(id);
    std::int64_t healthy = 0;
    for (const auto& h : hosts) healthy += h.healthy() ? 1 : 0;
    s.gauge("cluster." + name + ".membership_total").set(std::int64_t(hosts.size()));
    s.gauge("cluster." + name + ".membership_healthy").set(healthy);
  }
}

std::string config_dump_from_options(const server::ServerState& state, const upstream::ClusterManager& manager) {
  std::string out = "{\"configs\":[{\"@type\":\"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump\",\"bootstrap\":{";
  if (state.options.admin)
    out += "\"admin\":{\"address\":" + socket_address(state.options.admin->address, state.options.admin->port) + "}";
  out += "}},{\"@type\":\"type.googleapis.com/envoy.admin.v3.ClustersConfigDump\",\"static_clusters\":[";
  std::vector<std::pair<std::string, std::uint32_t>> names(manager.names().begin(), manager.names().end());
  std::sort(names.begin(), names.end());
  bool first = true;
  for (const auto& [name, id] : names) {
    auto snap = manager.snapshot(id);
    if (!snap.info) continue;
    const auto& o = snap.info->options;
    if (!first) out += ',';
    first = false;
    out += "{\"cluster\":{\"name\":" + json_quote(o.name) + ",\"connect_timeout\":" + json_quote(seconds(o.connect_timeout)) +
           ",\"lb_policy\":" + json_quote(lb_name(o.lb_policy)) + ",\"load_assignment\":{\"cluster_name\":" +
           json_quote(o.name) + ",\"endpoints\":[{\"lb_endpoints\":[";
    for (std::size_t i = 0; i < o.endpoints.size(); ++i) {
      if (i) out += ',';
      out += "{\"endpoint\":{\"address\":" + socket_address(o.endpoints[i].address, o.endpoints[i].port) +
             "},\"load_balancing_weight\":" + std::to_string(o.endpoints[i].weight) + "}";
    }
    out += "]}]}}}";
  }
  out += "]},{\"@type\":\"type.googleapis.com/envoy.admin.v3.ListenersConfigDump\",\"static_listeners\":[";
  for (std::size_t i = 0; i < state.listeners.size(); ++i) {
    const auto& l = *state.listeners[i];
    if (i) out += ',';
    out += "{\"listener\":{\"name\":" + json_quote(l.options.name) + ",\"address\":" +
           socket_address(l.options.address, l.endpoint.port()) +
           ",\"filter_chains\":[{\"filters\":[{\"name\":\"envoy.filters.network.http_connection_manager\","
           "\"typed_config\":{\"@type\":\"type.googleapis.com/"
           "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\",\"stat_prefix\":" +
           json_quote(l.options.http.stat_prefix) + "}}]}]}}";
  }
  out += "]}]}";
  return out;
}

ServerView make_server_view(server::ServerState& state, const upstream::ClusterManager& clusters, WorkerList workers) {
  ServerView v;
  v.stats = &state.stats;
  v.clusters = [&clusters, workers] { return collect_clusters(clusters, workers); };
  v.listeners = [&state] {
    std::vector<ListenerView> out;
    for (const auto& l : state.listeners)
      out.push_back({l->options.name, l->endpoint.address().to_string(), l->endpoint.port()});
    return out;
  };
  v.config_dump = [&state, &clusters] { return config_dump_from_options(state, clusters); };
  v.set_log_level = [&state](LogLevel level) { state.log.set_level(level); };
  v.log_level = [&state] { return state.log.level(); };
  return v;
}

}  // namespace ferry::admin
