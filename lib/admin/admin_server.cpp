#include "admin/admin_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <re2/re2.h>

#include <atomic>
#include <sstream>
#include <system_error>
#include <thread>

#include <ferry/cluster.hpp>
#include <ferry/version.hpp>

#include "admin/dashboard.hpp"
#include "admin/json.hpp"
#include "admin/stats_output.hpp"

namespace ferry::admin {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
/// The admin thread's tick: the dashboard samples every tick; histograms are flushed every
/// kFlushTicks (Envoy's stats_flush_interval, 5 s: /stats "interval" figures cover it).
constexpr auto kTick = std::chrono::seconds(1);
constexpr unsigned kFlushTicks = 5;

struct Query {
  std::string path;
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* get(std::string_view key) const {
    for (const auto& [k, v] : params)
      if (k == key) return &v;
    return nullptr;
  }
  bool has(std::string_view key) const { return get(key) != nullptr; }
};

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += char(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Query parse_target(std::string_view target) {
  Query q;
  auto qm = target.find('?');
  q.path = std::string(target.substr(0, qm));
  if (qm == std::string_view::npos) return q;
  auto rest = target.substr(qm + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    auto eq = part.find('=');
    if (!part.empty())
      q.params.emplace_back(percent_decode(part.substr(0, eq)),
                            eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return q;
}

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=UTF-8";
  std::string body{};
};

Response text(int status, std::string body) { return {status, "text/plain; charset=UTF-8", std::move(body)}; }
Response json(std::string body) { return {200, "application/json", std::move(body)}; }

std::string flags_text(std::uint32_t flags) {
  if ((flags & (failed_active_hc | pending_active_hc | failed_outlier_check)) == 0) return "healthy";
  std::string out;
  if (flags & failed_active_hc) out += "/failed_active_hc";
  if (flags & failed_outlier_check) out += "/failed_outlier_check";
  if (flags & pending_active_hc) out += "/pending_active_hc";
  return out;
}

// "127.0.0.1:80" / "[::1]:80" → address and port.
void split_address(const std::string& a, std::string& ip, std::uint16_t& port) {
  auto colon = a.rfind(':');
  ip = a.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  port = colon == std::string::npos ? 0 : std::uint16_t(std::strtoul(a.c_str() + colon + 1, nullptr, 10));
}

}  // namespace

struct AdminServer::Impl {
  Impl(AdminOptions o, ServerView v, const detail::Logger& l)
      : options(std::move(o)), view(std::move(v)), log(l), tick_timer(io) {}

  AdminOptions options;
  ServerView view;
  const detail::Logger& log;
  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
  asio::steady_timer tick_timer;
  unsigned ticks = 0;
  std::thread thread;
  std::atomic<std::uint16_t> bound_port{0};
  bool running = false;
  // Histograms at the last two flushes: /stats shows the difference as the interval.
  std::vector<StatSample> flushed, interval;
  Dashboard dashboard;

  Stats& stats() const { return view.stats->stats(); }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  void tick();
  void flush();
  Response handle(std::string_view method, std::string_view target);

  Response stats_page(const Query& q, bool prometheus);
  Response clusters_page(const Query& q);
  Response listeners_page(const Query& q);
  Response server_info();
  Response logging(const Query& q);
  Response ready();
};

AdminServer::AdminServer(AdminOptions options, ServerView view, const detail::Logger& log)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(view), log)) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::bind() {
  auto& m = *impl_;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(m.options.address, ec);
  tcp::endpoint ep;
  if (!ec) {
    ep = {address, m.options.port};
    m.acceptor.emplace(m.io);
    m.acceptor->open(ep.protocol(), ec);
  }
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(ec.value(), std::generic_category(),
                            "admin cannot listen on " + m.options.address + ":" + std::to_string(m.options.port));
  m.bound_port = m.acceptor->local_endpoint().port();
}

