// Variances and covariances recomputed in quadruple precision where double leaves them
// few digits (engine/moment_accuracy.hpp names them, decision 110; this recomputes
// them, decision 111).
//
// Why: Var[R] = E[R²] − E[R]² and Cov[A, B] = E[AB] − E[A]·E[B] are differences, and
// where the difference is small beside its terms the doubles' rounding of the terms is
// all that is left (the mixture of decision 110: Cov printed 1.3767e-14 for 1.2976e-14,
// and 0 for 2.0e-16). The same differences of terms each accurate to about 2⁻¹¹² keep
// 60 more bits.
//
// Method, all in __float128 on the run's parametric graph (quad_solve.hpp): ȳ = α M⁻¹
// (one transposed solve), x^r = M⁻¹ r for each reward a flagged value needs (one solve
// each), then
//   E[R] = ȳ·r,   E[A·B] = ȳ·(r_a ∘ x^b + r_b ∘ x^a)   (E[R²] is E[R·R]),
//   Cov[A, B] = E[A·B] − E[A]·E[B],   Var[R] = Cov[R, R],
// the difference taken in __float128, then rounded to double.
//
// Bound (decision 111). Each solve leaves its vector componentwise accurate to κε
// relative (quad_solve.hpp), ε = 2⁻¹¹², and every other step adds or multiplies
// nonnegative numbers (rewards, α and M⁻¹ are ≥ 0), one rounding each: so
//   Ê_a is accurate to e₁ = (κ + S)ε of E_a (ȳ's solve; V products and a sum), and
//   Ê_AB to e₂ = (2κ + S)ε of E_AB (ȳ's and x's solves; 2V products, V sums, one more),
// S = V + 4 with V the states (first order in ε; the second-order terms are far inside
// the factors (1 + 2e) below). From |Ê − E| ≤ e·E and e ≤ 1/2, E ≤ (1 + 2e)·Ê, so
//   |Ĉ − C| ≤ e₂(1 + 2e₂)·Ê_AB + (2e₁ + e₁²)(1 + 2e₁)²·Ê_a·Ê_b + ε·(Ê_a·Ê_b + |Ĉ|),
// the last term the product's and the difference's own rounding; that is about
// (2κ + S)ε·(E[AB] + E[A]·E[B]), for a variance (2κ + S)ε·(E[R²] + E[R]²). The bound's
// magnitudes are summed in x87 extended precision (quad_solve.hpp, kMagnitudeSlack),
// then the rounding of the value to double, 2⁻⁵³ of it, is added. A value whose
// bound leaves fewer than kTrustedDigits digits is still named (its terms agree beyond
// even quadruple precision's rounding).
//
// Invariants:
// - Writes only the flagged values in `moments`, and only when the whole recomputation
//   succeeded (the returned reason is then empty); a refusal (size, a state without
//   rate out) says why and computes nothing; Cancelled and BudgetExceeded propagate
//   with the moments unchanged.
// - All scratch is counted in Category::Evaluation (the condensation in
//   Category::Graph) and released before the call returns.
#pragma once

#include <atomic>
#include <span>
#include <string>
#include <vector>

#include "distribution/parametric_graph.hpp"
#include "engine/moment_accuracy.hpp"
#include "engine/quad_solve.hpp"
#include "trace/evaluate.hpp"

namespace phasic {

// Recomputes the `flagged` variances and covariances (of `pairs`) of `moments`, as
// evaluate computed them for `graph` at θ, and writes them over the double ones; on
// success `bounds` holds the bound on each one's error, in the order of `flagged`.
// Returns "" when it did, else why it did not (then `moments` is unchanged), in words
// that follow "not recomputed in quadruple precision: ".
std::string refine_moments(const ParametricGraph& graph, std::span<const double> theta,
                           std::span<const RewardPair> pairs, std::span<const ImpreciseMoment> flagged,
                           Moments& moments, std::vector<double>& bounds, const std::atomic<bool>* cancel = nullptr,
                           const RefinementLimits& limits = {});

}  // namespace phasic
