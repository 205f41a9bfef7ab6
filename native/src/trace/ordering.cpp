// The Markowitz queue, and the symbolic-only elimination that yields the order the
// recorder would choose: sorted adjacency lists of internal edges plus one bit per
// vertex for "can leave the block" (exits and absorption aggregated).
#include "trace/ordering.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace phasic {
namespace {

using List = SubgraphVector<std::uint32_t>;

// std heap functions build a max-heap; "greater" puts the smallest count, then the
// smallest index, on top.
struct Later {
  template <class E>
  bool operator()(const E& a, const E& b) const {
    return a.count != b.count ? a.count > b.count : a.vertex > b.vertex;
  }
};

}  // namespace

EliminationQueue::EliminationQueue(std::uint32_t vertex_count)
    : scanned_(vertex_count <= kScanned), done_(vertex_count, 0), newest_(vertex_count, ~std::uint64_t(0)) {
  if (!scanned_) heap_.reserve(vertex_count);
}

void EliminationQueue::reset(std::uint32_t vertex_count) {
  scanned_ = vertex_count <= kScanned;
  heap_.clear();
  done_.assign(vertex_count, 0);
  newest_.assign(vertex_count, ~std::uint64_t(0));
  if (!scanned_) heap_.reserve(vertex_count);
}

void EliminationQueue::trim(std::size_t keep) {
  if (heap_.capacity() > keep) SubgraphVector<Entry>().swap(heap_);
  if (done_.capacity() > keep) SubgraphVector<std::uint8_t>().swap(done_);
  if (newest_.capacity() > keep) SubgraphVector<std::uint64_t>().swap(newest_);
}

void EliminationQueue::push(std::uint32_t vertex, std::uint64_t count) {
  if (newest_[vertex] == count) return;
  newest_[vertex] = count;
  if (scanned_) return;
  heap_.push_back({count, vertex});
  std::push_heap(heap_.begin(), heap_.end(), Later());
}

std::uint32_t EliminationQueue::pop_scanned() {
  std::uint32_t best = kEmpty;
  for (std::uint32_t v = 0; v < done_.size(); ++v)
    if (!done_[v] && (best == kEmpty || newest_[v] < newest_[best])) best = v;
  if (best != kEmpty) done_[best] = 1;
  return best;
}

EliminationQueue::Entry EliminationQueue::take() {
  std::pop_heap(heap_.begin(), heap_.end(), Later());
  const Entry top = heap_.back();
  heap_.pop_back();
  return top;
}

SubgraphVector<std::uint32_t> acyclic_order(const BlockInput& b) {
  SubgraphVector<std::uint32_t> order, parents, ready;
  acyclic_order(b, order, parents, ready);
  return order;
}

void acyclic_order(const BlockInput& b, SubgraphVector<std::uint32_t>& order, SubgraphVector<std::uint32_t>& parents,
                   SubgraphVector<std::uint32_t>& ready) {
  const std::uint32_t n = b.vertex_count;
  order.clear();
  bool upward = true;
  for (std::uint32_t u = 0; u < n; ++u) {
    if (b.edge_begin[u] == b.edge_begin[u + 1]) return;
    // Targets ascend, so the row's smallest internal target is its first.
    const std::uint32_t t = b.edge_target[b.edge_begin[u]];
    if (t <= u) upward = false;
  }
  order.resize(n);
  if (upward) {
    for (std::uint32_t v = 0; v < n; ++v) order[v] = v;
    return;
  }
  parents.assign(n, 0);
  for (std::uint64_t e = 0; e < b.edge_count(); ++e)
    if (b.edge_target[e] < n) ++parents[b.edge_target[e]];
  // A min-heap of ready vertices (no parent left); each vertex enters it once.
  ready.clear();
  for (std::uint32_t v = 0; v < n; ++v)
    if (parents[v] == 0) ready.push_back(v);  // ascending: already a heap
  const auto later = [](std::uint32_t x, std::uint32_t y) { return x > y; };
  std::uint32_t placed = 0;
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), later);
    const std::uint32_t v = ready.back();
    ready.pop_back();
    order[placed++] = v;
    for (std::uint64_t e = b.edge_begin[v]; e < b.edge_begin[v + 1] && b.edge_target[e] < n; ++e)
      if (--parents[b.edge_target[e]] == 0) {
        ready.push_back(b.edge_target[e]);
        std::push_heap(ready.begin(), ready.end(), later);
      }
  }
  if (placed < n) order.clear();  // a cycle
}

SubgraphVector<std::uint32_t> elimination_order(const BlockInput& b, const std::atomic<bool>* cancel) {
  const std::uint32_t n = b.vertex_count;
  if (SubgraphVector<std::uint32_t> order = acyclic_order(b); !order.empty()) return order;
  SubgraphVector<List> out(n), in(n);
  SubgraphVector<std::uint8_t> leaves(n, 0);
  for (std::uint32_t u = 0; u < n; ++u)
    for (std::uint64_t e = b.edge_begin[u]; e < b.edge_begin[u + 1]; ++e) {
      const std::uint32_t t = b.edge_target[e];
      if (t < n) {
        out[u].push_back(t);
        in[t].push_back(u);  // u ascending, so in-lists come out sorted
      } else {
        leaves[u] = 1;
      }
    }
  auto count = [&](std::uint32_t v) { return std::uint64_t(in[v].size()) * (out[v].size() + leaves[v]); };
  EliminationQueue queue(n);
  for (std::uint32_t v = 0; v < n; ++v) queue.push(v, count(v));
  SubgraphVector<std::uint32_t> order;
  order.reserve(n);
  List merged;
  for (std::uint32_t v; (v = queue.pop(count)) != EliminationQueue::kEmpty;) {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    order.push_back(v);
    for (std::uint32_t u : in[v]) {
      // out[u] := (out[u] \ {v}) ∪ (out[v] \ {u})
      merged.clear();
      const List& a = out[u];
      const List& c = out[v];
      std::size_t i = 0, j = 0;
      while (i < a.size() || j < c.size()) {
        if (j == c.size() || (i < a.size() && a[i] < c[j])) {
          if (a[i] != v) merged.push_back(a[i]);
          ++i;
        } else if (i == a.size() || c[j] < a[i]) {
          if (c[j] != u) {
            merged.push_back(c[j]);
            List& parents = in[c[j]];
            parents.insert(std::lower_bound(parents.begin(), parents.end(), u), u);
          }
          ++j;
        } else {
          merged.push_back(a[i]);
          ++i, ++j;
        }
      }
      out[u].swap(merged);
      leaves[u] |= leaves[v];
    }
    for (std::uint32_t z : out[v]) {
      List& parents = in[z];
      parents.erase(std::lower_bound(parents.begin(), parents.end(), v));
    }
    for (std::uint32_t u : in[v]) queue.push(u, count(u));
    for (std::uint32_t z : out[v])
      if (!queue.done(z)) queue.push(z, count(z));
    List().swap(in[v]);
    List().swap(out[v]);
  }
  return order;
}

}  // namespace phasic
