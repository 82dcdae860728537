// Host filters ahead of the router: header edits, local replies, body and response hooks.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "integration/proxy_fixture.hpp"

using namespace ferry;
using namespace ferry::test;

namespace {

class ApiKeyFilter : public Filter {
 public:
  FilterStatus on_request_headers(RequestHeaders& h, bool, StreamContext& ctx) override {
    if (!h.has("x-api-key")) {
      ctx.send_local_reply(401, "missing api key");
      return FilterStatus::Stop;
    }
    h.remove("x-api-key");
    h.set("x-filtered-by", "api-key");
    h.set_path(std::string("/rewritten") + std::string(h.path()));
    return FilterStatus::Continue;
  }
  FilterStatus on_response_headers(ResponseHeaders& h, bool, StreamContext& ctx) override {
    h.set("x-request-id-seen", ctx.request_id());
    return FilterStatus::Continue;
  }
};

struct Counters {
  std::atomic<int> body_bytes{0};
  std::atomic<int> completed{0};
  std::atomic<int> response_body_bytes{0};
};

class CountingFilter : public Filter {
 public:
  explicit CountingFilter(Counters* c) : c_(c) {}
  FilterStatus on_request_body(std::string_view piece, bool, StreamContext&) override {
    c_->body_bytes += int(piece.size());
    return FilterStatus::Continue;
  }
  FilterStatus on_response_body(std::string_view piece, bool, StreamContext&) override {
    c_->response_body_bytes += int(piece.size());
    return FilterStatus::Continue;
  }
  void on_stream_complete(const ResponseHeaders&, StreamContext&) override { ++c_->completed; }

 private:
  Counters* c_;
};

}  // namespace

TEST_CASE("a filter can reject with a local reply or edit the request", "[integration][filters]") {
  FakeUpstream up([](const SeenRequest& r) { return FakeResponse{200, {}, r.target}; });
  FilterChain chain;
  chain.add<ApiKeyFilter>();
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, std::move(chain));
  TestClient c(proxy.port());
  auto denied = c.request("GET", "/x");
  CHECK(denied.status == 401);
  CHECK(denied.body == "missing api key");
  CHECK_FALSE(denied.header("x-request-id-seen").empty());  // response hooks see local replies
  auto ok = c.request("GET", "/x", {{"x-api-key", "k"}});
  CHECK(ok.status == 200);
  CHECK(ok.body == "/rewritten/x");
  auto seen = up.last();
  CHECK(seen.header("x-filtered-by") == "api-key");
  CHECK_FALSE(seen.has_header("x-api-key"));
  CHECK(ok.header("x-request-id-seen") == seen.header("x-request-id"));
  CHECK(up.requests() == 1);
}

TEST_CASE("filters see request and response bodies and every stream's end", "[integration][filters]") {
  FakeUpstream up([](const SeenRequest&) { return FakeResponse{200, {}, std::string(5000, 'r')}; });
  Counters counters;
  FilterChain chain;
  chain.add<CountingFilter>(&counters);
  Proxy proxy({cluster_to("backend", {up.port()})}, route_all("backend"), {}, std::move(chain));
  TestClient c(proxy.port());
  CHECK(c.request("POST", "/", {}, std::string(70000, 'q')).body.size() == 5000);
  CHECK(c.request("GET", "/").status == 200);
  CHECK(counters.body_bytes == 70000);
  CHECK(counters.response_body_bytes == 10000);
  // on_stream_complete runs just after the last byte went out: give it a moment.
  for (int i = 0; i < 100 && counters.completed < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(counters.completed.load() == 2);
}
