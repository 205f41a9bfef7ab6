#include "cache/memory_cache.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace phasic {
namespace {

// The bytes one share()d trace takes besides its vectors: the trace object and its
// shared_ptr control block, one allocation whose size the standard library decides.
// Measured once with an allocator of the same (empty) kind as share()'s.
std::size_t probed_bytes = 0;
template <class T>
struct SizeProbe {
  using value_type = T;
  SizeProbe() noexcept = default;
  template <class U>
  SizeProbe(const SizeProbe<U>&) noexcept {}
  T* allocate(std::size_t n) {
    probed_bytes += n * sizeof(T);
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  template <class U>
  friend bool operator==(const SizeProbe&, const SizeProbe<U>&) {
    return true;
  }
};

std::size_t shared_trace_overhead() {
  static const std::size_t bytes = [] {
    probed_bytes = 0;
    (void)std::allocate_shared<const BlockTrace>(SizeProbe<BlockTrace>(), BlockTrace{});
    return probed_bytes;
  }();
  return bytes;
}

// The Category::Traces bytes a model trace owns itself: its vectors (the block list
// included), and the traces of the blocks composition recorded without the provider,
// which it made with share(). Provider blocks are cache entries of their own and are
// counted there.
std::uint64_t owned_trace_bytes(const ModelTrace& m) {
  std::uint64_t bytes = held_bytes(m.blocks) + held_bytes(m.start_target) + held_bytes(m.start_probability) +
                        held_bytes(m.rewards);
  std::unordered_set<const BlockTrace*> seen;
  for (const ComposedBlock& b : m.blocks) {
    bytes += held_bytes(b.vertices) + held_bytes(b.exits);
    if (!b.cacheable && b.trace && seen.insert(b.trace.get()).second)
      bytes += b.trace->bytes() + shared_trace_overhead();
  }
  return bytes;
}

// Labels are kept as one byte string in cache memory: u32 count, then per name a u32
// length and its bytes; parameter names are followed by their 8-byte default.
template <class Bytes>
void encode_labels(const ModelLabels& labels, Bytes& out) {
  auto put = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  };
  auto put_names = [&](const std::vector<std::string>& names, const std::vector<double>* values) {
    const auto count = static_cast<std::uint32_t>(names.size());
    put(&count, 4);
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto length = static_cast<std::uint32_t>(names[i].size());
      put(&length, 4);
      put(names[i].data(), length);
      if (values) put(&(*values)[i], 8);
    }
  };
  put_names(labels.params, &labels.param_defaults);
  put_names(labels.rewards, nullptr);
}

template <class Bytes>
ModelLabels decode_labels(const Bytes& in) {
  ModelLabels labels;
  std::size_t at = 0;
  auto get = [&](void* p, std::size_t n) {
    std::memcpy(p, in.data() + at, n);
    at += n;
  };
  auto get_names = [&](std::vector<std::string>& names, std::vector<double>* values) {
    std::uint32_t count;
    get(&count, 4);
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t length;
      get(&length, 4);
      names.emplace_back(reinterpret_cast<const char*>(in.data() + at), length);
      at += length;
      if (values) get(&values->emplace_back(), 8);
    }
  };
  get_names(labels.params, &labels.param_defaults);
  get_names(labels.rewards, nullptr);
  return labels;
}

}  // namespace

struct MemoryCache::Entry {
  using Bytes = std::vector<std::uint8_t, CacheAllocator<std::uint8_t>>;
  using Keys = std::vector<Key, CacheAllocator<Key>>;

  explicit Entry(const std::shared_ptr<std::atomic<std::int64_t>>& counter)
      : canonical(CacheAllocator<std::uint8_t>(counter)),
        summary(CacheAllocator<std::uint8_t>(counter)),
        source(CacheAllocator<std::uint8_t>(counter)),
        pins(CacheAllocator<Key>(counter)) {}

