// Allocation budget of the proxy's data path: heap allocations per proxied keep-alive request,
// counted (not timed) on the proxy's worker thread.
//
// This executable replaces the global operator new/delete (every form), so each allocation
// made through operator new is counted in a per-thread slot: a fixed array of slots, claimed
// lock-free on a thread's first allocation, keyed by its kernel thread id. malloc called
// directly (by C code or by a library's own allocator) is not counted.
//
// Only the public API is used to find the worker: the test lists /proc/self/task before and
// after Server::start(); the one new thread is the worker (workers = 1). The fake upstream
// allocates freely, but on its own threads (accept thread, then one thread per connection),
// and the test client runs on the test thread, so neither shows up in the worker's count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <dirent.h>
#include <new>
#include <string>
#include <unistd.h>
#include <vector>

#include "integration/proxy_fixture.hpp"

namespace {

struct Slot {
  std::atomic<pid_t> tid{0};
  std::atomic<std::uint64_t> allocations{0};
  std::atomic<std::uint64_t> bytes{0};
};

constexpr int kSlots = 4096;
Slot g_slots[kSlots];
std::atomic<int> g_next_slot{0};
thread_local Slot* t_slot = nullptr;  // trivially initialised: no allocation for the TLS itself

void count(std::size_t n) noexcept {
  Slot* s = t_slot;
  if (s == nullptr) {
    int i = g_next_slot.fetch_add(1, std::memory_order_relaxed);
    if (i >= kSlots) return;  // out of slots: uncounted (the test then fails to find the worker)
    s = &g_slots[i];
    s->tid.store(static_cast<pid_t>(::gettid()), std::memory_order_release);
    t_slot = s;
  }
  s->allocations.fetch_add(1, std::memory_order_relaxed);
  s->bytes.fetch_add(n, std::memory_order_relaxed);
}

void* counted_malloc(std::size_t n) {
  count(n);
  return std::malloc(n == 0 ? 1 : n);
}

void* counted_aligned(std::size_t n, std::align_val_t al) {
  count(n);
  auto a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  std::size_t size = (n + a - 1) / a * a;  // aligned_alloc wants a multiple of the alignment
  return std::aligned_alloc(a, size == 0 ? a : size);
}

struct Counts {
  std::uint64_t allocations = 0;
  std::uint64_t bytes = 0;
};

/// What thread `tid` has allocated so far (a reused tid: the sum over its slots).
Counts counts_of(pid_t tid) {
  Counts c;
  int n = std::min(g_next_slot.load(std::memory_order_acquire), kSlots);
  for (int i = 0; i < n; ++i)
    if (g_slots[i].tid.load(std::memory_order_acquire) == tid) {
      c.allocations += g_slots[i].allocations.load(std::memory_order_relaxed);
      c.bytes += g_slots[i].bytes.load(std::memory_order_relaxed);
    }
  return c;
}

/// The kernel thread ids of this process, from /proc/self/task.
std::vector<pid_t> thread_ids() {
  std::vector<pid_t> ids;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return ids;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  ::closedir(dir);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_malloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_aligned(n, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace ferry::test {

// Heap allocations (operator new) per proxied keep-alive GET on the worker thread, after
// warm-up: the measured value, rounded up. Lower it when the data path gets leaner; a rise is
// a regression to explain.
constexpr double kAllocationsPerRequestBudget = 0;

TEST_CASE("a warm keep-alive connection proxies GETs within the allocation budget", "[alloc]") {
  constexpr int kWarmup = 200;
  constexpr int kMeasured = 1000;

  FakeUpstream upstream([](const SeenRequest&) { return FakeResponse{.body = "hello, world!"}; });
  auto before = thread_ids();
  Proxy proxy({cluster_to("backend", {upstream.port()})}, route_all("backend"));
  auto after = thread_ids();
  std::vector<pid_t> started;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(started));
  INFO("threads started by Server::start(): " << started.size());
  REQUIRE(started.size() == 1);  // workers = 1, and no other thread
  const pid_t worker = started.front();

  TestClient client(proxy.port());
  auto run = [&](int n) {
    int bad = 0;
    for (int i = 0; i < n; ++i) {
      auto r = client.request("GET", "/", {{"host", "127.0.0.1"}});
      if (r.status != 200 || r.body != "hello, world!") ++bad;
    }
    return bad;
  };

  REQUIRE(run(kWarmup) == 0);
  const Counts warm = counts_of(worker);
  REQUIRE(run(kMeasured) == 0);
  const Counts done = counts_of(worker);
  REQUIRE(upstream.requests() == kWarmup + kMeasured);

  const double per_request = double(done.allocations - warm.allocations) / kMeasured;
  const double bytes_per_request = double(done.bytes - warm.bytes) / kMeasured;
  WARN("worker allocations per request: " << per_request << " (" << bytes_per_request
                                          << " bytes); warm-up (" << kWarmup
                                          << " requests, connection setup included): "
                                          << warm.allocations << "; budget "
                                          << kAllocationsPerRequestBudget);
  CHECK(warm.allocations > 0);  // the worker was found: accepting the connection allocates
  CHECK(per_request <= kAllocationsPerRequestBudget);
}

}  // namespace ferry::test
