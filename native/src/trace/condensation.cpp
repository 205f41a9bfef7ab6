// Iterative Tarjan: one depth-first search over vertices 1..V-1 in ascending order,
// edges in CSR order. Tarjan completes components sinks first, so the k-th completed
// component of C' gets number C' - k, which is a topological numbering with S at 0.
#include "trace/condensation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "base/error.hpp"

namespace phasic {
namespace {

constexpr std::uint32_t kUnvisited = std::numeric_limits<std::uint32_t>::max();

template <class T>
using Scratch = CountedVector<T, Category::Graph>;

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

void check_edges(const GraphEdges& g) {
  if (g.vertex_count == 0) throw EngineError("the graph has no starting vertex S");
  if (g.edge_begin.size() != std::size_t(g.vertex_count) + 1 || g.edge_begin.front() != 0 ||
      g.edge_begin.back() != g.edge_count())
    throw EngineError("graph edge_begin does not match vertex_count and edge_target");
  for (VertexId u = 0; u < g.vertex_count; ++u)
    if (g.edge_begin[u] > g.edge_begin[u + 1])
      throw EngineError("graph edge_begin decreases at vertex " + std::to_string(u));
  if (g.coeffs.size() != g.edge_count() * g.stride())
    throw EngineError("graph coeffs do not hold (param_count + 1) values per edge");
  for (std::size_t i = 0; i < g.coeffs.size(); ++i)
    if (!(g.coeffs[i] >= 0) || !std::isfinite(g.coeffs[i]))
      throw EngineError("graph edge " + std::to_string(i / g.stride()) +
                        " has a negative or non-finite rate coefficient");
  for (std::uint64_t e = 0; e < g.edge_count(); ++e) {
    const VertexId t = g.edge_target[e];
    if (t >= g.vertex_count)
      throw EngineError("graph edge " + std::to_string(e) + " targets a vertex that does not exist");
    if (t == 0) throw EngineError("graph edge " + std::to_string(e) + " enters the starting vertex S");
  }
}

}  // namespace

std::size_t Condensation::bytes() const {
  return held_bytes(component_of) + held_bytes(member_begin) + held_bytes(members) + held_bytes(successor_begin) +
         held_bytes(successor) + held_bytes(internal_edges) + held_bytes(exit_edges);
}

Condensation condense(const GraphEdges& g, const std::atomic<bool>* cancel) {
  check_edges(g);
  const std::uint32_t V = g.vertex_count;
  Condensation out;
  out.component_of.assign(V, kUnvisited);

  // Tarjan state. completed[v] = order in which v's component completed.
  Scratch<std::uint32_t> index(V, kUnvisited), low(V, 0);
  Scratch<std::uint8_t> on_stack(V, 0);
  Scratch<VertexId> stack;
  struct Frame {
    VertexId v;
    std::uint64_t next_edge;
  };
  Scratch<Frame> calls;
  std::uint32_t next_index = 0, completed = 0;
  std::uint64_t steps = 0;

  for (VertexId root = 1; root < V; ++root) {
    if (index[root] != kUnvisited) continue;
    index[root] = low[root] = next_index++;
    stack.push_back(root);
    on_stack[root] = 1;
    calls.push_back({root, g.edge_begin[root]});
    while (!calls.empty()) {
      if ((++steps & 0xffff) == 0) check_cancel(cancel);
      Frame& f = calls.back();
      const VertexId v = f.v;
      if (f.next_edge < g.edge_begin[v + 1]) {
        const VertexId w = g.edge_target[f.next_edge++];
        if (index[w] == kUnvisited) {
          index[w] = low[w] = next_index++;
          stack.push_back(w);
          on_stack[w] = 1;
          calls.push_back({w, g.edge_begin[w]});
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      calls.pop_back();
      if (!calls.empty()) low[calls.back().v] = std::min(low[calls.back().v], low[v]);
      if (low[v] == index[v]) {
        VertexId w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = 0;
          out.component_of[w] = completed;
        } while (w != v);
        ++completed;
      }
    }
  }
  // Free the search state before building the outputs.
  Scratch<std::uint32_t>().swap(index);
  Scratch<std::uint32_t>().swap(low);
  Scratch<std::uint8_t>().swap(on_stack);

  const std::uint32_t C = completed + 1;
  out.component_count = C;
  out.component_of[0] = 0;
  for (VertexId v = 1; v < V; ++v) out.component_of[v] = completed - out.component_of[v];

  // Members by counting sort; scanning vertices ascending keeps each group ascending.
  out.member_begin.assign(C + 1, 0);
  for (VertexId v = 0; v < V; ++v) ++out.member_begin[out.component_of[v] + 1];
  for (std::uint32_t c = 0; c < C; ++c) out.member_begin[c + 1] += out.member_begin[c];
  out.members.resize(V);
  {
    Scratch<std::uint32_t> fill(out.member_begin.begin(), out.member_begin.end() - 1);
    for (VertexId v = 0; v < V; ++v) out.members[fill[out.component_of[v]]++] = v;
  }

  // Condensation edges, deduplicated with a last-seen marker per target component.
  out.internal_edges.assign(C, 0);
  out.exit_edges.assign(C, 0);
  out.successor_begin.assign(C + 1, 0);
  Scratch<std::uint32_t> seen(C, kUnvisited);
  for (std::uint32_t c = 0; c < C; ++c) {
    if ((c & 0xfff) == 0) check_cancel(cancel);
    const std::size_t first = out.successor.size();
    for (VertexId u : out.members_of(c)) {
      for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e) {
        const std::uint32_t d = out.component_of[g.edge_target[e]];
        if (d == c) {
          ++out.internal_edges[c];
          continue;
        }
        ++out.exit_edges[c];
        if (seen[d] != c) {
          seen[d] = c;
          out.successor.push_back(d);
        }
      }
    }
    std::sort(out.successor.begin() + first, out.successor.end());
    out.successor_begin[c + 1] = out.successor.size();
  }
  return out;
}

Condensation condense(const Graph& graph, const std::atomic<bool>* cancel) {
  return condense(GraphEdges{graph.vertex_count, graph.stride(), graph.edge_begin, graph.edge_target, graph.coeffs},
                  cancel);
}

}  // namespace phasic
