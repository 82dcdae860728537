// Codec-neutral HTTP header maps handed to filters.
//
// Names and values are views into storage owned by the connection that carries the
// stream (the received header block, or a per-stream arena for edited values). They stay
// valid until the stream completes; copy them if you need them longer.
//
// Thread safety: a map belongs to one stream on one worker; not safe for concurrent use.
#pragma once

#include <cstddef>
#include <memory>
#include <memory_resource>
#include <string_view>
#include <vector>

namespace ferry {

namespace detail {
class Arena;
}

struct HeaderEntry {
  std::string_view name;
  std::string_view value;
};

/// An ordered multimap of header fields with case-insensitive names.
class HeaderMap {
 public:
  /// `arena` holds copied names and values; `memory` holds the field list (ferry passes
  /// per-connection memory so that a stream allocates nothing from the heap).
  explicit HeaderMap(detail::Arena* arena = nullptr,
                     std::pmr::memory_resource* memory = std::pmr::get_default_resource())
      : arena_(arena), entries_(memory) {}

  /// First value of `name`, or an empty view if absent (use has() to tell apart).
  std::string_view get(std::string_view name) const noexcept;
  bool has(std::string_view name) const noexcept;
  /// Replaces every field called `name` by one field; name and value are copied.
  void set(std::string_view name, std::string_view value);
  /// Appends a field; name and value are copied.
  void add(std::string_view name, std::string_view value);
  /// Removes every field called `name`; returns how many were removed.
  std::size_t remove(std::string_view name) noexcept;

  std::size_t size() const noexcept { return entries_.size(); }
  auto begin() const noexcept { return entries_.begin(); }
  auto end() const noexcept { return entries_.end(); }

  // Codec use: append a view that already lives in stable storage (no copy).
  void append_view(std::string_view name, std::string_view value) { entries_.push_back({name, value}); }
  void clear() noexcept { entries_.clear(); }
  void set_arena(detail::Arena* arena) noexcept { arena_ = arena; }
  std::pmr::vector<HeaderEntry>& entries() noexcept { return entries_; }

 protected:
  std::string_view copy(std::string_view s);
  detail::Arena* arena_;
  std::shared_ptr<detail::Arena> owned_;  // only for maps built outside a stream
  std::pmr::vector<HeaderEntry> entries_;
};

/// Request headers plus the request line.
class RequestHeaders : public HeaderMap {
 public:
  using HeaderMap::HeaderMap;
  std::string_view method() const noexcept { return method_; }
  /// The request target as sent upstream (origin form, query included).
  std::string_view path() const noexcept { return path_; }
  /// Host header (HTTP/1.1) or :authority.
  std::string_view authority() const noexcept { return get("host"); }
  /// 10 for HTTP/1.0, 11 for HTTP/1.1.
  int version() const noexcept { return version_; }
  void set_path(std::string_view path) { path_ = copy(path); }
  void set_method(std::string_view method) { method_ = copy(method); }

  // Codec use.
  void set_request_line(std::string_view method, std::string_view path, int version) noexcept {
    method_ = method;
    path_ = path;
    version_ = version;
  }

 private:
  std::string_view method_;
  std::string_view path_;
  int version_ = 11;
};

/// Response headers plus the status line.
class ResponseHeaders : public HeaderMap {
 public:
  using HeaderMap::HeaderMap;
  int status() const noexcept { return status_; }
  void set_status(int status) noexcept { status_ = status; }
  int version() const noexcept { return version_; }
  void set_version(int version) noexcept { version_ = version; }

 private:
  int status_ = 200;
  int version_ = 11;
};

/// ASCII case-insensitive equality, the comparison HTTP uses for field names.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace ferry
