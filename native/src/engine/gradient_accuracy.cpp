#include "engine/gradient_accuracy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/number_text.hpp"

namespace phasic {
namespace {

// The decimal digits of `derivative` above the rounding `epsilon` of terms of size
// |scale / θ|; +∞ where there is nothing to judge (θ = 0, an exact 0, a value that is
// not finite).
double digits_above_rounding(double derivative, double scale, double theta, double epsilon) {
  if (!(theta > 0) || derivative == 0 || scale == 0 || !std::isfinite(derivative) || !std::isfinite(scale))
    return std::numeric_limits<double>::infinity();
  return std::log10(std::fabs(theta * derivative) / (epsilon * std::fabs(scale)));
}

// One parameter's derivatives below kTrustedDigits, and the worst of them.
struct Judgement {
  std::uint32_t count = 0;
  double worst_digits = std::numeric_limits<double>::infinity();
  double worst_uncertainty = 0;
  std::uint32_t worst_reward = 0, worst_k = 0;  // k = 0: the variance
  double worst_value = 0;
};

// The decimal digits of `derivative` above its error `bound`; +∞ for an exact 0 or a
// value that is not finite, −∞ for a bound that is not finite (nothing is known).
double digits_above_bound(double derivative, double bound) {
  if (derivative == 0 || !std::isfinite(derivative)) return std::numeric_limits<double>::infinity();
  if (!std::isfinite(bound)) return -std::numeric_limits<double>::infinity();
  return std::log10(std::fabs(derivative) / bound);
}

Judgement judge(const Gradient& gradient, const Moments& moments, std::span<const double> theta, std::uint32_t j,
                double epsilon) {
  Judgement out;
  // k = 0 judges the variance, whose terms are those of E[R²]. `bound` > 0 where the
  // refinement bounded the derivative, which then replaces the estimate from E/θ.
  const auto one = [&](double derivative, double scale, double bound, std::uint32_t r, std::uint32_t k) {
    const bool bounded = bound > 0;
    const double digits = bounded ? digits_above_bound(derivative, bound)
                                  : digits_above_rounding(derivative, scale, theta[j], epsilon);
    if (!(digits < kTrustedDigits)) return;
    ++out.count;
    if (digits < out.worst_digits) {
      out.worst_digits = digits;
      out.worst_uncertainty = bounded ? bound : epsilon * std::fabs(scale) / theta[j];
      out.worst_reward = r;
      out.worst_k = k;
      out.worst_value = derivative;
    }
  };
  const std::size_t P = gradient.param_count;
  for (std::uint32_t r = 0; r < gradient.reward_count; ++r) {
    for (std::uint32_t k = 1; k <= gradient.moment_count; ++k) {
      const std::size_t at = (std::size_t(r) * gradient.moment_count + k - 1) * P + j;
      one(gradient.moment[at], moments.moment(r, k), gradient.moment_bound.empty() ? 0 : gradient.moment_bound[at], r,
          k);
    }
    if (!gradient.variance.empty()) {
      const std::size_t at = std::size_t(r) * P + j;
      one(gradient.variance[at], moments.moment(r, 2),
          gradient.variance_bound.empty() ? 0 : gradient.variance_bound[at], r, 0);
    }
  }
  return out;
}

}  // namespace

std::vector<std::uint32_t> imprecise_parameters(const Gradient& gradient, const Moments& moments,
                                                std::span<const double> theta, double epsilon) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t j = 0; j < gradient.param_count; ++j)
    if (judge(gradient, moments, theta, j, epsilon).count > 0) out.push_back(j);
  return out;
}

std::string gradient_accuracy_warning(const Gradient& gradient, const Moments& moments, std::span<const double> theta,
                                      std::span<const std::string> params, std::span<const std::string> rewards,
                                      std::uint32_t param, double epsilon, std::string_view how) {
  const Judgement j = judge(gradient, moments, theta, param, epsilon);
  if (j.count == 0) return {};
  const std::string& name = params[param];
  char uncertainty[32], rounding[32];
  std::snprintf(uncertainty, sizeof uncertainty, "%.2g", j.worst_uncertainty);
  std::snprintf(rounding, sizeof rounding, "%.2g", epsilon);
  std::string m = std::to_string(j.count);
  m += j.count == 1 ? " derivative by " : " derivatives by ";
  m += name;
  m += " keep fewer than ";
  m += std::to_string(int(kTrustedDigits));
  m += " digits at ";
  m += name;
  m += " = ";
  m += shortest_text(theta[param]);
  m += j.worst_k == 0 ? ", the least dVar[" : ", the least dE[";
  m += rewards[j.worst_reward];
  if (j.worst_k > 1) {
    m += "^";
    m += std::to_string(j.worst_k);
  }
  m += "]/d";
  m += name;
  m += " = ";
  m += shortest_text(j.worst_value);
  m += ", known only to about ±";
  m += uncertainty;
  m += ": a derivative of E by ";
  m += name;
  m += " sums terms of size E/";
  m += name;
  m += " that cancel, each rounded by about ";
  m += rounding;
  m += " of itself";
  if (!how.empty()) {
    m += "; ";
    m += how;
  }
  m += " (docs/engine.md, \"Gradients\")";
  return m;
}

