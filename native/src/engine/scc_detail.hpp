// One strongly connected component of a model's graph, for the panel's detail pane:
// its states with the model's names for their cells, and its internal edges with
// their rates at given parameter values (the SccDetail of extension/protocol).
//
// Invariants:
// - The model is explored again (decision 5: the graph does not outlive its run), and
//   components are numbered as a run numbers them (trace/condensation.hpp), so
//   component c here is SCC c of the run that recorded the trace.
// - States are listed in ascending vertex order, the block's local order; edges use
//   those local indices. At most kMaxDetailStates states are listed (and the edges
//   among them); `truncated` says when the component has more.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace phasic {

// The page's table shows 100 rows and its drawing 300 vertices.
constexpr std::uint32_t kMaxDetailStates = 5'000;

// Throws what exploration throws, and InvalidArgument for a component the graph does
// not have.
std::string scc_detail_json(std::string_view model_text, std::uint32_t component, std::span<const double> theta,
                            std::uint64_t max_states);

}  // namespace phasic
