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

// What a derivative is of: moment k of a reward, its variance, or a covariance pair.
enum class Of : std::uint8_t { Moment, Variance, Covariance };

// The scale of the terms a covariance's derivative sums (header): |E[AB]| + 2|E[A]·E[B]|.
double covariance_scale(const Moments& moments, std::span<const RewardPair> pairs, std::size_t p) {
  const double product = moments.moment(pairs[p].first, 1) * moments.moment(pairs[p].second, 1);
  return std::fabs(moments.covariance[p] + product) + 2 * std::fabs(product);
}

// "dE[R^k]/dθ", "dVar[R]/dθ" or "dCov[A, B]/dθ"; `index` is the reward's or the pair's.
std::string derivative_name(Of of, std::uint32_t index, std::uint32_t k, std::span<const RewardPair> pairs,
                            std::span<const std::string> rewards, const std::string& param) {
  std::string m;
  if (of == Of::Covariance) {
    m = "dCov[" + rewards[pairs[index].first] + ", " + rewards[pairs[index].second] + "]";
  } else {
    m = of == Of::Variance ? "dVar[" : "dE[";
    m += rewards[index];
    if (k > 1) {
      m += "^";
      m += std::to_string(k);
    }
    m += "]";
  }
  return m + "/d" + param;
}

// One parameter's derivatives below kTrustedDigits, and the worst of them.
struct Judgement {
  std::uint32_t count = 0;
  double worst_digits = std::numeric_limits<double>::infinity();
  double worst_uncertainty = 0;
  Of worst_of = Of::Moment;
  std::uint32_t worst_index = 0, worst_k = 0;
  double worst_value = 0;
};

// The decimal digits of `derivative` above its error `bound`; +∞ for an exact 0 or a
// value that is not finite, −∞ for a bound that is not finite (nothing is known).
double digits_above_bound(double derivative, double bound) {
  if (derivative == 0 || !std::isfinite(derivative)) return std::numeric_limits<double>::infinity();
  if (!std::isfinite(bound)) return -std::numeric_limits<double>::infinity();
  return std::log10(std::fabs(derivative) / bound);
}

Judgement judge(const Gradient& gradient, const Moments& moments, std::span<const double> theta,
                std::span<const RewardPair> pairs, std::uint32_t j, double epsilon) {
  Judgement out;
  // The variance's terms are those of E[R²]. `bound` > 0 where the refinement bounded
  // the derivative, which then replaces the estimate from scale/θ.
  const auto one = [&](double derivative, double scale, double bound, Of of, std::uint32_t index, std::uint32_t k) {
    const bool bounded = bound > 0;
    const double digits = bounded ? digits_above_bound(derivative, bound)
                                  : digits_above_rounding(derivative, scale, theta[j], epsilon);
    if (!(digits < kTrustedDigits)) return;
    ++out.count;
    if (digits < out.worst_digits) {
      out.worst_digits = digits;
      out.worst_uncertainty = bounded ? bound : epsilon * std::fabs(scale) / theta[j];
      out.worst_of = of;
      out.worst_index = index;
      out.worst_k = k;
      out.worst_value = derivative;
    }
  };
  const auto bound_of = [](const std::vector<double>& bounds, std::size_t at) {
    return bounds.empty() ? 0 : bounds[at];
  };
  const std::size_t P = gradient.param_count;
  for (std::uint32_t r = 0; r < gradient.reward_count; ++r) {
    for (std::uint32_t k = 1; k <= gradient.moment_count; ++k) {
      const std::size_t at = (std::size_t(r) * gradient.moment_count + k - 1) * P + j;
      one(gradient.moment[at], moments.moment(r, k), bound_of(gradient.moment_bound, at), Of::Moment, r, k);
    }
    if (!gradient.variance.empty()) {
      const std::size_t at = std::size_t(r) * P + j;
      one(gradient.variance[at], moments.moment(r, 2), bound_of(gradient.variance_bound, at), Of::Variance, r, 0);
    }
  }
  for (std::uint32_t p = 0; p < gradient.pair_count && !gradient.covariance.empty(); ++p) {
    const std::size_t at = std::size_t(p) * P + j;
    one(gradient.covariance[at], covariance_scale(moments, pairs, p), bound_of(gradient.covariance_bound, at),
        Of::Covariance, p, 0);
  }
  return out;
}

}  // namespace

