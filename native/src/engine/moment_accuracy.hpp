// Which of a run's variances and covariances keep fewer than kTrustedDigits digits,
// and how far each may be off.
//
// Var[R] = E[R²] − E[R]² and Cov[A, B] = E[AB] − E[A]·E[B] are differences
// (trace/moment_session.inc, variance_of and covariance_of). Each term is rounded by
// about ε = 2⁻⁵² of itself, so where the difference is small beside its terms (a
// nearly deterministic reward; nearly independent rewards) its digits are lost, and no
// order of the arithmetic recovers them once the terms are doubles. The estimate
//   digits = log10(|Var| / (ε · (E[R²] + E[R]²))),
//   digits = log10(|Cov| / (ε · (|E[AB]| + |E[A]·E[B]|))),
// with ± = ε · (the terms' sum), is the rounding of the subtraction alone: it is not a
// bound (each term carries its own solve's error too, a few ε on ordinary models),
// and like the gradient screen (gradient_accuracy.hpp) it judges where cancellation
// leaves a value, not whether the model's terms were right. On a mixture whose B
// barely depends on the branch (Cov/(E[A]·E[B]) ≈ 4e-15) Cov printed 1.3767e-14 for
// 1.2976e-14 and, closer still, 0 for 2.0e-16 (decision 110). Those below
// kTrustedDigits are recomputed in quadruple precision where the run's graph is at
// hand (moment_refinement.hpp, decision 111, settled by run.hpp's
// settle_moment_accuracy); what even so keeps too few digits, or could not be
// recomputed, is named in one warning. A value that is not finite is not judged (it has its own message), nor
// an exact 0 whose terms are 0 (a reward that is 0 everywhere); an exact 0 with
// nonzero terms is named (no digit is left).
//
// Invariant: reads the moments; changes nothing.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/gradient_accuracy.hpp"
#include "trace/evaluate.hpp"

namespace phasic {

// One value below kTrustedDigits: a variance (`index` the reward) or a covariance
// (`index` the pair).
struct ImpreciseMoment {
  bool covariance = false;
  std::uint32_t index = 0;
  double value = 0;
  double digits = 0;       // −∞ for an exact 0 with nonzero terms
  double uncertainty = 0;  // ε · the terms' sum
};

// The variances, then the covariances of `pairs`, below kTrustedDigits digits above
// rounding `epsilon`, in that order.
std::vector<ImpreciseMoment> imprecise_moments(const Moments& moments, std::span<const RewardPair> pairs,
                                               double epsilon);

// The one warning naming `doubts`, "" when there are none; rewards name the moments'
// entries, pairs the covariances'; `how` says how the values were computed, after
// "it is the difference of two nearly equal moments (…), ".
std::string moment_accuracy_warning(std::span<const ImpreciseMoment> doubts, std::span<const RewardPair> pairs,
                                    std::span<const std::string> rewards, const std::string& how);

// `how` for values computed in double, rounding `epsilon`: "each rounded by about
// 2.2e-16 of itself; the value is printed as computed".
std::string as_computed_in_double(double epsilon);

// The one warning naming every value imprecise_moments finds, as computed in double.
std::string moment_accuracy_warning(const Moments& moments, std::span<const RewardPair> pairs,
                                    std::span<const std::string> rewards, double epsilon);

}  // namespace phasic
