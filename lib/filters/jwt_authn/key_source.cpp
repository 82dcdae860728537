#include "filters/jwt_authn/key_source.hpp"

namespace ferry::filters::jwt {

namespace {
// Envoy's JwksAsyncFetch.failed_refetch_duration default.
constexpr auto kFailedRefetchDelay = std::chrono::seconds(1);
}  // namespace

bool split_http_uri(std::string_view uri, std::string& authority, std::string& path) {
  std::string_view rest;
  if (uri.starts_with("http://")) rest = uri.substr(7);
  else if (uri.starts_with("https://")) rest = uri.substr(8);
  else return false;
  auto slash = rest.find_first_of("/?");
  authority = std::string(rest.substr(0, slash));
  path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!path.empty() && path[0] == '?') path.insert(0, "/");
  return !authority.empty() && authority.find_first_of(" @#") == std::string::npos;
}

std::shared_ptr<const Jwks> KeySource::current() const {
  std::lock_guard lock(mu_);
  return keys_;
}

bool KeySource::needs_fetch(Clock::time_point now, std::string_view kid, std::string_view alg,
                            std::shared_ptr<const Jwks>* keys) {
  std::lock_guard lock(mu_);
  if (keys) *keys = keys_;
  bool fresh = keys_ && now - fetched_at_ < remote_.cache_duration;
  if (fresh && keys_->has_key_for(kid, alg)) return false;
  if (in_flight_) return true;  // join the fetch under way
  if (now < retry_after_) return false;
  if (!fresh) return true;
  if (kid_refetched_ && now - last_kid_refetch_ < remote_.kid_refetch_interval) return false;
  kid_refetched_ = true;
  last_kid_refetch_ = now;
  return true;
}

bool KeySource::join(std::function<void()> waiter) {
  std::lock_guard lock(mu_);
  waiters_.push_back(std::move(waiter));
  if (in_flight_) return false;
  in_flight_ = true;
  return true;
}

HttpCallRequest KeySource::request() const {
  HttpCallRequest r;
  r.method = "GET";
  r.path = path_;
  r.authority = authority_;
  r.headers.emplace_back("accept", "application/json");
  return r;
}

void KeySource::finish(const HttpCallResponse& response, Clock::time_point now) {
  std::shared_ptr<const Jwks> parsed;
  if (response.status == 200) parsed = parse_jwks(response.body).jwks;
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(mu_);
    ++fetches_;
    in_flight_ = false;
    if (parsed) {
      keys_ = std::move(parsed);
      fetched_at_ = now;
    } else {
      retry_after_ = now + kFailedRefetchDelay;
    }
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) w();
}

std::uint64_t KeySource::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

}  // namespace ferry::filters::jwt
