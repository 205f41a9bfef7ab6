#include "engine/moment_accuracy.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/number_text.hpp"

namespace phasic {
namespace {

// `value` = T − P with P = u·v (E[R]² or E[A]·E[B]) and T = value + P: its digits
// above rounding `epsilon` of |T| + |P|, and that rounding. Through q = value/(u·v),
// |value| / (|T| + |P|) = |q| / (|q + 1| + 1), so no product of the means is formed
// (it may overflow where the value, computed on a scaled reward, does not). Not
// judged (digits +∞) where u or v is 0 (then T = value: nothing cancels) or anything
// is not finite.
struct Estimate {
  double digits = std::numeric_limits<double>::infinity();
  double uncertainty = 0;
};

Estimate estimate(double value, double u, double v, double epsilon) {
  if (!std::isfinite(value) || !std::isfinite(u) || !std::isfinite(v) || u == 0 || v == 0) return {};
  const double q = value / u / v;
  Estimate e;
  if (std::fabs(q) <= 1) {
    const double terms = std::fabs(q + 1) + 1;  // (|T| + |P|) / |u·v|
    e.digits = std::log10(std::fabs(q) / terms / epsilon);
    e.uncertainty = epsilon * std::fabs(u) * std::fabs(v) * terms;
  } else {
    const double terms = std::fabs(1 + 1 / q) + 1 / std::fabs(q);  // (|T| + |P|) / |value|
    e.digits = std::log10(1 / terms / epsilon);
    e.uncertainty = epsilon * std::fabs(value) * terms;
  }
  return e;
}

}  // namespace

std::vector<ImpreciseMoment> imprecise_moments(const Moments& moments, std::span<const RewardPair> pairs,
                                               double epsilon) {
  std::vector<ImpreciseMoment> out;
  const auto one = [&](bool covariance, std::uint32_t index, double value, double u, double v) {
    const Estimate e = estimate(value, u, v, epsilon);
    if (e.digits < kTrustedDigits) out.push_back({covariance, index, value, e.digits, e.uncertainty});
  };
  for (std::uint32_t r = 0; r < moments.variance.size(); ++r) {
    const double mean = moments.moment(r, 1);
    one(false, r, moments.variance[r], mean, mean);
  }
  for (std::uint32_t p = 0; p < moments.covariance.size() && p < pairs.size(); ++p)
    one(true, p, moments.covariance[p], moments.moment(pairs[p].first, 1), moments.moment(pairs[p].second, 1));
  return out;
}

std::string moment_accuracy_warning(std::span<const ImpreciseMoment> doubts, std::span<const RewardPair> pairs,
                                    std::span<const std::string> rewards, const std::string& how) {
  if (doubts.empty()) return {};
  bool any_variance = false, any_covariance = false;
  std::string list;
  for (const ImpreciseMoment& d : doubts) {
    (d.covariance ? any_covariance : any_variance) = true;
    if (!list.empty()) list += ", ";
    list += d.covariance ? "Cov(" + rewards[pairs[d.index].first] + ", " + rewards[pairs[d.index].second] + ")"
                         : "Var(" + rewards[d.index] + ")";
    list += " = ";
    list += shortest_text(d.value);
    char text[64];
    if (d.digits < 0)
      std::snprintf(text, sizeof text, " (no digit left, ±%.2g)", d.uncertainty);
    else
      std::snprintf(text, sizeof text, " (about %.1f digits, ±%.2g)", d.digits, d.uncertainty);
    list += text;
  }
  std::string m = doubts.size() == 1 ? "1 value keeps" : std::to_string(doubts.size()) + " values keep";
  m += " fewer than ";
  m += std::to_string(int(kTrustedDigits));
  m += " digits: ";
  m += list;
  m += ": ";
  m += doubts.size() == 1 ? "it is" : "each is";
  m += " the difference of two nearly equal moments (";
  if (any_variance) m += "Var(R) = E[R²] − E[R]²";
  if (any_variance && any_covariance) m += ", ";
  if (any_covariance) m += "Cov(A, B) = E[A·B] − E[A]·E[B]";
  m += "), ";
  m += how;
  m += " (docs/engine.md, \"Variances and covariances\")";
  return m;
}

std::string as_computed_in_double(double epsilon) {
  char rounding[32];
  std::snprintf(rounding, sizeof rounding, "%.2g", epsilon);
  return std::string("each rounded by about ") + rounding + " of itself; the value is printed as computed";
}

std::string moment_accuracy_warning(const Moments& moments, std::span<const RewardPair> pairs,
                                    std::span<const std::string> rewards, double epsilon) {
  return moment_accuracy_warning(imprecise_moments(moments, pairs, epsilon), pairs, rewards,
                                 as_computed_in_double(epsilon));
}

}  // namespace phasic