std::vector<std::uint32_t> imprecise_parameters(const Gradient& gradient, const Moments& moments,
                                                std::span<const double> theta, std::span<const RewardPair> pairs,
                                                double epsilon) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t j = 0; j < gradient.param_count; ++j)
    if (judge(gradient, moments, theta, pairs, j, epsilon).count > 0) out.push_back(j);
  return out;
}

std::string gradient_accuracy_warning(const Gradient& gradient, const Moments& moments, std::span<const double> theta,
                                      std::span<const RewardPair> pairs, std::span<const std::string> params,
                                      std::span<const std::string> rewards, std::uint32_t param, double epsilon,
                                      std::string_view how) {
  const Judgement j = judge(gradient, moments, theta, pairs, param, epsilon);
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
  m += ", the least ";
  m += derivative_name(j.worst_of, j.worst_index, j.worst_k, pairs, rewards, name);
  m += " = ";
  m += shortest_text(j.worst_value);
  m += ", known only to about ±";
  m += uncertainty;
  if (j.worst_of == Of::Covariance) {
    const std::string& a = rewards[pairs[j.worst_index].first];
    const std::string& b = rewards[pairs[j.worst_index].second];
    m += ": a derivative of Cov[" + a + ", " + b + "] by " + name + " is dE[" + a + "·" + b + "] − E[" + b + "]·dE[" +
         a + "] − E[" + a + "]·dE[" + b + "], terms of size E[" + a + "·" + b + "]/" + name + " and E[" + a + "]·E[" +
         b + "]/" + name + " that cancel, each rounded by about ";
  } else {
    m += ": a derivative of E by ";
    m += name;
    m += " sums terms of size E/";
    m += name;
    m += " that cancel, each rounded by about ";
  }
  m += rounding;
  m += " of itself";
  if (!how.empty()) {
    m += "; ";
    m += how;
  }
  m += " (docs/engine.md, \"Gradients\")";
  return m;
}

std::string non_finite_derivatives_warning(const Gradient& gradient, const Moments& moments,
                                           std::span<const double> theta, std::span<const RewardPair> pairs,
                                           std::span<const std::string> params, std::span<const std::string> rewards,
                                           std::uint32_t param) {
  if (!moments.absorption_certain) return {};
  for (std::uint32_t r = 0; r < moments.reward_count; ++r)
    for (std::uint32_t k = 1; k <= gradient.moment_count; ++k)
      if (!std::isfinite(moments.moment(r, k))) return {};
  const std::string& name = params[param];
  const std::size_t P = gradient.param_count;
  std::uint32_t count = 0;
  std::string first;
  const auto one = [&](double derivative, Of of, std::uint32_t index, std::uint32_t k) {
    if (std::isfinite(derivative)) return;
    if (count++ == 0)
      first = derivative_name(of, index, k, pairs, rewards, name) + (std::isnan(derivative) ? ", not a number"
                                                                     : derivative > 0       ? ", +infinite"
                                                                                            : ", -infinite");
  };
  for (std::uint32_t r = 0; r < gradient.reward_count; ++r) {
    for (std::uint32_t k = 1; k <= gradient.moment_count; ++k) one(gradient.of_moment(r, k, param), Of::Moment, r, k);
    if (!gradient.variance.empty()) one(gradient.variance[std::size_t(r) * P + param], Of::Variance, r, 0);
  }
  for (std::uint32_t p = 0; p < gradient.pair_count && !gradient.covariance.empty(); ++p)
    one(gradient.covariance[std::size_t(p) * P + param], Of::Covariance, p, 0);
  if (count == 0) return {};
  std::string m = std::to_string(count);
  m += count == 1 ? " derivative by " : " derivatives by ";
  m += name + (count == 1 ? " is" : " are") + " not finite at " + name + " = " + shortest_text(theta[param]);
  m += count == 1 ? " (" + first + ")" : " (the first: " + first + ")";
  m += " though every moment is: an intermediate value of the derivative's computation left a double's range "
       "(a parameter far from the others' scale: products of rates overflow or underflow), so they are no value, "
       "not a derivative that is undefined; rescale the parameter (a time unit) to bring them into range "
       "(docs/engine.md, \"Gradients\")";
  return m;
}

