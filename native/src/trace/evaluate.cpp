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
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "base/error.hpp"
#include "base/simd.hpp"
#include "trace/dense_block_evaluation.hpp"
#include "trace/scratch.hpp"

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

// The session at SSE2 and at AVX2 (moment_session.inc). One θ and the second
// arithmetic run the baseline's: their replay is a chain of dependent scalar ops,
// which no width shortens. Lane groups run at AVX2 also on a CPU with AVX-512F: 8
// lanes as one 512-bit value measured slower (docs/performance.md "Target 3", fifth
// round: two-locus n = 9, 64 θ, 0.47 ns/op per vector at AVX2, 0.61 at AVX-512, 0.88
// at SSE2), while the dense LU's 8 lanes gain from it (dense_block_evaluation.cpp).
// The AVX2 copy is compiled for AVX2 only and runs only on a CPU that has it
// (base/simd.hpp).
namespace sse2 {
constexpr std::uint32_t kLaneDoubles = 2;
#include "trace/moment_session.inc"
}  // namespace sse2
#if PHASIC_SIMD_DISPATCH
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx2")
namespace avx2 {
constexpr std::uint32_t kLaneDoubles = 4;
#include "trace/moment_session.inc"
}  // namespace avx2
#pragma GCC pop_options
#endif
using sse2::MomentSession;

// Lane groups of 8 θ of a batch through `Session`; returns how many θ it evaluated.
template <class Session>
std::uint32_t run_lane_groups(const ModelTrace& m, const double* thetas, std::uint32_t count,
                              std::uint32_t moment_count, std::span<const RewardPair> pairs,
                              const std::atomic<bool>* cancel, Moments* out) {
  Session lanes(m, moment_count, pairs, cancel);
  const std::size_t P = m.param_count;
  std::uint32_t done = 0;
  for (; done + kBatchLanes <= count; done += kBatchLanes) lanes.run(thetas + done * P, out + done);
  return done;
}

// run_lane_groups at AVX2 when the CPU has it.
std::uint32_t run_lane_groups(const ModelTrace& m, const double* thetas, std::uint32_t count,
                              std::uint32_t moment_count, std::span<const RewardPair> pairs,
                              const std::atomic<bool>* cancel, Moments* out) {
#if PHASIC_SIMD_DISPATCH
  if (simd_level() >= SimdLevel::avx2)
    return run_lane_groups<avx2::MomentSession<kBatchLanes>>(m, thetas, count, moment_count, pairs, cancel, out);
#endif
  return run_lane_groups<MomentSession<kBatchLanes>>(m, thetas, count, moment_count, pairs, cancel, out);
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

// One θ whose fast result is not finite, in the second arithmetic. When absorption is
// certain and a reward's mean is finite but a higher moment or its variance overflowed,
// the θ is evaluated once more with that reward scaled by 1/E[R]: the variance of a
// reward with E[R] = 1e160 and a small spread is finite although E[R²] is not.
void evaluate_exactly(MomentSession<1, true>& session, const ModelTrace& m, const double* theta, Moments& out) {
  session.set_scales({});
  session.run(theta, &out);
  if (!out.absorption_certain) return;
  EvaluationVector<double> scales(m.reward_count, 1.0);
  bool rescale = false;
  for (std::uint32_t r = 0; r < m.reward_count; ++r) {
    const double mean = out.moment(r, 1);
    bool overflowed = out.variance.size() > r && std::isinf(out.variance[r]);
    for (std::uint32_t k = 2; k <= out.moment_count; ++k) overflowed = overflowed || std::isinf(out.moment(r, k));
    if (std::isfinite(mean) && mean > 1 && overflowed) scales[r] = 1 / mean, rescale = true;
  }
  if (!rescale) return;
  session.set_scales(std::move(scales));
  session.run(theta, &out);
  session.set_scales({});
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
  MomentSession<1>(m, moment_count, pairs, cancel).run(theta.data(), &out);
  if (!finite(out)) {
    MomentSession<1, true> exact(m, moment_count, pairs, cancel);
    evaluate_exactly(exact, m, theta.data(), out);
  }
  return out;
}

std::vector<Moments> evaluate_batch(const ModelTrace& m, std::span<const double> thetas, std::uint32_t count,
                                    std::uint32_t moment_count, std::span<const RewardPair> pairs,
                                    const std::atomic<bool>* cancel) {
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
    done = run_lane_groups(m, thetas.data(), count, moment_count, pairs, cancel, out.data());
  }
  if (done < count) {
    MomentSession<1> single(m, moment_count, pairs, cancel);
    for (; done < count; ++done) single.run(thetas.data() + done * P, out.data() + done);
  }
  // θ vectors whose fast result is not finite are evaluated again one at a time, as
  // evaluate() does, so batch and single results stay identical.
  std::uint32_t first_unfinished = 0;
  while (first_unfinished < count && finite(out[first_unfinished])) ++first_unfinished;
  if (first_unfinished < count) {
    MomentSession<1, true> safe(m, moment_count, pairs, cancel);
    for (std::uint32_t i = first_unfinished; i < count; ++i)
      if (!finite(out[i])) evaluate_exactly(safe, m, thetas.data() + i * P, out[i]);
  }
  return out;
}

}  // namespace phasic
