#include "router/hash_policy.hpp"

#include <chrono>
#include <cstring>

#include "common/arena.hpp"
#include "common/ascii.hpp"
#include "router/header_mutations.hpp"
#include "router/matchers.hpp"
#include "upstream/lb/xxhash.hpp"

namespace ferry::router {

namespace {

using detail::trim_ows;

std::string_view hex64(std::uint64_t v, detail::Arena& arena) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char* out = arena.allocate(16);
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kDigits[v & 0xf];
  return {out, 16};
}

}  // namespace

std::optional<std::string_view> find_cookie(const RequestHeaders& req, std::string_view name) {
  for (const auto& e : req) {
    if (!iequals(e.name, "cookie")) continue;
    std::string_view rest = e.value;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      auto pair = trim_ows(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      auto eq = pair.find('=');
      if (eq == std::string_view::npos || trim_ows(pair.substr(0, eq)) != name) continue;
      auto value = trim_ows(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
  }
  return std::nullopt;
}

CompiledHashPolicy::CompiledHashPolicy(const std::vector<HashPolicy>& policies) {
  for (const auto& p : policies) {
    Entry e{p.kind, p.kind == HashPolicy::Kind::header ? detail::to_lower(p.name) : p.name, -1, p.path, p.terminal};
    if (p.ttl) e.ttl_s = std::chrono::duration_cast<std::chrono::seconds>(*p.ttl).count();
    entries_.push_back(std::move(e));
  }
}

std::optional<std::uint64_t> CompiledHashPolicy::evaluate(const Entry& e, const RequestHeaders& req,
                                                          const Downstream& down, detail::Arena& arena,
                                                          std::string_view& set_cookie) const {
  using K = HashPolicy::Kind;
  switch (e.kind) {
    case K::header: {
      // Every field of the name counts, in order (Envoy hashes all values too).
      std::optional<std::uint64_t> h;
      auto value = request_value(req, e.name, down.scheme, arena);
      if (value) h = upstream::xxh64(*value);
      return h;
    }
    case K::source_ip:
      if (down.remote_ip.empty()) return std::nullopt;
      return upstream::xxh64(down.remote_ip);
    case K::query_parameter: {
      auto path = req.path();
      auto q = path.find('?');
      if (q == std::string_view::npos) return std::nullopt;
      auto v = find_query_parameter(path.substr(q + 1), e.name);
      if (!v) return std::nullopt;
      return upstream::xxh64(*v);
    }
    case K::cookie: {
      if (auto v = find_cookie(req, e.name)) return upstream::xxh64(*v);
      if (e.ttl_s < 0) return std::nullopt;
      // Envoy mints the value from the peer address, so one client keeps its host.
      auto value = hex64(upstream::xxh64(down.remote_address), arena);
      char age[32];
      int age_len = e.ttl_s > 0 ? std::snprintf(age, sizeof age, "; Max-Age=%lld", static_cast<long long>(e.ttl_s)) : 0;
      set_cookie = arena.concat({e.name, "=\"", value, "\"", std::string_view(age, std::size_t(age_len)),
                                  e.path.empty() ? std::string_view{} : "; Path=", e.path, "; HttpOnly"});
      return upstream::xxh64(value);
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> CompiledHashPolicy::compute(const RequestHeaders& req, const Downstream& down,
                                                         detail::Arena& arena, std::string_view& set_cookie) const {
  std::optional<std::uint64_t> hash;
  for (const auto& e : entries_) {
    auto h = evaluate(e, req, down, arena, set_cookie);
    // Rotating the running value keeps two identical entries from cancelling out (Envoy).
    if (hash && h) hash = ((*hash << 1) | (*hash >> 63)) ^ *h;
    else if (h) hash = h;
    if (e.terminal && hash) break;
  }
  return hash;
}

}  // namespace ferry::router
