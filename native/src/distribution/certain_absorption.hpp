// Whether the process is absorbed with probability 1 at θ, read from which rates are
// positive, never from how large they are.
//
// A finite chain is absorbed with certainty exactly when every state it reaches from
// S, through edges of positive rate, can itself reach an absorbing state through such
// edges. absorption_marks finds both sets for any rule of which edges count:
// - certain_absorption counts an edge by its linear form c₀ + Σ c_k θ_k (every c ≥ 0,
//   the language refuses others): positive exactly when c₀ > 0 or some c_k > 0 has
//   θ_k > 0, decided without multiplying, so a rate that underflows (1e-200 · 1e-200)
//   or a moment that overflows (θ = 1e-310) cannot make a certain absorption look
//   uncertain. The trace's own test (is E[T] finite?) cannot tell an overflow from a
//   rate of 0; this one is exact, and the engine consults it when a value is not finite.
// - the reward transformation counts an edge by its rate computed at θ, the rate its
//   chain then uses.
//
// Invariant: reads the graph only, in time and scratch linear in its size; the scratch
// (marks, a stack, the reverse of the counted edges) is counted in Category::Evaluation.
#pragma once

#include <cstdint>
#include <span>

#include "distribution/parametric_graph.hpp"
#include "memory/accounting.hpp"

namespace phasic {

enum AbsorptionMark : std::uint8_t {
  kUnreached = 0,  // S never reaches it along counted edges
  kTrapped = 1,    // reached, but no counted path leads to an absorbing vertex
  kAbsorbs = 2,    // reached, and a counted path leads to an absorbing vertex
};

// One mark per vertex; `counts(e)` says whether edge e is taken to have a positive rate.
template <class Counts>
CountedVector<std::uint8_t, Category::Evaluation> absorption_marks(const ParametricGraph& g, Counts&& counts) {
  const std::uint32_t n = g.vertex_count;
  CountedVector<std::uint8_t, Category::Evaluation> mark(n, kUnreached);
  if (n == 0) return mark;
  CountedVector<VertexId, Category::Evaluation> stack;
  mark[0] = kTrapped;
  stack.push_back(0);
  while (!stack.empty()) {
    const VertexId u = stack.back();
    stack.pop_back();
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (mark[g.edge_target[e]] == kUnreached && counts(e)) {
        mark[g.edge_target[e]] = kTrapped;
        stack.push_back(g.edge_target[e]);
      }
  }
  // Backward from the absorbing vertices, through the reverse of the counted edges out
  // of reached states (the graph keeps forward lists only).
  CountedVector<std::uint64_t, Category::Evaluation> into_begin(std::size_t(n) + 1, 0);
  for (VertexId u = 0; u < n; ++u)
    if (mark[u] != kUnreached)
      for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
        if (counts(e)) ++into_begin[g.edge_target[e] + 1];
  for (VertexId v = 0; v < n; ++v) into_begin[v + 1] += into_begin[v];
  CountedVector<VertexId, Category::Evaluation> into(into_begin[n]);
  {
    CountedVector<std::uint64_t, Category::Evaluation> next(into_begin.begin(), into_begin.end() - 1);
    for (VertexId u = 0; u < n; ++u)
      if (mark[u] != kUnreached)
        for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
          if (counts(e)) into[next[g.edge_target[e]]++] = u;
  }
  for (VertexId u = 0; u < n; ++u)
    if (mark[u] != kUnreached && g.absorbing(u)) {
      mark[u] = kAbsorbs;
      stack.push_back(u);
    }
  while (!stack.empty()) {
    const VertexId v = stack.back();
    stack.pop_back();
    for (std::uint64_t i = into_begin[v]; i < into_begin[v + 1]; ++i)
      if (mark[into[i]] == kTrapped) {
        mark[into[i]] = kAbsorbs;
        stack.push_back(into[i]);
      }
  }
  return mark;
}

// Whether no state the process reaches (S aside: it is left at once) is trapped, with
// edges counted by their linear forms; theta holds the graph's param_count values, each
// finite and ≥ 0.
bool certain_absorption(const ParametricGraph& graph, std::span<const double> theta);

}  // namespace phasic
