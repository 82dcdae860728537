// ferry's diagnostic logger: a worker thread never waits for stderr.
#include <catch2/catch.hpp>

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "common/log.hpp"

using namespace std::chrono_literals;

TEST_CASE("log lines from a worker thread never wait for a stalled stderr", "[log]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  int saved = ::dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  ::dup2(fds[1], STDERR_FILENO);  // a pipe nobody reads yet: it holds 64 KiB, then blocks
  std::chrono::steady_clock::duration took{};
  std::atomic<bool> done{false};
  std::thread drain;
  {
    ferry::detail::Logger log(ferry::LogLevel::info, {});
    std::thread worker([&] {
      ferry::detail::mark_worker_thread();
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 5000; ++i) log.write(ferry::LogLevel::info, std::string(100, 'x'));  // ~0.5 MB
      took = std::chrono::steady_clock::now() - t0;
    });
    worker.join();
    // Now read the pipe so that the logger's writer can flush what it kept.
    drain = std::thread([&] {
      char buf[65536];
      while (!done) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 20) > 0 && ::read(fds[0], buf, sizeof buf) <= 0) break;
      }
    });
  }  // the logger's writer flushes and stops here
  done = true;
  drain.join();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[0]);
  ::close(fds[1]);
  CHECK(took < 2s);  // writing to the pipe inline would have blocked after ~650 lines
}