  std::shared_ptr<const BlockTrace> block;
  std::shared_ptr<const ModelTrace> model;
  std::shared_ptr<const SolutionPlacement> placement;  // a model's, once a batch asked for it
  std::shared_ptr<const ParametricGraph> graph;        // a model's, for distributions
  bool run = false;
  Bytes canonical;  // a block's input or a run's model text (compared on every hit); a model's labels
  Bytes summary;    // a run's summary
  std::shared_ptr<const CachedText> decomposition;  // a run's, as its RunResult writes it
  Bytes source;                                     // a model's text, to explore its graph again
  Keys pins;                                        // a model's provider blocks; a run's model
  std::uint32_t pinned_by = 0;                      // how many cached models use this block
  std::uint64_t trace_bytes = 0;
  std::uint64_t graph_bytes = 0;
  TraceTotals totals;  // a model's
  Lru::iterator lru;
};

MemoryCache::MemoryCache(std::uint64_t budget_bytes)
    : bookkeeping_(std::make_shared<std::atomic<std::int64_t>>(0)), budget_(budget_bytes) {
  lru_ = std::make_unique<Lru>(CacheAllocator<Key>(bookkeeping_));
  entries_ = std::make_unique<Map>(0, KeyHash{}, std::equal_to<Key>{}, EntryAllocator(bookkeeping_));
}

MemoryCache::~MemoryCache() { clear(); }

void MemoryCache::set_budget(std::uint64_t bytes) {
  {
    std::lock_guard lock(mutex_);
    budget_ = bytes;
  }
  trim();
}

void MemoryCache::touch(Entry& e) { lru_->splice(lru_->begin(), *lru_, e.lru); }

std::shared_ptr<const BlockTrace> MemoryCache::find_block(const Key& key, std::span<const std::uint8_t> canonical) {
  std::lock_guard lock(mutex_);
  auto it = entries_->find(key);
  if (it == entries_->end() || !it->second.block) return nullptr;
  Entry& e = it->second;
  if (!std::equal(e.canonical.begin(), e.canonical.end(), canonical.begin(), canonical.end())) return nullptr;
  touch(e);
  return e.block;
}

std::shared_ptr<const BlockTrace> MemoryCache::put_block(const Key& key, std::span<const std::uint8_t> canonical,
                                                         BlockTrace&& trace) {
  std::lock_guard lock(mutex_);
  auto found = entries_->find(key);
  if (found != entries_->end()) {
    // Same key: either the same input (keep the cached trace, identical by the key's
    // contract) or a collision, which is left uncached rather than evicting a pinned entry.
    Entry& e = found->second;
    if (e.block && std::equal(e.canonical.begin(), e.canonical.end(), canonical.begin(), canonical.end())) {
      touch(e);
      return e.block;
    }
    return std::allocate_shared<const BlockTrace>(CacheAllocator<BlockTrace>(bookkeeping_), std::move(trace));
  }
  Entry entry(bookkeeping_);
  entry.canonical.assign(canonical.begin(), canonical.end());
  entry.trace_bytes = trace.bytes();
  entry.block = std::allocate_shared<const BlockTrace>(CacheAllocator<BlockTrace>(bookkeeping_), std::move(trace));
  return insert(key, std::move(entry)).block;
}

MemoryCache::Entry& MemoryCache::insert(const Key& key, Entry&& entry) {
  lru_->push_front(key);
  entry.lru = lru_->begin();
  try {
    Entry& e = entries_->emplace(key, std::move(entry)).first->second;
    trace_bytes_ += e.trace_bytes;
    graph_bytes_ += e.graph_bytes;
    for (const Key& k : e.pins) {
      auto pinned = entries_->find(k);
      if (pinned != entries_->end()) ++pinned->second.pinned_by;
    }
    return e;
  } catch (...) {
    lru_->pop_front();
    throw;
  }
}

CachedModel MemoryCache::find_model(const Key& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_->find(key);
  if (it == entries_->end() || !it->second.model) return {};
  touch(it->second);
  return {it->second.model, decode_labels(it->second.canonical), it->second.graph, it->second.totals};
}

