// Evaluation over W lanes (W = 1 for one θ, 8 for a batch): values and vectors are
// stored lane-interleaved, value[slot·W + lane], so every step is a loop over lanes.
// Lanes never mix: lane l computes exactly what a single evaluation of θ_l computes.
//
// Two arithmetics. The fast one is IEEE: it is exact for every θ at which each state
// has a positive total rate. A zero rate makes the λ of a state whose remaining exits
// all have rate 0 exactly 0 (nothing is subtracted, so a zero stays exact), its
// inverse +∞, and a path that is never taken gives 0·∞ = NaN. A θ whose fast result
// is not finite is evaluated again with the measure-theoretic product (0·x = 0 for
// every x, ∞ included: a path of probability 0 contributes nothing), plus one solve of
// the all-ones reward that says whether absorption is certain; collect() and
// undetermined() then classify each value as finite, +∞ or undefined (NaN).
#include "trace/evaluate.hpp"

#include <algorithm>
#include <array>
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
#include "trace/solution_placement.hpp"

namespace phasic {
namespace {

template <class T>
using EvaluationVector = CountedVector<T, Category::Evaluation>;

constexpr std::uint32_t kBatchLanes = 8;
constexpr std::uint64_t kMaxLaneScratch = std::uint64_t(256) << 20;

void check_theta(const ModelTrace& m, const double* theta) {
  for (std::uint32_t i = 0; i < m.param_count; ++i)
    if (!std::isfinite(theta[i]) || theta[i] < 0)
      throw EngineError("parameter " + std::to_string(i) + " must be finite and ≥ 0, got " + std::to_string(theta[i]));
}

// A trace placed with maps of the wrong size would index out of bounds: refuse it
// before replaying anything. Only the sizes are compared, once per block: that every
// vertex and exit id is inside the model holds from construction (model_trace.hpp),
// and reading every id again at each call was ≈ 3 % of a reused run (decision 46).
void check_shape(const ModelTrace& m, const ComposedBlock& b) {
  const BlockTrace& t = *b.trace;
  if (t.param_count != m.param_count || b.vertices.size() != t.vertex_count || b.exits.size() != t.exit_count)
    throw InternalError("a block trace does not fit the model it is placed in");
}

bool finite(const Moments& m) {
  for (double x : m.raw)
    if (!std::isfinite(x)) return false;
  for (double x : m.variance)
    if (!std::isfinite(x)) return false;
  for (double x : m.covariance)
    if (!std::isfinite(x)) return false;
  return true;
}

// Values the arithmetic took below the smallest normal double (≈ 2.2e−308), where a
// result reads 0 or keeps only some of its bits: E[T²] of Kingman at θ = 1e300 is
// 3.4e−600 and came out as 0. Rewards are ≥ 0, so when E[R] > 0 every raw moment is
// > 0 (E[R^k] ≥ E[R]^k) and so is the variance (a phase-type law of order n has
// Var ≥ E[R]²/n, Aldous and Shepp 1987): such a value below the smallest normal double
// did underflow. A covariance may be 0 or negative, so it is suspect only when it is
// subnormal or when the product of the means, which it subtracts, underflowed.
// A mean that underflowed to exactly 0 cannot be told from a reward that is 0 almost
// surely; it would need rates near the largest double on states the reward counts.
constexpr double kSmallestNormal = std::numeric_limits<double>::min();

bool subnormal(double x) { return x != 0 && std::fabs(x) < kSmallestNormal; }

// Whether a raw moment or the variance of a reward with mean `mean` fell below a
// double's range: every value of a reward whose mean did, and beside a normal mean any
// value under the smallest normal double (it is > 0, as said above). The one rule both
// the fast pass's check and evaluate_exactly's marking apply.
bool value_below_range(double mean, double value) {
  return subnormal(mean) || (mean >= kSmallestNormal && value < kSmallestNormal);
}

bool reward_below_range(const Moments& m, std::uint32_t r) {
  const double mean = m.moment(r, 1);
  if (!std::isfinite(mean)) return false;
  for (std::uint32_t k = 1; k <= m.moment_count; ++k)
    if (value_below_range(mean, m.moment(r, k))) return true;
  return !m.variance.empty() && value_below_range(mean, m.variance[r]);
}

bool covariance_below_range(const Moments& m, std::span<const RewardPair> pairs, std::size_t p) {
  const double mean_a = m.moment(pairs[p].first, 1), mean_b = m.moment(pairs[p].second, 1);
  if (subnormal(mean_a) || subnormal(mean_b)) return true;
  if (!(mean_a >= kSmallestNormal && mean_b >= kSmallestNormal) || !std::isfinite(mean_a * mean_b)) return false;
  const double cov = m.covariance[p];
  return subnormal(cov) || (mean_a * mean_b < kSmallestNormal && std::fabs(cov) < kSmallestNormal);
}

bool below_range(const Moments& m, std::span<const RewardPair> pairs) {
  for (std::uint32_t r = 0; r < m.reward_count; ++r)
    if (reward_below_range(m, r)) return true;
  for (std::size_t p = 0; p < pairs.size(); ++p)
    if (covariance_below_range(m, pairs, p)) return true;
  return false;
}

// A result is taken from the fast pass only when every value is a finite double that
// did not underflow; the others go through evaluate_exactly.
bool in_range(const Moments& m, std::span<const RewardPair> pairs) { return finite(m) && !below_range(m, pairs); }

// The session at SSE2 and at AVX2 (moment_session.inc). One θ runs at AVX2 where the
// CPU has it: its replay is a chain of dependent scalar ops, which no width shortens,
// but its solves run side by side in vectors (16 at AVX2, 8 at SSE2). The second
// arithmetic runs the baseline's. Lane groups run at AVX2 also on a CPU with AVX-512F: 8
// lanes as one 512-bit value measured slower (docs/performance.md "Target 3", fifth
// round: two-locus n = 9, 64 θ, 0.47 ns/op per vector at AVX2, 0.61 at AVX-512, 0.88
// at SSE2), while the dense LU's 8 lanes gain from it (dense_block_evaluation.cpp).
// The AVX2 copy is compiled for AVX2 only and runs only on a CPU that has it
// (base/simd.hpp).
#define PHASIC_SIMD_COPIES "trace/moment_session.inc"
#include "base/simd_copies.inc"
using sse2::MomentSession;

// Lane groups of 8 θ of a batch through `Session`; returns how many θ it evaluated.
template <class Session>
std::uint32_t run_lane_groups(const ModelTrace& m, const SolutionPlacement& placement, const double* thetas,
                              std::uint32_t count, std::uint32_t moment_count, std::span<const RewardPair> pairs,
                              const std::atomic<bool>* cancel, Moments* out) {
  Session lanes(m, &placement, moment_count, pairs, cancel);
  const std::size_t P = m.param_count;
  std::uint32_t done = 0;
  for (; done + kBatchLanes <= count; done += kBatchLanes) lanes.run(thetas + done * P, out + done);
  return done;
}

// run_lane_groups at AVX2 when the CPU has it.
std::uint32_t run_lane_groups(const ModelTrace& m, const SolutionPlacement& placement, const double* thetas,
                              std::uint32_t count, std::uint32_t moment_count, std::span<const RewardPair> pairs,
                              const std::atomic<bool>* cancel, Moments* out) {
#if PHASIC_SIMD_DISPATCH
  if (simd_level() >= SimdLevel::avx2)
    return run_lane_groups<avx2::MomentSession<kBatchLanes>>(m, placement, thetas, count, moment_count, pairs, cancel,
                                                             out);
#endif
  return run_lane_groups<MomentSession<kBatchLanes>>(m, placement, thetas, count, moment_count, pairs, cancel, out);
}

// `count` θ one at a time through `Session`.
template <class Session>
void run_one_by_one(const ModelTrace& m, const double* thetas, std::uint32_t count, std::uint32_t moment_count,
                    std::span<const RewardPair> pairs, const std::atomic<bool>* cancel, Moments* out) {
  Session single(m, nullptr, moment_count, pairs, cancel);
  for (std::uint32_t i = 0; i < count; ++i) single.run(thetas + std::size_t(i) * m.param_count, out + i);
}

// run_one_by_one at AVX2 when the CPU has it: its replay is the same scalar chain, but
// its solves run side by side in vectors of 4 (16 at once where SSE2 has 8).
void run_one_by_one(const ModelTrace& m, const double* thetas, std::uint32_t count, std::uint32_t moment_count,
                    std::span<const RewardPair> pairs, const std::atomic<bool>* cancel, Moments* out) {
#if PHASIC_SIMD_DISPATCH
  if (simd_level() >= SimdLevel::avx2)
    return run_one_by_one<avx2::MomentSession<1>>(m, thetas, count, moment_count, pairs, cancel, out);
#endif
  run_one_by_one<MomentSession<1>>(m, thetas, count, moment_count, pairs, cancel, out);
}

void check_request(const ModelTrace& m, std::uint32_t moment_count, std::span<const RewardPair> pairs) {
  if (m.rewards.size() != std::size_t(m.reward_count) * m.vertex_count ||
      m.start_target.size() != m.start_probability.size())
    throw InternalError("the model trace's rewards or initial distribution have the wrong size");
  for (VertexId v : m.start_target)
    if (v >= m.vertex_count) throw InternalError("the initial distribution names a vertex outside the model");
  if (moment_count == 0) throw EngineError("at least one moment must be requested");
  for (const RewardPair& p : pairs)
    if (p.first >= m.reward_count || p.second >= m.reward_count)
      throw EngineError("a covariance pair names a reward that does not exist");
}

// One θ whose fast result is not finite or underflowed, in the second arithmetic.
// When absorption is certain and a reward's mean is a normal double but a higher
// moment or its variance overflowed (mean > 1) or underflowed (mean < 1), the θ is
// evaluated once more with that reward scaled by 1/E[R]: the variance of a reward with
// E[R] = 1e160 and a small spread is finite although E[R²] is not, and E[T²] = 3.4e−600
// is computed as 3.4 on the scale of E[T] = 1.5e−300 before it is found below a double.
// Values still below a double's range then are NaN: out of range, never a 0 that is not.
void evaluate_exactly(MomentSession<1, true>& session, const ModelTrace& m, const double* theta,
                      std::span<const RewardPair> pairs, Moments& out) {
  session.set_scales({});
  session.run(theta, &out);
  if (!out.absorption_certain) return;
  EvaluationVector<double> scales(m.reward_count, 1.0);
  bool rescale = false;
  const auto scale_by_mean = [&](std::uint32_t r) {
    const double mean = out.moment(r, 1);
    if (mean >= kSmallestNormal && std::isfinite(mean) && mean != 1) scales[r] = 1 / mean, rescale = true;
  };
  for (std::uint32_t r = 0; r < m.reward_count; ++r) {
    const double mean = out.moment(r, 1);
    bool overflowed = out.variance.size() > r && std::isinf(out.variance[r]);
    for (std::uint32_t k = 2; k <= out.moment_count; ++k) overflowed = overflowed || std::isinf(out.moment(r, k));
    if ((std::isfinite(mean) && mean > 1 && overflowed) || (mean < 1 && reward_below_range(out, r))) scale_by_mean(r);
  }
  for (std::size_t p = 0; p < pairs.size(); ++p)
    if (covariance_below_range(out, pairs, p)) {
      if (out.moment(pairs[p].first, 1) < 1) scale_by_mean(pairs[p].first);
      if (out.moment(pairs[p].second, 1) < 1) scale_by_mean(pairs[p].second);
    }
  if (rescale) {
    session.set_scales(std::move(scales));
    session.run(theta, &out);
    session.set_scales({});
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t p = 0; p < pairs.size(); ++p)
    if (covariance_below_range(out, pairs, p)) out.covariance[p] = nan;
  for (std::uint32_t r = 0; r < m.reward_count; ++r) {
    const double mean = out.moment(r, 1);
    for (std::uint32_t k = 1; k <= out.moment_count; ++k) {
      double& value = out.raw[std::size_t(r) * out.moment_count + k - 1];
      if (value_below_range(mean, value)) value = nan;
    }
    if (!out.variance.empty() && value_below_range(mean, out.variance[r])) out.variance[r] = nan;
  }
}

}  // namespace

Moments evaluate(const ModelTrace& m, std::span<const double> theta, std::uint32_t moment_count,
                 std::span<const RewardPair> pairs, const std::atomic<bool>* cancel) {
  if (theta.size() != m.param_count)
    throw EngineError("expected " + std::to_string(m.param_count) + " parameter values, got " +
                      std::to_string(theta.size()));
  check_theta(m, theta.data());
  check_request(m, moment_count, pairs);
  for (const ComposedBlock& b : m.blocks) check_shape(m, b);
  Moments out;
  run_one_by_one(m, theta.data(), 1, moment_count, pairs, cancel, &out);
  if (!in_range(out, pairs)) {
    MomentSession<1, true> exact(m, nullptr, moment_count, pairs, cancel);
    evaluate_exactly(exact, m, theta.data(), pairs, out);
  }
  return out;
}

std::vector<Moments> evaluate_batch(const ModelTrace& m, const PlacementSource& placement,
                                    std::span<const double> thetas, std::uint32_t count, std::uint32_t moment_count,
                                    std::span<const RewardPair> pairs, const std::atomic<bool>* cancel) {
  const std::size_t P = m.param_count;
  if (thetas.size() != count * P)
    throw EngineError("expected " + std::to_string(count) + " × " + std::to_string(P) + " parameter values, got " +
                      std::to_string(thetas.size()));
  for (std::uint32_t i = 0; i < count; ++i) check_theta(m, thetas.data() + i * P);
  check_request(m, moment_count, pairs);
  for (const ComposedBlock& b : m.blocks) check_shape(m, b);
  std::vector<Moments> out(count);
  std::uint32_t done = 0;
  // Lanes multiply the per-solve x vectors by 8; on very large models one θ at a time
  // keeps evaluation scratch within reason.
  const std::uint64_t lane_bytes = (std::uint64_t(m.reward_count) * moment_count + 2 * pairs.size()) * m.vertex_count *
                                   kBatchLanes * sizeof(double);
  if (count >= kBatchLanes && lane_bytes <= kMaxLaneScratch) {
    const SolutionPlacement& placed = placement(m);
    if (!placed.fits(m)) throw InternalError("a batch was given the solution placement of another trace");
    done = run_lane_groups(m, placed, thetas.data(), count, moment_count, pairs, cancel, out.data());
  }
  if (done < count)
    run_one_by_one(m, thetas.data() + done * P, count - done, moment_count, pairs, cancel, out.data() + done);
  // θ vectors whose fast result is not finite or underflowed are evaluated again one at
  // a time, as evaluate() does, so batch and single results stay identical.
  std::uint32_t first_unfinished = 0;
  while (first_unfinished < count && in_range(out[first_unfinished], pairs)) ++first_unfinished;
  if (first_unfinished < count) {
    MomentSession<1, true> safe(m, nullptr, moment_count, pairs, cancel);
    for (std::uint32_t i = first_unfinished; i < count; ++i)
      if (!in_range(out[i], pairs)) evaluate_exactly(safe, m, thetas.data() + i * P, pairs, out[i]);
  }
  return out;
}

}  // namespace phasic
