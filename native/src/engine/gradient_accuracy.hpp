// Which derivatives of a run's gradient are at the rounding of their own terms.
//
// A derivative of a moment E by a parameter θ is a sum over the process's jumps of
// terms of size about E/θ (for a rate c·θ, ∂rate/∂θ = rate/θ): the expected time in a
// state is 1/its total rate, and where θ's rates are small next to the others those
// terms are large and cancel (two_deme_sfs at mig = 1e-20: terms of 1e20 leave
// dE[xi[1]]/dmig ≈ −1.126, computed as −8192). What is left is right only to about
//   digits = log10(|θ · dE/dθ| / (ε · |E|)),   ε = 2⁻⁵² ≈ 2.2e-16,
// more when the process jumps along θ's rates many times (each jump adds a term).
// A derivative with fewer than kTrustedDigits such digits is named in one warning per
// parameter, so that no such number is printed as if it were whole. An exact 0 is not
// named: a parameter that does not reach a reward gives one without any rounding.
//
// Invariant: reads the gradient and the moments it was computed from; changes neither.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"

namespace phasic {

inline constexpr double kTrustedDigits = 6;

// One message per parameter with a derivative (of a moment or a variance) below
// kTrustedDigits digits; params and rewards name θ's and the moments' entries.
std::vector<std::string> gradient_accuracy_warnings(const Gradient& gradient, const Moments& moments,
                                                    std::span<const double> theta, std::span<const std::string> params,
                                                    std::span<const std::string> rewards);

}  // namespace phasic
