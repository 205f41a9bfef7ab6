// Symbolic elimination with sorted adjacency lists and a lazy min-heap of Markowitz
// counts: a vertex's entry is re-pushed whenever its count changes, and stale entries
// (count differs, or already eliminated) are skipped when popped.
#include "trace/ordering.hpp"

#include <algorithm>

#include "engine/error.hpp"

namespace phasic {
namespace {

using List = SubgraphVector<std::uint32_t>;

void erase_sorted(List& list, std::uint32_t x) {
  auto it = std::lower_bound(list.begin(), list.end(), x);
  if (it != list.end() && *it == x) list.erase(it);
}

bool insert_sorted(List& list, std::uint32_t x) {
  auto it = std::lower_bound(list.begin(), list.end(), x);
  if (it != list.end() && *it == x) return false;
  list.insert(it, x);
  return true;
}

struct Entry {
  std::uint64_t score;
  std::uint32_t vertex;
  // std heap functions build a max-heap; "greater" puts the smallest count, then the
  // smallest index, on top.
  bool operator<(const Entry& o) const { return score != o.score ? score > o.score : vertex > o.vertex; }
};

}  // namespace

SubgraphVector<std::uint32_t> elimination_order(const BlockInput& b, const std::atomic<bool>* cancel) {
  const std::uint32_t n = b.vertex_count;
  SubgraphVector<List> out(n), in(n);
  for (std::uint32_t u = 0; u < n; ++u) {
    out[u].assign(b.edge_target.begin() + b.edge_begin[u], b.edge_target.begin() + b.edge_begin[u + 1]);
    for (std::uint32_t t : out[u])
      if (t < n) in[t].push_back(u);  // u ascending, so in-lists come out sorted
  }
  auto score = [&](std::uint32_t v) { return std::uint64_t(in[v].size()) * out[v].size(); };
  SubgraphVector<Entry> heap;
  heap.reserve(n);
  for (std::uint32_t v = 0; v < n; ++v) heap.push_back({score(v), v});
  std::make_heap(heap.begin(), heap.end());
  SubgraphVector<std::uint8_t> done(n, 0);
  SubgraphVector<std::uint32_t> order;
  order.reserve(n);
  List merged;
  std::uint64_t work = 0;

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Entry top = heap.back();
    heap.pop_back();
    const std::uint32_t v = top.vertex;
    if (done[v] || top.score != score(v)) continue;
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    done[v] = 1;
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
            if (c[j] < n) insert_sorted(in[c[j]], u);
          }
          ++j;
        } else {
          merged.push_back(a[i]);
          ++i, ++j;
        }
      }
      work += merged.size();
      out[u].swap(merged);
    }
    for (std::uint32_t z : out[v])
      if (z < n) erase_sorted(in[z], v);
    for (std::uint32_t u : in[v]) heap.push_back({score(u), u}), std::push_heap(heap.begin(), heap.end());
    for (std::uint32_t z : out[v])
      if (z < n && !done[z]) heap.push_back({score(z), z}), std::push_heap(heap.begin(), heap.end());
    List().swap(in[v]);
    List().swap(out[v]);
    if (work > (1u << 20)) {
      work = 0;
      if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    }
  }
  return order;
}

}  // namespace phasic