std::string MemoryCache::model_text(const Key& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_->find(key);
  if (it == entries_->end() || !it->second.model) return {};
  return std::string(it->second.source.begin(), it->second.source.end());
}

std::shared_ptr<const ModelTrace> MemoryCache::put_model(const Key& key, ModelTrace&& trace, const ModelLabels& labels,
                                                         const std::vector<Key>& block_keys,
                                                         std::string_view model_text, ParametricGraph&& graph) {
  std::lock_guard lock(mutex_);
  // A replaced model trace keeps the pins of the run summaries that name its key.
  std::uint32_t pinned_by = 0;
  auto old = entries_->find(key);
  if (old != entries_->end()) {
    pinned_by = old->second.pinned_by;
    CacheClearStats ignored;
    erase(old, ignored);
  }
  Entry entry(bookkeeping_);
  entry.pinned_by = pinned_by;
  entry.pins.assign(block_keys.begin(), block_keys.end());
  encode_labels(labels, entry.canonical);
  entry.source.assign(model_text.begin(), model_text.end());
  entry.trace_bytes = owned_trace_bytes(trace);
  entry.totals = totals_of(trace);
  entry.model = std::allocate_shared<const ModelTrace>(CacheAllocator<ModelTrace>(bookkeeping_), std::move(trace));
  if (graph.vertex_count > 0) {
    entry.graph_bytes = graph.bytes();
    entry.graph = std::allocate_shared<const ParametricGraph>(CacheAllocator<ParametricGraph>(bookkeeping_),
                                                              std::move(graph));
  }
  const std::shared_ptr<const ModelTrace> cached = insert(key, std::move(entry)).model;
  latest_model_ = key;
  has_latest_model_ = true;
  return cached;
}

std::shared_ptr<const SolutionPlacement> MemoryCache::placement(const Key& key, const ModelTrace& trace) {
  std::lock_guard lock(mutex_);
  auto it = entries_->find(key);
  if (it == entries_->end() || it->second.model.get() != &trace)
    return std::allocate_shared<const SolutionPlacement>(CountedAllocator<SolutionPlacement, Category::Evaluation>(),
                                                         trace);
  Entry& e = it->second;
  if (!e.placement) {
    e.placement = std::allocate_shared<const SolutionPlacement>(CacheAllocator<SolutionPlacement>(bookkeeping_), trace);
    e.trace_bytes += e.placement->bytes();
    trace_bytes_ += e.placement->bytes();
    trim_locked(&key);
  }
  return e.placement;
}

CachedRun MemoryCache::find_run(const Key& key, std::string_view model_text) {
  std::lock_guard lock(mutex_);
  auto it = entries_->find(key);
  if (it == entries_->end() || !it->second.run) return {};
  Entry& e = it->second;
  if (!std::equal(e.canonical.begin(), e.canonical.end(), model_text.begin(), model_text.end(),
                  [](std::uint8_t a, char b) { return a == static_cast<std::uint8_t>(b); }))
    return {};
  auto model = entries_->find(e.pins.front());
  if (model == entries_->end() || !model->second.model) return {};  // pinned, so never; but a miss is safe
  touch(e);
  touch(model->second);
  for (const Key& k : model->second.pins) {
    auto block = entries_->find(k);
    if (block != entries_->end()) touch(block->second);
  }
  return {std::vector<std::uint8_t>(e.summary.begin(), e.summary.end()),
          {model->second.model, decode_labels(model->second.canonical), model->second.graph, model->second.totals},
          e.decomposition};
}

