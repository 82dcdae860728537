// The memory a downstream connection needs only while a request is in flight: the input
// buffers (client and upstream), stable copies of the request and response heads, the
// output head buffer, the per-stream arena, header lists and filter instances. Workers pool
// these, so an idle keep-alive connection holds none of it and a busy one allocates
// nothing per request once capacities have grown.
//
// All of it lives in page-backed memory of its own (the I/O buffers, plus one small region
// that feeds the strings and lists through a monotonic resource): when a block is given
// back, its pages go back to the system, instead of leaving holes between the long-lived
// connection objects in the malloc heap.
//
// Thread safety: owned by one worker.
#pragma once

#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ferry/filter.hpp>
#include <ferry/headers.hpp>

#include "codec/http1_decoder.hpp"
#include "common/arena.hpp"
#include "common/read_buffer.hpp"
#include "observe/trace_context.hpp"

namespace ferry::session {

inline constexpr std::size_t kDownstreamBufferSize = 16 * 1024;
/// Room for a response of up to ~128 KiB in one recv and one sendmsg. The pages are mapped on
/// first touch, so a small response costs one page; measured on 2026-11-26 (64 KiB responses,
/// 64 connections): 32 KiB -> 128 KiB took 10.1 -> 6.2 syscalls and 31.2 -> 23.6 us of CPU
/// per request, with 13 B rows and idle memory (0.67 KiB per connection) unchanged.
inline constexpr std::size_t kUpstreamBufferSize = 128 * 1024;
inline constexpr std::size_t kSmallRegionSize = 12 * 1024;
inline constexpr std::size_t kArenaFirstBlock = 2 * 1024;

struct StreamBuffers {
  StreamBuffers()
      : in(kDownstreamBufferSize),
        up_in(kUpstreamBufferSize),
        small_pages(detail::allocate_pages(kSmallRegionSize)),
        small(small_pages.get() + kArenaFirstBlock, kSmallRegionSize - kArenaFirstBlock),
        arena(small_pages.get(), kArenaFirstBlock),
        req(&arena, &small),
        resp(&arena, &small),
        req_head(&small),
        resp_head(&small),
        out(&small),
        pieces(&small),
        filters(&small) {
    req.entries().reserve(32);
    resp.entries().reserve(16);
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
    trace.active = false;
  }

  detail::ReadBuffer in;     ///< from the client
  detail::ReadBuffer up_in;  ///< from the upstream (empty between exchanges)
  detail::PageBuffer small_pages;
  std::pmr::monotonic_buffer_resource small;  ///< falls back to the heap when exhausted
  detail::Arena arena;
  RequestHeaders req;
  ResponseHeaders resp;
  std::pmr::string req_head;
  std::pmr::string resp_head;
  std::pmr::string out;
  codec::Pieces pieces;
  std::pmr::vector<FilterPtr> filters;
  /// The current attempt's response decoder. It lives here rather than in the relaying
  /// coroutine's frame: Asio recycles frames only up to 1,020 bytes (its size class is one
  /// byte of 4-byte chunks), and a larger frame is allocated anew on every request.
  std::optional<codec::ResponseDecoder> rdec;
  /// The stream's trace context (observe/trace_context.hpp), when its listener traces.
  observe::StreamTrace trace;
};

}  // namespace ferry::session
