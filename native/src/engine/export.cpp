#include "engine/export.hpp"

#include "engine/json_writer.hpp"
#include "engine/load.hpp"

namespace phasic {

std::string phasic_graph_json(std::string_view model_text, std::uint64_t max_states) {
  ExploreOptions options;
  options.max_states = max_states;
  const Exploration explored = load_model_file(model_text, options);
  const Graph& g = explored.graph;
  JsonWriter w;
  w.begin_object();
  w.key("states").begin_array();
  for (VertexId u = 0; u < g.vertex_count; ++u) {
    w.begin_array();
    for (std::uint32_t i = 0; i < g.state_length; ++i) w.value(std::int64_t(g.state(u)[i]));
    w.end_array();
  }
  w.end_array();
  auto has_params = [&](const double* form) {
    for (std::uint32_t k = 1; k <= g.param_count; ++k)
      if (form[k] != 0) return true;
    return false;
  };
  w.key("edges").begin_array();
  for (VertexId u = 1; u < g.vertex_count; ++u)
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (g.form(e)[0] != 0 || !has_params(g.form(e)))
        w.begin_array().value(std::uint64_t(u)).value(std::uint64_t(g.edge_target[e])).value(g.form(e)[0]).end_array();
  w.end_array();
  w.key("start_edges").begin_array();
  for (std::uint64_t e = g.edge_begin[0]; e < g.edge_begin[1]; ++e)
    w.begin_array().value(std::uint64_t(g.edge_target[e])).value(g.form(e)[0]).end_array();
  w.end_array();
  w.key("param_edges").begin_array();
  for (VertexId u = 1; u < g.vertex_count; ++u)
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (has_params(g.form(e))) {
        w.begin_array().value(std::uint64_t(u)).value(std::uint64_t(g.edge_target[e]));
        for (std::uint32_t k = 1; k <= g.param_count; ++k) w.value(g.form(e)[k]);
        w.end_array();
      }
  w.end_array();
  w.field("param_length", g.param_count).field("state_length", g.state_length).field("n_vertices", g.vertex_count);
  w.end_object();
  return w.take();
}

}  // namespace phasic
