// Which derivatives of a run's gradient are at the rounding of their own terms.
//
// A derivative of a moment E by a parameter θ is a sum over the process's jumps of
// terms of size about E/θ (for a rate c·θ, ∂rate/∂θ = rate/θ): the expected time in a
// state is 1/its total rate, and where θ's rates are small next to the others those
// terms are large and cancel (two_deme_sfs at mig = 1e-20: terms of 1e20 leave
// dE[xi[1]]/dmig ≈ −1.126, computed in double as −8192). What is left is right only to about
//   digits = log10(|θ · dE/dθ| / (ε · |E|)),
// ε the unit roundoff of the arithmetic the derivative was computed in (2⁻⁵² in double,
// 2⁻¹¹² where engine/gradient_refinement.hpp recomputed it in quadruple precision),
// more when the process jumps along θ's rates many times (each jump adds a term).
// A parameter with a derivative of fewer than kTrustedDigits such digits is named in
// one warning, so that no such number is printed as if it were whole. An exact 0 is not
// named: a parameter that does not reach a reward gives one without any rounding.
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

// The parameters with a derivative (of a moment or a variance) below kTrustedDigits
// digits above rounding `epsilon`, ascending.
std::vector<std::uint32_t> imprecise_parameters(const Gradient& gradient, const Moments& moments,
                                                std::span<const double> theta, double epsilon);

// The message naming parameter `param`'s derivatives below kTrustedDigits digits above
// rounding `epsilon`, empty when there are none; `how` says how they were computed
// and is put after the worst one's bound. params and rewards name θ's and the
// moments' entries.
std::string gradient_accuracy_warning(const Gradient& gradient, const Moments& moments, std::span<const double> theta,
                                      std::span<const std::string> params, std::span<const std::string> rewards,
                                      std::uint32_t param, double epsilon, std::string_view how);

// How far, in units of double's rounding ε·|E|/θ, a quadruple-precision derivative may
// lie from the double one it replaces. Measured on two_deme_sfs from mig = 1e-35 to 1e40:
// at most 8.7 where quadruple precision is right; at mig = 1e100 and 1e150, where the
// process jumps along mig's rates some 1e100 times and the GTH differences x_v − x_w
// keep quadruple precision's rounding of x instead of E/θ's, 1e48 and 1e98.
inline constexpr double kRefinementAgreement = 1e3;

// "" when every moment derivative by a parameter in `params` of `refined` lies within
// kRefinementAgreement times double's rounding of the same derivative in `original`
// (the double gradient it was refined from); else the worst, in words that follow
// "not recomputed in quadruple precision: ". A value that is not finite in either is
// not compared.
std::string refinement_disagreement(const Gradient& original, const Gradient& refined, const Moments& moments,
                                    std::span<const double> theta, std::span<const std::string> params,
                                    std::span<const std::string> rewards, std::span<const std::uint32_t> flagged);

}  // namespace phasic
