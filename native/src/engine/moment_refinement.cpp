#include "engine/moment_refinement.hpp"

#include <cmath>

#include "engine/gradient_accuracy.hpp"

namespace phasic {

std::string refine_moments(const ParametricGraph& graph, std::span<const double> theta,
                           std::span<const RewardPair> pairs, std::span<const ImpreciseMoment> flagged,
                           Moments& moments, std::vector<double>& bounds, const std::atomic<bool>* cancel,
                           const RefinementLimits& limits) {
  if (flagged.empty()) return {};
  if (graph.param_count != theta.size() || graph.reward_count != moments.reward_count ||
      pairs.size() != moments.covariance.size())
    return "the run's graph does not match its moments";
  const std::uint32_t V = graph.vertex_count, R = graph.reward_count;
  // The rewards each flagged value is of: a variance's one, a covariance's two.
  const auto rewards_of = [&](const ImpreciseMoment& d) {
    return d.covariance ? pairs[d.index] : RewardPair{d.index, d.index};
  };
  QuadScratch<std::uint8_t> needed(R, 0);
  for (const ImpreciseMoment& d : flagged) {
    const RewardPair p = rewards_of(d);
    needed[p.first] = needed[p.second] = 1;
  }
  double solves = 1;  // ȳ
  for (const std::uint8_t n : needed) solves += n;
  QuadSolver m(graph, cancel);
  if (std::string why_not = m.refusal(solves, double(flagged.size() + R) * 2 * V, limits); !why_not.empty())
    return why_not;
  if (!m.factor(theta, cancel)) return "a state has no rate out at these parameters";

  VertexVector ybar(V, 0);
  {
    VertexVector h = m.initial();
    m.solve_transposed(h, ybar, cancel);
  }
  const auto reward = [&](std::uint32_t r, VertexId v) { return m.transient(v) ? Quad(graph.reward(r, v)) : Quad(0); };
  // x[r] = M⁻¹ r and E[R_r] = ȳ·r, for the rewards needed.
  QuadScratch<VertexVector> x(R);
  QuadScratch<Quad> mean(R, 0);
  {
    VertexVector g(V, 0);
    for (std::uint32_t r = 0; r < R; ++r) {
      if (!needed[r]) continue;
      for (VertexId v = 1; v < V; ++v) {
        g[v] = reward(r, v);
        mean[r] += ybar[v] * g[v];
      }
      x[r].assign(V, 0);
      m.solve(g, x[r], cancel);
    }
  }

  // The bound's relative accuracies (header): e₁ of a mean, e₂ of a cross moment.
  const Magnitude kappa = m.solve_accuracy(), summing = Magnitude(V + 4) * kQuadRounding;
  const Magnitude e1 = kappa + summing, e2 = 2 * kappa + summing;
  QuadScratch<Quad> value(flagged.size());
  std::vector<double> bound(flagged.size());
  for (std::size_t i = 0; i < flagged.size(); ++i) {
    const auto [a, b] = rewards_of(flagged[i]);
    Quad cross = 0;
    for (VertexId v = 1; v < V; ++v) cross += ybar[v] * (reward(a, v) * x[b][v] + reward(b, v) * x[a][v]);
    const Quad product = mean[a] * mean[b];
    value[i] = cross - product;
    const Magnitude terms = magnitude(product);
    const Magnitude error = e2 * (1 + 2 * e2) * magnitude(cross) +
                            (2 * e1 + e1 * e1) * (1 + 2 * e1) * (1 + 2 * e1) * terms +
                            Magnitude(kQuadRounding) * (terms + magnitude(value[i]));
    bound[i] = double(error * kMagnitudeSlack) * (1 + 0x1p-50) + 0x1p-53 * std::fabs(double(value[i]));
  }
  for (std::size_t i = 0; i < flagged.size(); ++i)
    (flagged[i].covariance ? moments.covariance : moments.variance)[flagged[i].index] = double(value[i]);
  bounds = std::move(bound);
  return {};
}

}  // namespace phasic
