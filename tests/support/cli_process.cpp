#include "support/cli_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ferry::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

ExitStatus decode(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.exited = true;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.code = WTERMSIG(status);
  }
  return s;
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::string cli_path() {
#ifdef FERRY_CLI_PATH
  return FERRY_CLI_PATH;
#else
  throw std::runtime_error("FERRY_CLI_PATH is not defined: the ferry_cli target is not built");
#endif
}

}  // namespace

// --- TempFile ----------------------------------------------------------------------------

TempFile::TempFile(const std::string& content, const std::string& suffix) {
  std::string templ = temp_dir() + "/ferry-test-XXXXXX" + suffix;
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  int fd = ::mkstemps(buf.data(), static_cast<int>(suffix.size()));
  if (fd < 0) throw std::runtime_error("mkstemps: " + std::string(std::strerror(errno)));
  path_ = buf.data();
  std::size_t off = 0;
  while (off < content.size()) {
    auto n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("write " + path_ + ": " + std::strerror(errno));
    }
    off += std::size_t(n);
  }
  ::close(fd);
}

TempFile::~TempFile() { ::unlink(path_.c_str()); }

std::string TempFile::read() const {
  std::ifstream in(path_, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ExitStatus::describe() const {
  return exited ? "exit code " + std::to_string(code) : "killed by signal " + std::to_string(code);
}

// --- CliProcess --------------------------------------------------------------------------

CliProcess::CliProcess(const std::string& config, const std::string& config_suffix,
                       std::vector<std::string> args, const std::string& executable)
    : out_(""), err_("") {
  std::vector<std::string> argv_s{executable.empty() ? cli_path() : executable};
  if (!config.empty()) {
    config_ = std::make_unique<TempFile>(config, config_suffix);
    argv_s.push_back("-c");
    argv_s.push_back(config_->path());
  }
  for (auto& a : args) argv_s.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_.path().c_str(), O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_addopen(&actions, 2, err_.path().c_str(), O_WRONLY | O_TRUNC, 0);
  // The child starts with an empty signal mask and default dispositions, whatever the test
  // runner set up (e.g. SIGPIPE ignored).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int rc = ::posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("posix_spawn " + argv_s[0] + ": " + std::strerror(rc));
  }
}

CliProcess::~CliProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

const std::string& CliProcess::config_path() const {
  static const std::string none;
  return config_ ? config_->path() : none;
}

std::optional<ExitStatus> CliProcess::poll_exit() {
  if (status_ || pid_ <= 0) return status_;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = decode(st);
  return status_;
}

std::optional<ExitStatus> CliProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto s = poll_exit()) return s;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void CliProcess::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

bool CliProcess::wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (poll_exit()) return false;
    int fd = connect_loopback(port);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<std::uint64_t> CliProcess::proc_status_kib(const std::string& field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream s(line.substr(field.size() + 1));
    std::uint64_t kib = 0;
    if (s >> kib) return kib;
  }
  return std::nullopt;
}

std::string CliProcess::output() const { return out_.read() + err_.read(); }

// --- helpers -----------------------------------------------------------------------------

CliResult run_cli(const std::string& config, const std::string& config_suffix,
                  std::vector<std::string> args, std::chrono::milliseconds timeout) {
  CliProcess p(config, config_suffix, std::move(args));
  CliResult r;
  if (auto s = p.wait_exit(timeout)) {
    r.status = *s;
  } else {
    r.timed_out = true;
    p.signal(SIGKILL);
    r.status = p.wait_exit(std::chrono::seconds(5)).value_or(ExitStatus{});
  }
  r.output = p.output();
  return r;
}

std::uint16_t pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  auto a = loopback(0);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("bind 127.0.0.1:0: " + std::string(std::strerror(e)));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

RunningCli start_cli(const std::function<std::string(std::uint16_t)>& make_config,
                     const std::string& config_suffix, std::vector<std::string> args) {
  std::string failures;
  for (int attempt = 0; attempt < 2; ++attempt) {
    RunningCli r;
    r.port = pick_free_port();
    r.process = std::make_unique<CliProcess>(make_config(r.port), config_suffix, args);
    if (r.process->wait_until_listening(r.port)) return r;
    auto status = r.process->poll_exit();
    failures += "attempt " + std::to_string(attempt + 1) + " on port " + std::to_string(r.port) +
                ": " + (status ? status->describe() : std::string("not listening after 10 s")) +
                "; output:\n" + r.process->output() + "\n";
    if (!status) break;  // alive but not listening: a retry would not help
  }
  throw std::runtime_error("ferry CLI did not start\n" + failures);
}

int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  auto a = loopback(port);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  if (local.sin_port == a.sin_port) {  // connected to itself: nobody is listening
    ::close(fd);
    errno = ECONNREFUSED;
    return -1;
  }
  return fd;
}

}  // namespace ferry::test
