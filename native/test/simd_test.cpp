// The evaluation kernels at every vector width the CPU has (base/simd.hpp) against the
// baseline SSE2 path, bit for bit: the dense LU's factors and solves for one θ and for
// 8 lanes, and whole evaluations (single θ, batches whose count is not a multiple of 8,
// θ with zeros) of random models whose blocks take the dense path; one θ's solves side
// by side against each solve alone; gradients, whose forward solves run side by side
// too, against each reward's alone.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/simd.hpp"
#include "check.hpp"
#include "trace/condensation.hpp"
#include "trace/dense_block_evaluation.hpp"
#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"
#include "trace/model_trace.hpp"
#include "trace_fixtures.hpp"

using namespace phasic;
using fixtures::EdgeSpec;
using fixtures::make_graph;

namespace {

using fixtures::below;
using fixtures::Rng;
using fixtures::uniform;

// The levels above the baseline this CPU can run; empty on a CPU without AVX2.
std::vector<SimdLevel> wide_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel l : {SimdLevel::avx2, SimdLevel::avx512})
    if (std::uint8_t(l) <= std::uint8_t(detected_simd_level())) levels.push_back(l);
  return levels;
}

// Restores the detected level however a case ends.
struct AtLevel {
  explicit AtLevel(SimdLevel l) { limit_simd_level(l); }
  ~AtLevel() { limit_simd_level(SimdLevel::avx512); }
};

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  // An empty vector's data() may be null, which memcmp must never be given.
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool same_bits(const Moments& a, const Moments& b) {
  return same_bits(a.raw, b.raw) && same_bits(a.variance, b.variance) && same_bits(a.covariance, b.covariance) &&
         a.absorption_certain == b.absorption_certain;
}

struct DenseResult {
  bool factored;
  std::vector<double> matrix, inverse, y;
  std::vector<std::uint32_t> extent;
};

template <std::uint32_t W>
DenseResult factor_and_solve(const DenseTail& tail, const std::vector<double>& values, const std::vector<double>& y) {
  const std::uint32_t r = tail.size;
  DenseResult out{false, std::vector<double>(dense_matrix_doubles(r) * W), std::vector<double>(std::size_t(r) * W), y,
                  std::vector<std::uint32_t>(3 * r)};
  out.factored = factor_dense<W>(tail, values.data(), out.matrix.data(), out.inverse.data(), out.extent.data());
  if (out.factored) solve_dense<W>(r, out.matrix.data(), out.inverse.data(), out.extent.data(), out.y.data());
  return out;
}

template <std::uint32_t W>
void check_dense_widths(Rng& rng, std::uint32_t r, int& factored) {
  const DenseTail tail = fixtures::random_dense_tail(rng, r, uniform(rng, 0.05, 1.0));
  // Rates over six orders of magnitude, a fifth of them 0 in some lanes (θ with zeros):
  // multipliers that vanish in some lanes only, rows whose extents differ by lane, and
  // now and then a λ of 0, which every width must refuse alike.
  std::vector<double> values(tail.entries.size() * W), y(std::size_t(r) * W);
  for (double& v : values) v = uniform(rng, 0, 1) < 0.2 ? 0.0 : std::exp(uniform(rng, -7, 7));
  for (double& v : y) v = uniform(rng, 0, 1) < 0.1 ? 0.0 : uniform(rng, 0, 2);
  limit_simd_level(SimdLevel::sse2);
  const DenseResult base = factor_and_solve<W>(tail, values, y);
  factored += base.factored;
  for (SimdLevel level : wide_levels()) {
    AtLevel at(level);
    const DenseResult wide = factor_and_solve<W>(tail, values, y);
    CHECK_EQ(wide.factored, base.factored);
    CHECK(same_bits(wide.matrix, base.matrix));
    CHECK(same_bits(wide.inverse, base.inverse));
    CHECK(same_bits(wide.extent, base.extent));
    CHECK(same_bits(wide.y, base.y));
  }
  limit_simd_level(SimdLevel::avx512);
}

