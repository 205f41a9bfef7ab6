#include "engine/gradient_refinement.hpp"

#include <algorithm>
#include <cmath>

#include "base/error.hpp"
#include "engine/gradient_accuracy.hpp"
#include "engine/quad_solve.hpp"
#include "memory/accounting.hpp"

namespace phasic {
namespace {

template <class T>
using Scratch = CountedVector<T, Category::Evaluation>;

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

// The most flows into one column (ȳ∂M)_v: the rates out of v and into v.
std::uint64_t widest_column(const ParametricGraph& graph) {
  Scratch<std::uint64_t> flows(graph.vertex_count, 0);
  for (VertexId v = 0; v < graph.vertex_count; ++v) {
    flows[v] += graph.edge_begin[v + 1] - graph.edge_begin[v];
    for (std::uint64_t e = graph.edge_begin[v]; e < graph.edge_begin[v + 1]; ++e) ++flows[graph.edge_target[e]];
  }
  return flows.empty() ? 0 : *std::max_element(flows.begin(), flows.end());
}

}  // namespace

std::string refine_gradient(const ParametricGraph& graph, std::span<const double> theta,
                            std::span<const std::uint32_t> params, std::span<const RewardPair> pairs,
                            Gradient& gradient, const std::atomic<bool>* cancel, const RefinementLimits& limits) {
  if (params.empty()) return {};
  if (graph.param_count != theta.size() || graph.param_count != gradient.param_count ||
      graph.reward_count != gradient.reward_count || pairs.size() != gradient.pair_count)
    return "the run's graph does not match its gradient";
  const std::uint32_t V = graph.vertex_count, R = graph.reward_count, K = gradient.moment_count;
  const std::uint32_t P = graph.param_count, stride = graph.stride();
  QuadSolver m(graph, cancel);

  // The work, counted before any of it is done: the solver's eliminations and solves,
  // then the contractions (one multiply-add per edge).
  const std::uint32_t adjoint_orders = std::max<std::uint32_t>(K - 1, pairs.empty() ? 0 : 1);
  const double solves = double(R) * K + 2.0 * pairs.size() + 1 + double(R) * adjoint_orders;
  const double contractions = double(params.size()) * (double(R) * K * (K + 1) / 2 + 4.0 * pairs.size());
  if (std::string why_not = m.refusal(solves, contractions * double(graph.edge_count()), limits); !why_not.empty())
    return why_not;
  if (!m.factor(theta, cancel)) return "a state has no rate out at these parameters";

  const auto transient = [&](VertexId v) { return m.transient(v); };
  // x[r·K + k−1] = x_k of reward r.
  Scratch<VertexVector> x(std::size_t(R) * K, VertexVector(V, 0));
  {
    VertexVector g(V, 0);
    for (std::uint32_t r = 0; r < R; ++r)
      for (std::uint32_t k = 1; k <= K; ++k) {
        for (VertexId v = 1; v < V; ++v)
          g[v] = transient(v) ? Quad(graph.reward(r, v)) * (k == 1 ? Quad(1) : x[r * K + k - 2][v]) : Quad(0);
        m.solve(g, x[r * K + k - 1], cancel);
      }
  }
  const auto x_of = [&](std::uint32_t r, std::uint32_t k) -> const VertexVector& { return x[r * K + k - 1]; };
  // The bound's constants (header), as magnitudes: κε, the componentwise accuracy of
  // one solve (a vector that has passed through n solves is accurate to n·κε), the
  // roundings a contraction's sums take, and those of a column (ȳ∂M)_v.
  const Magnitude solve_rounding = m.solve_accuracy();
  const Magnitude summing = Magnitude(double(m.longest_row()) + V + 2) * kQuadRounding;
  const Magnitude column_rounding = Magnitude(double(widest_column(graph)) + 2) * kQuadRounding;
  // ȳ_0 = α M⁻¹ for every reward; ybar[r·orders + i−1] = ȳ_i of reward r.
  const VertexVector alpha = m.initial();
  VertexVector ybar0(V, 0);
  {
    VertexVector h = alpha;
    m.solve_transposed(h, ybar0, cancel);
  }
  Scratch<VertexVector> ybar(std::size_t(R) * adjoint_orders, VertexVector(V, 0));
  {
    VertexVector h(V, 0);
    for (std::uint32_t r = 0; r < R; ++r)
      for (std::uint32_t i = 1; i <= adjoint_orders; ++i) {
        const VertexVector& before = i == 1 ? ybar0 : ybar[r * adjoint_orders + i - 2];
        for (VertexId v = 1; v < V; ++v) h[v] = transient(v) ? before[v] * Quad(graph.reward(r, v)) : Quad(0);
        m.solve_transposed(h, ybar[r * adjoint_orders + i - 1], cancel);
      }
  }
  const auto ybar_of = [&](std::uint32_t r, std::uint32_t i) -> const VertexVector& {
    return i == 0 ? ybar0 : ybar[r * adjoint_orders + i - 1];
  };
  // z[2p] = M⁻¹(r_a ∘ x_1^b), z[2p + 1] = M⁻¹(r_b ∘ x_1^a) for pair p = (a, b).
  Scratch<VertexVector> z(2 * pairs.size(), VertexVector(V, 0));
  {
    VertexVector g(V, 0);
    for (std::size_t p = 0; p < pairs.size(); ++p)
      for (int side = 0; side < 2; ++side) {
        const std::uint32_t a = side == 0 ? pairs[p].first : pairs[p].second;
        const std::uint32_t b = side == 0 ? pairs[p].second : pairs[p].first;
        for (VertexId v = 1; v < V; ++v) g[v] = transient(v) ? Quad(graph.reward(a, v)) * x_of(b, 1)[v] : Quad(0);
        m.solve(g, z[2 * p + side], cancel);
      }
  }

  // ȳ·(∂M/∂θ_j)·x as Σ_v ȳ_v·(∂M x)_v, and ∂α/∂θ_j·x. A vector's side of the product is
  // taken once per θ_j, whatever it is contracted with: x's rows (∂M x̂)_v in
  // __float128 for the value, the magnitudes of the bound (header) beside them.
  struct XSide {
    explicit XSide(std::uint32_t n) : row(n, 0), size(n, 0), spread(n, 0), row_magnitude(n, 0), magnitude(n, 0) {}
    VertexVector row;                 // (∂M x̂)_v
    Scratch<Magnitude> size, spread;  // Σ_w |∂w_vw·(x̂_v − x̂_w)|, Σ_w |∂w_vw|·(|x̂_v| + |x̂_w|)
    Scratch<Magnitude> row_magnitude, magnitude;  // |(∂M x̂)_v|, |x̂_v|
    Magnitude order = 1;                          // the solves x̂ has passed through
  };
  // ȳ's side: its column (ȳ∂M)_v in __float128 (it balances where θ's rates are fast,
  // so only that precision keeps the first-order term small there), kept as |column|
  // plus what rounding it may have taken.
  struct YSide {
    explicit YSide(std::uint32_t n) : column(n, 0), magnitude(n, 0), zero(n, 0) {}
    Scratch<Magnitude> column, magnitude;  // ≥ |(ȳ∂M)_v|, |ȳ_v|
    Scratch<std::uint8_t> zero;            // ȳ_v == 0: no row of v enters the value
    Magnitude order = 1;
  };
  const auto x_side = [&](std::uint32_t j, const VertexVector& xv, Magnitude order, XSide& out) {
    out.order = order;
    for (VertexId v = 0; v < V; ++v) out.magnitude[v] = magnitude(xv[v]);
    for (VertexId v = 1; v < V; ++v) {
      Quad row = 0;
      Magnitude size = 0, spread = 0;
      for (std::uint64_t e = graph.edge_begin[v]; e < graph.edge_begin[v + 1]; ++e) {
        const double c = graph.coeffs[e * stride + 1 + j];
        if (c == 0) continue;
        const VertexId t = graph.edge_target[e];
        const Quad term = Quad(c) * (xv[v] - xv[t]);
        row += term;
        size += magnitude(term);
        spread += Magnitude(std::fabs(c)) * (out.magnitude[v] + out.magnitude[t]);
      }
      out.row[v] = row;
      out.size[v] = size;
      out.spread[v] = spread;
      out.row_magnitude[v] = magnitude(row);
    }
  };
  VertexVector column(V, 0);
  Scratch<Magnitude> column_size(V, 0);
  const auto y_side = [&](std::uint32_t j, const VertexVector& y, Magnitude order, YSide& out) {
    out.order = order;
    std::fill(column.begin(), column.end(), Quad(0));
    std::fill(column_size.begin(), column_size.end(), Magnitude(0));
    for (VertexId v = 0; v < V; ++v) {
      out.magnitude[v] = magnitude(y[v]);
      out.zero[v] = is_zero(y[v]);
    }
    for (VertexId v = 1; v < V; ++v) {
      if (out.zero[v]) continue;
      for (std::uint64_t e = graph.edge_begin[v]; e < graph.edge_begin[v + 1]; ++e) {
        const double c = graph.coeffs[e * stride + 1 + j];
        if (c == 0) continue;
        const VertexId t = graph.edge_target[e];
        const Quad flow = y[v] * Quad(c);
        column[v] += flow;
        column[t] -= flow;
        const Magnitude size = out.magnitude[v] * Magnitude(std::fabs(c));
        column_size[v] += size;
        column_size[t] += size;
      }
    }
    for (VertexId v = 0; v < V; ++v) out.column[v] = magnitude(column[v]) + column_rounding * column_size[v];
  };
  // Adds to `bound` the header's bound on the error of the returned ȳ·∂M·x̂.
  const auto contract = [&](const VertexVector& y, const YSide& ys, const XSide& xs, Magnitude& bound) {
    Quad sum = 0;
    Magnitude columns = 0, rows = 0, rounding = 0, both = 0;
    for (VertexId v = 1; v < V; ++v) {
      columns += ys.column[v] * xs.magnitude[v];
      if (ys.zero[v]) continue;
      sum += y[v] * xs.row[v];
      rows += ys.magnitude[v] * xs.row_magnitude[v];
      rounding += ys.magnitude[v] * xs.size[v];
      both += ys.magnitude[v] * xs.spread[v];
    }
    bound += solve_rounding * (xs.order * columns + ys.order * rows) +
             2 * solve_rounding * solve_rounding * xs.order * ys.order * both + summing * rounding;
    return sum;
  };
  const auto initial = [&](std::uint32_t j, const VertexVector& xv, Magnitude order, Magnitude& bound) {
    Quad sum = 0;
    for (std::uint64_t e = graph.edge_begin[0]; e < graph.edge_begin[1]; ++e) {
      const Quad c = graph.coeffs[e * stride + 1 + j];
      sum += c * xv[graph.edge_target[e]];
      bound += (solve_rounding * order + summing) * magnitude(c * xv[graph.edge_target[e]]);
    }
    return sum;
  };
  const auto dot = [&](const VertexVector& a, const VertexVector& b) {
    Quad sum = 0;
    for (VertexId v = 1; v < V; ++v) sum += a[v] * b[v];
    return sum;
  };

  // Every derivative first, then written: a Cancelled leaves the gradient as it was.
  // ȳ_0 is every reward's: its side is taken once per θ_j; ȳ_m^r (m ≥ 1) and x_i^r
  // once per reward, x_i^r contracted with each ȳ_(k−i) for k = i..K, each sum of
  // dE[R^k]/dθ subtracting its terms in the order of i.
  Scratch<Quad> mean(R), d_moment(std::size_t(params.size()) * R * K);
  Scratch<Magnitude> error_of(d_moment.size());
  for (std::uint32_t r = 0; r < R; ++r) mean[r] = dot(alpha, x_of(r, 1));
  XSide xs(V), xs_other(V);
  Scratch<YSide> ys(std::max<std::uint32_t>(K, 2), YSide(V));
  Scratch<Quad> sums(K);
  Scratch<Magnitude> bounds(K);
  for (std::size_t n = 0; n < params.size(); ++n) {
    check_cancel(cancel);
    const std::uint32_t j = params[n];
    y_side(j, ybar0, 1, ys[0]);
    for (std::uint32_t r = 0; r < R; ++r) {
      for (std::uint32_t m = 1; m < K; ++m) y_side(j, ybar_of(r, m), m + 1, ys[m]);
      for (std::uint32_t k = 1; k <= K; ++k) {
        bounds[k - 1] = 0;
        sums[k - 1] = initial(j, x_of(r, k), k, bounds[k - 1]);
      }
      for (std::uint32_t i = 1; i <= K; ++i) {
        x_side(j, x_of(r, i), i, xs);
        for (std::uint32_t k = i; k <= K; ++k) sums[k - 1] -= contract(ybar_of(r, k - i), ys[k - i], xs, bounds[k - 1]);
      }
      Quad factorial = 1;
      for (std::uint32_t k = 1; k <= K; ++k) {
        factorial *= k;
        d_moment[(n * R + r) * K + k - 1] = factorial * sums[k - 1];
        error_of[(n * R + r) * K + k - 1] = Magnitude(factorial) * bounds[k - 1];
      }
    }
  }
  // E's own error: x_1's (one solve) and the dot's sum, relative to E (header).
  const Magnitude mean_rounding = solve_rounding + summing;
  Scratch<Quad> d_covariance(params.size() * pairs.size());
  Scratch<Magnitude> covariance_error(d_covariance.size());
  for (std::size_t n = 0; n < params.size(); ++n) {
    const std::uint32_t j = params[n];
    if (!pairs.empty()) y_side(j, ybar0, 1, ys[0]);
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      check_cancel(cancel);
      const std::uint32_t a = pairs[p].first, b = pairs[p].second;
      Magnitude cross_error = 0;
      // The terms in the order they were always summed: the bits of dCov stay.
      Quad cross = initial(j, z[2 * p], 2, cross_error) + initial(j, z[2 * p + 1], 2, cross_error);
      x_side(j, z[2 * p], 2, xs);
      cross -= contract(ybar0, ys[0], xs, cross_error);
      y_side(j, ybar_of(a, 1), 2, ys[1]);
      x_side(j, x_of(b, 1), 1, xs_other);
      cross -= contract(ybar_of(a, 1), ys[1], xs_other, cross_error);
      x_side(j, z[2 * p + 1], 2, xs);
      cross -= contract(ybar0, ys[0], xs, cross_error);
      y_side(j, ybar_of(b, 1), 2, ys[1]);
      x_side(j, x_of(a, 1), 1, xs_other);
      cross -= contract(ybar_of(b, 1), ys[1], xs_other, cross_error);
      const Quad d_a = d_moment[(n * R + a) * K], d_b = d_moment[(n * R + b) * K];
      const Quad first = mean[b] * d_a, second = mean[a] * d_b;
      d_covariance[n * pairs.size() + p] = cross - first - second;
      // dCov = cross − E_b·dE_a − E_a·dE_b (header): cross's bound, each product's, and
      // the products' and differences' own roundings.
      const Magnitude mean_a = magnitude(mean[a]), mean_b = magnitude(mean[b]);
      const Magnitude error_a = error_of[(n * R + a) * K], error_b = error_of[(n * R + b) * K];
      covariance_error[n * pairs.size() + p] = cross_error +
                                               (1 + 2 * mean_rounding) * (mean_b * error_a + mean_a * error_b) +
                                               2 * mean_rounding * (mean_b * magnitude(d_a) + mean_a * magnitude(d_b)) +
                                               3 * kQuadRounding *
                                                   (magnitude(cross) + magnitude(first) + magnitude(second));
    }
  }

