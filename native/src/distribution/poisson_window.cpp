#include "distribution/poisson_window.hpp"

#include <algorithm>
#include <cmath>

namespace phasic {

void poisson_window(double mu, double tail, PoissonWindow& out) {
  out.weights.clear();
  if (!(mu > 0)) {
    out.left = 0;
    out.weights.push_back(1.0);
    return;
  }
  const auto mode = static_cast<std::uint64_t>(std::floor(mu));
  // The right side first, from the mode (weight 1) out, then the left side prepended
  // in reverse: both as one vector, reversed into place at the end.
  CountedVector<double, Category::Evaluation> left_side;
  double sum = 1.0;
  out.weights.push_back(1.0);
  for (std::uint64_t k = mode;; ++k) {
    const double next = out.weights.back() * mu / double(k + 1);
    const double rho = mu / double(k + 2);
    if (next / (1.0 - rho) <= tail * sum || next == 0) break;
    out.weights.push_back(next);
    sum += next;
  }
  std::uint64_t left = mode;
  double w = 1.0;
  while (left > 0) {
    const double previous = w * double(left) / mu;
    const double ratio = double(left - 1) / mu;
    if (previous / (1.0 - ratio) <= tail * sum || previous == 0) break;
    left_side.push_back(previous);
    sum += previous;
    w = previous;
    --left;
  }
  out.left = left;
  if (!left_side.empty()) {
    std::reverse(left_side.begin(), left_side.end());
    out.weights.insert(out.weights.begin(), left_side.begin(), left_side.end());
  }
  const double scale = 1.0 / sum;
  for (double& x : out.weights) x *= scale;
}

}  // namespace phasic
