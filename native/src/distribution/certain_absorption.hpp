// Whether the process is absorbed with probability 1 at θ, read from the graph's
// structure alone: which rates are positive, never how large they are.
//
// A finite chain is absorbed with certainty exactly when every state it reaches from
// S, through edges of positive rate, can itself reach an absorbing state through such
// edges. A rate is the linear form c₀ + Σ c_k θ_k with every c ≥ 0 (the language
// refuses others), so it is positive exactly when c₀ > 0 or some c_k > 0 has θ_k > 0:
// decided without multiplying, so a rate that underflows (1e-200 · 1e-200) or a
// moment that overflows (θ = 1e-310) cannot make a certain absorption look uncertain.
// The trace's own test (is E[T] finite?) cannot tell an overflow from a rate of 0;
// this one is exact, and the engine consults it when a value is not finite.
//
// Invariant: reads the graph only, in time and scratch linear in its size; the scratch
// (marks, a stack, the reverse of the positive edges) is counted in
// Category::Evaluation and freed before it returns.
#pragma once

#include <span>

#include "distribution/parametric_graph.hpp"

namespace phasic {

// theta holds the graph's param_count values, each finite and ≥ 0.
bool certain_absorption(const ParametricGraph& graph, std::span<const double> theta);

}  // namespace phasic
