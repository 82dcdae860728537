#include "stats/store.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <sys/mman.h>

namespace ferry::stats {

namespace {

// The calling thread's worker block, valid for `t_store` only. Two Servers in one process
// have two stores; a thread belongs to at most one of them as a worker.
thread_local const Store* t_store = nullptr;
thread_local Block* t_block = nullptr;

std::string clean_name(std::string_view name) {
  if (name.empty()) throw std::invalid_argument("ferry::Stats: empty stat name");
  std::string out(name);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f)
      throw std::invalid_argument("ferry::Stats: stat name \"" + std::string(name) +
                                  "\" holds whitespace or a control character");
    if (c == ':') c = '_';  // as Envoy does
  }
  return out;
}

std::string_view type_name(StatType t) {
  switch (t) {
    case StatType::counter: return "counter";
    case StatType::gauge: return "gauge";
    case StatType::histogram: return "histogram";
  }
  return "?";
}

}  // namespace

Store::Store() = default;
Store::~Store() {
  for (auto* chunk : owned) ::munmap(chunk, kChunkSlots * sizeof(Slot));
}

void Store::add_chunk_to(Block& b, std::uint32_t chunk) {
  // Anonymous pages read as zero (a zero atomic) and cost nothing until written, so the
  // per-code counters of codes never seen take no memory.
  void* mem = ::mmap(nullptr, kChunkSlots * sizeof(Slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  owned.push_back(static_cast<Slot*>(mem));
  b.chunks[chunk].store(static_cast<Slot*>(mem), std::memory_order_release);
}

std::uint32_t Store::add(std::string_view raw_name, StatType type, HistogramUnit unit, bool hide_zero) {
  return add_entry(clean_name(raw_name), type, unit, hide_zero, 0);
}

std::uint32_t Store::add_codes(std::string_view prefix) {
  return add_entry(clean_name(prefix), StatType::counter, HistogramUnit::unspecified, true, kCodeCount);
}

std::uint32_t Store::add_entry(std::string name, StatType type, HistogramUnit unit, bool hide_zero,
                               std::uint16_t codes) {
  std::lock_guard lock(mutex);
  if (auto it = by_name.find(name); it != by_name.end()) {
    const auto& e = entries[it->second];
    if (e.type != type || e.codes != codes)
      throw std::invalid_argument("ferry::Stats: \"" + name + "\" is a " + std::string(type_name(e.type)) +
                                  ", not a " + std::string(type_name(type)));
    return e.id;
  }
  std::uint32_t size = type == StatType::histogram ? kHistogramSlots : codes ? codes : 1;
  std::uint32_t id = next_id;
  if ((id & (kChunkSlots - 1)) + size > kChunkSlots) id = (id | (kChunkSlots - 1)) + 1;  // no straddling
  std::uint32_t last_chunk = (id + size - 1) >> kChunkBits;
  if (last_chunk >= kMaxChunks) throw std::length_error("ferry::Stats: too many stats");
  while (chunk_count <= last_chunk) {
    add_chunk_to(shared, chunk_count);
    for (unsigned w = 0; w < kMaxWorkers; ++w)
      if (worker_blocks[w]) add_chunk_to(*worker_blocks[w], chunk_count);
    ++chunk_count;
  }
  next_id = id + size;
  by_name.emplace(name, entries.size());
  entries.push_back({std::move(name), type, unit, id, hide_zero, codes});
  return id;
}

Block& Store::worker_block(unsigned index) {
  if (index >= kMaxWorkers) throw std::length_error("ferry::Stats: too many workers");
  std::lock_guard lock(mutex);
  if (!worker_blocks[index]) {
    auto b = std::make_unique<Block>();
    for (std::uint32_t c = 0; c < chunk_count; ++c) add_chunk_to(*b, c);
    workers[index].store(b.get(), std::memory_order_release);
    worker_blocks[index] = std::move(b);
    if (worker_count.load(std::memory_order_relaxed) <= index)
      worker_count.store(index + 1, std::memory_order_release);
  }
  return *worker_blocks[index];
}

std::uint64_t Store::sum(std::uint32_t id) const noexcept {
  std::uint64_t total = shared.at(id).load(std::memory_order_relaxed);
  unsigned n = worker_count.load(std::memory_order_acquire);
  for (unsigned w = 0; w < n; ++w)
    if (auto* b = workers[w].load(std::memory_order_acquire)) total += b->at(id).load(std::memory_order_relaxed);
  return total;
}

HistogramSnapshot Store::histogram(std::uint32_t id, HistogramUnit unit) const {
  HistogramSnapshot s;
  s.unit = unit;
  s.count = sum(id);
  s.sum = double(sum(id + 1)) / 1000.0;
  s.cumulative.resize(kBucketBoundsRaw.size());
  std::uint64_t running = 0;
  for (std::uint32_t i = 0; i < kBucketBoundsRaw.size(); ++i) s.cumulative[i] = (running += sum(id + 2 + i));
  s.buckets.resize(kLogBuckets);
  for (std::uint32_t i = 0; i < kLogBuckets; ++i) s.buckets[i] = sum(id + kLogBase + i);
  return s;
}

std::vector<Entry> Store::list() const {
  std::lock_guard lock(mutex);
  return entries;
}

void bind_thread(Store& store, unsigned worker) {
  t_block = &store.worker_block(worker);
  t_store = &store;
}

Block* thread_block(const Store& store) noexcept { return t_store == &store ? t_block : nullptr; }

void add(Store& store, std::uint32_t id, std::uint64_t n) noexcept {
  if (auto* b = thread_block(store)) bump(b->at(id), n);
  else store.shared.at(id).fetch_add(n, std::memory_order_relaxed);
}

void record(Store& store, std::uint32_t id, std::uint64_t raw) noexcept {
  if (auto* b = thread_block(store)) {
    bump(b->at(id));
    bump(b->at(id + 1), raw);
    bump(b->at(id + 2 + prom_interval(raw)));
    bump(b->at(id + kLogBase + log_bucket(raw)));
    return;
  }
  auto& s = store.shared;
  s.at(id).fetch_add(1, std::memory_order_relaxed);
  s.at(id + 1).fetch_add(raw, std::memory_order_relaxed);
  s.at(id + 2 + prom_interval(raw)).fetch_add(1, std::memory_order_relaxed);
  s.at(id + kLogBase + log_bucket(raw)).fetch_add(1, std::memory_order_relaxed);
}

}  // namespace ferry::stats

namespace ferry {

using stats::Store;

// Handles ----------------------------------------------------------------------------------

void Counter::inc(std::uint64_t n) const noexcept {
  if (store_) stats::add(*store_, id_, n);
}

std::uint64_t Counter::value() const noexcept { return store_ ? store_->sum(id_) : 0; }

void Gauge::add(std::int64_t delta) const noexcept {
  if (store_) stats::add(*store_, id_, std::uint64_t(delta));  // two's complement wraps back
}

void Gauge::set(std::int64_t v) const noexcept {
  if (!store_) return;
  // The shared slot absorbs the difference, so the merged value is v now.
  auto current = std::int64_t(store_->sum(id_));
  store_->shared.at(id_).fetch_add(std::uint64_t(v - current), std::memory_order_relaxed);
}

std::int64_t Gauge::value() const noexcept { return store_ ? std::int64_t(store_->sum(id_)) : 0; }

void Histogram::record(std::uint64_t value) const noexcept {
  if (store_) stats::record(*store_, id_, value * 1000);
}

void Histogram::record_micros(std::uint64_t us) const noexcept {
  if (store_) stats::record(*store_, id_, us);
}

HistogramSnapshot Histogram::snapshot() const {
  if (!store_) return {};
  std::lock_guard lock(store_->mutex);
  HistogramUnit unit = HistogramUnit::milliseconds;
  for (const auto& e : store_->entries)
    if (e.id == id_) unit = e.unit;
  return store_->histogram(id_, unit);
}

// Snapshots --------------------------------------------------------------------------------

std::span<const double> HistogramSnapshot::bucket_bounds() noexcept { return stats::kBucketBoundsMs; }

double HistogramSnapshot::quantile(double q) const noexcept {
  std::uint64_t total = 0;
  for (auto c : buckets) total += c;
  if (total == 0) return std::numeric_limits<double>::quiet_NaN();
  q = std::clamp(q, 0.0, 1.0);
  double target = q * double(total);
  double seen = 0;
  double lower = 0, upper = 0;
  for (std::uint32_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] == 0) continue;
    stats::log_bucket_range(i, lower, upper);
    double c = double(buckets[i]);
    if (seen + c >= target) {
      // Values spread evenly over the bucket.
      double f = (target - seen) / c;
      return (lower + f * (upper - lower)) / 1000.0;
    }
    seen += c;
  }
  return upper / 1000.0;
}

