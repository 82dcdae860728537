// Allocation budget of the proxy's data path: heap allocations per proxied keep-alive request,
// counted (not timed) on the proxy's worker thread.
//
// This executable replaces the global operator new/delete (every form) and, outside sanitizer
// builds, also interposes the C allocation functions (malloc, calloc, realloc, aligned_alloc,
// memalign, posix_memalign), forwarding to glibc's __libc_* entry points. The second part
// matters: Asio's recycling allocator (handlers, awaitable coroutine frames) falls back to
// aligned_alloc, not operator new, so counting operator new alone misses its churn. Each
// allocation is counted in a per-thread slot: a fixed array of slots, claimed lock-free on a
// thread's first allocation, keyed by its kernel thread id. (Under ASan the C functions are
// ASan's own; there only operator new is counted and the budget check is skipped.)
//
// Only the public API is used to find the worker: the test lists /proc/self/task before and
// after Server::start(); the one new thread is the worker (workers = 1). The fake upstream
// allocates freely, but on its own threads (accept thread, then one thread per connection),
// and the test client runs on the test thread, so neither shows up in the worker's count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <dirent.h>
#include <new>
#include <string>
#include <unistd.h>
#include <vector>

#include "integration/proxy_fixture.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FERRY_ALLOC_COUNT_C 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FERRY_ALLOC_COUNT_C 0
#endif
#endif
#ifndef FERRY_ALLOC_COUNT_C
#define FERRY_ALLOC_COUNT_C 1
#endif

#if FERRY_ALLOC_COUNT_C
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}
#endif

