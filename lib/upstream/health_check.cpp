#include "upstream/health_check.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "upstream/cluster.hpp"

namespace ferry::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto token = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t kMaxCheckBody = 64 * 1024;  // a health check body is read and dropped

std::string join(const std::string& path, std::string_view field) {
  return path.empty() ? std::string(field) : path + "." + std::string(field);
}

bool status_expected(const HttpHealthCheck& h, unsigned status) {
  if (h.expected_statuses.empty()) return status == 200;
  for (const auto& r : h.expected_statuses)
    if (std::int64_t(status) >= r.start && std::int64_t(status) < r.end) return true;
  return false;
}

// Envoy's TcpHealthCheckMatcher: every block found, in order, not necessarily adjacent.
bool blocks_found(const std::string& data, const std::vector<std::string>& blocks) {
  std::size_t at = 0;
  for (const auto& b : blocks) {
    auto found = data.find(b, at);
    if (found == std::string::npos) return false;
    at = found + b.size();
  }
  return true;
}

}  // namespace

bool HealthState::apply(CheckResult result, std::uint32_t healthy_threshold, std::uint32_t unhealthy_threshold) {
  bool changed = false;
  if (result == CheckResult::success) {
    num_unhealthy = 0;
    // During startup one success is enough; later it takes healthy_threshold in a row.
    if (failed && (first_check || ++num_healthy >= healthy_threshold)) {
      failed = false;
      changed = true;
    }
  } else {
    num_healthy = 0;
    // An unexpected HTTP status fails at once; network failures need the threshold.
    if (!failed && (result == CheckResult::active_failure || ++num_unhealthy >= unhealthy_threshold)) {
      failed = true;
      changed = true;
    }
  }
  if (changed) num_healthy = num_unhealthy = 0;
  first_check = false;
  return changed;
}

void check_health_options(const HealthCheckOptions& o, const std::string& path,
                          std::vector<ConfigProblem>& problems) {
  if (o.timeout.count() <= 0) problems.push_back({join(path, "timeout"), "must be greater than 0s"});
  if (o.interval.count() <= 0) problems.push_back({join(path, "interval"), "must be greater than 0s"});
  if (o.interval_jitter.count() < 0) problems.push_back({join(path, "interval_jitter"), "must not be negative"});
  if (o.no_traffic_interval.count() <= 0)
    problems.push_back({join(path, "no_traffic_interval"), "must be greater than 0s"});
  if (o.unhealthy_threshold < 1) problems.push_back({join(path, "unhealthy_threshold"), "must be at least 1"});
  if (o.healthy_threshold < 1) problems.push_back({join(path, "healthy_threshold"), "must be at least 1"});
  if (const auto* h = std::get_if<HttpHealthCheck>(&o.check)) {
    if (h->path.empty() || h->path[0] != '/')
      problems.push_back({join(path, "http_health_check.path"), "must be an absolute path such as \"/healthz\""});
    for (std::size_t i = 0; i < h->expected_statuses.size(); ++i) {
      const auto& r = h->expected_statuses[i];
      if (r.start < 100 || r.end > 600 || r.start >= r.end)
        problems.push_back({join(path, "http_health_check.expected_statuses[" + std::to_string(i) + "]"),
                            "must be a non-empty range within [100, 600)"});
    }
  }
}

Duration health_interval(const HealthCheckOptions& o, bool saw_traffic, std::uint64_t random1, std::uint64_t random2) {
  auto base = std::uint64_t((saw_traffic ? o.interval : o.no_traffic_interval).count());
  std::uint64_t ms = base;
  if (auto mod = std::uint64_t(o.interval_jitter_percent) * base / 100; mod > 0) ms += random1 % mod;
  if (o.interval_jitter.count() > 0) ms += random2 % std::uint64_t(o.interval_jitter.count());
  return Duration(ms);
}

struct HealthChecker::Session {
  Session(asio::any_io_executor ex, HealthTarget t) : target(std::move(t)), timer(ex), stream(ex) {
    state.failed = target.failed;
  }
  HealthTarget target;
  asio::steady_timer timer;
  beast::tcp_stream stream;  ///< HTTP checks keep their connection while the host allows
  beast::flat_buffer buffer;
  bool connected = false;
  bool stopped = false;
  HealthState state;

  void close() {
    boost::system::error_code ec;
    stream.socket().close(ec);
    connected = false;
    buffer.clear();
  }
};

