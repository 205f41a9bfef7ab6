// Export of a model's explored graph in the JSON form of phasic's Graph.serialize(),
// so a model written in .phasic can be loaded by phasic itself.
//
// Invariant: importing the output (graph/phasic_import.hpp) gives back the same graph:
// same vertices in the same order, same states, and the same linear form on every
// edge (an edge with both a constant and a parameter part is written as one row of
// `edges` and one of `param_edges`, which the importer sums, as phasic does).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace phasic {

std::string phasic_graph_json(std::string_view model_text, std::uint64_t max_states);

}  // namespace phasic
