// Poisson probabilities e^(−μ) μ^k / k! over the window of k that carries all but a
// given tail mass, for the uniformization sums (uniformization.hpp).
//
// Method (in the spirit of Fox and Glynn, 1988): start at the mode m = ⌊μ⌋ with an
// unnormalized weight 1 and recur outwards, w(k+1) = w(k)·μ/(k+1) and
// w(k−1) = w(k)·k/μ, so no weight overflows and none underflows before it is
// negligible, however large μ is. Beyond a right end R ≥ m the ratios are at most
// ρ = μ/(R+2) < 1, so Σ_{k>R} w(k) ≤ w(R+1)/(1 − ρ); below a left end L ≤ m they are at
// most (L−1)/μ < 1, so Σ_{k<L} w(k) ≤ w(L−1)/(1 − (L−1)/μ). Each end moves out until
// its bound is at most `tail` times the window's running sum (which is below the
// full sum), then the weights are divided by the window's sum.
//
// Invariant of the result: each tail outside [left, left + size) has true probability
// at most `tail`; the weights sum to 1 (up to rounding) and differ from the true
// probabilities by the factor 1/(1 − τ), τ ≤ 2·tail the mass outside.
#pragma once

#include <cstdint>

#include "memory/accounting.hpp"

namespace phasic {

struct PoissonWindow {
  std::uint64_t left = 0;
  CountedVector<double, Category::Evaluation> weights;  // of k = left, left + 1, ...
  std::uint64_t right() const { return left + weights.size() - 1; }
};

// μ ≥ 0 finite, 0 < tail < 0.5. Reuses `out`'s storage.
void poisson_window(double mu, double tail, PoissonWindow& out);

}  // namespace phasic
