// The memory a downstream connection needs only while a request is in flight: the input
// buffer, stable copies of the request and response heads, the output head buffer, the
// per-stream arena, header maps and filter instances. Workers pool these, so an idle
// keep-alive connection holds none of it and a busy one allocates nothing per request
// once capacities have grown.
//
// Thread safety: owned by one worker.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <ferry/filter.hpp>
#include <ferry/headers.hpp>

#include "common/arena.hpp"
#include "common/read_buffer.hpp"

namespace ferry::session {

inline constexpr std::size_t kDownstreamBufferSize = 16 * 1024;
inline constexpr std::size_t kUpstreamBufferSize = 32 * 1024;

struct StreamBuffers {
  StreamBuffers() : in(kDownstreamBufferSize), up_in(kUpstreamBufferSize), req(&arena), resp(&arena) {
    req_head.reserve(1024);
    resp_head.reserve(512);
    out.reserve(1024);
    pieces.reserve(8);
  }
  /// Drops per-stream content, keeping capacity.
  void reset_stream() {
    arena.reset();
    req.clear();
    resp.clear();
    req_head.clear();
    resp_head.clear();
    out.clear();
    pieces.clear();
    filters.clear();
    up_in.consume(up_in.size());
  }

  detail::ReadBuffer in;     ///< from the client
  detail::ReadBuffer up_in;  ///< from the upstream (empty between exchanges)
  detail::Arena arena;
  RequestHeaders req;
  ResponseHeaders resp;
  std::string req_head;
  std::string resp_head;
  std::string out;
  std::vector<std::string_view> pieces;
  std::vector<FilterPtr> filters;
};

}  // namespace ferry::session
