// The in-memory trace cache: block traces by block key, composed model traces (each
// with the parametric graph it was composed from) by model key, and run summaries by
// model text, within a byte budget, least recently used first out.
//
// Invariants:
// - held_bytes() is exactly what the cache keeps alive: the bytes of the traces it
//   holds, counted in Category::Traces (their vectors; for a model trace also its
//   block list, the share()d traces of the blocks composition recorded itself and,
//   once a batch has asked for it, its solution placement),
//   the vectors of the parametric graphs kept beside model traces, counted in
//   Category::Graph, plus its bookkeeping (maps, LRU links, stored inputs, labels and
//   runs' decomposition texts, the objects and control blocks of the traces and graphs
//   it allocates), which goes through CacheAllocator and so is counted in
//   Category::Cache. With no run in
//   progress, ledger Graph + Traces + Cache == held_bytes().
// - A model trace entry and its parametric graph come and go together: a model found
//   has its graph (null only for entries put without one, as some tests do).
// - A block hit is returned only when the stored canonical input equals the one
//   looked up, byte for byte: a key collision can never return a wrong trace.
// - A model trace pins the block traces it uses: they stay cached (and counted once)
//   while the model trace is cached, and leave as soon as it does if they are the
//   least recently used. A run summary pins its model trace the same way, so a
//   summary found is always one whose trace can be evaluated.
// - A model trace entry keeps the text of a model file it was recorded from (counted
//   as bookkeeping), so the graph behind a trace key can be explored again.
// - A run summary is returned only when the stored model text equals the one looked
//   up, byte for byte, and with the decomposition text stored with it (if any).
// - A model trace is found with the labels stored with it. Its key covers those
//   labels (engine/run.hpp, model_trace_key), so two models with one graph but other
//   parameter names, defaults or reward names have two model entries (sharing their
//   blocks), and neither summary nor evaluation ever answers with another's labels.
// - Eviction happens in trim(), which a run calls once it has stored its model trace,
//   so nothing a run is using disappears under it. trim() never evicts the most
//   recently stored model trace: the latest run can always be re-evaluated. A
//   placement built into an entry trims the others to the budget, never that entry.
// - A model trace entry's solution placement (trace/solution_placement.hpp) is built
//   at most once, at the first batch that asks, and leaves with the entry.
// - All methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/key.hpp"
#include "distribution/parametric_graph.hpp"
#include "trace/block_trace.hpp"
#include "trace/model_trace.hpp"
#include "trace/solution_placement.hpp"

namespace phasic {

// Counts its allocations in Category::Cache and in a counter shared by everything one
// cache allocates, so the cache knows its own bookkeeping bytes exactly.
template <class T>
struct CacheAllocator {
  using value_type = T;
  std::shared_ptr<std::atomic<std::int64_t>> counter;

  explicit CacheAllocator(std::shared_ptr<std::atomic<std::int64_t>> c) noexcept : counter(std::move(c)) {}
  template <class U>
  CacheAllocator(const CacheAllocator<U>& other) noexcept : counter(other.counter) {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    ledger().add(Category::Cache, bytes);
    T* p;
    try {
      p = static_cast<T*>(::operator new(bytes));
    } catch (...) {
      ledger().remove(Category::Cache, bytes);
      throw;
    }
    counter->fetch_add(static_cast<std::int64_t>(bytes));
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept {
    // Uncounted before the free: this allocator may be a copy living in the block.
    ledger().remove(Category::Cache, n * sizeof(T));
    counter->fetch_sub(static_cast<std::int64_t>(n * sizeof(T)));
    ::operator delete(p);
  }
  template <class U>
  friend bool operator==(const CacheAllocator& a, const CacheAllocator<U>& b) {
    return a.counter == b.counter;
  }
};

// What evaluation of a cached model trace needs besides the trace: the names that
// map a caller's parameters and rewards to indices.
struct ModelLabels {
  std::vector<std::string> params;
  std::vector<double> param_defaults;
  std::vector<std::string> rewards;
};

struct CachedModel {
  std::shared_ptr<const ModelTrace> trace;
  ModelLabels labels;
  std::shared_ptr<const ParametricGraph> graph;  // what distributions need
  TraceTotals totals;                            // of trace, counted once when it was cached
};

// Text the cache keeps, counted as its bookkeeping.
using CachedText = std::vector<char, CacheAllocator<char>>;

// A run summary (engine/run_summary.hpp, encoded) with the model trace it describes.
struct CachedRun {
  std::vector<std::uint8_t> summary;  // empty when absent
  CachedModel model;
  // The summary's decomposition as a RunResult writes it, rendered when the run was
  // stored (decision 55); null when the run was stored without one.
  std::shared_ptr<const CachedText> decomposition;
};

struct CacheClearStats {
  std::uint64_t traces = 0;       // block and model trace entries removed
  std::uint64_t trace_bytes = 0;  // Category::Traces bytes released
  std::uint64_t cache_bytes = 0;  // Category::Cache bytes released
  std::uint64_t graph_bytes = 0;  // Category::Graph bytes released
};

struct CacheStats {
  std::uint64_t blocks = 0, models = 0, runs = 0, held_bytes = 0;
};

class MemoryCache {
 public:
  explicit MemoryCache(std::uint64_t budget_bytes);
  ~MemoryCache();
  MemoryCache(const MemoryCache&) = delete;
  MemoryCache& operator=(const MemoryCache&) = delete;