void AdminServer::run() {
  auto& m = *impl_;
  if (m.running || !m.acceptor) return;
  asio::co_spawn(m.io, m.accept_loop(), asio::detached);
  m.flush();
  m.tick();
  m.running = true;
  m.thread = std::thread([&m] { m.io.run(); });
  FERRY_LOG(m.log, info, "admin listening on " << m.acceptor->local_endpoint());
}

void AdminServer::stop() {
  auto& m = *impl_;
  if (!m.running) return;
  m.running = false;
  // Stopping the context abandons open admin connections; their frames (and sockets) go
  // when the context is destroyed.
  m.io.stop();
  if (m.thread.joinable()) m.thread.join();
  boost::system::error_code ignored;
  if (m.acceptor) m.acceptor->close(ignored);  // the port is free once stop() returns
}

std::uint16_t AdminServer::port() const noexcept { return impl_->bound_port.load(); }

void AdminServer::Impl::flush() {
  // Every flush interval: histograms now, and what was recorded since the last flush.
  std::vector<StatSample> now;
  for (auto& s : stats().snapshot())
    if (s.type == StatType::histogram) now.push_back(std::move(s));
  std::vector<StatSample> delta;
  for (const auto& s : now) {
    StatSample d = s;
    for (const auto& p : flushed)
      if (p.name == s.name) d.histogram = s.histogram->since(*p.histogram);
    delta.push_back(std::move(d));
  }
  interval = std::move(delta);
  flushed = std::move(now);
}

