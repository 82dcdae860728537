#include "upstream/dns_resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "common/log.hpp"

namespace ferry::upstream {

namespace {

ares_channel chan(void* c) noexcept { return static_cast<ares_channel>(c); }

// ares_library_init is process-wide and not thread-safe; on Linux it sets nothing a second
// Server could disturb, so it runs once and is never undone.
void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

bool same_endpoints(const std::vector<Endpoint>& a, const std::vector<Endpoint>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Endpoint& x, const Endpoint& y) {
    return x.address == y.address && x.port == y.port && x.weight == y.weight && x.priority == y.priority;
  });
}

constexpr int kMaxDrains = 16;  // datagrams read per readiness event before yielding

}  // namespace

// One socket c-ares asked us to watch. The descriptor is borrowed: released (never closed)
// when c-ares says it is done with it, since c-ares closes it itself.
struct DnsResolver::Watch {
  Watch(const asio::any_io_executor& ex, int fd) : sd(ex, fd), fd(fd) {}
  asio::posix::stream_descriptor sd;
  int fd;
  bool want_read = false;
  bool want_write = false;
  bool reading = false;
  bool writing = false;
  bool closed = false;
};

struct DnsResolver::Lookup {
  DnsResolver* self;
  std::string name;
  int families[2];
  int count;
  int next;
  Callback cb;
};

DnsResolver::DnsResolver(asio::any_io_executor ex, const std::vector<DnsResolverAddress>& servers)
    : ex_(std::move(ex)), timer_(ex_), alive_(std::make_shared<bool>(true)) {
  init_library_once();
  ares_options opts{};
  opts.sock_state_cb = &DnsResolver::on_socket_state;
  opts.sock_state_cb_data = this;
  ares_channel ch = nullptr;
  if (int rc = ares_init_options(&ch, &opts, ARES_OPT_SOCK_STATE_CB); rc != ARES_SUCCESS)
    throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
  channel_ = ch;
  if (servers.empty()) return;
  std::vector<ares_addr_port_node> nodes(servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    auto& n = nodes[i];
    n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
    n.udp_port = n.tcp_port = servers[i].port;
    const char* text = servers[i].address.c_str();
    if (inet_pton(AF_INET, text, &n.addr.addr4) == 1) {
      n.family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &n.addr.addr6) == 1) {
      n.family = AF_INET6;
    } else {
      ares_destroy(ch);
      channel_ = nullptr;
      throw std::runtime_error("DNS resolver address \"" + servers[i].address + "\" is not an IP address");
    }
  }
  if (int rc = ares_set_servers_ports(ch, nodes.data()); rc != ARES_SUCCESS) {
    ares_destroy(ch);
    channel_ = nullptr;
    throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
  }
}

DnsResolver::~DnsResolver() {
  *alive_ = false;
  destroying_ = true;
  // Ends pending lookups (their callbacks see ARES_EDESTRUCTION and are dropped) and
  // closes c-ares's sockets, telling on_socket_state first.
  if (channel_) ares_destroy(chan(channel_));
  for (auto& [fd, w] : watches_) {
    w->closed = true;
    boost::system::error_code ec;
    w->sd.cancel(ec);
    w->sd.release();
  }
  watches_.clear();
}

void DnsResolver::resolve(const std::string& name, DnsLookupFamily family, Callback cb) {
  int first = AF_UNSPEC, second = AF_UNSPEC, count = 1;
  switch (family) {
    case DnsLookupFamily::v4_only: first = AF_INET; break;
    case DnsLookupFamily::v6_only: first = AF_INET6; break;
    case DnsLookupFamily::auto_: first = AF_INET6, second = AF_INET, count = 2; break;
    case DnsLookupFamily::v4_preferred: first = AF_INET, second = AF_INET6, count = 2; break;
    case DnsLookupFamily::all: break;  // AF_UNSPEC: A and AAAA
  }
  ++pending_;
  start(new Lookup{this, name, {first, second}, count, 0, std::move(cb)});
  reset_timer();
}

void DnsResolver::start(Lookup* l) {
  ares_addrinfo_hints hints{};
  // Answer order is kept (no RFC 6724 sorting, which would also connect() a socket per
  // address): LOGICAL_DNS uses the first address as the server gave it, as Envoy does.
  hints.ai_flags = ARES_AI_NOSORT;
  hints.ai_family = l->families[l->next];
  hints.ai_socktype = SOCK_STREAM;
  // May call on_addrinfo before it returns (numeric names, the hosts file).
  ares_getaddrinfo(chan(channel_), l->name.c_str(), nullptr, &hints, &DnsResolver::on_addrinfo, l);
}

