// The distribution of the time to absorption or of a reward at θ, from a cached
// parametric graph: reward transformation, uniformization, quantiles, as a
// DistributionResult JSON (extension/protocol/schema/engine.ts).
//
// Invariants: every argument is checked before any work (InvalidArgument naming the
// value); everything built is counted in Category::Evaluation and freed before the
// call returns or throws.
#pragma once

#include <string>

#include "cache/memory_cache.hpp"
#include "distribution/parametric_graph.hpp"
#include "engine/engine.hpp"

namespace phasic {

std::string distribution_json(const ParametricGraph& graph, const ModelLabels& labels, const std::string& trace_key,
                              const DistributionRequest& request, const RunObserver& observer);

}  // namespace phasic
