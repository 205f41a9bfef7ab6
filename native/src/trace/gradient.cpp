// Reverse mode through the composed trace (see gradient.hpp for the method). One θ
// at a time; the forward pass is evaluate()'s fast arithmetic, the backward pass its
// adjoint, command by command:
//   solve    y[v] = (y[v] + Σ w·y[t]) · inv     ā = ȳ[v]·inv, inv̄ += ȳ[v]·acc,
//                                               w̄ += ā·y[t], ȳ[t] += ā·w, ȳ[v] = ā
//   forward  y[t] += m·y[s]                     m̄ += ȳ[t]·y[s], ȳ[s] += ȳ[t]·m
// The adjoint values (ȳ) depend on the chain only and the forward values (y) on the
// solve only: the forward values are kept from the forward pass, and each chain's
// backward sweep contracts its ȳ with every solve it pairs with as it goes.
//
// Lanes. Solves of the same moment k for every reward run together, side by side in
// groups of up to 16 (8 at SSE2) by the kernels of evaluation's one θ
// (side_by_side.inc), and the chains i ≥ 1 with R values per slot (slot·R + r): one
// pass over a block's commands serves a group, or every reward. Chain 0 is α for
// every reward, so it is swept once. The session (gradient_session.inc) is compiled
// at SSE2 and at AVX2 and runs at AVX2 where the CPU has it: every loop over rewards
// or outputs is elementwise, so both give the same bits.
#include "trace/gradient.hpp"

#include <algorithm>
#include <array>
#include <cfenv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "base/error.hpp"
#include "base/simd.hpp"
#include "memory/accounting.hpp"
#include "trace/dense_block_evaluation.hpp"
#include "trace/dense_block_gradient.hpp"