namespace {

enum class Via { op_new, c_alloc };

struct Slot {
  std::atomic<pid_t> tid{0};
  std::atomic<std::uint64_t> op_new{0};   ///< operator new (every form)
  std::atomic<std::uint64_t> c_alloc{0};  ///< malloc & co. called directly (not by operator new)
  std::atomic<std::uint64_t> bytes{0};
};

constexpr int kSlots = 4096;
Slot g_slots[kSlots];  // constant-initialised: usable before any constructor runs
std::atomic<int> g_next_slot{0};
thread_local Slot* t_slot = nullptr;  // trivially initialised: no allocation for the TLS itself

void count(Via via, std::size_t n) noexcept {
  Slot* s = t_slot;
  if (s == nullptr) {
    int i = g_next_slot.fetch_add(1, std::memory_order_relaxed);
    if (i >= kSlots) return;  // out of slots: uncounted (the test then fails to find the worker)
    s = &g_slots[i];
    s->tid.store(static_cast<pid_t>(::gettid()), std::memory_order_release);
    t_slot = s;
  }
  (via == Via::op_new ? s->op_new : s->c_alloc).fetch_add(1, std::memory_order_relaxed);
  s->bytes.fetch_add(n, std::memory_order_relaxed);
}

// operator new allocates through these, so that the C-level counters below see only direct
// calls (no double counting).
void* raw_malloc(std::size_t n) noexcept {
#if FERRY_ALLOC_COUNT_C
  return __libc_malloc(n);
#else
  return std::malloc(n);
#endif
}
void* raw_aligned(std::size_t align, std::size_t n) noexcept {
#if FERRY_ALLOC_COUNT_C
  return __libc_memalign(align, n);
#else
  std::size_t size = (n + align - 1) / align * align;  // aligned_alloc wants a multiple
  return std::aligned_alloc(align, size == 0 ? align : size);
#endif
}

void* counted_new(std::size_t n) noexcept {
  count(Via::op_new, n);
  return raw_malloc(n == 0 ? 1 : n);
}

void* counted_new_aligned(std::size_t n, std::align_val_t al) noexcept {
  count(Via::op_new, n);
  auto a = static_cast<std::size_t>(al);
  return raw_aligned(a < sizeof(void*) ? sizeof(void*) : a, n == 0 ? 1 : n);
}

struct Counts {
  std::uint64_t op_new = 0;
  std::uint64_t c_alloc = 0;
  std::uint64_t bytes = 0;
  std::uint64_t allocations() const { return op_new + c_alloc; }
};

/// What thread `tid` has allocated so far (a reused tid: the sum over its slots).
Counts counts_of(pid_t tid) {
  Counts c;
  int n = std::min(g_next_slot.load(std::memory_order_acquire), kSlots);
  for (int i = 0; i < n; ++i)
    if (g_slots[i].tid.load(std::memory_order_acquire) == tid) {
      c.op_new += g_slots[i].op_new.load(std::memory_order_relaxed);
      c.c_alloc += g_slots[i].c_alloc.load(std::memory_order_relaxed);
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

#if FERRY_ALLOC_COUNT_C
// The C allocation functions, interposed for the whole process (free stays glibc's: every
// block still comes from glibc's allocator).
extern "C" {
void* malloc(std::size_t n) {
  count(Via::c_alloc, n);
  return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
  count(Via::c_alloc, k * n);
  return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
  count(Via::c_alloc, n);
  return __libc_realloc(p, n);
}
void* memalign(std::size_t align, std::size_t n) {
  count(Via::c_alloc, n);
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
  count(Via::c_alloc, n);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  count(Via::c_alloc, n);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

void* operator new(std::size_t n) {
  if (void* p = counted_new(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_new(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_new_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_new_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_new_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_new_aligned(n, a);
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

// Heap allocations (operator new + direct malloc/aligned_alloc) per proxied keep-alive GET on
// the worker thread, after warm-up: the measured value, rounded up. Lower it when the data
// path gets leaner; a rise is a regression to explain.
constexpr double kAllocationsPerRequestBudget = 6;

namespace {

struct Measured {
  double per_request = 0;         ///< all counted allocations
  double op_new_per_request = 0;  ///< of which operator new
  double c_per_request = 0;       ///< of which malloc & co. called directly
  double bytes_per_request = 0;
  std::uint64_t warmup_allocations = 0;  ///< connection setup and the first requests included
};

/// A Proxy (1 worker) in front of a FakeUpstream; `warmup` then `measured` GETs, one at a time,
/// round-robin over `connections` keep-alive connections; what the worker thread allocated
/// during the measured ones.
Measured measure(FilterChain chain, int warmup, int measured, int connections = 1) {
  FakeUpstream upstream([](const SeenRequest&) { return FakeResponse{.body = "hello, world!"}; });
  auto before = thread_ids();
  Proxy proxy({cluster_to("backend", {upstream.port()})}, route_all("backend"), {}, std::move(chain));
  auto after = thread_ids();
  std::vector<pid_t> started;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(started));
  INFO("threads started by Server::start(): " << started.size());
  REQUIRE(started.size() == 1);  // workers = 1, and no other thread
  const pid_t worker = started.front();

  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < connections; ++i) clients.push_back(std::make_unique<TestClient>(proxy.port()));
  std::size_t next = 0;
  auto run = [&](int n) {
    int bad = 0;
    for (int i = 0; i < n; ++i) {
      auto& client = *clients[next++ % clients.size()];
      auto r = client.request("GET", "/", {{"host", "127.0.0.1"}});
      if (r.status != 200 || r.body != "hello, world!") ++bad;
    }
    return bad;
  };
  REQUIRE(run(warmup) == 0);
  const Counts warm = counts_of(worker);
  REQUIRE(run(measured) == 0);
  const Counts done = counts_of(worker);
  REQUIRE(upstream.requests() == std::uint64_t(warmup + measured));
  CHECK(warm.allocations() > 0);  // the worker was found: accepting a connection allocates
  return {double(done.allocations() - warm.allocations()) / measured,
          double(done.op_new - warm.op_new) / measured,
          double(done.c_alloc - warm.c_alloc) / measured,
          double(done.bytes - warm.bytes) / measured, warm.allocations()};
}

/// Allocates nothing itself; ferry creates one instance per stream.
struct NoopFilter : Filter {};

}  // namespace

TEST_CASE("a warm keep-alive connection proxies GETs within the allocation budget", "[alloc]") {
  auto m = measure({}, 200, 1000);
  WARN("worker allocations per request: " << m.per_request << " (operator new "
                                          << m.op_new_per_request << ", malloc/aligned_alloc "
                                          << "called directly " << m.c_per_request << "; "
                                          << m.bytes_per_request << " bytes); warm-up (200 "
                                          << "requests, connection setup included): "
                                          << m.warmup_allocations << "; budget "
                                          << kAllocationsPerRequestBudget);
  if (!FERRY_ALLOC_COUNT_C) {
    WARN("sanitizer build: malloc & co. are the sanitizer's, only operator new is counted; "
         "budget not checked");
    return;
  }
  CHECK(m.per_request <= kAllocationsPerRequestBudget);
}

TEST_CASE("warm keep-alive connections taking turns stay within the allocation budget", "[alloc]") {
  auto m = measure({}, 200, 1000, 4);
  WARN("4 connections in turn: worker allocations per request: "
       << m.per_request << " (operator new " << m.op_new_per_request
       << ", malloc/aligned_alloc called directly " << m.c_per_request << "; "
       << m.bytes_per_request << " bytes); budget " << kAllocationsPerRequestBudget);
  if (FERRY_ALLOC_COUNT_C) CHECK(m.per_request <= kAllocationsPerRequestBudget);
}

// The control: the counter sees allocations the worker makes per request. A host filter is
// created per stream by its factory (std::make_unique), so there is at least one per request.
TEST_CASE("the allocation counter sees per-stream filter instances on the worker", "[alloc]") {
  auto m = measure(FilterChain{}.add<NoopFilter>(), 50, 200);
  INFO("worker operator new calls per request with one filter: " << m.op_new_per_request);
  CHECK(m.op_new_per_request >= 1);
}

}  // namespace ferry::test