std::string refinement_disagreement(const Gradient& original, const Gradient& refined, const Moments& moments,
                                    std::span<const double> theta, std::span<const RewardPair> pairs,
                                    std::span<const std::string> params, std::span<const std::string> rewards,
                                    std::span<const std::uint32_t> flagged) {
  double worst = kRefinementAgreement;
  std::uint32_t worst_j = 0, worst_index = 0, worst_k = 0;
  Of worst_of = Of::Moment;
  double worst_unit = 0, worst_before = 0, worst_after = 0;
  const auto compare = [&](double before, double after, double scale, std::uint32_t j, Of of, std::uint32_t index,
                           std::uint32_t k) {
    const double rounding = kDoubleRounding * std::fabs(scale) / theta[j];
    if (!std::isfinite(before) || !std::isfinite(after) || !std::isfinite(rounding)) return;
    const double apart = std::fabs(after - before) / rounding;
    if (apart > worst) {
      worst = apart;
      worst_j = j;
      worst_of = of;
      worst_index = index;
      worst_k = k;
      worst_unit = rounding;
      worst_before = before;
      worst_after = after;
    }
  };
  const std::size_t P = original.param_count;
  for (const std::uint32_t j : flagged) {
    if (!(theta[j] > 0)) continue;
    for (std::uint32_t r = 0; r < original.reward_count; ++r)
      for (std::uint32_t k = 1; k <= original.moment_count; ++k)
        compare(original.of_moment(r, k, j), refined.of_moment(r, k, j), moments.moment(r, k), j, Of::Moment, r, k);
    for (std::uint32_t p = 0; p < original.pair_count && !original.covariance.empty(); ++p)
      compare(original.covariance[p * P + j], refined.covariance[p * P + j], covariance_scale(moments, pairs, p), j,
              Of::Covariance, p, 0);
  }
  if (worst == kRefinementAgreement) return {};
  // The rounding estimate is quoted as the unit the two values lie apart in, not as a
  // bound: the ± the warning prints is kept_double's bound.
  char times[32], unit[32];
  std::snprintf(times, sizeof times, "%.2g", worst);
  std::snprintf(unit, sizeof unit, "%.2g", worst_unit);
  const std::string& name = params[worst_j];
  std::string m = "there it gives ";
  m += derivative_name(worst_of, worst_index, worst_k, pairs, rewards, name);
  m += " = ";
  m += shortest_text(worst_after);
  m += ", ";
  m += times;
  m += worst_of == Of::Covariance ? " times double's rounding estimate ε·(|E[AB]| + 2|E[A]·E[B]|)/"
                                  : " times double's rounding estimate ε·|E|/";
  m += name;
  m += " = ";
  m += unit;
  m += " from double's ";
  m += shortest_text(worst_before);
  m += ": the process jumps along ";
  m += name;
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
  kept.covariance_bound.assign(kept.covariance.size(), 0);
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
    for (std::size_t p = 0; p < original.covariance.size() / std::max<std::size_t>(P, 1); ++p)
      kept.covariance_bound[p * P + j] = apart(original.covariance[p * P + j], refined.covariance[p * P + j],
                                               refined.covariance_bound[p * P + j]);
  }
  return kept;
}

}  // namespace phasic
