// Exact gradients of the moments of every reward, and of the requested covariances,
// with respect to every parameter, by reverse mode (adjoints) through the composed
// trace.
//
// Method. With x_k = U(r ∘ x_(k−1)) (x_0 = 1) and E[R^k] = k!·α x_k, the chain rule gives
//   dE[R^k]/dθ = k! · Σ_(j=1..k) b_(k−j) · (dU/dθ) · g_j,   g_j = r ∘ x_(j−1),
// with row vectors b_0 = α, b_i = (b_(i−1) U) ∘ r: the adjoint of x_(k−i). b_0 is the
// same for every reward and the b_i are shared by every k, so the backward pass needs
// 1 + R·(K−1) transposed solves, whatever the number of parameters. The cross moment
// E[R_a R_b] = α U(r_a ∘ x_1^b) + α U(r_b ∘ x_1^a) has the derivative
//   b_0 (dU/dθ) (r_a ∘ x_1^b) + b_1^a (dU/dθ) r_b   + the same with a and b swapped,
// so a covariance adds its two forward solves and no transposed one. b·(dU/dθ)·g is
// the adjoint of the solve's command list (forward, then solve commands) contracted
// with the forward values, giving an adjoint per program value; the program (MulAdd,
// Inv and the DOTs c0 + Σ c_j θ_j) is then run backwards once for all outputs at
// once. Adjoints advance block by block in reverse sink-first order: a block's x̄ is
// final once every later block (which reads it as an exit) has been processed.
//
// It relies on three properties of recorded traces (block_trace.hpp): a forward
// command's source is never written after it is read, a forward command's target is a
// vertex (so an exit's entry stays its x, which a large block's backward pass reads
// in place), and a term's target is an exit or a vertex solved earlier. deserialize
// checks all three for traces from disk.
//
// Cost: one forward pass, the solves of one moment k for every reward run side by
// side (up to 16 at a time, as one θ's evaluation runs them), that keeps every
// solve's y after the forward commands (where a block has any), its final y (x at the
// slots' vertices, read in place by blocks whose final rows exceed 1 MB) and the sums
// before each inverse rate, and every block's values (up to 64 MiB; beyond, each
// block is replayed again); then per block chain 0 once and chains 1..K−1
// with R lanes, each contracted in its own sweep with the solves it
// pairs with, and the program once backwards with R·K + pairs adjoints per value —
// or, in a block with many ops per command and P < R·K + pairs, once forwards with P
// tangents per value, each command's adjoints contracted with them (gradient.cpp,
// use_tangents). A dense part that evaluation factors densely is factored the same
// way here and differentiated through its LU (dense_block_gradient.hpp): its ops are
// neither replayed nor run backwards, its solves and transposed solves are dense
// substitutions, and its hand-over entries take the adjoints its commands would have
// passed to its ops.
//
// Non-finite values. The gradient is computed in IEEE arithmetic, which is exact when
// every state has a positive total rate at θ. A derivative whose moment (covariance) is
// not finite (here or in evaluate()'s exact arithmetic), or whose computation met
// 0·∞, is reported as NaN: never a finite number that is not the derivative.
//
// Invariant: all scratch is one workspace, counted in Category::Evaluation while the
// call holds it and released before the call returns (normally, by Cancelled, or by
// any other exception); a large one keeps its pages for the next call, counted as
// Category::Workspace meanwhile (RetainedRegion, memory/accounting.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "trace/evaluate.hpp"

namespace phasic {

struct Gradient {
  std::uint32_t reward_count = 0;
  std::uint32_t moment_count = 0;
  std::uint32_t param_count = 0;
  // moment[(r·moment_count + k−1)·param_count + j] = dE[R_r^k]/dθ_j
  std::vector<double> moment;
  // variance[r·param_count + j] = dVar[R_r]/dθ_j; empty unless moment_count ≥ 2
  std::vector<double> variance;
  std::uint32_t pair_count = 0;
  // covariance[p·param_count + j] = dCov[R_a, R_b]/dθ_j of requested pair p
  std::vector<double> covariance;
  // Where engine/gradient_refinement.hpp bounded a parameter's derivatives (decisions
  // 93, 105): the bound on each one's error, laid out as moment, variance and
  // covariance, 0 for a parameter it did not recompute; all empty when it recomputed none.
  std::vector<double> moment_bound, variance_bound, covariance_bound;

  double of_moment(std::uint32_t reward, std::uint32_t k, std::uint32_t param) const {
    return moment[(std::size_t(reward) * moment_count + k - 1) * param_count + param];
  }
};

// How each block's program values reach the outputs (gradient.cpp, use_tangents):
// Chosen picks per block by cost; Reverse and Tangents force one way, so that tests
// can check both on small models.
enum class GradientWay { Chosen, Reverse, Tangents };

// `exact` is evaluate(trace, theta, moment_count, pairs) (its values decide which
// derivatives are defined). theta and pairs as for evaluate(); moment_count ≥ 1.
Gradient evaluate_gradient(const ModelTrace& trace, std::span<const double> theta, std::uint32_t moment_count,
                           const Moments& exact, std::span<const RewardPair> pairs = {},
                           const std::atomic<bool>* cancel = nullptr, GradientWay way = GradientWay::Chosen);

}  // namespace phasic