void DnsResolver::on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
  auto* l = static_cast<Lookup*>(arg);
  auto* self = l->self;
  if (status == ARES_EDESTRUCTION || self->destroying_) {
    if (res) ares_freeaddrinfo(res);
    delete l;
    return;
  }
  DnsAnswer a;
  if (status == ARES_SUCCESS && res) {
    for (auto* n = res->nodes; n; n = n->ai_next) {
      asio::ip::address addr;
      if (n->ai_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), &sin->sin_addr, b.size());
        addr = asio::ip::address_v4(b);
      } else if (n->ai_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), &sin6->sin6_addr, b.size());
        addr = asio::ip::address_v6(b, sin6->sin6_scope_id);
      } else {
        continue;
      }
      if (std::find(a.addresses.begin(), a.addresses.end(), addr) != a.addresses.end()) continue;
      a.addresses.push_back(addr);
      auto ttl = std::chrono::seconds(std::max(0, n->ai_ttl));
      if (a.addresses.size() == 1 || ttl < a.ttl) a.ttl = ttl;
    }
  }
  if (res) ares_freeaddrinfo(res);
  if (!a.addresses.empty()) {
    a.status = DnsAnswer::Status::ok;
  } else {
    bool absent = status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND;
    a.status = absent ? DnsAnswer::Status::no_data : DnsAnswer::Status::failed;
    a.error = status == ARES_SUCCESS ? "no addresses" : ares_strerror(status);
    if (l->next + 1 < l->count) {
      // AUTO / V4_PREFERRED: the other family.
      ++l->next;
      self->start(l);
      return;
    }
  }
  self->finish(l, std::move(a));
}

void DnsResolver::finish(Lookup* l, DnsAnswer answer) {
  --pending_;
  // Posted, so that a callback never runs inside resolve() or inside c-ares.
  asio::post(ex_, [alive = alive_, cb = std::move(l->cb), a = std::move(answer)]() mutable {
    if (*alive) cb(std::move(a));
  });
  delete l;
}

void DnsResolver::on_socket_state(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<DnsResolver*>(data);
  auto it = self->watches_.find(fd);
  if (!readable && !writable) {
    // c-ares is about to close the socket: take it out of the reactor first.
    if (it == self->watches_.end()) return;
    auto w = it->second;
    self->watches_.erase(it);
    w->closed = true;
    boost::system::error_code ec;
    w->sd.cancel(ec);
    w->sd.release();
    return;
  }
  if (self->destroying_) return;
  if (it == self->watches_.end()) it = self->watches_.emplace(fd, std::make_shared<Watch>(self->ex_, fd)).first;
  auto w = it->second;
  w->want_read = readable != 0;
  w->want_write = writable != 0;
  self->arm(w);
}

void DnsResolver::arm(const std::shared_ptr<Watch>& w) {
  if (w->closed) return;
  if (w->want_read && !w->reading) {
    w->reading = true;
    w->sd.async_wait(asio::posix::stream_descriptor::wait_read, [this, w](const boost::system::error_code& ec) {
      w->reading = false;
      if (ec || w->closed) return;  // closed: `this` may be gone too
      process(w->fd, ARES_SOCKET_BAD);
    });
  }
  if (w->want_write && !w->writing) {
    w->writing = true;
    w->sd.async_wait(asio::posix::stream_descriptor::wait_write, [this, w](const boost::system::error_code& ec) {
      w->writing = false;
      if (ec || w->closed) return;
      process(ARES_SOCKET_BAD, w->fd);
    });
  }
}

void DnsResolver::process(int read_fd, int write_fd) {
  ares_process_fd(chan(channel_), read_fd, write_fd);
  int fd = read_fd != ARES_SOCKET_BAD ? read_fd : write_fd;
  if (read_fd != ARES_SOCKET_BAD) {
    // The reactor reports edges: read on while bytes are waiting (c-ares reads one TCP
    // chunk per call), or the rest would sit there until the next packet.
    for (int i = 0; i < kMaxDrains; ++i) {
      auto it = watches_.find(read_fd);
      int queued = 0;
      if (it == watches_.end() || ::ioctl(read_fd, FIONREAD, &queued) != 0 || queued <= 0) break;
      ares_process_fd(chan(channel_), read_fd, ARES_SOCKET_BAD);
    }
  }
  if (auto it = watches_.find(fd); it != watches_.end()) arm(it->second);
  reset_timer();
}