HistogramSnapshot HistogramSnapshot::since(const HistogramSnapshot& earlier) const {
  HistogramSnapshot d = *this;
  d.count -= std::min(d.count, earlier.count);
  d.sum -= earlier.sum;
  for (std::size_t i = 0; i < d.cumulative.size() && i < earlier.cumulative.size(); ++i)
    d.cumulative[i] -= std::min(d.cumulative[i], earlier.cumulative[i]);
  for (std::size_t i = 0; i < d.buckets.size() && i < earlier.buckets.size(); ++i)
    d.buckets[i] -= std::min(d.buckets[i], earlier.buckets[i]);
  return d;
}

// Stats ------------------------------------------------------------------------------------

namespace {
std::atomic<std::uint64_t> g_next_stats_id{1};
}  // namespace

Stats::Stats() : store_(std::make_unique<Store>()), id_(g_next_stats_id.fetch_add(1, std::memory_order_relaxed)) {}
Stats::~Stats() = default;

Counter Stats::counter(std::string_view name) { return {store_.get(), store_->add(name, StatType::counter)}; }

Gauge Stats::gauge(std::string_view name) { return {store_.get(), store_->add(name, StatType::gauge)}; }

Histogram Stats::histogram(std::string_view name, HistogramUnit unit) {
  return {store_.get(), store_->add(name, StatType::histogram, unit)};
}