namespace phasic {
namespace {

// An array inside the gradient's workspace. Entries are not initialized: every entry
// is written before it is read, or zero() is called.
struct Slice {
  double* p;
  std::size_t n;
  double* data() { return p; }
  const double* data() const { return p; }
  double& operator[](std::size_t i) { return p[i]; }
  std::size_t size() const { return n; }
  void zero() { std::fill(p, p + n, 0.0); }
};

template <class Size>
std::uint64_t largest(const ModelTrace& m, Size size) {
  std::uint64_t most = 0;
  for (const ComposedBlock& b : m.blocks) most = std::max<std::uint64_t>(most, size(*b.trace));
  return most;
}

std::uint64_t total_values(const ModelTrace& m) {
  std::uint64_t total = 0;
  for (const ComposedBlock& b : m.blocks) total += b.trace->value_count();
  return total;
}

// Whether the gradient takes a block's dense part through its dense LU
// (dense_block_gradient.hpp): evaluation's rule for one lane.
bool dense_candidate(const BlockTrace& t) { return evaluate_densely(t.dense, 1); }

// Doubles a dense part's factors take: the matrix, the inverses and the 3·r extents
// (uint32, two to a double).
std::uint64_t dense_doubles(const BlockTrace& t) {
  if (!dense_candidate(t)) return 0;
  const std::uint32_t r = t.dense.size;
  return dense_matrix_doubles(r) + r + (3 * std::uint64_t(r) + 1) / 2;
}

std::uint64_t total_dense_doubles(const ModelTrace& m) {
  std::uint64_t total = 0;
  for (const ComposedBlock& b : m.blocks) total += dense_doubles(*b.trace);
  return total;
}

// 8 Mi doubles (64 MiB): larger traces replay each block's program once more instead.
constexpr std::uint64_t kMaxKeptValues = std::uint64_t(8) << 20;

// The session at SSE2 and, for a CPU that has it, at AVX2 (gradient_session.inc), as
// evaluate.cpp compiles evaluation's: its loops over rewards and outputs run in
// vectors of the width, and its forward solves side by side by evaluation's kernels
// for one θ (side_by_side.inc).
#define PHASIC_SIMD_COPIES "trace/gradient_session.inc"
#include "base/simd_copies.inc"

// The session at AVX2 when the CPU has it.
void run_session(const ModelTrace& m, const double* theta, std::uint32_t moment_count,
                 std::span<const RewardPair> pairs, const std::atomic<bool>* cancel, GradientWay way,
                 std::vector<double>& fast, std::vector<double>& cross, std::vector<double>& d,
                 std::vector<double>& dcross) {
#if PHASIC_SIMD_DISPATCH
  if (simd_level() >= SimdLevel::avx2) {
    avx2::GradientSession session(m, moment_count, pairs, cancel, way);
    return session.run(theta, fast, cross, d, dcross);
  }
#endif
  sse2::GradientSession session(m, moment_count, pairs, cancel, way);
  session.run(theta, fast, cross, d, dcross);
}

}  // namespace

Gradient evaluate_gradient(const ModelTrace& m, std::span<const double> theta, std::uint32_t moment_count,
                           const Moments& exact, std::span<const RewardPair> pairs, const std::atomic<bool>* cancel,
                           GradientWay way) {
  if (theta.size() != m.param_count)
    throw EngineError("expected " + std::to_string(m.param_count) + " parameter values, got " +
                      std::to_string(theta.size()));
  for (double value : theta)
    if (!std::isfinite(value) || value < 0) throw EngineError("parameters must be finite and ≥ 0");
  if (moment_count == 0) throw EngineError("at least one moment must be requested");
  if (exact.reward_count != m.reward_count || exact.moment_count != moment_count ||
      exact.covariance.size() != pairs.size())
    throw InternalError("the gradient's moments were evaluated for another request");
  for (const RewardPair& p : pairs)
    if (p.first >= m.reward_count || p.second >= m.reward_count)
      throw EngineError("a covariance pair names a reward that does not exist");
  for (const ComposedBlock& b : m.blocks) {
    const BlockTrace& t = *b.trace;
    if (t.param_count != m.param_count || b.vertices.size() != t.vertex_count || b.exits.size() != t.exit_count)
      throw InternalError("a block trace does not fit the model it is placed in");
  }
  const std::size_t R = m.reward_count, K = moment_count, P = m.param_count;
  Gradient out;
  out.reward_count = m.reward_count;
  out.moment_count = moment_count;
  out.param_count = m.param_count;
  out.pair_count = static_cast<std::uint32_t>(pairs.size());
  std::vector<double> fast, cross, dcross;
  std::feclearexcept(FE_UNDERFLOW);
  run_session(m, theta.data(), moment_count, pairs, cancel, way, fast, cross, out.moment, dcross);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t o = 0; o < R * K; ++o) {
    // A derivative is reported only where the moment is finite in both arithmetics:
    // elsewhere it is not defined, or the IEEE pass met 0·∞ on a path of probability 0.
    const bool defined = std::isfinite(fast[o]) && std::isfinite(exact.raw[o]);
    for (std::size_t p = 0; p < P; ++p)
      if (!defined || std::isnan(out.moment[o * P + p])) out.moment[o * P + p] = nan;
  }
  if (K >= 2) {
    out.variance.resize(R * P);
    for (std::size_t r = 0; r < R; ++r) {
      const double mean = exact.moment(static_cast<std::uint32_t>(r), 1);
      const bool defined = std::isfinite(exact.variance[r]);
      for (std::size_t p = 0; p < P; ++p) {
        // Var = E[R²] − E[R]²  ⇒  dVar = dE[R²] − 2·E[R]·dE[R]
        const double value = out.of_moment(r, 2, p) - 2 * mean * out.of_moment(r, 1, p);
        out.variance[r * P + p] = defined && std::isfinite(value) ? value : nan;
      }
    }
  }
  out.covariance.resize(pairs.size() * P);
  for (std::size_t q = 0; q < pairs.size(); ++q) {
    const std::uint32_t a = pairs[q].first, b = pairs[q].second;
    const double mean_a = exact.moment(a, 1), mean_b = exact.moment(b, 1);
    const bool defined = std::isfinite(exact.covariance[q]) && std::isfinite(cross[q]) && std::isfinite(fast[a * K]) &&
                         std::isfinite(fast[b * K]);
    for (std::size_t p = 0; p < P; ++p) {
      // Cov = E[R_a R_b] − E[R_a]·E[R_b]  ⇒  dCov = dE[R_a R_b] − E[R_b]·dE[R_a] − E[R_a]·dE[R_b]
      const double value = dcross[q * P + p] - mean_b * out.of_moment(a, 1, p) - mean_a * out.of_moment(b, 1, p);
      out.covariance[q * P + p] = defined && std::isfinite(value) ? value : nan;
    }
  }
  // A derivative below a double's range reads 0 or keeps only some of its bits:
  // dE[T]/dθ of Kingman at θ = 1e300 is −1.5e−600 and came out as 0. Whether anything
  // underflowed is the processor's sticky flag, raised by any result that left the
  // normal range inexactly; most models never raise it. When it is raised, the
  // derivatives within 53 bits of the smallest normal double (|d| < 2^−969, 0
  // included), where a lost part could matter, are out of range: NaN, as the moments
  // that underflow are (evaluate.cpp). Larger ones can be wrong only if an underflowed
  // term was later multiplied by a factor near 2^53 or more, such as a coefficient
  // of 1e300 on a parameter near 1e−300 (decisions.md, 49).
  if (std::fetestexcept(FE_UNDERFLOW)) {
    const double reach = std::ldexp(1.0, -969);
    for (std::vector<double>* values : {&out.moment, &out.variance, &out.covariance})
      for (double& d : *values)
        if (std::fabs(d) < reach) d = nan;
  }
  return out;
}

}  // namespace phasic
