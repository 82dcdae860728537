#include "support/dns_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ferry::test {

namespace {

// A name dnsmasq answers with the hosts file's generation, so a test knows when a rewrite
// has been read.
constexpr const char* kGenerationName = "generation.ferry.test";

std::string generation_ip(unsigned g) {
  return "127.255." + std::to_string((g >> 8) & 0xff) + "." + std::to_string(g & 0xff);
}

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

}  // namespace

std::string dnsmasq_path() {
  std::vector<std::string> dirs;
  if (const char* p = std::getenv("PATH")) {
    std::stringstream ss(p);
    for (std::string d; std::getline(ss, d, ':');)
      if (!d.empty()) dirs.push_back(d);
  }
  // Debian puts it in /usr/sbin, which a non-root PATH often lacks.
  dirs.insert(dirs.end(), {"/usr/sbin", "/sbin", "/usr/local/sbin"});
  for (const auto& d : dirs)
    if (executable(d + "/dnsmasq")) return d + "/dnsmasq";
  return {};
}

std::vector<std::string> query_a(std::uint16_t port, const std::string& name, std::chrono::milliseconds timeout) {
  std::string msg("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  std::stringstream labels(name);
  for (std::string label; std::getline(labels, label, '.');) {
    msg.push_back(char(label.size()));
    msg += label;
  }
  msg.append("\x00\x00\x01\x00\x01", 5);  // root, type A, class IN
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<std::string> out;
  unsigned char buf[512];
  ssize_t n = -1;
  if (::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
      ssize_t(msg.size())) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, int(timeout.count())) == 1) n = ::recv(fd, buf, sizeof buf, 0);
  }
  ::close(fd);
  if (n < 12) return out;
  const auto size = std::size_t(n);
  auto skip_name = [&](std::size_t at) {
    while (at < size) {
      if ((buf[at] & 0xc0) == 0xc0) return at + 2;  // compression pointer ends the name
      if (buf[at] == 0) return at + 1;
      at += std::size_t(buf[at]) + 1;
    }
    return size;
  };
  std::size_t answers = std::size_t(buf[6]) << 8 | buf[7];
  std::size_t at = skip_name(12) + 4;  // the question: name, type, class
  for (std::size_t i = 0; i < answers; ++i) {
    at = skip_name(at);
    if (at + 10 > size) break;
    unsigned type = unsigned(buf[at]) << 8 | buf[at + 1];
    std::size_t len = std::size_t(buf[at + 8]) << 8 | buf[at + 9];
    at += 10;
    if (type == 1 && len == 4 && at + 4 <= size) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, buf + at, text, sizeof text);
      out.emplace_back(text);
    }
    at += len;
  }
  return out;
}

DnsServer::DnsServer(Records records, int ttl) {
  auto path = dnsmasq_path();
  if (path.empty())
    throw std::runtime_error("dnsmasq is not installed (scripts/deps installs the Debian package dnsmasq)");
  hosts_ = std::make_unique<TempFile>("", ".hosts");
  write_hosts(records);
  std::string failures;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = pick_free_port();
    std::vector<std::string> args{"--no-daemon", "--port=" + std::to_string(port_),
                                  "--listen-address=127.0.0.1", "--bind-interfaces",
                                  "--no-resolv", "--no-hosts",
                                  "--addn-hosts=" + hosts_->path(), "--conf-file=/dev/null",
                                  "--pid-file=", "--local=/ferry.test/",
                                  "--local-ttl=" + std::to_string(ttl), "--cache-size=0"};
    // As root, dnsmasq would switch to an unprivileged user that may not read our file.
    if (::geteuid() == 0) args.push_back("--user=root");
    process_ = std::make_unique<CliProcess>("", "", args, path);
    if (serving_generation(std::chrono::seconds(5))) return;
    auto status = process_->poll_exit();
    failures += "port " + std::to_string(port_) + ": " +
                (status ? status->describe() : std::string("no answer")) + "; " + process_->output() + "\n";
    process_.reset();
  }
  throw std::runtime_error("dnsmasq did not start:\n" + failures);
}

DnsServer::~DnsServer() = default;  // CliProcess kills and reaps

void DnsServer::write_hosts(const Records& records) {
  ++generation_;
  std::ofstream f(hosts_->path(), std::ios::trunc);
  for (const auto& [name, ip] : records) f << ip << " " << name << "\n";
  f << generation_ip(generation_) << " " << kGenerationName << "\n";
}

bool DnsServer::serving_generation(std::chrono::milliseconds timeout) const {
  auto until = std::chrono::steady_clock::now() + timeout;
  auto want = generation_ip(generation_);
  while (std::chrono::steady_clock::now() < until) {
    auto got = query_a(port_, kGenerationName, std::chrono::milliseconds(100));
    if (got.size() == 1 && got[0] == want) return true;
    if (process_ && !process_->running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void DnsServer::set_records(const Records& records) {
  write_hosts(records);
  process_->signal(SIGHUP);
  if (!serving_generation(std::chrono::seconds(5)))
    throw std::runtime_error("dnsmasq did not pick up the new records:\n" + process_->output());
}

}  // namespace ferry::test