  void set_budget(std::uint64_t bytes);

  std::shared_ptr<const BlockTrace> find_block(const Key& key, std::span<const std::uint8_t> canonical);
  // Takes the trace into the cache (its header in cache memory) and returns the
  // cached pointer. An entry already under this key (same input) is kept.
  std::shared_ptr<const BlockTrace> put_block(const Key& key, std::span<const std::uint8_t> canonical,
                                              BlockTrace&& trace);

  // The cached model trace (trace null when absent).
  CachedModel find_model(const Key& key);
  // The text of a model file the cached model trace was recorded from ("" when the
  // trace is not cached); exploring it gives the trace's graph.
  std::string model_text(const Key& key);
  // `block_keys` are the keys of the provider blocks the model uses (all cached);
  // `model_text` is kept with the trace (counted as bookkeeping), so that the model's
  // graph can be explored again from the trace key alone; `graph` is the parametric
  // graph the trace was composed from. Returns the cached trace.
  std::shared_ptr<const ModelTrace> put_model(const Key& key, ModelTrace&& trace, const ModelLabels& labels,
                                              const std::vector<Key>& block_keys, std::string_view model_text,
                                              ParametricGraph&& graph = {});

  // The solution placement of `trace`, the model trace cached under `key`: built at the
  // first ask and kept with the entry, counted as its trace bytes. When the entry no
  // longer holds `trace` (evicted since it was found), one built for the caller alone.
  std::shared_ptr<const SolutionPlacement> placement(const Key& key, const ModelTrace& trace);

  // The summary stored for exactly this model text, with its model trace.
  CachedRun find_run(const Key& key, std::string_view model_text);
  // `model_key` names a cached model trace, which the summary pins; `decomposition` is
  // the summary's decomposition as a RunResult writes it, handed back by find_run.
  void put_run(const Key& key, std::string_view model_text, std::span<const std::uint8_t> summary, const Key& model_key,
               std::string_view decomposition = {});

  void trim();
  CacheClearStats clear();

  std::uint64_t held_bytes() const;
  CacheStats stats() const;

 private:
  struct Entry;
  using EntryAllocator = CacheAllocator<std::pair<const Key, Entry>>;
  using Lru = std::list<Key, CacheAllocator<Key>>;
  using Map = std::unordered_map<Key, Entry, KeyHash, std::equal_to<Key>, EntryAllocator>;

  void touch(Entry& e);
  Entry& insert(const Key& key, Entry&& entry);
  void erase(typename Map::iterator it, CacheClearStats& stats);
  // Evicts least recent entries until within the budget, except the latest model and
  // `keep` (when not null).
  void trim_locked(const Key* keep);
  std::uint64_t held_locked() const;

  mutable std::mutex mutex_;
  std::shared_ptr<std::atomic<std::int64_t>> bookkeeping_;
  std::uint64_t budget_;
  std::uint64_t trace_bytes_ = 0;  // Σ trace bytes of the entries
  std::uint64_t graph_bytes_ = 0;  // Σ parametric graph bytes of the entries
  std::unique_ptr<Lru> lru_;       // front = most recent
  std::unique_ptr<Map> entries_;
  Key latest_model_{};
  bool has_latest_model_ = false;
};

}  // namespace phasic
