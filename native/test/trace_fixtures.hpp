// Hand-built graphs for the trace tests: a graph from an edge list, without the
// explorer, so each test states its model exactly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "graph/graph.hpp"

namespace fixtures {

struct EdgeSpec {
  phasic::VertexId from, to;
  std::vector<double> form;  // c0..cP
};

// rewards: one row of vertex_count values per reward.
inline phasic::Graph make_graph(std::uint32_t params, std::uint32_t vertices, std::vector<EdgeSpec> edges,
                                const std::vector<std::vector<double>>& rewards) {
  phasic::Graph g;
  g.param_count = params;
  g.vertex_count = vertices;
  g.state_length = 0;
  std::stable_sort(edges.begin(), edges.end(), [](const EdgeSpec& a, const EdgeSpec& b) { return a.from < b.from; });
  g.edge_begin.assign(vertices + 1, 0);
  for (const EdgeSpec& e : edges) {
    ++g.edge_begin[e.from + 1];
    g.edge_target.push_back(e.to);
    for (std::uint32_t i = 0; i <= params; ++i) g.coeffs.push_back(i < e.form.size() ? e.form[i] : 0.0);
  }
  for (std::uint32_t v = 0; v < vertices; ++v) g.edge_begin[v + 1] += g.edge_begin[v];
  g.reward_count = static_cast<std::uint32_t>(rewards.size());
  for (const auto& row : rewards) g.rewards.insert(g.rewards.end(), row.begin(), row.end());
  return g;
}

}  // namespace fixtures
