// The reward transformation: from the parametric graph at θ and a reward R ≥ 0 to a
// transient chain whose time to absorption is Y = ∫ R(X_t) dt.
//
// Method. Only vertices reachable from S with positive rates at θ are kept. A state
// with R = 0 adds nothing to Y, so it is integrated out: each in-edge u → z (jump
// probability p) is rerouted through z's out-edges (probabilities q) as u → w with
// p·q. A self-loop of weight s that this creates at u is removed by dividing u's
// other out-probabilities by their sum and multiplying u's exit rate by that same
// sum: the sum stands for 1 − s and is formed without a subtraction (as phasic's
// graph elimination), so nothing cancels however close s is to 1. Every state left
// has R > 0 and its exit rate is divided by R(u). Mass that reaches absorption from
// S through zero-reward states only, and start mass never placed (a defective start,
// weights summing below 1), form the atom P(Y = 0).
//
// Invariants of the result:
// - states are the reachable states with R > 0, renumbered 0..states−1; for each,
//   exit_rate[i] = absorb_rate[i] + Σ of its edge rates (up to rounding), all ≥ 0;
//   edges never loop (i → i).
// - Σ start + atom = 1 up to rounding; start ≥ 0.
// - Absorption is certain: every reachable state leads to absorption with positive
//   rates at θ, else EngineError (kind model) and nothing is returned.
// - All vectors are counted in Category::Evaluation and freed with the object.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "distribution/parametric_graph.hpp"

namespace phasic {

template <class T>
using EvaluationVector = CountedVector<T, Category::Evaluation>;

struct TransientChain {
  std::uint32_t states = 0;
  EvaluationVector<std::uint64_t> edge_begin;  // states + 1
  EvaluationVector<std::uint32_t> edge_target;
  EvaluationVector<double> edge_rate;
  EvaluationVector<double> exit_rate;    // total rate out of each state
  EvaluationVector<double> absorb_rate;  // rate into absorption
  EvaluationVector<double> start;        // initial distribution (defective by `atom`)
  double atom = 0;                       // P(Y = 0)
  std::uint32_t eliminated = 0;          // reachable zero-reward states integrated out
};

// `reward` indexes the graph's reward rows; `reward_name` is for messages.
TransientChain transform_reward(const ParametricGraph& graph, std::span<const double> theta, std::uint32_t reward,
                                const std::string& reward_name, const std::atomic<bool>* cancel);

}  // namespace phasic
