// The admin dashboard (GET /) in headless Chromium against a proxy under traffic: the page
// loads with no external resource, fetches /dashboard/data every second and shows live
// request rates, latency percentiles and the cluster's hosts. The screenshot is kept at
// <build dir>/dashboard.png.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <thread>

#include "integration/proxy_fixture.hpp"
#include "support/cli_process.hpp"

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// Runs headless Chromium on `url` with `mode` ("--dump-dom" or "--screenshot=..."); returns
/// its exit code and stdout.
std::pair<int, std::string> chromium(const std::string& url, const std::string& mode) {
  auto profile = std::filesystem::temp_directory_path() / ("ferry-chromium-" + std::to_string(::getpid()));
  std::filesystem::remove_all(profile);
  TempFile out("", ".html");
  // The page refreshes every second; a virtual time budget lets several refreshes happen
  // (timers and fetches run) before the DOM is dumped or the screenshot taken.
  std::string cmd = "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
                    "--disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage "
                    "--user-data-dir=" + profile.string() +
                    " --window-size=1280,1400 --virtual-time-budget=6000 " + mode + " '" + url + "' > " + out.path() +
                    " 2>/dev/null";
  int rc = std::system(cmd.c_str());
  std::filesystem::remove_all(profile);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out.read()};
}

}  // namespace

TEST_CASE("the dashboard shows live numbers in headless Chromium", "[integration][admin][dashboard]") {
  // Fails (not skips) without Chromium: scripts/deps installs it.
  REQUIRE(std::system("command -v chromium > /dev/null 2>&1") == 0);
  FakeUpstream up([](const SeenRequest& r) {
    return FakeResponse{r.target == "/err" ? 503 : 200, {}, "ok"};
  });
  Server server(ServerOptions{.workers = 2, .admin = AdminOptions{}});
  server.add_cluster(cluster_to("backend", {up.port()}));
  ListenerOptions lo;
  lo.name = "web";
  server.add_listener(Listener(lo, FilterChain{}.terminate(route_all("backend"))));
  server.start();

  // Steady traffic for the whole test: about 100 requests a second, one in ten a 503.
  std::atomic<bool> stop{false};
  std::thread traffic([&] {
    TestClient c(server.listener_port());
    for (int i = 0; !stop; ++i) {
      c.request("GET", i % 10 == 9 ? "/err" : "/");
      std::this_thread::sleep_for(10ms);
    }
  });
  std::this_thread::sleep_for(2500ms);  // the admin thread samples once a second

  const std::string url = "http://127.0.0.1:" + std::to_string(server.admin_port()) + "/";
  auto page = TestClient(server.admin_port()).request("GET", "/");
  CHECK(page.status == 200);
  CHECK(contains(page.header("content-type"), "text/html"));
  // Self-contained: no external script, stylesheet or image.
  CHECK_FALSE(contains(page.body, "src=\"http"));
  CHECK_FALSE(contains(page.body, "href=\"http"));
  CHECK_FALSE(contains(page.body, "<link"));

  auto [rc, dom] = chromium(url, "--dump-dom");
  INFO(dom.substr(0, 4000));
  REQUIRE(rc == 0);
  CHECK(contains(dom, "state: LIVE"));
  CHECK(contains(dom, "listener http.ingress_http"));
  CHECK(contains(dom, "cluster backend"));
  CHECK(contains(dom, "127.0.0.1:" + std::to_string(up.port())));
  CHECK(contains(dom, ">healthy<"));
  // Live numbers: a request rate above zero for the listener and the cluster, and
  // latency percentiles.
  std::regex rps(R"(<span class="num rps">([0-9.]+)</span>)");
  int rates = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), rps); it != std::sregex_iterator(); ++it) {
    CHECK(std::stod((*it)[1]) > 0);
    ++rates;
  }
  CHECK(rates == 2);
  CHECK(std::regex_search(dom, std::regex(R"(p50 [0-9.]+ · p90 [0-9.]+ · p99 [0-9.]+)")));
  CHECK(std::regex_search(dom, std::regex(R"(data-updated="[0-9]+")")));

  auto shot = std::filesystem::path(FERRY_BINARY_DIR) / "dashboard.png";
  std::filesystem::remove(shot);
  auto [src, ignored] = chromium(url, "--screenshot=" + shot.string());
  CHECK(src == 0);
  CHECK(std::filesystem::exists(shot));
  CHECK(std::filesystem::file_size(shot) > 10000);

  stop = true;
  traffic.join();
  server.stop();
  server.wait();
}
