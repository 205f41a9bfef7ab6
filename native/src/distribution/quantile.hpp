// Quantiles by bracketing and bisection on a CDF: the smallest t with CDF(t) ≥ p.
//
// The bracket grows from `scale` by 2% at a time, not by doubling: each CDF evaluation
// at a larger t extends the uniformization series to that t, and the steps are the
// cost, so overshooting the quantile by at most 2% keeps the steps within about 2% of those
// the quantile itself needs (doubling could nearly double them). The evaluations below
// the quantile are cheap (a Poisson window over steps already computed).
//
// Invariant: for a non-decreasing `cdf` with cdf(0) < p, the result t satisfies
// cdf(t) ≥ p and t − t' ≤ relative·t for some t' with cdf(t') < p (the bracket that
// contains the true quantile), so t is the quantile to `relative` (the CDF's own error
// bound aside). Bisection rather than a faster bracketing method: a step costs one
// Poisson window, ~40 steps reach 1e−9, and bisection's bracket halves whatever the
// CDF's shape, even where it is flat to the last bit.
#pragma once

#include <functional>

namespace phasic {

// `scale` > 0 is a lower guess of the quantile's size; the bracket grows from it. A
// quantile beyond the largest double (or an infinite scale: 1/rate overflowed), or
// below the smallest normal one (where it keeps only some of its digits), is an
// InvalidArgument that says so, never +∞, NaN or a truncated number presented as a time.
// `named` is the probability the messages name (p unless the search is on another
// function, such as −S(t) ≥ −(1 − p) for an upper quantile).
double quantile_by_bisection(const std::function<double(double)>& cdf, double p, double scale, double relative,
                             double named);
inline double quantile_by_bisection(const std::function<double(double)>& cdf, double p, double scale, double relative) {
  return quantile_by_bisection(cdf, p, scale, relative, p);
}

}  // namespace phasic