void AdminServer::Impl::tick() {
  dashboard.sample(stats());
  if (++ticks % kFlushTicks == 0) flush();
  tick_timer.expires_after(kTick);
  tick_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

asio::awaitable<void> AdminServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(token);
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(io, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> AdminServer::Impl::serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, token);
    if (ec) break;
    auto r = handle(std::string_view(req.method_string().data(), req.method_string().size()),
                    std::string_view(req.target().data(), req.target().size()));
    http::response<http::string_body> res{http::status(r.status), req.version()};
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-cache, max-age=0");
    res.set("x-content-type-options", "nosniff");
    res.keep_alive(req.keep_alive());
    res.body() = req.method() == http::verb::head ? std::string() : std::move(r.body);
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(socket, res, token);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

Response AdminServer::Impl::handle(std::string_view method, std::string_view target) {
  auto q = parse_target(target);
  const auto& p = q.path;
  bool get = method == "GET" || method == "HEAD";
  bool post = method == "POST";
  // Mutating endpoints want POST, like Envoy's admin (a GET from a browser or a crawler
  // must not fail the health check).
  bool mutating = p == "/healthcheck/fail" || p == "/healthcheck/ok" || p == "/logging";
  if (mutating && !post) return text(405, "Method " + std::string(method) + " not allowed, POST required.\n");
  if (!mutating && !get) return text(405, "Method " + std::string(method) + " not allowed, GET required.\n");
  if (p == "/stats") return stats_page(q, false);
  if (p == "/stats/prometheus") return stats_page(q, true);
  if (p == "/clusters") return clusters_page(q);
  if (p == "/listeners") return listeners_page(q);
  if (p == "/config_dump") return json(options.config_dump.empty() && view.config_dump ? view.config_dump() : options.config_dump);
  if (p == "/ready") return ready();
  if (p == "/server_info") return server_info();
  if (p == "/healthcheck/fail" || p == "/healthcheck/ok") {
    view.stats->health_check_failed = p == "/healthcheck/fail";
    return text(200, "OK\n");
  }
  if (p == "/logging") return logging(q);
  if (p == "/" || p == "/dashboard") return {200, "text/html; charset=UTF-8", std::string(dashboard_html())};
  if (p == "/dashboard/data") return json(dashboard.data(*view.stats, view.clusters ? view.clusters() : std::vector<ClusterView>{}));
  return text(404,
              "invalid path. admin commands are:\n"
              "  /: the live dashboard\n"
              "  /clusters: upstream cluster status\n"
              "  /config_dump: dump current configuration\n"
              "  /healthcheck/fail (POST): cause the server to fail health checks\n"
              "  /healthcheck/ok (POST): cause the server to pass health checks\n"
              "  /listeners: print listener info\n"
              "  /logging (POST): change the log level (?level=)\n"
              "  /ready: print server state, return 200 if LIVE, otherwise 503\n"
              "  /server_info: print server version/status information\n"
              "  /stats: print server stats\n"
              "  /stats/prometheus: print server stats in prometheus format\n");
}

Response AdminServer::Impl::stats_page(const Query& q, bool prometheus) {
  StatsQuery sq;
  std::unique_ptr<RE2> re;
  if (const auto* f = q.get("filter"); f && !f->empty()) {
    re = std::make_unique<RE2>(*f, RE2::Quiet);
    if (!re->ok()) return text(400, "Invalid re2 regex: " + re->error() + "\n");
    sq.filter = re.get();
  }
  sq.used_only = q.has("usedonly");
  auto all = stats().snapshot();
  if (prometheus) return {200, "text/plain; version=0.0.4; charset=UTF-8", stats_prometheus(all, sq)};
  if (const auto* fmt = q.get("format")) {
    if (*fmt == "json") return json(stats_json(all, sq, &interval));
    if (*fmt == "prometheus") return {200, "text/plain; version=0.0.4; charset=UTF-8", stats_prometheus(all, sq)};
    if (*fmt != "text") return text(400, "usage: /stats?format=(text|json|prometheus)\n");
  }
  return text(200, stats_text(all, sq, &interval));
}

Response AdminServer::Impl::clusters_page(const Query& q) {
  auto clusters = view.clusters ? view.clusters() : std::vector<ClusterView>{};
  bool as_json = q.get("format") && *q.get("format") == "json";
  if (!as_json) {
    std::string out;
    for (const auto& c : clusters) {
      out += c.name + "::observability_name::" + c.name + "\n";
      for (const auto& h : c.hosts) {
        auto line = [&](std::string_view key, const std::string& value) {
          out += c.name + "::" + h.address + "::" + std::string(key) + "::" + value + "\n";
        };
        line("cx_active", std::to_string(h.cx_active));
        line("cx_connect_fail", std::to_string(h.cx_connect_fail));
        line("cx_total", std::to_string(h.cx_total));
        line("rq_active", std::to_string(h.rq_active));
        line("rq_error", std::to_string(h.rq_error));
        line("rq_success", std::to_string(h.rq_success));
        line("rq_timeout", std::to_string(h.rq_timeout));
        line("rq_total", std::to_string(h.rq_total));
        line("hostname", "");
        line("health_flags", flags_text(h.flags));
        line("weight", std::to_string(h.weight));
        line("priority", std::to_string(h.priority));
        std::string rate;
        json_number(rate, h.success_rate());
        line("success_rate", rate);
      }
    }
    return text(200, out);
  }
  std::string out = "{\"cluster_statuses\":[";
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    const auto& c = clusters[i];
    if (i) out += ',';
    out += "{\"name\":" + json_quote(c.name) + ",\"observability_name\":" + json_quote(c.name) + ",\"host_statuses\":[";
    for (std::size_t j = 0; j < c.hosts.size(); ++j) {
      const auto& h = c.hosts[j];
      if (j) out += ',';
      std::string ip;
      std::uint16_t port = 0;
      split_address(h.address, ip, port);
      out += "{\"address\":{\"socket_address\":{\"address\":" + json_quote(ip) +
             ",\"port_value\":" + std::to_string(port) + "}},\"stats\":[";
      auto stat = [&](std::string_view name, std::uint64_t v, bool gauge, bool first = false) {
        if (!first) out += ',';
        out += "{\"name\":" + json_quote(name) + ",\"value\":\"" + std::to_string(v) + "\"" +
               (gauge ? ",\"type\":\"GAUGE\"}" : "}");
      };
      stat("cx_connect_fail", h.cx_connect_fail, false, true);
      stat("cx_total", h.cx_total, false);
      stat("rq_error", h.rq_error, false);
      stat("rq_success", h.rq_success, false);
      stat("rq_timeout", h.rq_timeout, false);
      stat("rq_total", h.rq_total, false);
      stat("cx_active", h.cx_active, true);
      stat("rq_active", h.rq_active, true);
      out += "],\"health_status\":{\"eds_health_status\":\"HEALTHY\"";
      if (h.flags & failed_active_hc) out += ",\"failed_active_health_check\":true";
      if (h.flags & failed_outlier_check) out += ",\"failed_outlier_check\":true";
      if (h.flags & pending_active_hc) out += ",\"pending_active_hc\":true";
      out += "},\"weight\":" + std::to_string(h.weight) + ",\"priority\":" + std::to_string(h.priority);
      if (h.success_rate() >= 0) {
        out += ",\"success_rate\":{\"value\":";
        json_number(out, h.success_rate());
        out += '}';
      }
      out += '}';
    }
    out += "]}";
  }
  out += "]}";
  return json(out);
}

