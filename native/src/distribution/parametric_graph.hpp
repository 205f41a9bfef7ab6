// The parametric graph a distribution needs, kept beside a run's cached trace so that
// a new parameter vector never explores again: the explored Graph without its state
// labels (graph/graph.hpp).
//
// Invariants:
// - Same vertex numbering, CSR layout, linear forms and reward rows as the Graph it
//   was taken from (so every invariant of Graph about edges, S and absorbing
//   vertices holds here too).
// - All its vectors are counted in Category::Graph: between calls the ledger's graph
//   bytes equal the bytes of the parametric graphs the memory cache holds.
#pragma once

#include <cstdint>

#include "graph/graph.hpp"

namespace phasic {

struct ParametricGraph {
  std::uint32_t param_count = 0;   // P
  std::uint32_t vertex_count = 0;  // including S (vertex 0)
  std::uint32_t reward_count = 0;

  GraphVector<std::uint64_t> edge_begin;  // vertex_count + 1
  GraphVector<VertexId> edge_target;      // edge_count
  GraphVector<double> coeffs;             // edge_count * (param_count + 1)
  GraphVector<double> rewards;            // reward_count rows of vertex_count values

  std::uint64_t edge_count() const { return edge_target.size(); }
  std::uint32_t stride() const { return param_count + 1; }
  bool absorbing(VertexId u) const { return edge_begin[u] == edge_begin[u + 1]; }
  double reward(std::uint32_t r, VertexId u) const { return rewards[std::uint64_t(r) * vertex_count + u]; }
  // The rate (for S: the initial probability) of edge e at θ.
  double rate(std::uint64_t e, const double* theta) const {
    const double* form = coeffs.data() + e * stride();
    double x = form[0];
    for (std::uint32_t k = 0; k < param_count; ++k) x += form[k + 1] * theta[k];
    return x;
  }
  std::uint64_t bytes() const {
    return held_bytes(edge_begin) + held_bytes(edge_target) + held_bytes(coeffs) + held_bytes(rewards);
  }
};

// A copy of `graph` without its states, with vectors of exactly the size they need.
ParametricGraph parametric_graph_of(const Graph& graph);

}  // namespace phasic