// A strongly connected group of `states` states (a ring plus chords of the given
// density) leaving to two absorbing vertices, rates affine in P parameters: dense
// enough, for most densities, that its block carries a dense part.
Graph random_block(Rng& rng, std::uint32_t states, double density, std::uint32_t P) {
  auto form = [&] {
    std::vector<double> f(P + 1, 0.0);
    f[0] = uniform(rng, 0, 1) < 0.5 ? uniform(rng, 0.05, 1.0) : 0.0;
    f[1 + below(rng, P)] = uniform(rng, 0.05, 2.0);
    return f;
  };
  const VertexId absorbing = states + 1;
  std::vector<EdgeSpec> edges{{0, 1, {0.75}}, {0, 2, {0.25}}};
  for (std::uint32_t i = 0; i < states; ++i) {
    for (std::uint32_t j = 0; j < states; ++j)
      if (i != j && (j == (i + 1) % states || uniform(rng, 0, 1) < density)) edges.push_back({i + 1, j + 1, form()});
    if (i == 0 || uniform(rng, 0, 1) < 0.3) edges.push_back({i + 1, absorbing + below(rng, 2), form()});
  }
  std::vector<std::vector<double>> rewards(2, std::vector<double>(states + 3, 0.0));
  for (std::uint32_t i = 1; i <= states; ++i) rewards[0][i] = 1.0, rewards[1][i] = uniform(rng, 0.0, 3.0);
  return make_graph(P, states + 3, edges, rewards);
}

}  // namespace

TEST(the_dense_kernels_give_the_same_bits_at_every_width) {
  if (wide_levels().empty()) SKIP("this CPU has no AVX2: only the baseline path runs");
  Rng rng(20261202);
  int factored = 0, cases = 0;
  // Sizes around every vector width and unrolled step (2, 4, 8 doubles; steps of 4, 8, 16).
  for (std::uint32_t r : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 33u, 64u, 101u})
    for (int trial = 0; trial < 6; ++trial, cases += 2) {
      check_dense_widths<1>(rng, r, factored);
      check_dense_widths<8>(rng, r, factored);
    }
  // Both outcomes were exercised: factors compared, and λ = 0 refused alike.
  CHECK(factored > cases / 4);
  CHECK(factored < cases);
}

TEST(evaluations_give_the_same_bits_at_every_width) {
  if (wide_levels().empty()) SKIP("this CPU has no AVX2: only the baseline path runs");
  Rng rng(20261203);
  int dense = 0;
  for (int trial = 0; trial < 12; ++trial) {
    const std::uint32_t P = 1 + below(rng, 3);
    const Graph g = random_block(rng, 40 + below(rng, 50), uniform(rng, 0.3, 1.0), P);
    const ModelTrace t = compose(g, condense(g), {});
    for (const ComposedBlock& b : t.blocks) dense += evaluate_densely(b.trace->dense, 8);
    // 13 θ: one lane group of 8 and five single evaluations; some θ set a parameter
    // to 0, so rates vanish (λ = 0 sends a block back to its recorded ops) or only
    // some lanes of a group have zero multipliers.
    const std::uint32_t count = 13;
    std::vector<double> thetas;
    for (std::uint32_t i = 0; i < count; ++i)
      for (std::uint32_t p = 0; p < P; ++p) thetas.push_back(i % 3 == 1 && p == i % P ? 0.0 : uniform(rng, 0.3, 2.5));
    const RewardPair pairs[] = {{0, 1}};
    limit_simd_level(SimdLevel::sse2);
    const std::vector<Moments> base = evaluate_batch(t, fixtures::placed(), thetas, count, 2, pairs);
    std::vector<Moments> base_single;
    for (std::uint32_t i = 0; i < count; ++i)
      base_single.push_back(evaluate(t, std::span(thetas).subspan(i * P, P), 2, pairs));
    for (SimdLevel level : wide_levels()) {
      AtLevel at(level);
      const std::vector<Moments> batch = evaluate_batch(t, fixtures::placed(), thetas, count, 2, pairs);
      for (std::uint32_t i = 0; i < count; ++i) {
        CHECK(same_bits(batch[i], base[i]));
        CHECK(same_bits(evaluate(t, std::span(thetas).subspan(i * P, P), 2, pairs), base_single[i]));
      }
    }
    limit_simd_level(SimdLevel::avx512);
  }
  // The models exercised the dense path (else the comparison above says little).
  CHECK(dense >= 6);
}

// The trace of `t` with rewards `chosen` of `all` (vertex_count each) as its rewards.
ModelTrace with_rewards(const ModelTrace& t, const std::vector<std::vector<double>>& all,
                        const std::vector<std::uint32_t>& chosen) {
  ModelTrace u = t;
  u.reward_count = std::uint32_t(chosen.size());
  u.rewards.clear();
  for (std::uint32_t r : chosen) u.rewards.insert(u.rewards.end(), all[r].begin(), all[r].end());
  return u;
}

