#include "engine/gradient_refinement.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/error.hpp"
#include "engine/gradient_accuracy.hpp"
#include "memory/accounting.hpp"
#include "trace/condensation.hpp"

namespace phasic {
namespace {

using Quad = __float128;

template <class T>
using Scratch = CountedVector<T, Category::Evaluation>;

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

// A vector over all vertices; entries of S and of absorbing states stay 0.
using VertexVector = Scratch<Quad>;

// M = diag(λ) − W on the transient states, factored component by component as
// M_C = L U: L unit lower with −factors[i][p] below the diagonal (the multipliers
// w_ip/d_p), U with the pivots d_p on the diagonal and −factors[p][j] above it (the
// rates left after eliminating the earlier rows). Rows are eliminated in the
// component's member order.
class FactoredRates {
 public:
  FactoredRates(const ParametricGraph& graph, const Condensation& cond, const Scratch<Quad>& rate)
      : graph_(graph), cond_(cond), rate_(rate), local_(graph.vertex_count, 0), pivot_(graph.vertex_count, 0) {
    block_begin_.assign(cond.component_count + 1, 0);
    for (std::uint32_t c = 0; c < cond.component_count; ++c) {
      const std::uint64_t s = cond.size(c);
      block_begin_[c + 1] = block_begin_[c] + (transient(c) ? s * s : 0);
      std::uint32_t i = 0;
      for (const VertexId v : cond.members_of(c)) local_[v] = i++;
    }
    factors_.assign(block_begin_.back(), 0);
    buffer_.assign(largest_transient(), 0);
  }

  // False when a state has no rate out at θ (M is singular there).
  bool factor(const std::atomic<bool>* cancel) {
    for (std::uint32_t c = 1; c < cond_.component_count; ++c) {
      check_cancel(cancel);
      if (transient(c) && !factor_component(c, cancel)) return false;
    }
    return true;
  }

  // x = M⁻¹ g, components sinks first: a component's right-hand side takes the rates
  // into the components below it, already solved.
  void solve(const VertexVector& g, VertexVector& x, const std::atomic<bool>* cancel) {
    for (std::uint32_t c = cond_.component_count; c-- > 1;) {
      if (!transient(c)) continue;
      if ((c & 0xff) == 0) check_cancel(cancel);
      const auto members = cond_.members_of(c);
      const std::uint32_t s = std::uint32_t(members.size());
      const Quad* a = factors_.data() + block_begin_[c];
      Quad* b = buffer_.data();
      for (std::uint32_t i = 0; i < s; ++i) {
        const VertexId v = members[i];
        Quad sum = g[v];
        for (std::uint64_t e = graph_.edge_begin[v]; e < graph_.edge_begin[v + 1]; ++e) {
          const VertexId t = graph_.edge_target[e];
          if (cond_.component_of[t] != c) sum += rate_[e] * x[t];
        }
        b[i] = sum;
      }
      for (std::uint32_t p = 0; p < s; ++p)
        for (std::uint32_t i = p + 1; i < s; ++i) b[i] += a[std::size_t(i) * s + p] * b[p];
      for (std::uint32_t p = s; p-- > 0;) {
        Quad sum = b[p];
        const Quad* row = a + std::size_t(p) * s;
        for (std::uint32_t j = p + 1; j < s; ++j) sum += row[j] * b[j];
        b[p] = sum / pivot_[members[p]];
      }
      for (std::uint32_t i = 0; i < s; ++i) x[members[i]] = b[i];
    }
  }

  // y = h M⁻¹ (row vectors), components sources first: what flows into a component
  // comes from the components above it, already solved. `h` is consumed.
  void solve_transposed(VertexVector& h, VertexVector& y, const std::atomic<bool>* cancel) {
    for (std::uint32_t c = 1; c < cond_.component_count; ++c) {
      if (!transient(c)) continue;
      if ((c & 0xff) == 0) check_cancel(cancel);
      const auto members = cond_.members_of(c);
      const std::uint32_t s = std::uint32_t(members.size());
      const Quad* a = factors_.data() + block_begin_[c];
      Quad* t = buffer_.data();
      for (std::uint32_t i = 0; i < s; ++i) t[i] = h[members[i]];
      for (std::uint32_t p = 0; p < s; ++p) {
        t[p] /= pivot_[members[p]];
        const Quad* row = a + std::size_t(p) * s;
        for (std::uint32_t j = p + 1; j < s; ++j) t[j] += row[j] * t[p];
      }
      for (std::uint32_t p = s; p-- > 0;) {
        Quad sum = t[p];
        for (std::uint32_t i = p + 1; i < s; ++i) sum += a[std::size_t(i) * s + p] * t[i];
        t[p] = sum;
      }
      for (std::uint32_t i = 0; i < s; ++i) {
        const VertexId v = members[i];
        y[v] = t[i];
        for (std::uint64_t e = graph_.edge_begin[v]; e < graph_.edge_begin[v + 1]; ++e) {
          const VertexId w = graph_.edge_target[e];
          if (cond_.component_of[w] != c) h[w] += t[i] * rate_[e];
        }
      }
    }
  }

