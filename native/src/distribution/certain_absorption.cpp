#include "distribution/certain_absorption.hpp"

#include <cstdint>

#include "memory/accounting.hpp"

namespace phasic {
namespace {

bool positive(const ParametricGraph& g, std::uint64_t e, std::span<const double> theta) {
  const double* form = g.coeffs.data() + e * g.stride();
  if (form[0] > 0) return true;
  for (std::uint32_t k = 0; k < g.param_count; ++k)
    if (form[k + 1] > 0 && theta[k] > 0) return true;
  return false;
}

}  // namespace

bool certain_absorption(const ParametricGraph& g, std::span<const double> theta) {
  const std::uint32_t n = g.vertex_count;
  if (n == 0) return true;
  CountedVector<std::uint8_t, Category::Evaluation> reached(n, 0), absorbs(n, 0);
  CountedVector<VertexId, Category::Evaluation> stack;
  // Forward from S over positive edges: the states the process visits.
  reached[0] = 1;
  stack.push_back(0);
  while (!stack.empty()) {
    const VertexId u = stack.back();
    stack.pop_back();
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (!reached[g.edge_target[e]] && positive(g, e, theta)) {
        reached[g.edge_target[e]] = 1;
        stack.push_back(g.edge_target[e]);
      }
  }
  // Backward from the absorbing states over positive edges, through the reverse of the
  // positive edges among reached states (the graph keeps forward lists only).
  CountedVector<std::uint64_t, Category::Evaluation> into_begin(std::size_t(n) + 1, 0);
  for (VertexId u = 0; u < n; ++u)
    if (reached[u])
      for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
        if (positive(g, e, theta)) ++into_begin[g.edge_target[e] + 1];
  for (VertexId v = 0; v < n; ++v) into_begin[v + 1] += into_begin[v];
  CountedVector<VertexId, Category::Evaluation> into(into_begin[n]);
  {
    CountedVector<std::uint64_t, Category::Evaluation> next(into_begin.begin(), into_begin.end() - 1);
    for (VertexId u = 0; u < n; ++u)
      if (reached[u])
        for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
          if (positive(g, e, theta)) into[next[g.edge_target[e]]++] = u;
  }
  for (VertexId u = 0; u < n; ++u)
    if (reached[u] && g.absorbing(u)) {
      absorbs[u] = 1;
      stack.push_back(u);
    }
  while (!stack.empty()) {
    const VertexId v = stack.back();
    stack.pop_back();
    for (std::uint64_t i = into_begin[v]; i < into_begin[v + 1]; ++i)
      if (!absorbs[into[i]]) {
        absorbs[into[i]] = 1;
        stack.push_back(into[i]);
      }
  }
  for (VertexId u = 0; u < n; ++u)
    if (reached[u] && !absorbs[u]) return false;
  return true;
}

}  // namespace phasic
