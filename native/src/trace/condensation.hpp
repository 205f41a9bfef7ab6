// Strongly connected components of the explored graph and their condensation DAG:
// the hierarchy that splits trace recording into independent blocks.
//
// Invariants:
// - S (vertex 0) is its own component, number 0, whatever its edges. Edges into S
//   are not allowed (S is not a state) and are rejected.
// - Components are numbered in a topological order of the condensation: every edge
//   u→z between different components has component_of[u] < component_of[z]
//   (upstream first). The numbering is a deterministic function of the graph.
// - members(c) lists the component's vertices in ascending vertex index: that is the
//   block's local order.
// - successors(c) lists each downstream component reached by an edge out of c once,
//   ascending. internal_edges[c] counts edges with both ends in c, exit_edges[c] the
//   edges leaving c (to any vertex, absorbing or not).
// - The search is iterative (explicit stack), so a chain of millions of vertices
//   decomposes without touching the call stack.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "graph/graph.hpp"

namespace phasic {

// Condensation data lives as long as the graph it describes.
template <class T>
using CondensationVector = CountedVector<T, Category::Graph>;

struct Condensation {
  std::uint32_t component_count = 0;
  CondensationVector<std::uint32_t> component_of;     // vertex_count
  CondensationVector<std::uint32_t> member_begin;     // component_count + 1
  CondensationVector<VertexId> members;               // vertex_count, grouped by component
  CondensationVector<std::uint64_t> successor_begin;  // component_count + 1
  CondensationVector<std::uint32_t> successor;        // condensation edges, deduplicated
  CondensationVector<std::uint64_t> internal_edges;   // component_count
  CondensationVector<std::uint64_t> exit_edges;       // component_count

  std::uint32_t size(std::uint32_t c) const { return member_begin[c + 1] - member_begin[c]; }
  std::span<const VertexId> members_of(std::uint32_t c) const {
    return {members.data() + member_begin[c], members.data() + member_begin[c + 1]};
  }
  std::span<const std::uint32_t> successors(std::uint32_t c) const {
    return {successor.data() + successor_begin[c], successor.data() + successor_begin[c + 1]};
  }
  std::size_t bytes() const;
};

// Checks the graph's shape (CSR bounds, one coefficient vector per edge, coefficients
// finite and ≥ 0, targets in range, no edge into S) and throws EngineError naming the
// offending edge; throws Cancelled when *cancel becomes true.
Condensation condense(const Graph& graph, const std::atomic<bool>* cancel = nullptr);

// What condense reads of a graph: its CSR edges and their forms (graph/graph.hpp's
// invariants), so that the parametric graph a run keeps beside its trace
// (distribution/parametric_graph.hpp) condenses as its Graph did.
struct GraphEdges {
  std::uint32_t vertex_count;
  std::uint32_t form_stride;  // param_count + 1
  std::span<const std::uint64_t> edge_begin;
  std::span<const VertexId> edge_target;
  std::span<const double> coeffs;

  std::uint64_t edge_count() const { return edge_target.size(); }
  std::uint32_t stride() const { return form_stride; }
};
Condensation condense(const GraphEdges& edges, const std::atomic<bool>* cancel = nullptr);

}  // namespace phasic
