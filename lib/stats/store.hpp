// The stats store behind ferry::Stats: slot ids, per-worker blocks, registration, merging.
//
// Memory: a Block is an array of chunk pointers; a chunk holds kChunkSlots 64-bit slots. A
// stat owns a slot id (a histogram a run of kHistogramSlots ids, never across chunks), and
// the same id addresses its slot in every block: one block per worker thread, plus the
// shared block that other threads write with atomic adds. Chunks are allocated for every
// block when registration reaches them, so a slot address never changes once handed out
// (workers cache Slot pointers: see stats/server_stats.hpp).
//
// Writes by a block's owner are relaxed load + add + store of an atomic (no lock prefix:
// the owner is the only writer); readers load relaxed and sum. No torn values, no locks.
//
// Thread safety: registration and block creation take `mutex`; writes and reads do not.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ferry/stats.hpp>

#include "stats/histogram.hpp"

namespace ferry::stats {

using Slot = std::atomic<std::uint64_t>;

constexpr unsigned kChunkBits = 13;
constexpr std::uint32_t kChunkSlots = 1u << kChunkBits;  // 64 KiB per chunk
constexpr std::uint32_t kMaxChunks = 2048;                // 16 M slots
constexpr unsigned kMaxWorkers = 1024;

/// Adds on a slot only its owner thread writes.
inline void bump(Slot& s, std::uint64_t n = 1) noexcept {
  s.store(s.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct Block {
  std::atomic<Slot*> chunks[kMaxChunks]{};
  Slot& at(std::uint32_t id) const noexcept {
    return chunks[id >> kChunkBits].load(std::memory_order_acquire)[id & (kChunkSlots - 1)];
  }
};

/// One registered stat.
struct Entry {
  std::string name;
  StatType type;
  HistogramUnit unit;
  std::uint32_t id;
  bool hide_zero;  ///< shown once non-zero (Envoy creates these on first use)
  /// > 0: a run of per-status-code counters, slot id + i counting status kFirstCode + i,
  /// named `name` + the code (cluster.api.upstream_rq_ + 503). One entry, not 500.
  std::uint16_t codes = 0;
};

constexpr int kFirstCode = 100;
constexpr std::uint16_t kCodeCount = 500;  // 100..599

struct Store {
  Store();
  ~Store();

  mutable std::mutex mutex;  ///< registration, block creation, the entry list
  std::vector<Entry> entries;
  std::unordered_map<std::string, std::size_t> by_name;
  std::uint32_t next_id = 0;
  std::uint32_t chunk_count = 0;
  std::vector<Slot*> owned;  ///< every chunk of every block (mmap'd: untouched pages stay free)
  Block shared;                                ///< non-worker threads (atomic adds)
  std::unique_ptr<Block> worker_blocks[kMaxWorkers];
  std::atomic<Block*> workers[kMaxWorkers]{};
  std::atomic<unsigned> worker_count{0};  ///< high-water mark of created worker blocks
  /// Called before stats are read for output (the server updates server.uptime and the
  /// like there). Set once before reads begin.
  std::function<void()> refresh;

  /// Registers or finds `name`; throws std::invalid_argument on a bad name or a type clash.
  std::uint32_t add(std::string_view name, StatType type, HistogramUnit unit = HistogramUnit::milliseconds,
                    bool hide_zero = false);
  /// Registers the per-code counters `prefix`100 .. `prefix`599 (see Entry::codes).
  std::uint32_t add_codes(std::string_view prefix);
  /// Worker `index`'s block, created on first use (control thread, before the worker runs).
  Block& worker_block(unsigned index);

  /// Sum of a slot over every block.
  std::uint64_t sum(std::uint32_t id) const noexcept;
  HistogramSnapshot histogram(std::uint32_t id, HistogramUnit unit) const;
  /// A copy of the entry list (under the lock).
  std::vector<Entry> list() const;

 private:
  std::uint32_t add_entry(std::string name, StatType type, HistogramUnit unit, bool hide_zero, std::uint16_t codes);
  void add_chunk_to(Block& b, std::uint32_t chunk);
};

/// Makes the calling thread write `store`'s block `worker` (worker threads call it once at
/// start). Handles used on the thread then add to that block without atomics.
void bind_thread(Store& store, unsigned worker);

/// The calling thread's block of `store`, or null when the thread is not one of its workers.
Block* thread_block(const Store& store) noexcept;

/// Adds to stat `id` from the calling thread (its own block, else the shared one).
void add(Store& store, std::uint32_t id, std::uint64_t n) noexcept;
void record(Store& store, std::uint32_t id, std::uint64_t raw) noexcept;


}  // namespace ferry::stats
