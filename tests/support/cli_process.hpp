// Runs the built `ferry` CLI (FERRY_CLI_PATH) as a child process for integration tests:
// writes its config to a temp file, captures stdout/stderr in temp files, waits for its
// listener, reads its memory figures from /proc, stops it with a signal. Every wait is
// bounded; the destructor kills (SIGKILL) and reaps a child that is still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::test {

/// A file in the temp directory, removed on destruction.
class TempFile {
 public:
  /// Creates "<tmp>/ferry-test-XXXXXX<suffix>" holding `content`.
  explicit TempFile(const std::string& content, const std::string& suffix = "");
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const noexcept { return path_; }
  std::string read() const;

 private:
  std::string path_;
};

/// Exit code (WEXITSTATUS) when the child exited, or 128 + signal when a signal killed it.
struct ExitStatus {
  bool exited = false;  ///< false: killed by a signal
  int code = -1;        ///< exit code, or the signal number when !exited
  bool ok() const noexcept { return exited && code == 0; }
  std::string describe() const;
};

class CliProcess {
 public:
  /// Starts FERRY_CLI_PATH with `args`; the config (if any) goes to a temp file with
  /// `config_suffix` (".yaml", ".json") and is passed as "-c FILE" before `args`.
  /// An empty `config` passes no -c.
  /// A non-empty `executable` runs that program instead of the CLI (the examples).
  CliProcess(const std::string& config, const std::string& config_suffix,
             std::vector<std::string> args, const std::string& executable = {});
  ~CliProcess();  ///< SIGKILL + reap if still running
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  /// Polls connect() to 127.0.0.1:port until it succeeds (true), the child exits or
  /// `timeout` passes (false).
  bool wait_until_listening(std::uint16_t port,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Non-blocking: the exit status if the child has ended.
  std::optional<ExitStatus> poll_exit();
  /// Waits at most `timeout` for the child to end.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
  bool running() { return !poll_exit().has_value(); }
  void signal(int sig);
  /// "VmHWM"/"VmRSS"/... from /proc/PID/status, in KiB; nullopt if unreadable.
  std::optional<std::uint64_t> proc_status_kib(const std::string& field) const;
  std::optional<std::uint64_t> peak_rss_kib() const { return proc_status_kib("VmHWM"); }
  std::optional<std::uint64_t> rss_kib() const { return proc_status_kib("VmRSS"); }
  /// What the child wrote so far (both streams, stdout first).
  std::string output() const;
  const std::string& config_path() const;

 private:
  std::unique_ptr<TempFile> config_;
  TempFile out_;
  TempFile err_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

/// Runs the CLI to completion (bounded by `timeout`, then SIGKILL) and returns its status
/// and combined output.
struct CliResult {
  ExitStatus status;
  std::string output;
  bool timed_out = false;
};
CliResult run_cli(const std::string& config, const std::string& config_suffix,
                  std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// A loopback port that was free a moment ago (bound to 127.0.0.1:0, then closed).
std::uint16_t pick_free_port();

/// Starts the CLI serving `make_config(port)` on a freshly picked port and waits until the
/// port accepts connections. If the first attempt dies (e.g. someone took the port in
/// between), it tries once more with another port. Throws std::runtime_error (with the
/// CLI's output) when the proxy does not come up.
struct RunningCli {
  std::unique_ptr<CliProcess> process;
  std::uint16_t port = 0;
};
RunningCli start_cli(const std::function<std::string(std::uint16_t port)>& make_config,
                     const std::string& config_suffix, std::vector<std::string> args);

/// connect() to 127.0.0.1:port; returns the fd (caller closes) or -1 with errno set.
/// A TCP self-connect (possible when nothing listens on an ephemeral port) counts as a
/// failure with errno = ECONNREFUSED.
int connect_loopback(std::uint16_t port);

}  // namespace ferry::test
