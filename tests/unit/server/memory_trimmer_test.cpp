// MemoryTrimmer: trims on its own thread, folds a burst of requests into one trim, and
// never makes the asking thread wait (lib/server/memory_trimmer.hpp).
#include <catch2/catch.hpp>

#include <atomic>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "server/memory_trimmer.hpp"

using namespace std::chrono_literals;
using ferry::server::MemoryTrimmer;

namespace {

struct TrimLog {
  std::mutex mu;
  std::vector<std::thread::id> threads;
  void record() {
    std::lock_guard lock(mu);
    threads.push_back(std::this_thread::get_id());
  }
  std::vector<std::thread::id> snapshot() {
    std::lock_guard lock(mu);
    return threads;
  }
};

// Waits (bounded) until `trimmer` has done `n` trims.
bool wait_trims(const MemoryTrimmer& trimmer, std::uint64_t n) {
  for (int i = 0; i < 500 && trimmer.trims() < n; ++i) std::this_thread::sleep_for(10ms);
  return trimmer.trims() >= n;
}

}  // namespace

TEST_CASE("a burst of trim requests from many threads makes one trim on the trimmer thread",
          "[unit][server][trim]") {
  TrimLog log;
  // A slow trim: the requests must not wait for it. The delay is long against the burst, so
  // that a thread descheduled on a loaded machine still asks before the trim starts.
  MemoryTrimmer trimmer(1000ms, [&log] {
    log.record();
    std::this_thread::sleep_for(200ms);
  });
  constexpr int kThreads = 8;
  std::latch go(kThreads);
  std::vector<std::thread::id> askers(kThreads);
  std::vector<std::chrono::steady_clock::duration> took(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      askers[i] = std::this_thread::get_id();
      go.arrive_and_wait();
      auto start = std::chrono::steady_clock::now();
      for (int k = 0; k < 100; ++k) trimmer.request();
      took[i] = std::chrono::steady_clock::now() - start;
    });
  for (auto& t : threads) t.join();
  REQUIRE(wait_trims(trimmer, 1));
  std::this_thread::sleep_for(1500ms);  // past another delay and trim: no second trim comes
  auto trims = log.snapshot();
  REQUIRE(trims.size() == 1);
  CHECK(trimmer.trims() == 1);
  for (const auto& id : askers) CHECK(trims[0] != id);
  CHECK(trims[0] != std::this_thread::get_id());
  for (auto d : took) CHECK(d < 500ms);  // 100 requests never wait for a trim (200 ms) or the delay

  // A later request gets a trim of its own.
  trimmer.request();
  REQUIRE(wait_trims(trimmer, 2));
  CHECK(log.snapshot().size() == 2);
}

TEST_CASE("a trim request during a trim gets a second trim and destruction ends a pending delay",
          "[unit][server][trim]") {
  std::atomic<int> trims{0};
  std::latch trimming(1);
  std::latch release(1);
  {
    MemoryTrimmer trimmer(20ms, [&] {
      if (trims.fetch_add(1) == 0) {
        trimming.count_down();
        release.wait();
      }
    });
    trimmer.request();
    trimming.wait();
    trimmer.request();  // during the first trim: what it frees may have been missed
    release.count_down();
    REQUIRE(wait_trims(trimmer, 2));
    CHECK(trims == 2);
  }
  auto start = std::chrono::steady_clock::now();
  {
    MemoryTrimmer trimmer(10s, [&] { ++trims; });
    trimmer.request();
  }  // the destructor does not sit out the 10 s delay, nor trim
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(trims == 2);
}
