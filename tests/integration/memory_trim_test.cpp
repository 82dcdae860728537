// Returning memory after mass parking: the malloc_trim runs once per burst and never on a
// worker thread (lib/server/memory_trimmer.hpp). This binary's malloc_trim below stands in
// for glibc's (the executable's definition wins over libc's), records the calling thread
// and forwards the call, so the test sees every trim the library makes.
#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

std::mutex g_trim_mu;
std::vector<std::thread::id> g_trim_threads;  // guarded by g_trim_mu

std::vector<std::thread::id> trim_threads() {
  std::lock_guard lock(g_trim_mu);
  return g_trim_threads;
}

void clear_trim_threads() {
  std::lock_guard lock(g_trim_mu);
  g_trim_threads.clear();
}

// Records the worker threads that served requests.
class ThreadRecorder final : public Filter {
 public:
  ThreadRecorder(std::mutex* mu, std::set<std::thread::id>* ids) : mu_(mu), ids_(ids) {}
  FilterStatus on_request_headers(RequestHeaders&, bool, StreamContext&) override {
    std::lock_guard lock(*mu_);
    ids_->insert(std::this_thread::get_id());
    return FilterStatus::Continue;
  }

 private:
  std::mutex* mu_;
  std::set<std::thread::id>* ids_;
};

}  // namespace

extern "C" int malloc_trim(size_t pad) {
  {
    std::lock_guard lock(g_trim_mu);
    g_trim_threads.push_back(std::this_thread::get_id());
  }
  using Fn = int (*)(size_t);
  static Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "malloc_trim"));
  return real ? real(pad) : 0;
}

TEST_CASE("mass parking on two workers leads to one malloc_trim off the worker threads",
          "[integration][lifecycle][trim]") {
  FakeUpstream up;
  std::mutex mu;
  std::set<std::thread::id> workers;
  FilterChain chain;
  chain.add<ThreadRecorder>(&mu, &workers);
  auto started = std::chrono::steady_clock::now();
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, std::move(chain), 2);
  clear_trim_threads();
  // Enough connections that each worker frees well over the 1 MiB that asks for a trim
  // when they park (144 KiB of buffers each beyond the four a worker keeps; 12 per worker
  // would do, and 64 spread over two leave one with fewer only with odds ~1e-7).
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back(std::make_unique<TestClient>(proxy.port()));
    REQUIRE(clients.back()->request("GET", "/").status == 200);
  }
  // The workers sweep in step every second from the start: connections that all went idle
  // before the first sweep all park in the second one, on both workers - one burst.
  bool one_burst = std::chrono::steady_clock::now() - started < 900ms;
  {
    std::lock_guard lock(mu);
    REQUIRE(workers.size() == 2);  // the kernel spread the connections over both workers
  }
  CHECK(trim_threads().empty());
  // Two sweeps park the connections; the trim follows within the trimmer's delay.
  for (int i = 0; i < 50 && trim_threads().empty(); ++i) std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(1500ms);  // time for any further trim to show up
  auto trims = trim_threads();
  REQUIRE(!trims.empty());
  if (one_burst) CHECK(trims.size() == 1);
  else CHECK(trims.size() <= 2);  // a very slow machine: the parking spread over two sweeps
  {
    std::lock_guard lock(mu);
    for (const auto& id : trims) CHECK(workers.count(id) == 0);
  }
  for (const auto& id : trims) CHECK(id != std::this_thread::get_id());
  // The parked connections still serve.
  for (auto& c : clients) CHECK(c->request("GET", "/again").status == 200);
}