 private:
  bool transient(std::uint32_t c) const { return c > 0 && !graph_.absorbing(cond_.members_of(c)[0]); }
  std::uint32_t largest_transient() const {
    std::uint32_t largest = 0;
    for (std::uint32_t c = 1; c < cond_.component_count; ++c)
      if (transient(c)) largest = std::max(largest, cond_.size(c));
    return largest;
  }

  // GTH elimination: each pivot is the sum of its row's remaining rates and its rate
  // out of the rows remaining, which the elimination carries along (`exit`), instead
  // of the diagonal less the updates: no subtraction anywhere.
  bool factor_component(std::uint32_t c, const std::atomic<bool>* cancel) {
    const auto members = cond_.members_of(c);
    const std::uint32_t s = std::uint32_t(members.size());
    Quad* a = factors_.data() + block_begin_[c];
    Quad* exit = buffer_.data();
    for (std::uint32_t i = 0; i < s; ++i) {
      const VertexId v = members[i];
      exit[i] = 0;
      for (std::uint64_t e = graph_.edge_begin[v]; e < graph_.edge_begin[v + 1]; ++e) {
        const VertexId t = graph_.edge_target[e];
        if (cond_.component_of[t] == c)
          a[std::size_t(i) * s + local_[t]] = rate_[e];
        else
          exit[i] += rate_[e];
      }
    }
    for (std::uint32_t p = 0; p < s; ++p) {
      if ((p & 0x3f) == 0x3f) check_cancel(cancel);
      const Quad* row_p = a + std::size_t(p) * s;
      Quad d = exit[p];
      for (std::uint32_t j = p + 1; j < s; ++j) d += row_p[j];
      if (!(d > 0)) return false;
      pivot_[members[p]] = d;
      for (std::uint32_t i = p + 1; i < s; ++i) {
        Quad* row_i = a + std::size_t(i) * s;
        if (row_i[p] == 0) continue;  // no path i → p left: nothing to add (sparse components stay cheap)
        const Quad m = row_i[p] / d;
        row_i[p] = m;
        for (std::uint32_t j = p + 1; j < s; ++j)
          if (j != i) row_i[j] += m * row_p[j];
        exit[i] += m * exit[p];
      }
    }
    return true;
  }

