// FilterChain: the ordered host filters of a listener, ending in the Router.
//
// Thread safety: build a FilterChain on one thread, then hand it to a Listener. Once the
// Server runs, the chain is shared read-only by all workers: factories are called
// concurrently from several worker threads and must be thread-safe (a factory that only
// copies immutable configuration into a new Filter is).
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <ferry/filter.hpp>
#include <ferry/router.hpp>

namespace ferry {

/// Creates one Filter per stream.
using FilterFactory = std::function<FilterPtr()>;

class FilterChain {
 public:
  /// Adds a filter type; each stream gets `F(args...)`, with `args` copied per stream.
  template <class F, class... Args>
  FilterChain& add(Args... args) {
    factories_.push_back([=]() -> FilterPtr { return std::make_unique<F>(args...); });
    return *this;
  }
  FilterChain& add_factory(FilterFactory factory) {
    factories_.push_back(std::move(factory));
    return *this;
  }
  /// Sets the terminal router (every chain ends in one).
  FilterChain& terminate(Router router) {
    router_ = std::move(router);
    return *this;
  }

  const std::vector<FilterFactory>& factories() const noexcept { return factories_; }
  const Router& router() const noexcept { return router_; }

 private:
  std::vector<FilterFactory> factories_;
  Router router_;
};

}  // namespace ferry
