// One entry point for model files: a compiled model (explored) or a phasic graph
// (imported), told apart by the compiled model's "format" field.
//
// Invariant: the state limit applies to both kinds, so a run never holds a graph
// larger than the configured number of states.
#pragma once

#include <string>
#include <string_view>

#include "graph/explore.hpp"

namespace phasic {

enum class ModelFileKind { CompiledModel, PhasicGraph };

// Which kind a parsed document is; throws EngineError when it is neither.
ModelFileKind model_file_kind(const json::Value& root);

// Parses, validates and explores (or imports) a model file's JSON text. Throws
// json::ParseError, EngineError, Cancelled or BudgetExceeded; never returns a
// partial graph.
Exploration load_model_file(std::string_view json_text, const ExploreOptions& options);

}  // namespace phasic
