#include "distribution/quantile.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "base/error.hpp"

namespace phasic {

[[noreturn]] static void beyond_double(double p, const char* where) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", p);
  throw InvalidArgument(std::string("at these parameters the ") + text + " quantile is " + where +
                        "; rescale a parameter (a time unit) to bring the distribution into range");
}

static const char* const kAbove = "beyond the largest double (about 1.8e308)";
// Below the smallest normal double a quantile keeps only some of its digits.
static const char* const kBelow = "below the smallest normal double (about 2.2e-308)";

double quantile_by_bisection(const std::function<double(double)>& cdf, double p, double scale, double relative,
                             double named) {
  if (!std::isfinite(scale)) beyond_double(named, kAbove);
  double lo = 0, hi = scale;
  // The CDF reaches 1 once the uniformization series is exhausted, so the growth ends
  // (or leaves the doubles, which is an answer no double can give); the count only
  // guards against a broken CDF.
  for (int i = 0; cdf(hi) < p; ++i) {
    if (!std::isfinite(hi * 1.02)) beyond_double(named, kAbove);
    if (i > 20000) throw InternalError("the CDF does not reach " + std::to_string(named) + " at any finite time");
    lo = hi;
    hi *= 1.02;
  }
  while (hi - lo > relative * hi) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (cdf(mid) >= p ? hi : lo) = mid;
  }
  if (hi > 0 && hi < std::numeric_limits<double>::min()) beyond_double(named, kBelow);
  return hi;
}

}  // namespace phasic