HealthChecker::HealthChecker(asio::any_io_executor executor, HealthCheckOptions options, std::string cluster_name,
                             std::shared_ptr<const ClusterInfo> info, Report report, std::uint64_t seed)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      info_(std::move(info)),
      report_(std::move(report)),
      rng_(seed) {
  if (const auto* h = std::get_if<HttpHealthCheck>(&options_.check)) {
    host_header_ = h->host.empty() ? cluster_name : h->host;
    request_ = (h->method.empty() ? std::string("GET") : h->method) + " " + h->path + " HTTP/1.1\r\nhost: " +
               host_header_ + "\r\nuser-agent: Envoy/HC\r\n\r\n";
  }
}

HealthChecker::~HealthChecker() = default;

void HealthChecker::sync(std::vector<HealthTarget> targets) {
  asio::post(executor_, [self = shared_from_this(), t = std::move(targets)]() mutable { self->do_sync(std::move(t)); });
}

void HealthChecker::stop() {
  asio::post(executor_, [self = shared_from_this()] { self->do_stop(); });
}

void HealthChecker::do_sync(std::vector<HealthTarget> targets) {
  if (stopped_) return;
  std::unordered_map<std::string, std::shared_ptr<Session>> next;
  for (auto& t : targets) {
    if (next.count(t.address)) continue;  // one session per address
    auto it = sessions_.find(t.address);
    if (it != sessions_.end() && it->second->target.endpoint == t.endpoint) {
      next.emplace(t.address, std::move(it->second));
      sessions_.erase(it);
      continue;
    }
    auto s = std::make_shared<Session>(executor_, t);
    next.emplace(t.address, s);
    asio::co_spawn(executor_, run(s), [self = shared_from_this()](std::exception_ptr) {});
  }
  for (auto& [address, s] : sessions_) {  // hosts that left
    s->stopped = true;
    s->timer.cancel();
    s->close();
  }
  sessions_ = std::move(next);
}

void HealthChecker::do_stop() {
  stopped_ = true;
  do_sync({});
}

asio::awaitable<void> HealthChecker::run(std::shared_ptr<Session> s) {
  const bool http_check = std::holds_alternative<HttpHealthCheck>(options_.check);
  while (!s->stopped) {
    CheckResult result;  // g++ 12: no co_await inside ?:
    if (http_check)
      result = co_await check_http(*s);
    else
      result = co_await check_tcp(*s);
    if (s->stopped) break;
    bool first = s->target.pending;
    bool changed = s->state.apply(result, options_.healthy_threshold, options_.unhealthy_threshold) || first;
    s->target.pending = false;
    report_(s->target.address, s->state.failed, changed);
    s->timer.expires_after(health_interval(options_, info_->saw_traffic.load(std::memory_order_relaxed),
                                           rng_.next(), rng_.next()));
    co_await s->timer.async_wait(token);
  }
}

asio::awaitable<CheckResult> HealthChecker::check_http(Session& s) {
  s.stream.expires_after(options_.timeout);
  if (!s.connected) {
    auto [ec] = co_await s.stream.async_connect(s.target.endpoint, token);
    if (ec) {
      s.close();
      co_return CheckResult::network_failure;
    }
    s.connected = true;
  }
  auto [wec, written] = co_await asio::async_write(s.stream, asio::buffer(request_), token);
  if (wec) {
    s.close();
    co_return CheckResult::network_failure;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxCheckBody);
  auto [rec, read] = co_await http::async_read(s.stream, s.buffer, parser, token);
  if (rec) {
    s.close();
    co_return CheckResult::network_failure;
  }
  s.stream.expires_never();
  if (!parser.get().keep_alive()) s.close();
  co_return status_expected(std::get<HttpHealthCheck>(options_.check), parser.get().result_int())
      ? CheckResult::success
      : CheckResult::active_failure;
}

asio::awaitable<CheckResult> HealthChecker::check_tcp(Session& s) {
  const auto& tcp_check = std::get<TcpHealthCheck>(options_.check);
  s.close();
  s.stream.expires_after(options_.timeout);
  auto [ec] = co_await s.stream.async_connect(s.target.endpoint, token);
  CheckResult result = ec ? CheckResult::network_failure : CheckResult::success;
  if (!ec && !tcp_check.send.empty()) {
    auto [wec, written] = co_await asio::async_write(s.stream, asio::buffer(tcp_check.send), token);
    if (wec) result = CheckResult::network_failure;
  }
  if (result == CheckResult::success && !tcp_check.receive.empty()) {
    std::string data;
    char chunk[4096];
    for (;;) {
      if (blocks_found(data, tcp_check.receive)) break;
      auto [rec, n] = co_await s.stream.async_read_some(asio::buffer(chunk), token);
      if (rec || data.size() > kMaxCheckBody) {
        result = CheckResult::network_failure;
        break;
      }
      data.append(chunk, n);
    }
  }
  s.close();
  s.stream.expires_never();
  co_return result;
}

}  // namespace ferry::upstream
