#include "engine/gradient_accuracy.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/number_text.hpp"

namespace phasic {
namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

// The decimal digits of `derivative` above the rounding of terms of size |scale / θ|;
// +∞ where there is nothing to judge (θ = 0, an exact 0, a value that is not finite).
double digits_above_rounding(double derivative, double scale, double theta) {
  if (!(theta > 0) || derivative == 0 || scale == 0 || !std::isfinite(derivative) || !std::isfinite(scale))
    return std::numeric_limits<double>::infinity();
  return std::log10(std::fabs(theta * derivative) / (kEpsilon * std::fabs(scale)));
}

}  // namespace

std::vector<std::string> gradient_accuracy_warnings(const Gradient& gradient, const Moments& moments,
                                                    std::span<const double> theta, std::span<const std::string> params,
                                                    std::span<const std::string> rewards) {
  std::vector<std::string> warnings;
  for (std::uint32_t j = 0; j < gradient.param_count; ++j) {
    std::uint32_t count = 0;
    double worst_digits = std::numeric_limits<double>::infinity();
    double worst_uncertainty = 0;
    std::string worst;
    // k = 0 judges the variance, whose terms are those of E[R²].
    const auto judge = [&](double derivative, double scale, std::uint32_t r, std::uint32_t k) {
      const double digits = digits_above_rounding(derivative, scale, theta[j]);
      if (!(digits < kTrustedDigits)) return;
      ++count;
      if (digits < worst_digits) {
        worst_digits = digits;
        worst_uncertainty = kEpsilon * std::fabs(scale) / theta[j];
        worst = k == 0 ? "dVar[" : "dE[";
        worst += rewards[r];
        // Appended piece by piece, as is the message below: GCC 12 sees overlapping
        // copies (-Wrestrict, a false positive) in `"^" + std::to_string(k)`.
        if (k > 1) {
          worst += '^';
          worst += std::to_string(k);
        }
        worst += "]/d";
        worst += params[j];
        worst += " = ";
        worst += shortest_text(derivative);
      }
    };
    for (std::uint32_t r = 0; r < gradient.reward_count; ++r) {
      for (std::uint32_t k = 1; k <= gradient.moment_count; ++k)
        judge(gradient.of_moment(r, k, j), moments.moment(r, k), r, k);
      if (!gradient.variance.empty())
        judge(gradient.variance[std::size_t(r) * gradient.param_count + j], moments.moment(r, 2), r, 0);
    }
    if (count == 0) continue;
    const std::string& name = params[j];
    char uncertainty[32];
    std::snprintf(uncertainty, sizeof uncertainty, "%.2g", worst_uncertainty);
    std::string m = std::to_string(count);
    m += count == 1 ? " derivative by " : " derivatives by ";
    m += name;
    m += " keep fewer than ";
    m += std::to_string(int(kTrustedDigits));
    m += " digits at ";
    m += name;
    m += " = ";
    m += shortest_text(theta[j]);
    m += ", the least ";
    m += worst;
    m += ", known only to about ±";
    m += uncertainty;
    m += ": a derivative of E by ";
    m += name;
    m += " sums terms of size E/";
    m += name;
    m += " that cancel, each rounded by about 2.2e-16 of itself (docs/engine.md, \"Gradients\")";
    warnings.push_back(std::move(m));
  }
  return warnings;
}

}  // namespace phasic