Response AdminServer::Impl::listeners_page(const Query& q) {
  auto listeners = view.listeners ? view.listeners() : std::vector<ListenerView>{};
  if (q.get("format") && *q.get("format") == "json") {
    std::string out = "{\"listener_statuses\":[";
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      if (i) out += ',';
      out += "{\"name\":" + json_quote(listeners[i].name) + ",\"local_address\":{\"socket_address\":{\"address\":" +
             json_quote(listeners[i].address) + ",\"port_value\":" + std::to_string(listeners[i].port) + "}}}";
    }
    return json(out + "]}");
  }
  std::string out;
  for (const auto& l : listeners) {
    bool v6 = l.address.find(':') != std::string::npos;
    out += l.name + "::" + (v6 ? "[" + l.address + "]" : l.address) + ":" + std::to_string(l.port) + "\n";
  }
  return text(200, out);
}

Response AdminServer::Impl::ready() {
  auto s = view.stats->state();
  std::string name(stats::ServerStats::state_name(s));
  return text(s == stats::ServerStats::State::live ? 200 : 503, name + "\n");
}

Response AdminServer::Impl::server_info() {
  const auto& st = *view.stats;
  auto up = std::to_string(st.uptime_s()) + "s";
  std::string out = "{\"version\":" + json_quote(version()) +
                    ",\"state\":" + json_quote(stats::ServerStats::state_name(st.state())) +
                    ",\"hot_restart_version\":\"disabled\",\"command_line_options\":{";
  bool has_concurrency = false;
  bool first = true;
  for (const auto& [k, v] : options.command_line_options) {
    if (!first) out += ',';
    first = false;
    has_concurrency = has_concurrency || k == "concurrency";
    out += json_quote(k) + ":" + json_quote(v);
  }
  if (!has_concurrency) {
    if (!first) out += ',';
    out += "\"concurrency\":" + std::to_string(st.server_concurrency.value());
  }
  out += "},\"node\":{},\"uptime_current_epoch\":" + json_quote(up) + ",\"uptime_all_epochs\":" + json_quote(up) + "}";
  return json(out);
}

Response AdminServer::Impl::logging(const Query& q) {
  const auto* level = q.get("level");
  LogLevel parsed{};
  if (!level || !parse_log_level(*level, parsed) || !view.set_log_level)
    return text(404, "usage: /logging?level=<level> (trace, debug, info, warning, error, critical, off)\n");
  view.set_log_level(parsed);
  FERRY_LOG(log, info, "admin: log level set to " << to_string(parsed));
  return text(200, "active loggers:\n  ferry: " + std::string(to_string(parsed)) + "\n");
}

}  // namespace ferry::admin
