#include "distribution/quantile.hpp"

#include <cmath>

#include "base/error.hpp"

namespace phasic {

double quantile_by_bisection(const std::function<double(double)>& cdf, double p, double scale, double relative) {
  double lo = 0, hi = scale;
  // The CDF reaches 1 once the uniformization series is exhausted, so the growth ends;
  // the bound only guards against a broken CDF.
  for (int i = 0; cdf(hi) < p; ++i) {
    if (i > 20000 || !std::isfinite(hi * 1.02))
      throw InternalError("the CDF does not reach " + std::to_string(p) + " at any finite time");
    lo = hi;
    hi *= 1.02;
  }
  while (hi - lo > relative * hi) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (cdf(mid) >= p ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace phasic