  // The bound of the header: its magnitudes' own rounding (kMagnitudeSlack), then the
  // rounding to double of the bound and of the value.
  const auto bound_of = [&](Magnitude bound, double value) {
    return double(bound * kMagnitudeSlack) * (1 + 0x1p-50) + 0x1p-53 * std::fabs(value);
  };
  if (gradient.moment_bound.empty()) {
    gradient.moment_bound.assign(gradient.moment.size(), 0);
    gradient.variance_bound.assign(gradient.variance.size(), 0);
    gradient.covariance_bound.assign(gradient.covariance.size(), 0);
  }
  // Only finite values are replaced: a NaN says the derivative is not defined.
  const auto put = [](double& to, Quad value) {
    if (std::isfinite(to)) to = double(value);
  };
  for (std::size_t n = 0; n < params.size(); ++n) {
    const std::uint32_t j = params[n];
    for (std::uint32_t r = 0; r < R; ++r) {
      for (std::uint32_t k = 1; k <= K; ++k) {
        const std::size_t at = (std::size_t(r) * K + k - 1) * P + j, from = (n * R + r) * K + k - 1;
        put(gradient.moment[at], d_moment[from]);
        gradient.moment_bound[at] = bound_of(error_of[from], gradient.moment[at]);
      }
      if (!gradient.variance.empty() && K >= 2) {
        const std::size_t at = std::size_t(r) * P + j, first = (n * R + r) * K;
        put(gradient.variance[at], d_moment[first + 1] - 2 * mean[r] * d_moment[first]);
        // dVar = dE[R²] − 2E·dE[R]: the two bounds, the second scaled by 2|E|, and E's
        // own error (x_1's, one solve, and the dot's sum) against 2|dE[R]|.
        const Magnitude mean_size = magnitude(mean[r]);
        gradient.variance_bound[at] = bound_of(
            error_of[first + 1] + 2 * mean_size * error_of[first] +
                (solve_rounding + summing) * 2 * mean_size * magnitude(d_moment[first]),
            gradient.variance[at]);
      }
    }
    for (std::size_t p = 0; p < pairs.size() && !gradient.covariance.empty(); ++p) {
      const std::size_t at = p * P + j, from = n * pairs.size() + p;
      put(gradient.covariance[at], d_covariance[from]);
      gradient.covariance_bound[at] = bound_of(covariance_error[from], gradient.covariance[at]);
    }
  }
  return {};
}

}  // namespace phasic