namespace {
std::optional<stats::Entry> find_entry(const Store& s, std::string_view name, StatType type) {
  std::string key(name);
  std::replace(key.begin(), key.end(), ':', '_');
  std::lock_guard lock(s.mutex);
  auto it = s.by_name.find(key);
  if (it != s.by_name.end() && s.entries[it->second].type == type && s.entries[it->second].codes == 0)
    return s.entries[it->second];
  // A per-code counter: "<prefix>503" lives in the code run registered as "<prefix>".
  if (type != StatType::counter || key.size() < 4) return std::nullopt;
  int code = 0;
  for (char c : std::string_view(key).substr(key.size() - 3)) {
    if (c < '0' || c > '9') return std::nullopt;
    code = code * 10 + (c - '0');
  }
  if (code < stats::kFirstCode || code >= stats::kFirstCode + stats::kCodeCount) return std::nullopt;
  it = s.by_name.find(key.substr(0, key.size() - 3));
  if (it == s.by_name.end() || s.entries[it->second].codes == 0) return std::nullopt;
  auto e = s.entries[it->second];
  e.id += std::uint32_t(code - stats::kFirstCode);
  e.codes = 0;
  return e;
}
}  // namespace

std::optional<std::uint64_t> Stats::counter_value(std::string_view name) const {
  auto e = find_entry(*store_, name, StatType::counter);
  if (!e) return std::nullopt;
  if (store_->refresh) store_->refresh();
  return store_->sum(e->id);
}

std::optional<std::int64_t> Stats::gauge_value(std::string_view name) const {
  auto e = find_entry(*store_, name, StatType::gauge);
  if (!e) return std::nullopt;
  if (store_->refresh) store_->refresh();
  return std::int64_t(store_->sum(e->id));
}

std::optional<HistogramSnapshot> Stats::histogram_value(std::string_view name) const {
  auto e = find_entry(*store_, name, StatType::histogram);
  if (!e) return std::nullopt;
  return store_->histogram(e->id, e->unit);
}

std::vector<StatSample> Stats::snapshot() const {
  if (store_->refresh) store_->refresh();
  std::vector<StatSample> out;
  for (const auto& e : store_->list()) {
    if (e.codes > 0) {
      for (std::uint16_t i = 0; i < e.codes; ++i) {
        auto v = store_->sum(e.id + i);
        if (v == 0) continue;
        StatSample s;
        s.name = e.name + std::to_string(stats::kFirstCode + i);
        s.counter = v;
        out.push_back(std::move(s));
      }
      continue;
    }
    StatSample s;
    s.type = e.type;
    if (e.type == StatType::counter) s.counter = store_->sum(e.id);
    else if (e.type == StatType::gauge) s.gauge = std::int64_t(store_->sum(e.id));
    else s.histogram = store_->histogram(e.id, e.unit);
    if (e.hide_zero && s.counter == 0 && s.gauge == 0) continue;
    s.name = e.name;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace ferry