std::string refinement_disagreement(const Gradient& original, const Gradient& refined, const Moments& moments,
                                    std::span<const double> theta, std::span<const std::string> params,
                                    std::span<const std::string> rewards, std::span<const std::uint32_t> flagged) {
  double worst = kRefinementAgreement;
  std::uint32_t worst_j = 0, worst_r = 0, worst_k = 0;
  for (const std::uint32_t j : flagged) {
    if (!(theta[j] > 0)) continue;
    for (std::uint32_t r = 0; r < original.reward_count; ++r)
      for (std::uint32_t k = 1; k <= original.moment_count; ++k) {
        const double before = original.of_moment(r, k, j), after = refined.of_moment(r, k, j);
        const double rounding = kDoubleRounding * std::fabs(moments.moment(r, k)) / theta[j];
        if (!std::isfinite(before) || !std::isfinite(after) || !std::isfinite(rounding)) continue;
        const double apart = std::fabs(after - before) / rounding;
        if (apart > worst) {
          worst = apart;
          worst_j = j;
          worst_r = r;
          worst_k = k;
        }
      }
  }
  if (worst == kRefinementAgreement) return {};
  // ε·|E|/θ is an estimate of double's rounding, not a bound: it is quoted as the unit
  // the two values lie apart in; the ± the warning prints is kept_double's bound.
  const double rounding = kDoubleRounding * std::fabs(moments.moment(worst_r, worst_k)) / theta[worst_j];
  char times[32], unit[32];
  std::snprintf(times, sizeof times, "%.2g", worst);
  std::snprintf(unit, sizeof unit, "%.2g", rounding);
  std::string m = "there it gives dE[";
  m += rewards[worst_r];
  if (worst_k > 1) {
    m += "^";
    m += std::to_string(worst_k);
  }
  m += "]/d";
  m += params[worst_j];
  m += " = ";
  m += shortest_text(refined.of_moment(worst_r, worst_k, worst_j));
  m += ", ";
  m += times;
  m += " times double's rounding estimate ε·|E|/";
  m += params[worst_j];
  m += " = ";
  m += unit;
  m += " from double's ";
  m += shortest_text(original.of_moment(worst_r, worst_k, worst_j));
  m += ": the process jumps along ";
  m += params[worst_j];
  m += "'s rates so often here that quadruple precision rounds worse than double; the double is kept, and its ± is"
       " |double − quadruple| + the quadruple's bound";
  return m;
}

}  // namespace phasic

namespace phasic {

Gradient kept_double(const Gradient& original, const Gradient& refined, std::span<const std::uint32_t> flagged) {
  Gradient kept = original;
  if (refined.moment_bound.empty()) return kept;
  kept.moment_bound.assign(kept.moment.size(), 0);
  kept.variance_bound.assign(kept.variance.size(), 0);
  // The double is within |double − quadruple| + the quadruple's bound of the truth;
  // ×(1 + 2⁻⁵⁰) for the two roundings of that sum in double.
  const auto apart = [](double dbl, double quad, double bound) {
    return (std::fabs(dbl - quad) + bound) * (1 + 0x1p-50);
  };
  const std::size_t P = original.param_count;
  for (const std::uint32_t j : flagged) {
    for (std::size_t o = 0; o < std::size_t(original.reward_count) * original.moment_count; ++o)
      kept.moment_bound[o * P + j] = apart(original.moment[o * P + j], refined.moment[o * P + j],
                                           refined.moment_bound[o * P + j]);
    for (std::size_t r = 0; r < original.variance.size() / std::max<std::size_t>(P, 1); ++r)
      kept.variance_bound[r * P + j] = apart(original.variance[r * P + j], refined.variance[r * P + j],
                                             refined.variance_bound[r * P + j]);
  }
  return kept;
}

}  // namespace phasic
