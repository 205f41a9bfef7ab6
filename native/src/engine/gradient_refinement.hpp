// A parameter's derivatives recomputed in quadruple precision where double leaves
// them no digits (engine/gradient_accuracy.hpp, decision 74).
//
// Why quadruple precision and not a better order in double: a derivative by θ sums
// terms of size E/θ that cancel ("more likely to enter the slow state" against "the
// slow state is shorter"), so whatever the order, what is left is the terms' rounding
// when θ's rates are tiny (two_deme_sfs at mig = 1e-20: terms of 1e20, rounding 1e4,
// answer −1.126). GCC's __float128 (113-bit significand, ε = 2⁻¹¹²; + − × ÷ in
// software, ≈ 50 ns a multiply-add) leaves 60 more bits above that rounding.
//
// Method, all in __float128 on the run's parametric graph (rates c0 + Σ c_j θ_j): on
// the transient states M = diag(λ) − W (λ_v the total rate out of v, absorbing targets
// included), x_0 = 1, x_k = M⁻¹(r ∘ x_(k−1)), E[R^k] = k!·α x_k; ȳ_0 = α M⁻¹,
// ȳ_i = (ȳ_(i−1) ∘ r) M⁻¹; with (∂M x)_v = Σ_w ∂w_vw/∂θ · (x_v − x_w) (x = 0 at
// absorbing states)
//   dE[R^k]/dθ = −k!·Σ_(j=1..k) ȳ_(k−j)·(∂M x_j)   (+ k!·∂α·x_k, 0 for constant α),
//   dVar = dE[R²] − 2E·dE,
//   dE[R_a R_b]/dθ = −ȳ_0 ∂M z_ab − ȳ_1^a ∂M x_1^b + (a ↔ b),  z_ab = M⁻¹(r_a ∘ x_1^b),
//   dCov = dE[R_a R_b] − E_b·dE_a − E_a·dE_b.
// M is solved by the quadruple-precision solver (quad_solve.hpp: per strongly
// connected component, each eliminated densely in GTH form, with no subtraction), so
// the accuracy of x and ȳ does not depend on the conditioning of M.
//
// Bound (decisions 93, 104, 105). For each recomputed dE[R^k]/dθ (and dVar, dCov) it
// writes a bound on its error into gradient.moment_bound (variance_bound,
// covariance_bound). With x̂, ȳ the computed
// vectors, x̂ = x + δx, ȳ' = ȳ + δy, the error of ȳ'·∂M·x̂ is ȳ'∂Mδx + δy∂Mx̂ − δy∂Mδx
// plus the rounding of the contraction, so per term ȳ_(k−i)·∂M·x_i, with x̂_i accurate
// to κ_x = i·κ and ȳ_(k−i) to κ_y = (k−i+1)·κ roundings (below),
//   |error| ≤ ε·(κ_x·Σ_v |(ȳ∂M)_v|·|x̂_v| + κ_y·Σ_v |ȳ_v·(∂M x̂)_v|)
//           + 2κ_xκ_yε²·Σ_v |ȳ_v| Σ_w |∂w_vw/∂θ|·(|x̂_v| + |x̂_w|)
//           + (L + V + 2)ε·Σ_v |ȳ_v| Σ_w |∂w_vw/∂θ·(x̂_v − x̂_w)|,
// summed over the terms and times k!, plus the rounding to double (2⁻⁵³ of the value);
// dVar's is dE[R²]'s + 2|E|·dE[R]'s + (κ + L + V + 2)ε·2|E·dE[R]| (E's own error).
// ε = 2⁻¹¹², L the most rates out of a state, V the states. Assumption (quad_solve.hpp,
// where it is argued): one solve leaves a vector componentwise accurate to κε relative,
// κ = (2·s + L + 4)·d, and M⁻¹ ≥ 0 carries the relative error of its right-hand side
// r∘x̂_(i−1) over unchanged, so x̂_i, after i solves, is accurate to i·κε, and ȳ_m to
// (m+1)·κε. The first line is first order; the balance that makes
// (ȳ∂M)_v tiny where θ's rates are fast (ȳ is nearly balanced along them) is what keeps
// it far below ε·Σ|ȳ||∂w|(|x_v| + |x_w|), the second line's sum, paid only at ε².
// (ȳ∂M)_v is therefore summed in __float128; its own rounding, at most (F + 2)ε of
// Σ|ȳ_u·∂w_uv| over the F rates into and out of v, is added to |(ȳ∂M)_v|.
// Everything else in the bound is a sum of nonnegative magnitudes, summed in x87
// extended precision (64-bit significand, u = 2⁻⁶⁴, __float128's exponent range): each
// sum and product of nonnegative numbers rounds by at most u of its result, so a
// computed magnitude, after at most N ≤ V + 2L + K + 16 < 2³⁴ roundings on any path, is at
// least (1 − u)^N ≥ 1 − 2⁻³⁰ of the exact one; ×(1 + 2⁻²⁸) before the rounding to
// double restores the upper bound with room to spare. Those magnitudes are taken once
// per vector and θ (|x̂_v|, |(∂M x̂)_v| and the row sums; |ȳ_v| and the column), not per
// contraction. Measured against mpmath on two_deme_sfs (docs/decisions.md, 93 and 104):
// it holds from mig = 1e-35 to 1e150, far above the real error where the derivatives
// keep no digit either way (3e4 at 1e-35, 1.6e9 at 1e40).
// A covariance's derivative (decision 105): its cross moment's four contractions and two
// ∂α terms are bounded as above (ȳ_0 one solve, ȳ_1^a two, x_1^b one, z_ab two), giving
// B_× on the computed Ĉ; then dCov = Ĉ − Ê_b·d̂_a − Ê_a·d̂_b with d̂_a, d̂_b the recomputed
// dE[R_a], dE[R_b] (bounds B_a, B_b) and Ê = α·x̂_1, accurate to e_E = (κ + L + V + 2)ε of
// E (one solve, then a sum of V nonnegative products). From |Ê − E| ≤ e_E|E| follow
// |Ê − E| ≤ 2e_E|Ê| and |E| ≤ (1 + 2e_E)|Ê| (e_E ≤ 1/2), so
//   |Ê_b·d̂_a − E_b·d_a| ≤ |Ê_b − E_b|·|d̂_a| + |E_b|·|d̂_a − d_a| ≤ 2e_E|Ê_b d̂_a| + (1 + 2e_E)|Ê_b|·B_a,
// and alike for Ê_a·d̂_b; the two products and two differences in __float128 add at
// most 3ε·(|Ĉ| + |Ê_b d̂_a| + |Ê_a d̂_b|). Their sum is the bound, into
// gradient.covariance_bound, with the same magnitude slack and rounding to double.
//
// Invariants:
// - Writes only the flagged parameters' derivatives in `gradient`, and only those that
//   were finite; every other value keeps its bits. The moments are not touched.
// - Writes nothing unless the whole recomputation succeeded (the returned reason is
//   then empty); a refusal (size, a state without rate out) says why and computes
//   nothing; Cancelled and BudgetExceeded propagate with the gradient unchanged.
// - All scratch is counted in Category::Evaluation (the condensation in
//   Category::Graph) and released before the call returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>

#include "distribution/parametric_graph.hpp"
#include "engine/quad_solve.hpp"
#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"

namespace phasic {

// Recomputes every derivative `gradient` holds for the parameters `params` (moments,
// variances, the covariances of `pairs`, as evaluate_gradient computed them for
// `graph` at θ) and writes them, with their bounds, over the double ones. Returns "" when it did, else why
// it did not (then `gradient` is unchanged), in words that follow "not recomputed in
// quadruple precision: ".
std::string refine_gradient(const ParametricGraph& graph, std::span<const double> theta,
                            std::span<const std::uint32_t> params, std::span<const RewardPair> pairs,
                            Gradient& gradient, const std::atomic<bool>* cancel = nullptr,
                            const RefinementLimits& limits = {});

}  // namespace phasic