// A random block of 1 to 3 parameters with R random rewards (each 0 at about a fifth
// of the inner vertices): `base` carries no rewards, `t` all R of them.
struct RewardedBlock {
  ModelTrace base;
  std::vector<std::vector<double>> rewards;
  ModelTrace t;
};
RewardedBlock random_rewarded_block(Rng& rng, std::uint32_t R) {
  const std::uint32_t P = 1 + below(rng, 3);
  const Graph g = random_block(rng, 30 + below(rng, 40), uniform(rng, 0.1, 0.6), P);
  RewardedBlock out{compose(g, condense(g), {}), {}, {}};
  out.rewards.assign(R, std::vector<double>(out.base.vertex_count, 0.0));
  for (std::vector<double>& reward : out.rewards)
    for (std::uint32_t v = 1; v + 2 < out.base.vertex_count; ++v)
      reward[v] = uniform(rng, 0, 1) < 0.2 ? 0.0 : uniform(rng, 0.0, 3.0);
  std::vector<std::uint32_t> every(R);
  for (std::uint32_t r = 0; r < R; ++r) every[r] = r;
  out.t = with_rewards(out.base, out.rewards, every);
  return out;
}

// One θ runs up to 16 solves side by side (8 at SSE2), in vectors whose unused entries
// are padding. Each solve keeps its own operations, so a reward's moments are the
// bits of the same reward evaluated alone (one solve at a time), and a covariance is
// that of its two rewards alone, for every reward count and width.
TEST(solves_side_by_side_give_each_solves_own_bits) {
  Rng rng(20261204);
  std::vector<SimdLevel> levels{SimdLevel::sse2};
  for (SimdLevel l : wide_levels()) levels.push_back(l);
  for (std::uint32_t R : {3u, 6u, 9u, 17u, 35u}) {
    const auto [base, rewards, t] = random_rewarded_block(rng, R);
    const std::uint32_t P = base.param_count;
    const RewardPair pairs[] = {{0, R - 1}, {2, 1}};
    for (int trial = 0; trial < 3; ++trial) {
      // The last trial sets a parameter to 0, so the second arithmetic runs too.
      std::vector<double> theta(P);
      for (std::uint32_t p = 0; p < P; ++p) theta[p] = trial == 2 && p == 0 ? 0.0 : uniform(rng, 0.3, 2.5);
      std::vector<Moments> at_level;
      for (SimdLevel level : levels) {
        AtLevel at(level);
        const Moments all = evaluate(t, theta, 3, pairs);
        at_level.push_back(all);
        for (std::uint32_t r = 0; r < R; ++r) {
          const Moments alone = evaluate(with_rewards(base, rewards, {r}), theta, 3);
          CHECK(std::memcmp(&all.raw[r * 3], alone.raw.data(), 3 * sizeof(double)) == 0);
          CHECK(std::memcmp(&all.variance[r], alone.variance.data(), sizeof(double)) == 0);
        }
        for (std::size_t p = 0; p < 2; ++p) {
          const RewardPair both[] = {{0, 1}};
          const Moments two = evaluate(with_rewards(base, rewards, {pairs[p].first, pairs[p].second}), theta, 3, both);
          CHECK(std::memcmp(&all.covariance[p], two.covariance.data(), sizeof(double)) == 0);
        }
      }
      for (const Moments& m : at_level) CHECK(same_bits(m, at_level[0]));
    }
  }
}

// `all`, the gradient of every reward of `rewards` and of `pairs` together, holds for
// each reward the bits of that reward's gradient alone, and for each pair those of its
// two rewards alone.
void check_each_reward_alone(const Gradient& all, const ModelTrace& base,
                             const std::vector<std::vector<double>>& rewards, const std::vector<double>& theta,
                             std::uint32_t K, const std::vector<RewardPair>& pairs, GradientWay way) {
  const std::size_t P = theta.size();
  for (std::uint32_t r = 0; r < rewards.size(); ++r) {
    const ModelTrace one = with_rewards(base, rewards, {r});
    const Gradient alone = evaluate_gradient(one, theta, K, evaluate(one, theta, K), {}, nullptr, way);
    CHECK(std::memcmp(&all.moment[r * K * P], alone.moment.data(), K * P * sizeof(double)) == 0);
    CHECK(std::memcmp(&all.variance[r * P], alone.variance.data(), P * sizeof(double)) == 0);
  }
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const ModelTrace two = with_rewards(base, rewards, {pairs[p].first, pairs[p].second});
    const RewardPair both[] = {{0, 1}};
    const Gradient d = evaluate_gradient(two, theta, K, evaluate(two, theta, K, both), both, nullptr, way);
    CHECK(std::memcmp(&all.covariance[p * P], d.covariance.data(), P * sizeof(double)) == 0);
  }
}

