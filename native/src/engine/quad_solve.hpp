// Solves with M = diag(λ) − W, the transient part of a run's parametric graph at θ, in
// quadruple precision: what the gradient's refinement (gradient_refinement.hpp) and the
// moments' (moment_refinement.hpp) recompute their vectors with.
//
// Why quadruple precision: where a double result is the difference of nearly equal
// terms, no order of the arithmetic recovers digits the terms' rounding took. GCC's
// __float128 (113-bit significand, ε = 2⁻¹¹²; + − × ÷ in software, ≈ 50 ns a
// multiply-add) leaves 60 more bits above that rounding.
//
// Method, all in __float128: the rates c0 + Σ c_j θ_j of every edge; M solved per
// strongly connected component, sinks first for x = M⁻¹g and sources first for
// y = hM⁻¹, each component eliminated densely in GTH form: the pivot of a row is the
// sum of its remaining off-diagonal rates and its rates out of what remains (not the
// diagonal minus updates), so the factors are sums and products of positive numbers
// and their accuracy does not depend on the conditioning of M.
//
// Accuracy (the assumption both refinements' bounds rest on, decisions 93 and 111):
// for g ≥ 0 (h ≥ 0) one solve leaves x (y) componentwise accurate to κε relative,
// κ = (2·s + L + 4)·d, s the largest component, L the most rates out of a state and d
// the most transient components on a path: GTH and the solves add, multiply and divide
// nonnegative numbers only (coefficients, θ and rewards are ≥ 0), each step adding at
// most one rounding to a value's relative error, and M⁻¹ ≥ 0 carries the relative error
// of its right-hand side over unchanged, so a vector after i solves is accurate to i·κε.
//
// Invariants:
// - The condensation is counted in Category::Graph, every other vector in
//   Category::Evaluation; all is released with the solver.
// - Its users ask refusal() before factor(): a refused recomputation has built only the
//   condensation. Cancelled propagates from every loop long enough to matter.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>

#include "distribution/parametric_graph.hpp"
#include "memory/accounting.hpp"
#include "trace/condensation.hpp"

namespace phasic {

using Quad = __float128;
template <class T>
using QuadScratch = CountedVector<T, Category::Evaluation>;
// A vector over all vertices; entries of S and of absorbing states stay 0.
using VertexVector = QuadScratch<Quad>;

// What one recomputation may take: the largest component eliminated densely (its
// factors take 16·n² bytes) and the multiply-adds of eliminations and solves together
// (≈ 50 ns each: the default is a few seconds at most).
struct RefinementLimits {
  std::uint32_t largest_component = 1024;
  double multiply_adds = 1e8;
};

// A bound's magnitudes are summed in x87 extended precision, not __float128: a bound
// needs about one digit, and they are sums of nonnegative terms, which need no
// cancellation. Its exponent range is __float128's, so a magnitude overflows or
// underflows only where the value's own terms would; its 64-bit significand rounds each
// operation by at most u = 2⁻⁶⁴ of the result, so a magnitude after N < 2³⁴ roundings
// on any path is at least (1 − u)^N ≥ 1 − 2⁻³⁰ of the exact one: ×kMagnitudeSlack
// before the rounding to double restores the upper bound with room to spare.
using Magnitude = long double;
static_assert(std::numeric_limits<Magnitude>::digits >= 64 && std::numeric_limits<Magnitude>::max_exponent >= 16384 &&
                  std::numeric_limits<Magnitude>::min_exponent <= -16381,
              "the bound's magnitudes need __float128's exponent range");
inline constexpr Magnitude kMagnitudeSlack = 1 + 0x1p-28L;

// |x| without a call into the soft-float library (clang has no __builtin_fabsq).
Quad absolute(Quad x);
inline Magnitude magnitude(Quad x) { return Magnitude(absolute(x)); }
// 0 and −0 alike, without a call into the soft-float library.
bool is_zero(Quad x);

class QuadSolver {
 public:
  // Condenses `graph` and counts the work of factoring it and of one solve.
  QuadSolver(const ParametricGraph& graph, const std::atomic<bool>* cancel);
  ~QuadSolver();
  QuadSolver(const QuadSolver&) = delete;
  QuadSolver& operator=(const QuadSolver&) = delete;

  // Why factoring, `solves` solves and `other_work` multiply-adds more would not fit
  // `limits`, in words that follow "not recomputed in quadruple precision: "; "" when
  // they fit.
  std::string refusal(double solves, double other_work, const RefinementLimits& limits) const;
  // The rates at θ in __float128, then M factored; false when a state has no rate out
  // at θ (M is singular there).
  bool factor(std::span<const double> theta, const std::atomic<bool>* cancel);
  // x = M⁻¹ g.
  void solve(const VertexVector& g, VertexVector& x, const std::atomic<bool>* cancel);
  // y = h M⁻¹ (row vectors); `h` is consumed.
  void solve_transposed(VertexVector& h, VertexVector& y, const std::atomic<bool>* cancel);

  // A state whose vector entries a solve computes (not S, not absorbing).
  bool transient(VertexId v) const { return v > 0 && !graph_.absorbing(v); }
  // The rates at θ by edge (after factor).
  const VertexVector& rate() const { return rate_; }
  // α on the transient states: the rates out of S (after factor).
  VertexVector initial() const;
  const Condensation& condensation() const { return cond_; }
  // κε of the header: one solve's componentwise relative accuracy.
  Magnitude solve_accuracy() const;
  // The most rates out of one state: the longest sum of a row of M.
  std::uint64_t longest_row() const;

 private:
  class Factors;
  const ParametricGraph& graph_;
  Condensation cond_;
  std::uint32_t largest_ = 0;
  double factor_work_ = 0, solve_work_ = 0;
  VertexVector rate_;
  std::unique_ptr<Factors> factors_;
};

}  // namespace phasic
