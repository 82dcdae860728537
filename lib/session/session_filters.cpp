// Running the host filters of a stream: request hooks in order, response hooks in reverse
// over the filters that saw the request (as Envoy's encoder filters).
#include "session/session.hpp"

namespace ferry::session {

bool Session::run_request_header_filters(bool end_stream) {
  const auto& factories = listener_.filters;
  if (factories.empty()) return true;
  auto& filters = bufs_->filters;
  for (const auto& make : factories) filters.push_back(make());
  for (auto& f : filters) {
    ++filters_run_;
    if (f->on_request_headers(bufs_->req, end_stream, *this) == FilterStatus::Stop) {
      if (local_status_ == 0) send_local_reply(500, "filter stopped without a reply");
      return false;
    }
  }
  return true;
}

bool Session::run_request_body_filters(bool end_stream) {
  auto& filters = bufs_->filters;
  if (filters.empty()) return true;
  const auto& pieces = bufs_->pieces;
  for (std::size_t i = 0; i < filters_run_; ++i) {
    if (pieces.empty() && end_stream) {
      if (filters[i]->on_request_body({}, true, *this) == FilterStatus::Stop) return false;
      continue;
    }
    for (std::size_t p = 0; p < pieces.size(); ++p) {
      bool last = end_stream && p + 1 == pieces.size();
      if (filters[i]->on_request_body(pieces[p], last, *this) == FilterStatus::Stop) {
        if (local_status_ == 0) send_local_reply(500, "filter stopped without a reply");
        return false;
      }
    }
  }
  return true;
}

bool Session::run_response_header_filters(bool end_stream) {
  // The route's response header edits come first, so host filters see the final head.
  router::apply_response_headers(route_decision_, bufs_->resp, bufs_->req, downstream(true), bufs_->arena);
  auto& filters = bufs_->filters;
  for (std::size_t i = filters_run_; i-- > 0;)
    if (filters[i]->on_response_headers(bufs_->resp, end_stream, *this) == FilterStatus::Stop)
      return false;
  return true;
}

void Session::run_complete_filters() {
  auto& filters = bufs_->filters;
  for (std::size_t i = filters_run_; i-- > 0;) filters[i]->on_stream_complete(bufs_->resp, *this);
  filters_run_ = 0;
}

}  // namespace ferry::session