void DnsResolver::reset_timer() {
  if (destroying_) return;
  timeval tv{};
  timeval* t = ares_timeout(chan(channel_), nullptr, &tv);
  if (!t) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds(t->tv_sec) + std::chrono::microseconds(t->tv_usec));
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retransmissions and timeouts
  });
}

// --- discovery --------------------------------------------------------------------------

std::vector<Endpoint> dns_hosts(const ClusterOptions& options, const std::vector<DnsAnswer>& answers,
                                const std::vector<std::vector<Endpoint>>& previous_per_endpoint,
                                std::vector<std::vector<Endpoint>>& per_endpoint) {
  const bool logical = options.type == ClusterType::logical_dns;
  std::vector<std::vector<Endpoint>> fresh(options.endpoints.size());  // `previous` may be `per_endpoint`
  std::vector<Endpoint> hosts;
  for (std::size_t i = 0; i < options.endpoints.size() && i < answers.size(); ++i) {
    const auto& e = options.endpoints[i];
    const auto& a = answers[i];
    auto& mine = fresh[i];
    // A failed lookup says nothing new: keep what this name gave last time. So does an
    // empty answer for LOGICAL_DNS, whose one host keeps its last address (as in Envoy).
    bool keep = a.status == DnsAnswer::Status::failed || (logical && a.addresses.empty());
    if (keep) {
      if (i < previous_per_endpoint.size()) mine = previous_per_endpoint[i];
    } else {
      for (const auto& addr : a.addresses) {
        mine.push_back(Endpoint{addr.to_string(), e.port, e.weight, e.priority});
        if (logical) break;  // one logical host: the first address
      }
    }
    for (const auto& h : mine) {
      bool dup = std::any_of(hosts.begin(), hosts.end(),
                             [&](const Endpoint& o) { return o.address == h.address && o.port == h.port; });
      if (!dup) hosts.push_back(h);
    }
  }
  per_endpoint = std::move(fresh);
  return hosts;
}

std::chrono::milliseconds dns_refresh_delay(const DnsOptions& dns, const std::vector<DnsAnswer>& answers) {
  if (!dns.respect_dns_ttl) return dns.refresh_rate;
  std::chrono::seconds ttl{0};
  for (const auto& a : answers)
    if (a.status == DnsAnswer::Status::ok && a.ttl.count() > 0 && (ttl.count() == 0 || a.ttl < ttl)) ttl = a.ttl;
  if (ttl.count() == 0) return dns.refresh_rate;
  return std::chrono::duration_cast<std::chrono::milliseconds>(ttl);
}

DnsDiscovery::DnsDiscovery(asio::any_io_executor ex, ClusterOptions options, Publish publish,
                           const detail::Logger* log)
    : options_(std::move(options)),
      publish_(std::move(publish)),
      log_(log),
      resolver_(ex, options_.dns.resolvers),
      timer_(ex) {}

DnsDiscovery::~DnsDiscovery() = default;

void DnsDiscovery::start() { round(); }

void DnsDiscovery::round() {
  ++round_id_;
  const auto n = options_.endpoints.size();
  answers_.assign(n, DnsAnswer{});
  outstanding_ = n;
  if (n == 0) {
    on_answer(round_id_, 0, {});
    return;
  }
  for (std::size_t i = 0; i < n; ++i)
    resolver_.resolve(options_.endpoints[i].address, options_.dns.lookup_family,
                      [this, id = round_id_, i](DnsAnswer a) { on_answer(id, i, std::move(a)); });
}

void DnsDiscovery::on_answer(std::uint64_t id, std::size_t index, DnsAnswer answer) {
  if (id != round_id_) return;
  if (index < answers_.size()) {
    if (answer.status == DnsAnswer::Status::failed && log_)
      FERRY_LOG(*log_, warn, "cluster \"" << options_.name << "\": DNS lookup of \""
                                           << options_.endpoints[index].address << "\" failed: " << answer.error
                                           << " (keeping its previous hosts)");
    answers_[index] = std::move(answer);
    if (--outstanding_ > 0) return;
  }
  ++rounds_;
  std::vector<std::vector<Endpoint>> per_endpoint;
  auto hosts = dns_hosts(options_, answers_, per_endpoint_, per_endpoint);
  per_endpoint_ = std::move(per_endpoint);
  if (!published_once_ || !same_endpoints(hosts, published_)) {
    published_once_ = true;
    published_ = hosts;
    if (log_)
      FERRY_LOG(*log_, info, "cluster \"" << options_.name << "\": DNS gives " << hosts.size() << " host(s)");
    publish_(std::move(hosts));
  }
  timer_.expires_after(dns_refresh_delay(options_.dns, answers_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) round();
  });
}

}  // namespace ferry::upstream
