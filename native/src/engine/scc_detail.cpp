#include "engine/scc_detail.hpp"

#include <unordered_map>
#include <vector>

#include "base/error.hpp"
#include "engine/json_writer.hpp"
#include "engine/load.hpp"
#include "trace/condensation.hpp"

namespace phasic {

namespace {

// "c[1][0]" for cell 2 of `c` with dims {2, 2}: the names the source uses.
std::vector<std::string> cell_names(const ModelInfo& info, std::uint32_t state_length) {
  std::vector<std::string> names;
  for (const StateVariable& v : info.variables) {
    std::uint64_t cells = 1;
    for (std::uint32_t d : v.dims) cells *= d;
    for (std::uint64_t cell = 0; cell < cells; ++cell) {
      std::string name = v.name;
      std::uint64_t stride = cells;
      for (std::uint32_t d : v.dims) {
        stride /= d;
        name += '[';
        name += std::to_string((cell / stride) % d);
        name += ']';
      }
      names.push_back(std::move(name));
    }
  }
  if (names.size() == state_length) return names;
  names.clear();
  for (std::uint32_t i = 0; i < state_length; ++i) names.push_back(std::string("s").append(std::to_string(i)));
  return names;
}

}  // namespace

std::string scc_detail_json(std::string_view model_text, std::uint32_t component, std::span<const double> theta,
                            std::uint64_t max_states) {
  ExploreOptions options;
  options.max_states = max_states;
  const Exploration explored = load_model_file(model_text, options);
  const Graph& g = explored.graph;
  if (theta.size() != g.param_count)
    throw InternalError("expected " + std::to_string(g.param_count) + " parameter values, got " +
                        std::to_string(theta.size()));
  const Condensation cond = condense(g);
  if (component >= cond.component_count)
    throw InvalidArgument("SCC " + std::to_string(component) + " does not exist: the model has " +
                          std::to_string(cond.component_count) + " (S included); run the model again");
  const std::span<const VertexId> members = cond.members_of(component);
  const std::size_t shown = std::min<std::size_t>(members.size(), kMaxDetailStates);
  std::unordered_map<VertexId, std::uint32_t> local;
  for (std::size_t i = 0; i < shown; ++i) local.emplace(members[i], static_cast<std::uint32_t>(i));

  JsonWriter w;
  w.begin_object().field("scc", component).key("variables").begin_array();
  for (const std::string& name : cell_names(explored.info, g.state_length)) w.value(name);
  w.end_array().key("states").begin_array();
  for (std::size_t i = 0; i < shown; ++i) {
    w.begin_array();
    for (std::uint32_t c = 0; c < g.state_length; ++c) w.value(std::int64_t(g.state(members[i])[c]));
    w.end_array();
  }
  w.end_array().key("edges").begin_array();
  for (std::size_t i = 0; i < shown; ++i) {
    const VertexId u = members[i];
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e) {
      const auto to = local.find(g.edge_target[e]);
      if (to == local.end()) continue;
      const double* form = g.form(e);
      double rate = form[0];
      for (std::uint32_t k = 0; k < g.param_count; ++k) rate += form[k + 1] * theta[k];
      w.begin_array().value(std::uint64_t(i)).value(std::uint64_t(to->second)).value(rate).end_array();
    }
  }
  w.end_array().field("truncated", shown < members.size()).end_object();
  return w.take();
}

}  // namespace phasic
