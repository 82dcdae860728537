#include "session/mirror.hpp"

#include "server/worker.hpp"
#include "session/http_call.hpp"

namespace ferry::session {

std::string shadow_host(std::string_view host) {
  auto colon = host.rfind(':');
  auto bracket = host.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && bracket > colon))
    return std::string(host) + "-shadow";
  return std::string(host.substr(0, colon)) + "-shadow" + std::string(host.substr(colon));
}

bool MirrorTask::start(server::Worker& worker, std::uint32_t cluster, std::string request, std::string_view authority,
                       Duration timeout, bool head_request) {
  if (worker.calls_in_flight() >= kMaxInFlight || worker.draining()) return false;
  UpstreamCall::Spec spec;
  spec.cluster = cluster;
  spec.request = std::move(request);
  spec.authority = std::string(authority);
  spec.timeout = timeout;
  spec.head = head_request;
  return UpstreamCall::start(worker, std::move(spec));
}

}  // namespace ferry::session
