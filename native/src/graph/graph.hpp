// The explored graph of a Markov jump process: the engine's input to decomposition
// and trace recording.
//
// Invariants:
// - Vertex 0 is the starting vertex S; its edges go to the initial states and carry
//   constant weights (the initial probabilities). Every other vertex is a state.
// - Out-edges are stored in CSR form: the edges of u are [edge_begin[u],
//   edge_begin[u+1]). Targets of one vertex are distinct (parallel transitions were
//   merged) and never u itself (self-transitions were dropped).
// - Every edge has a linear form c0 + c1·θ1 + … + cP·θP with all c finite and ≥ 0,
//   stored densely: coefficients of edge e are coeffs[e*(P+1) .. e*(P+1)+P].
// - A vertex with no out-edges is absorbing.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "memory/accounting.hpp"

namespace phasic {

using VertexId = std::uint32_t;

template <class T>
using GraphVector = CountedVector<T, Category::Graph>;

struct Graph {
  std::uint32_t param_count = 0;   // P
  std::uint32_t state_length = 0;  // integers per state
  std::uint32_t vertex_count = 0;  // including S

  GraphVector<std::int32_t> states;       // vertex_count * state_length; S's row is zeros
  GraphVector<std::uint64_t> edge_begin;  // vertex_count + 1
  GraphVector<VertexId> edge_target;      // edge_count
  GraphVector<double> coeffs;             // edge_count * (param_count + 1)

  // reward_count rows of vertex_count values: reward r at vertex u is
  // rewards[r * vertex_count + u]. S's value is 0.
  std::uint32_t reward_count = 0;
  GraphVector<double> rewards;

  std::uint64_t edge_count() const { return edge_target.size(); }
  std::uint32_t stride() const { return param_count + 1; }
  const double* form(std::uint64_t edge) const { return coeffs.data() + edge * stride(); }
  bool absorbing(VertexId u) const { return edge_begin[u] == edge_begin[u + 1]; }
  const std::int32_t* state(VertexId u) const { return states.data() + std::uint64_t(u) * state_length; }
  double reward(std::uint32_t r, VertexId u) const { return rewards[std::uint64_t(r) * vertex_count + u]; }
};

// A form's coefficients copied, or compared by their bit patterns. Forms are a few
// doubles (P + 1) and are copied and compared once per edge whenever a block is cut
// and recorded; with the length known at compile time these are a few moves, where a
// library call with a run-time length cost more than the copy itself.
template <std::size_t N>
bool same_bits(const double* a, const double* b) {
  return std::memcmp(a, b, N * sizeof(double)) == 0;
}
inline void copy_form(double* to, const double* from, std::uint32_t stride) {
  switch (stride) {
    case 1: std::memcpy(to, from, 1 * sizeof(double)); return;
    case 2: std::memcpy(to, from, 2 * sizeof(double)); return;
    case 3: std::memcpy(to, from, 3 * sizeof(double)); return;
    case 4: std::memcpy(to, from, 4 * sizeof(double)); return;
    default: std::memcpy(to, from, stride * sizeof(double));
  }
}
inline bool same_form(const double* a, const double* b, std::uint32_t stride) {
  switch (stride) {
    case 1: return same_bits<1>(a, b);
    case 2: return same_bits<2>(a, b);
    case 3: return same_bits<3>(a, b);
    case 4: return same_bits<4>(a, b);
    default: return std::memcmp(a, b, stride * sizeof(double)) == 0;
  }
}

}  // namespace phasic
