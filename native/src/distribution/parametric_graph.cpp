#include "distribution/parametric_graph.hpp"

namespace phasic {

ParametricGraph parametric_graph_of(const Graph& graph) {
  ParametricGraph p;
  p.param_count = graph.param_count;
  p.vertex_count = graph.vertex_count;
  p.reward_count = graph.reward_count;
  // Copies built by assign hold exactly their size: the cache keeps them for long.
  p.edge_begin.assign(graph.edge_begin.begin(), graph.edge_begin.end());
  p.edge_target.assign(graph.edge_target.begin(), graph.edge_target.end());
  p.coeffs.assign(graph.coeffs.begin(), graph.coeffs.end());
  p.rewards.assign(graph.rewards.begin(), graph.rewards.end());
  return p;
}

}  // namespace phasic
