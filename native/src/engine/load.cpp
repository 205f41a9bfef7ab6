// Dispatch on the file's kind.
#include "engine/load.hpp"

#include "base/error.hpp"
#include "graph/phasic_import.hpp"
#include "model/compiled_model.hpp"

namespace phasic {

ModelFileKind model_file_kind(const json::Value& root) {
  if (root.type() != json::Type::Object) throw EngineError("a model file is a JSON object", -1, {}, "");
  if (const json::Value* format = root.find("format")) {
    if (format->type() == json::Type::String && format->as_string() == "phasic-compiled-model")
      return ModelFileKind::CompiledModel;
    throw EngineError("format: unknown model format (expected \"phasic-compiled-model\")", -1, {}, "format");
  }
  if (root.find("states") && root.find("n_vertices")) return ModelFileKind::PhasicGraph;
  throw EngineError("neither a compiled model (no \"format\") nor a phasic graph (no \"states\" and \"n_vertices\")");
}

Exploration load_model_file(std::string_view json_text, const ExploreOptions& options) {
  const json::Value root = json::parse(json_text);
  if (model_file_kind(root) == ModelFileKind::CompiledModel) return explore(load_compiled_model(root), options);
  Exploration graph = import_phasic_graph(root);
  const std::uint64_t states = graph.graph.vertex_count - 1;
  if (options.max_states != 0 && states > options.max_states)
    throw StateLimitExceeded("the graph has " + std::to_string(states) + " states, more than the limit of " +
                             std::to_string(options.max_states) + "; raise phasic.engine.maxStates or --max-states");
  return graph;
}

}  // namespace phasic
