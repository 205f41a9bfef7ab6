#include "engine/quad_solve.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/error.hpp"
#include "engine/gradient_accuracy.hpp"

namespace phasic {
namespace {

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

// The most rates out of one state: the longest sum of a row of M.
std::uint64_t longest_row_of(const ParametricGraph& graph) {
  std::uint64_t longest = 0;
  for (VertexId v = 0; v < graph.vertex_count; ++v)
    longest = std::max(longest, graph.edge_begin[v + 1] - graph.edge_begin[v]);
  return longest;
}

// The most transient components on one path of the condensation: how many solves
// x̂'s rounding passes through, at most.
std::uint32_t component_depth(const ParametricGraph& graph, const Condensation& cond) {
  QuadScratch<std::uint32_t> depth(cond.component_count, 0);
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

Quad absolute(Quad x) {
  unsigned __int128 bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= ~(static_cast<unsigned __int128>(1) << 127);
  std::memcpy(&x, &bits, sizeof bits);
  return x;
}

bool is_zero(Quad x) {
  unsigned __int128 bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits << 1) == 0;
}

// M = diag(λ) − W on the transient states, factored component by component as
// M_C = L U: L unit lower with −factors[i][p] below the diagonal (the multipliers
// w_ip/d_p), U with the pivots d_p on the diagonal and −factors[p][j] above it (the
// rates left after eliminating the earlier rows). Rows are eliminated in the
// component's member order.
class QuadSolver::Factors {
 public:
  Factors(const ParametricGraph& graph, const Condensation& cond, const VertexVector& rate)
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
  const VertexVector& rate_;
  QuadScratch<std::uint32_t> local_;  // a vertex's position among its component's members
  QuadScratch<Quad> pivot_;           // by vertex
  QuadScratch<std::uint64_t> block_begin_;
  QuadScratch<Quad> factors_;  // per transient component, its s×s factors row-major
  QuadScratch<Quad> buffer_;   // one component's working vector
};

QuadSolver::QuadSolver(const ParametricGraph& graph, const std::atomic<bool>* cancel)
    : graph_(graph),
      cond_(condense({graph.vertex_count, graph.stride(), graph.edge_begin, graph.edge_target, graph.coeffs}, cancel)),
      solve_work_(double(graph.edge_count())) {
  // Dense eliminations take n³/3 multiply-adds each, a solve n² per component and one per edge.
  for (std::uint32_t c = 1; c < cond_.component_count; ++c) {
    if (graph.absorbing(cond_.members_of(c)[0])) continue;
    const double s = cond_.size(c);
    largest_ = std::max(largest_, cond_.size(c));
    factor_work_ += s * s * s / 3;
    solve_work_ += s * s;
  }
}

QuadSolver::~QuadSolver() = default;

std::string QuadSolver::refusal(double solves, double other_work, const RefinementLimits& limits) const {
  const double work = factor_work_ + solves * solve_work_ + other_work;
  if (largest_ > limits.largest_component)
    return "its largest strongly connected component has " + std::to_string(largest_) + " states, more than the " +
           std::to_string(limits.largest_component) + " it eliminates densely";
  if (work > limits.multiply_adds)
    return "it would take about " + number(work) + " multiply-adds, more than the " + number(limits.multiply_adds) +
           " allowed";
  return {};
}

bool QuadSolver::factor(std::span<const double> theta, const std::atomic<bool>* cancel) {
  const std::uint32_t P = graph_.param_count, stride = graph_.stride();
  rate_.assign(graph_.edge_count(), 0);
  for (std::uint64_t e = 0; e < graph_.edge_count(); ++e) {
    const double* form = graph_.coeffs.data() + e * stride;
    Quad x = form[0];
    for (std::uint32_t k = 0; k < P; ++k) x += Quad(form[k + 1]) * Quad(theta[k]);
    rate_[e] = x;
  }
  factors_ = std::make_unique<Factors>(graph_, cond_, rate_);
  return factors_->factor(cancel);
}

void QuadSolver::solve(const VertexVector& g, VertexVector& x, const std::atomic<bool>* cancel) {
  factors_->solve(g, x, cancel);
}

void QuadSolver::solve_transposed(VertexVector& h, VertexVector& y, const std::atomic<bool>* cancel) {
  factors_->solve_transposed(h, y, cancel);
}

VertexVector QuadSolver::initial() const {
  VertexVector alpha(graph_.vertex_count, 0);
  for (std::uint64_t e = graph_.edge_begin[0]; e < graph_.edge_begin[1]; ++e) alpha[graph_.edge_target[e]] = rate_[e];
  for (VertexId v = 1; v < graph_.vertex_count; ++v)
    if (!transient(v)) alpha[v] = 0;
  return alpha;
}

Magnitude QuadSolver::solve_accuracy() const {
  return Magnitude(2.0 * largest_ + double(longest_row_of(graph_)) + 4) * double(component_depth(graph_, cond_)) *
         kQuadRounding;
}

std::uint64_t QuadSolver::longest_row() const { return longest_row_of(graph_); }

}  // namespace phasic
