// Which derivatives of a run's gradient keep fewer than kTrustedDigits digits, and how
// far each may be off.
//
// A derivative of a moment E by a parameter θ is a sum over the process's jumps of
// terms of size about E/θ (for a rate c·θ, ∂rate/∂θ = rate/θ) that cancel where θ's
// rates are small next to the others (two_deme_sfs at mig = 1e-20: terms of 1e20 leave
// dE[xi[1]]/dmig ≈ −1.126, computed in double as −8192). The double gradient
// (trace/gradient.hpp) is screened by the estimate
//   digits = log10(|θ · dE/dθ| / (ε · |E|)),   ε = 2⁻⁵²;
// a variance's derivative by E[R²] in place of E. A covariance's derivative
// dCov[A, B] = dE[AB] − E[B]·dE[A] − E[A]·dE[B] subtracts terms of size E[A]·E[B]/θ
// (each of dE[A]'s terms times E[B]) from dE[AB]'s terms of size E[AB]/θ, so its scale
// is |E[AB]| + 2|E[A]·E[B]| (E[AB] = Cov + E[A]·E[B]): it cancels where θ's rates are
// small, as a moment's does, and also where A and B are nearly independent, Cov far
// below E[A]·E[B], though every moment's derivative keeps its digits (decision 105: a
// mixture whose B barely depends on the branch, Cov/(E[A]·E[B]) ≈ 4e-15, printed
// dCov/dθ 9 % off with no warning before covariances were judged).
// A parameter with a derivative below kTrustedDigits is recomputed in quadruple
// precision (engine/gradient_refinement.hpp), which bounds each derivative it
// recomputes (that header states the bound and its assumptions). Where it did, the
// bound replaces the estimate: digits = log10(|dE/dθ| / bound), and the ± printed is
// the bound. Where the double derivatives are kept after a recomputation
// (refinement_disagreement), their bound is |double − quadruple| + the quadruple's
// bound. Only where nothing was recomputed (no graph at hand, too large, a moment that
// is not finite) is the ± the estimate ε·scale/θ, which is not a bound: on two_deme_sfs
// at mig = 1e100 and 1e150 double's error was up to 3.5× and 1.4× it (decision 93).
// A parameter with a derivative below kTrustedDigits is named in one warning, so that
// no such number is printed as if it were whole. An exact 0 is not named: a parameter
// that does not reach a reward gives one without any rounding.
//
// A derivative that is not finite where every moment is (absorption certain) is not
// judged by digits: it is no value at all, named in its own warning (decision 115:
// two_deme_sfs at mig = 1e300 printed dE/dmig "undefined" with no word, its products
// of rates past a double's range, the derivative ≈ −1e-600).
//
// Invariant: reads the gradient and the moments it was computed from; changes neither.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"

namespace phasic {

inline constexpr double kTrustedDigits = 6;
inline constexpr double kDoubleRounding = 0x1p-52;
inline constexpr double kQuadRounding = 0x1p-112;

// The parameters with a derivative (of a moment, a variance or a covariance of
// `pairs`, the gradient's) below kTrustedDigits digits above rounding `epsilon`, ascending.
std::vector<std::uint32_t> imprecise_parameters(const Gradient& gradient, const Moments& moments,
                                                std::span<const double> theta, std::span<const RewardPair> pairs,
                                                double epsilon);

// The message naming parameter `param`'s derivatives below kTrustedDigits digits above
// rounding `epsilon`, empty when there are none; `how` says how they were computed
// and is put after the worst one's bound. params and rewards name θ's and the
// moments' entries, pairs the covariances'.
// The message naming parameter `param`'s derivatives that are not finite though every
// moment is finite and absorption certain, empty when there are none (or when a moment
// is not finite: the run's nonFinite says why then).
std::string non_finite_derivatives_warning(const Gradient& gradient, const Moments& moments,
                                           std::span<const double> theta, std::span<const RewardPair> pairs,
                                           std::span<const std::string> params, std::span<const std::string> rewards,
                                           std::uint32_t param);

std::string gradient_accuracy_warning(const Gradient& gradient, const Moments& moments, std::span<const double> theta,
                                      std::span<const RewardPair> pairs, std::span<const std::string> params,
                                      std::span<const std::string> rewards, std::uint32_t param, double epsilon,
                                      std::string_view how);

// How far, in units of double's rounding ε·|E|/θ, a quadruple-precision derivative may
// lie from the double one it replaces. Measured on two_deme_sfs from mig = 1e-35 to 1e40:
// at most 8.7 where quadruple precision is right; at mig = 1e100 and 1e150, 1e48 and
// 1e98. It no longer guards what is printed (both values lie within the quadruple's
// bound of the truth there, decision 93); it stays to choose which value is printed:
// the double one, far closer to the truth there (1e-165 against −2e-68 for about
// −7.8e-301), which no bound the refinement can give shows.
inline constexpr double kRefinementAgreement = 1e3;

// `original` (the double gradient) with the bounds a disagreeing `refined` one gives
// it for the `flagged` parameters: |double − quadruple| + the quadruple's bound, for
// moments, variances and covariances alike.
Gradient kept_double(const Gradient& original, const Gradient& refined, std::span<const std::uint32_t> flagged);

// "" when every moment and covariance derivative by a parameter in `flagged` of
// `refined` lies within kRefinementAgreement times double's rounding estimate
// ε·scale/θ (above) of the same derivative in `original` (the double gradient it was
// refined from); else the worst, how far apart in that unit (an estimate, not a bound:
// the warning's ± is kept_double's), in words that follow "not recomputed in quadruple
// precision: ". A value that is not finite in either is not compared.
std::string refinement_disagreement(const Gradient& original, const Gradient& refined, const Moments& moments,
                                    std::span<const double> theta, std::span<const RewardPair> pairs,
                                    std::span<const std::string> params, std::span<const std::string> rewards,
                                    std::span<const std::uint32_t> flagged);

}  // namespace phasic