// The gradient's forward solves run side by side like one θ's (side_by_side.inc), and
// its backward pass in vectors of the width: each output keeps its own operations, so
// a reward's derivatives are the bits of the same reward's gradient alone, a
// covariance's those of its two rewards alone, in either way a block can take, for
// every reward count and width.
TEST(gradients_give_each_rewards_own_bits_at_every_width) {
  Rng rng(20261205);
  std::vector<SimdLevel> levels{SimdLevel::sse2};
  for (SimdLevel l : wide_levels()) levels.push_back(l);
  constexpr std::uint32_t K = 3;
  int dense = 0;
  for (std::uint32_t R : {1u, 3u, 6u, 9u, 17u, 35u}) {
    const auto [base, rewards, t] = random_rewarded_block(rng, R);
    const std::uint32_t P = base.param_count;
    for (const ComposedBlock& b : base.blocks) dense += evaluate_densely(b.trace->dense, 1);
    std::vector<RewardPair> pairs;
    if (R > 1) pairs = {{0, R - 1}, {R - 1, R / 2}};
    std::vector<double> theta(P);
    for (double& value : theta) value = uniform(rng, 0.3, 2.5);
    for (GradientWay way : {GradientWay::Reverse, GradientWay::Tangents}) {
      std::vector<Gradient> at_level;
      for (SimdLevel level : levels) {
        AtLevel at(level);
        const Gradient all = evaluate_gradient(t, theta, K, evaluate(t, theta, K, pairs), pairs, nullptr, way);
        at_level.push_back(all);
        check_each_reward_alone(all, base, rewards, theta, K, pairs, way);
      }
      for (const Gradient& d : at_level) {
        CHECK(same_bits(d.moment, at_level[0].moment));
        CHECK(same_bits(d.variance, at_level[0].variance));
        CHECK(same_bits(d.covariance, at_level[0].covariance));
      }
    }
  }
  // The models exercised the dense path (the solves' dense part between the kernels).
  CHECK(dense >= 3);
}

// A block whose solves' final rows outgrow L2 reads them from x in place
// (gradient_session.inc, finals_in_place), where a block of fewer rewards keeps a copy
// of them: 35 rewards at 3 moments with 2 pairs on an acyclic block of 1,300 states
// (109 entries per slot) take the first way, each reward alone (3 per slot) the
// second, and each reward's derivatives are the same bits either way.
TEST(a_large_blocks_gradient_reads_its_final_values_in_place_with_the_same_bits) {
  Rng rng(20261206);
  constexpr std::uint32_t n = 1300, R = 35, K = 3, P = 2;
  auto form = [&] {
    std::vector<double> f(P + 1, 0.0);
    f[0] = uniform(rng, 0.05, 1.0);
    f[1 + below(rng, P)] = uniform(rng, 0.05, 2.0);
    return f;
  };
  const VertexId absorbing = n + 1;
  std::vector<EdgeSpec> edges{{0, 1, {1.0}}};
  for (std::uint32_t i = 1; i <= n; ++i) {
    for (std::uint32_t c = 0; c < 3; ++c) {
      const std::uint32_t j = i + 1 + 13 * c + below(rng, 13);  // three distinct later states
      if (j <= n) edges.push_back({i, j, form()});
    }
    if (i == n || uniform(rng, 0, 1) < 0.3) edges.push_back({i, absorbing, form()});
  }
  const Graph g = make_graph(P, n + 2, edges, {std::vector<double>(n + 2, 1.0)});
  const ModelTrace base = compose(g, condense(g), {});
  std::uint64_t slots = 0;
  for (const ComposedBlock& b : base.blocks)
    slots = std::max<std::uint64_t>(slots, std::uint64_t(b.trace->vertex_count) + b.trace->exit_count);
  CHECK(slots * (R * K + 4) * sizeof(double) > (std::uint64_t(1) << 20));
  std::vector<std::vector<double>> rewards(R, std::vector<double>(base.vertex_count, 0.0));
  for (std::vector<double>& reward : rewards)
    for (std::uint32_t v = 1; v <= n; ++v) reward[v] = uniform(rng, 0, 1) < 0.2 ? 0.0 : uniform(rng, 0.0, 3.0);
  std::vector<std::uint32_t> every(R);
  for (std::uint32_t r = 0; r < R; ++r) every[r] = r;
  const ModelTrace t = with_rewards(base, rewards, every);
  const std::vector<RewardPair> pairs{{0, R - 1}, {R - 1, R / 2}};
  std::vector<double> theta(P);
  for (double& value : theta) value = uniform(rng, 0.3, 2.5);
  std::vector<SimdLevel> levels{SimdLevel::sse2};
  for (SimdLevel l : wide_levels()) levels.push_back(l);
  for (GradientWay way : {GradientWay::Reverse, GradientWay::Tangents})
    for (SimdLevel level : levels) {
      AtLevel at(level);
      const Gradient all = evaluate_gradient(t, theta, K, evaluate(t, theta, K, pairs), pairs, nullptr, way);
      check_each_reward_alone(all, base, rewards, theta, K, pairs, way);
    }
}

TEST_MAIN()