  const ParametricGraph& graph_;
  const Condensation& cond_;
  const Scratch<Quad>& rate_;
  Scratch<std::uint32_t> local_;  // a vertex's position among its component's members
  Scratch<Quad> pivot_;           // by vertex
  Scratch<std::uint64_t> block_begin_;
  Scratch<Quad> factors_;  // per transient component, its s×s factors row-major
  Scratch<Quad> buffer_;   // one component's working vector
};

Quad absolute(Quad x) { return x < 0 ? -x : x; }

// The most rates out of one state: the longest sum of a row of M.
std::uint64_t longest_row(const ParametricGraph& graph) {
  std::uint64_t longest = 0;
  for (VertexId v = 0; v < graph.vertex_count; ++v)
    longest = std::max(longest, graph.edge_begin[v + 1] - graph.edge_begin[v]);
  return longest;
}

// The most transient components on one path of the condensation: how many solves
// x̂'s rounding passes through, at most.
std::uint32_t component_depth(const ParametricGraph& graph, const Condensation& cond) {
  Scratch<std::uint32_t> depth(cond.component_count, 0);
  std::uint32_t deepest = 1;
  // An edge between components leads to a higher number: successors come first here.
  for (std::uint32_t c = cond.component_count; c-- > 1;) {
    if (graph.absorbing(cond.members_of(c)[0])) continue;
    std::uint32_t below = 0;
    for (const VertexId v : cond.members_of(c))
      for (std::uint64_t e = graph.edge_begin[v]; e < graph.edge_begin[v + 1]; ++e) {
        const std::uint32_t t = cond.component_of[graph.edge_target[e]];
        if (t != c) below = std::max(below, depth[t]);
      }
    depth[c] = below + 1;
    deepest = std::max(deepest, depth[c]);
  }
  return deepest;
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", x);
  return text;
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
  const Condensation cond = condense({graph.vertex_count, stride, graph.edge_begin, graph.edge_target, graph.coeffs},
                                     cancel);

  // The work, counted before any of it is done: dense eliminations (n³/3 each), then
  // every solve (n² per component, one per edge) and contraction (one per edge).
  std::uint32_t largest = 0;
  double factor_work = 0, solve_work = double(graph.edge_count());
  for (std::uint32_t c = 1; c < cond.component_count; ++c) {
    if (graph.absorbing(cond.members_of(c)[0])) continue;
    const double s = cond.size(c);
    largest = std::max(largest, cond.size(c));
    factor_work += s * s * s / 3;
    solve_work += s * s;
  }
  const std::uint32_t adjoint_orders = std::max<std::uint32_t>(K - 1, pairs.empty() ? 0 : 1);
  const double solves = double(R) * K + 2.0 * pairs.size() + 1 + double(R) * adjoint_orders;
  const double contractions = double(params.size()) * (double(R) * K * (K + 1) / 2 + 4.0 * pairs.size());
  const double work = factor_work + solves * solve_work + contractions * double(graph.edge_count());
  if (largest > limits.largest_component)
    return "its largest strongly connected component has " + std::to_string(largest) + " states, more than the " +
           std::to_string(limits.largest_component) + " it eliminates densely";
  if (work > limits.multiply_adds)
    return "it would take about " + number(work) + " multiply-adds, more than the " + number(limits.multiply_adds) +
           " allowed";

  Scratch<Quad> rate(graph.edge_count());
  for (std::uint64_t e = 0; e < graph.edge_count(); ++e) {
    const double* form = graph.coeffs.data() + e * stride;
    Quad x = form[0];
    for (std::uint32_t k = 0; k < P; ++k) x += Quad(form[k + 1]) * Quad(theta[k]);
    rate[e] = x;
  }
  FactoredRates m(graph, cond, rate);
  if (!m.factor(cancel)) return "a state has no rate out at these parameters";

  const auto transient = [&](VertexId v) { return v > 0 && !graph.absorbing(v); };
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
  // The bound's constants (header): κ, the componentwise accuracy of x̂ and ȳ in
  // roundings, and the roundings a contraction's sums take.
  const Quad kappa = Quad(2.0 * largest + double(longest_row(graph)) + 4) * double(component_depth(graph, cond));
  const Quad first_order = kappa * kQuadRounding, second_order = first_order * first_order * 2;
  const Quad summing = Quad(double(longest_row(graph)) + V + 2) * kQuadRounding;
  // ȳ_0 = α M⁻¹ for every reward; ybar[r·orders + i−1] = ȳ_i of reward r.
  VertexVector alpha(V, 0), ybar0(V, 0);
  for (std::uint64_t e = graph.edge_begin[0]; e < graph.edge_begin[1]; ++e) alpha[graph.edge_target[e]] = rate[e];
  for (VertexId v = 1; v < V; ++v)
    if (!transient(v)) alpha[v] = 0;
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

  // ȳ·(∂M/∂θ_j)·x, and ∂α/∂θ_j·x; each adds its part of the header's bound to
  // `bound`. column[v] = (ȳ ∂M)_v, taken on the way: what x̂_v's error reaches the sum by.
  VertexVector column(V, 0);
  const auto contract = [&](const VertexVector& y, std::uint32_t j, const VertexVector& xv, Quad& bound) {
    std::fill(column.begin(), column.end(), Quad(0));
    Quad sum = 0, rows = 0, rounding = 0, both = 0;
    for (VertexId v = 1; v < V; ++v) {
      if (y[v] == 0) continue;
      Quad row = 0, row_size = 0, magnitude = 0;
      for (std::uint64_t e = graph.edge_begin[v]; e < graph.edge_begin[v + 1]; ++e) {
        const double c = graph.coeffs[e * stride + 1 + j];
        if (c == 0) continue;
        const VertexId t = graph.edge_target[e];
        const Quad term = Quad(c) * (xv[v] - xv[t]);
        row += term;
        row_size += absolute(term);
        magnitude += Quad(std::fabs(c)) * (absolute(xv[v]) + absolute(xv[t]));
        column[v] += y[v] * Quad(c);
        column[t] -= y[v] * Quad(c);
      }
      sum += y[v] * row;
      rows += absolute(y[v] * row);
      rounding += absolute(y[v]) * row_size;
      both += absolute(y[v]) * magnitude;
    }
    Quad columns = 0;
    for (VertexId v = 1; v < V; ++v) columns += absolute(column[v] * xv[v]);
    bound += first_order * (columns + rows) + second_order * both + summing * rounding;
    return sum;
  };
  const auto initial = [&](std::uint32_t j, const VertexVector& xv, Quad& bound) {
    Quad sum = 0;
    for (std::uint64_t e = graph.edge_begin[0]; e < graph.edge_begin[1]; ++e) {
      const Quad c = graph.coeffs[e * stride + 1 + j];
      sum += c * xv[graph.edge_target[e]];
      bound += (first_order + summing) * absolute(c * xv[graph.edge_target[e]]);
    }
    return sum;
  };
  const auto dot = [&](const VertexVector& a, const VertexVector& b) {
    Quad sum = 0;
    for (VertexId v = 1; v < V; ++v) sum += a[v] * b[v];
    return sum;
  };

  // Every derivative first, then written: a Cancelled leaves the gradient as it was.
  Scratch<Quad> mean(R), d_moment(std::size_t(params.size()) * R * K), error_of(d_moment.size());
  for (std::uint32_t r = 0; r < R; ++r) mean[r] = dot(alpha, x_of(r, 1));
  for (std::size_t n = 0; n < params.size(); ++n) {
    check_cancel(cancel);
    const std::uint32_t j = params[n];
    for (std::uint32_t r = 0; r < R; ++r) {
      Quad factorial = 1;
      for (std::uint32_t k = 1; k <= K; ++k) {
        factorial *= k;
        Quad bound = 0;
        Quad sum = initial(j, x_of(r, k), bound);
        for (std::uint32_t i = 1; i <= k; ++i) sum -= contract(ybar_of(r, k - i), j, x_of(r, i), bound);
        d_moment[(n * R + r) * K + k - 1] = factorial * sum;
        error_of[(n * R + r) * K + k - 1] = factorial * bound;
      }
    }
  }
  Scratch<Quad> d_covariance(params.size() * pairs.size());
  for (std::size_t n = 0; n < params.size(); ++n) {
    const std::uint32_t j = params[n];
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      check_cancel(cancel);
      const std::uint32_t a = pairs[p].first, b = pairs[p].second;
      Quad unused = 0;  // covariances are not judged (gradient_accuracy.hpp)
      const Quad cross = initial(j, z[2 * p], unused) + initial(j, z[2 * p + 1], unused) -
                         contract(ybar0, j, z[2 * p], unused) - contract(ybar_of(a, 1), j, x_of(b, 1), unused) -
                         contract(ybar0, j, z[2 * p + 1], unused) - contract(ybar_of(b, 1), j, x_of(a, 1), unused);
      d_covariance[n * pairs.size() + p] = cross - mean[b] * d_moment[(n * R + a) * K] -
                                           mean[a] * d_moment[(n * R + b) * K];
    }
  }

  // The bound of the header: the first-order rounding of the sums, plus the final
  // rounding to double.
  const auto bound_of = [&](Quad bound, double value) {
    return double(bound) * (1 + 0x1p-50) + 0x1p-53 * std::fabs(value);
  };
  if (gradient.moment_bound.empty()) {
    gradient.moment_bound.assign(gradient.moment.size(), 0);
    gradient.variance_bound.assign(gradient.variance.size(), 0);
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
        // dVar = dE[R²] − 2E·dE[R]: the two bounds, the second scaled by 2|E|.
        gradient.variance_bound[at] = bound_of(error_of[first + 1] + 2 * absolute(mean[r]) * error_of[first] +
                                                   (first_order + summing) * 2 * absolute(mean[r] * d_moment[first]),
                                               gradient.variance[at]);
      }
    }
    for (std::size_t p = 0; p < pairs.size() && !gradient.covariance.empty(); ++p)
      put(gradient.covariance[p * P + j], d_covariance[n * pairs.size() + p]);
  }
  return {};
}

}  // namespace phasic