void MemoryCache::put_run(const Key& key, std::string_view model_text, std::span<const std::uint8_t> summary,
                          const Key& model_key, std::string_view decomposition) {
  std::lock_guard lock(mutex_);
  auto model = entries_->find(model_key);
  if (model == entries_->end() || !model->second.model) return;
  auto old = entries_->find(key);
  if (old != entries_->end()) {
    if (!old->second.run) return;  // a key collision with a trace entry: leave the summary out
    CacheClearStats ignored;
    erase(old, ignored);
  }
  Entry entry(bookkeeping_);
  entry.run = true;
  entry.canonical.assign(model_text.begin(), model_text.end());
  entry.summary.assign(summary.begin(), summary.end());
  if (!decomposition.empty())
    entry.decomposition = std::allocate_shared<const CachedText>(CacheAllocator<CachedText>(bookkeeping_),
                                                                 decomposition.begin(), decomposition.end(),
                                                                 CacheAllocator<char>(bookkeeping_));
  entry.pins.push_back(model_key);
  insert(key, std::move(entry));
}

void MemoryCache::erase(typename Map::iterator it, CacheClearStats& stats) {
  Entry& e = it->second;
  for (const Key& k : e.pins) {
    auto b = entries_->find(k);
    if (b != entries_->end() && b->second.pinned_by > 0) --b->second.pinned_by;
  }
  if (has_latest_model_ && it->first == latest_model_) has_latest_model_ = false;
  if (!e.run) ++stats.traces;
  stats.trace_bytes += e.trace_bytes;
  trace_bytes_ -= e.trace_bytes;
  stats.graph_bytes += e.graph_bytes;
  graph_bytes_ -= e.graph_bytes;
  lru_->erase(e.lru);
  entries_->erase(it);
}

void MemoryCache::trim() {
  std::lock_guard lock(mutex_);
  trim_locked(nullptr);
}

void MemoryCache::trim_locked(const Key* keep) {
  CacheClearStats ignored;
  // Each pass evicts from the least recent end whatever may go; evicting a model
  // unpins its blocks, which a later pass may then evict.
  bool evicted = true;
  while (held_locked() > budget_ && evicted) {
    evicted = false;
    for (auto k = lru_->end(); k != lru_->begin() && held_locked() > budget_;) {
      --k;
      auto it = entries_->find(*k);
      const Entry& e = it->second;
      const bool protected_model = e.model && has_latest_model_ && it->first == latest_model_;
      if (protected_model || e.pinned_by > 0 || (keep && it->first == *keep)) continue;
      const Key victim = *k;
      ++k;  // erase invalidates the victim's list node only
      erase(entries_->find(victim), ignored);
      evicted = true;
    }
  }
}

CacheClearStats MemoryCache::clear() {
  std::lock_guard lock(mutex_);
  CacheClearStats stats;
  const auto cache_before = bookkeeping_->load();
  // Pinning entries first (runs, then models), so that what they pin is unpinned when it goes.
  for (const bool runs : {true, false})
    for (auto it = entries_->begin(); it != entries_->end();) {
      auto next = std::next(it);
      if (runs ? it->second.run : bool(it->second.model)) erase(it, stats);
      it = next;
    }
  while (!entries_->empty()) erase(entries_->begin(), stats);
  // A fresh map: an emptied one keeps its bucket array, and an empty cache holds nothing.
  entries_ = std::make_unique<Map>(0, KeyHash{}, std::equal_to<Key>{}, EntryAllocator(bookkeeping_));
  stats.cache_bytes = static_cast<std::uint64_t>(cache_before - bookkeeping_->load());
  return stats;
}

std::uint64_t MemoryCache::held_locked() const {
  return trace_bytes_ + graph_bytes_ + static_cast<std::uint64_t>(bookkeeping_->load());
}

std::uint64_t MemoryCache::held_bytes() const {
  std::lock_guard lock(mutex_);
  return held_locked();
}

CacheStats MemoryCache::stats() const {
  std::lock_guard lock(mutex_);
  CacheStats s;
  for (const auto& [key, e] : *entries_) (e.run ? s.runs : e.model ? s.models : s.blocks)++;
  s.held_bytes = held_locked();
  return s;
}

}  // namespace phasic
