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
#include "trace/dense_block_evaluation.hpp"
#include "trace/lane_pair.hpp"
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

// Lane kernels. The pointers name distinct value slots or vertices (single assignment;
// a forward command's target is never its source), which __restrict tells the compiler
// so that the lane loops vectorize.
// The product of the second arithmetic: an exact 0 annihilates, ∞ included.
template <bool Safe>
inline double times(double a, double b) {
  if constexpr (Safe) return a == 0 || b == 0 ? 0.0 : a * b;
  return a * b;
}

template <std::uint32_t W, bool Safe>
inline void mul_add(double* __restrict out, const double* __restrict a, const double* __restrict b,
                    const double* __restrict c) {
  if constexpr (W % 2 == 0 && !Safe) {
    for (std::uint32_t l = 0; l < W; l += 2)
      store_pair(out + l, load_pair(a + l) + load_pair(b + l) * load_pair(c + l));
  } else {
    for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] + times<Safe>(b[l], c[l]);
  }
}
template <std::uint32_t W, bool Safe>
inline void accumulate(double* __restrict acc, const double* __restrict w, const double* __restrict z) {
  if constexpr (W % 2 == 0 && !Safe) {
    for (std::uint32_t l = 0; l < W; l += 2)
      store_pair(acc + l, load_pair(acc + l) + load_pair(w + l) * load_pair(z + l));
  } else {
    for (std::uint32_t l = 0; l < W; ++l) acc[l] += times<Safe>(w[l], z[l]);
  }
}

template <std::uint32_t W>
inline void copy_lanes(double* __restrict to, const double* __restrict from) {
  for (std::uint32_t l = 0; l < W; ++l) to[l] = from[l];
}

// Var = E[R²] − E[R]². A second moment beyond the largest double (or infinite) makes
// the variance +∞: E[R²] ≥ E[R]², so the difference is not a difference of
// infinities but an infinite (or overflowed) upper term.
double variance_of(double mean, double second) {
  if (std::isnan(mean) || std::isnan(second)) return std::numeric_limits<double>::quiet_NaN();
  const double square = mean * mean;
  if (std::isinf(second) || std::isinf(square)) return std::numeric_limits<double>::infinity();
  return second - square;
}

// Cov = E[R_a R_b] − E[R_a]E[R_b]: +∞ when the cross moment is infinite and both
// means finite; undefined (∞ − ∞) when a mean is infinite.
double covariance_of(double cross, double mean_a, double mean_b) {
  if (!std::isfinite(mean_a) || !std::isfinite(mean_b) || std::isnan(cross))
    return std::numeric_limits<double>::quiet_NaN();
  const double product = mean_a * mean_b;
  if (std::isinf(cross) || std::isinf(product)) return std::numeric_limits<double>::infinity();
  return cross - product;
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

bool reward_below_range(const Moments& m, std::uint32_t r) {
  const double mean = m.moment(r, 1);
  if (subnormal(mean)) return true;
  if (!(mean >= kSmallestNormal) || !std::isfinite(mean)) return false;
  for (std::uint32_t k = 2; k <= m.moment_count; ++k)
    if (m.moment(r, k) < kSmallestNormal) return true;
  return !m.variance.empty() && m.variance[r] < kSmallestNormal;
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

// Moments of W θ vectors at a time, block by block: each block's program is replayed
// and immediately used by every solve that needs it (all rewards, all moments, all
// cross terms), so its values are still in cache and scratch for values is one
// block's worth. This works because a solve only reads, outside the block, x at its
// exits — in earlier blocks, already final in every solution. Scratch is allocated
// once per session, so a batch of many lane groups pays for it once.
// Safe: the second arithmetic (0·x = 0), plus the solve of the all-ones reward
// (absorption time) whose expectation tells whether absorption is certain.
template <std::uint32_t W, bool Safe = false>
class MomentSession {
 public:
  MomentSession(const ModelTrace& m, std::uint32_t moment_count, std::span<const RewardPair> pairs,
                const std::atomic<bool>* cancel)
      : m_(m),
        K_(moment_count),
        pairs_(pairs),
        cancel_(cancel),
        theta_(std::size_t(m.param_count) * W),
        block_values_(largest_values(m, W == 1 ? 2 : 1, 0) * W),
        values_(block_values_ + (W == 1 ? largest_values(m, 2, 1) * W : 0)),
        y_(largest(m, [](const BlockTrace& t) { return std::uint64_t(t.vertex_count) + t.exit_count; }) *
           std::max<std::size_t>(W, kGroup)),
        solutions_(solution_count() * m.vertex_count * W),
        ones_(Safe ? m.vertex_count : 0),
        scaled_(std::size_t(m.reward_count) * moment_count),
        dense_size_(
            Safe ? 0 : largest(m, [](const BlockTrace& t) { return evaluate_densely(t.dense, W) ? t.dense.size : 0; })),
        dense_matrix_(dense_matrix_doubles(std::uint32_t(dense_size_)) * W),
        dense_inverse_(dense_size_ * W),
        dense_y_(dense_size_ * W),
        dense_extent_(3 * dense_size_) {
    // Absorbing vertices are never written, and collect() reads x only at S's targets,
    // so those are the entries that must start at 0: a target local to a block is
    // overwritten when its block is solved. Every other entry is written before it is
    // read (exits are local to earlier blocks, previous solutions to this one), so the
    // rest of the (large) solutions array is not zero-filled.
    if (!solutions_.fresh_mapping()) {
      double* x = solutions_.data();
      for (std::size_t s = 0; s < solution_count(); ++s)
        for (VertexId z : m.start_target)
          for (std::uint32_t l = 0; l < W; ++l) x[(s * m.vertex_count + z) * W + l] = 0.0;
    }
    std::fill(ones_.data(), ones_.data() + ones_.size(), 1.0);
    plan_solves();
  }

  // theta: W vectors of P values, lane-major; out: W results.
  void run(const double* theta, Moments* out) {
    const std::uint32_t P = m_.param_count;
    for (std::uint32_t l = 0; l < W; ++l)
      for (std::uint32_t i = 0; i < P; ++i) theta_[std::size_t(i) * W + l] = theta[std::size_t(l) * P + i];
    const std::size_t B = m_.blocks.size();
    bool ahead = false;  // block i's values were replayed with block i − 1's
    for (std::size_t i = 0; i < B; ++i) {
      const ComposedBlock& b = m_.blocks[i];
      if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
      // For one θ, blocks are replayed two at a time, interleaved op by op: a block's
      // program is mostly one chain of dependent multiply-adds, and two independent
      // chains side by side take little more than one. Each block's ops run in their
      // own order (results are bit-identical); block i + 1's are only computed before
      // block i is solved, which they do not depend on. Even blocks go to values_'s
      // first part, odd ones to the rest (its sizes are the largest of each). A block
      // with a dense part is replayed alone: the solves follow how its part was
      // computed. A batch already has 8 θ side by side.
      current_values_ = part(i);
      if (ahead) {
        ahead = false;
        dense_now_ = false;
      } else if (W == 1 && i + 1 < B && !dense_candidate(*b.trace) && !dense_candidate(*m_.blocks[i + 1].trace)) {
        replay_pair(*b.trace, part(i), *m_.blocks[i + 1].trace, part(i + 1));
        ahead = true;
      } else {
        replay(*b.trace, part(i));
      }
      for (std::size_t g = 0; g + 1 < group_ends_.size(); ++g) {
        const SolveSpec* group = solves_.data() + group_ends_[g];
        const std::size_t count = group_ends_[g + 1] - group_ends_[g];
        if constexpr (W == 1) {
          switch (count) {
            case 1: solve(b, group[0]); break;
            case 2: solve_group<2>(b, group); break;
            case 3: solve_group<3>(b, group); break;
            default: solve_group<kGroup>(b, group); break;
          }
        } else {
          solve(b, group[0]);
        }
      }
    }
    for (std::uint32_t l = 0; l < W; ++l) collect(l, out[l]);
  }

 private:
  // One solve x := U (reward ∘ previous) on a block; reward kOnes is the all-ones
  // reward of the second arithmetic, previous kNone means 1.
  static constexpr std::uint32_t kOnes = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  struct SolveSpec {
    std::uint32_t reward;
    std::size_t previous, out;  // solution numbers
  };
  // Solves of one group are independent of each other (a solve reads only its own x
  // at the exits and a solution of an earlier group), so one θ runs up to kGroup of
  // them side by side: each keeps its own operations in its own order (results are
  // bit-identical), but their dependency chains interleave, so the latency of one
  // multiply-add chain hides behind the others'. A batch already has 8 θ side by side.
  static constexpr std::size_t kGroup = 4;

  // Groups of independent solves, in an order that keeps each reward's previous
  // solution on the block in cache: for each run of G rewards (G = kGroup for one θ,
  // 1 for a batch) moment 1 of each, then moment 2 of each, …; then the absorption
  // time when Safe; then both sides of covariance pairs, G at a time.
  void plan_solves() {
    const std::size_t R = m_.reward_count, K = K_, G = W == 1 ? kGroup : 1;
    group_ends_.push_back(0);
    auto add = [&](SolveSpec spec) {
      if (solves_.size() - group_ends_.back() == G) group_ends_.push_back(solves_.size());
      solves_.push_back(spec);
    };
    auto close = [&] {
      if (solves_.size() > group_ends_.back()) group_ends_.push_back(solves_.size());
    };
    for (std::size_t first = 0; first < R; first += G) {
      const std::size_t last = std::min(R, first + G);
      for (std::size_t k = 1; k <= K; ++k) {
        for (std::size_t r = first; r < last; ++r)
          add({std::uint32_t(r), k == 1 ? kNone : r * K + k - 2, r * K + k - 1});
        close();
      }
    }
    if (Safe) add({kOnes, kNone, time_solution()}), close();
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
      const std::uint32_t a = pairs_[p].first, c = pairs_[p].second;
      add({a, std::size_t(c) * K, R * K + 2 * p});
      add({c, std::size_t(a) * K, R * K + 2 * p + 1});
    }
    close();
  }

  // The most values of any block i with i % step == first: for one θ, even blocks are
  // replayed into values_'s first part and odd ones into the rest, so one very large
  // block (a dense SCC) does not double the scratch.
  // Where block i's values go: for one θ, even blocks in values_'s first part and odd
  // ones in the rest; for a batch, all in one part.
  double* part(std::size_t i) { return values_.data() + (W == 1 && i % 2 == 1 ? block_values_ : 0); }
  static std::uint64_t largest_values(const ModelTrace& m, std::size_t step, std::size_t first) {
    std::uint64_t most = 0;
    for (std::size_t i = first; i < m.blocks.size(); i += step)
      most = std::max<std::uint64_t>(most, m.blocks[i].trace->value_count());
    return most;
  }

  template <class Size>
  static std::uint64_t largest(const ModelTrace& m, Size size) {
    std::uint64_t most = 0;
    for (const ComposedBlock& b : m.blocks) most = std::max<std::uint64_t>(most, size(*b.trace));
    return most;
  }

  const double* reward(std::size_t r) const { return m_.rewards.data() + r * m_.vertex_count; }
  std::size_t time_solution() const { return std::size_t(m_.reward_count) * K_ + 2 * pairs_.size(); }
  std::size_t solution_count() const { return time_solution() + (Safe ? 1 : 0); }
  double scale(std::size_t r) const { return scales_.empty() ? 1.0 : scales_[r]; }
  double* solution(std::size_t s) { return solutions_.data() + s * m_.vertex_count * W; }

  // A block's DOT values: constants plus θ-linear combinations (no chain).
  void replay_dots(const BlockTrace& t, double* v) {
    const std::uint32_t P = m_.param_count, S = P + 1;
    for (std::uint32_t d = 0; d < t.dot_count; ++d) {
      const double* c = t.dot_coeffs.data() + std::size_t(d) * S;
      double acc[W];
      for (std::uint32_t l = 0; l < W; ++l) acc[l] = c[0];
      for (std::uint32_t i = 0; i < P; ++i) {
        if (c[i + 1] == 0) continue;
        for (std::uint32_t l = 0; l < W; ++l) acc[l] += c[i + 1] * theta_[std::size_t(i) * W + l];
      }
      for (std::uint32_t l = 0; l < W; ++l) v[std::size_t(d) * W + l] = acc[l];
    }
  }

  // One program op into `out`; `overflowed` records an Inv of +∞ (see refuse_overflow).
  static inline void replay_op(const Op& op, const double* v, double* out, bool& overflowed) {
    const double* a = v + std::size_t(op.a) * W;
    const double* b = v + std::size_t(op.b) * W;
    const double* c = v + std::size_t(op.c) * W;
    if (op.code == OpCode::MulAdd) [[likely]] {
      mul_add<W, Safe>(out, a, b, c);
    } else if (op.code == OpCode::Inv) {
      for (std::uint32_t l = 0; l < W; ++l) {
        out[l] = 1.0 / a[l];
        overflowed |= a[l] == std::numeric_limits<double>::infinity();
      }
    } else if (op.code == OpCode::Add) {
      for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] + b[l];
    } else {
      for (std::uint32_t l = 0; l < W; ++l) out[l] = times<Safe>(a[l], b[l]);
    }
  }

  // An Inv reads a total rate λ, a sum of rates that are finite at finite θ; λ = +∞
  // means a rate or the sum overflowed a double. 1/λ = 0 would then make the state's
  // sojourn and every way out of it probability 0, and the moments a finite wrong
  // number (E[T] = 0 where it is 1), so such a θ is refused.
  static void refuse_overflow(bool overflowed) {
    if (overflowed)
      throw InvalidArgument(
          "a transition rate, or the total rate out of a state, overflows a double at these parameters");
  }

  // ops[begin .. end) of the program into v; true when an Inv read λ = +∞.
  static bool replay_ops(const BlockTrace& t, double* v, std::size_t begin, std::size_t end) {
    double* out = v + (std::size_t(t.dot_count) + begin) * W;
    bool overflowed = false;
    for (std::size_t i = begin; i < end; ++i, out += W) replay_op(t.ops[i], v, out, overflowed);
    return overflowed;
  }

  // Whether the block's filled-in part is to be factored densely
  // (dense_block_evaluation.hpp) rather than replayed, before its λ are known.
  static bool dense_candidate(const BlockTrace& t) { return !Safe && evaluate_densely(t.dense, W); }

  // A block's values into v. A filled-in part is factored densely instead of replayed
  // when it is large enough and every λ of it is positive and finite; its recorded ops
  // are replayed otherwise, and the solves follow what was done (dense_now_).
  void replay(const BlockTrace& t, double* v) {
    replay_dots(t, v);
    dense_now_ = dense_candidate(t);
    const std::size_t dense_begin = dense_now_ ? t.dense.first_op : t.ops.size();
    bool overflowed = replay_ops(t, v, 0, dense_begin);
    if (dense_now_)
      dense_now_ = factor_dense<W>(t.dense, v, dense_matrix_.data(), dense_inverse_.data(), dense_extent_.data());
    if (!dense_now_) overflowed |= replay_ops(t, v, dense_begin, t.ops.size());
    refuse_overflow(overflowed);
  }

  // replay() of two blocks with no dense part, into v and u, their ops interleaved one
  // by one (each block's in its own order).
  void replay_pair(const BlockTrace& first, double* v, const BlockTrace& second, double* u) {
    replay_dots(first, v);
    replay_dots(second, u);
    double* out_v = v + std::size_t(first.dot_count) * W;
    double* out_u = u + std::size_t(second.dot_count) * W;
    const Op* p = first.ops.data();
    const Op* const p_end = p + first.ops.size();
    const Op* q = second.ops.data();
    const Op* const q_end = q + second.ops.size();
    bool overflowed = false;
    for (; p < p_end && q < q_end; ++p, ++q, out_v += W, out_u += W) {
      replay_op(*p, v, out_v, overflowed);
      replay_op(*q, u, out_u, overflowed);
    }
    for (; p < p_end; ++p, out_v += W) replay_op(*p, v, out_v, overflowed);
    for (; q < q_end; ++q, out_u += W) replay_op(*q, u, out_u, overflowed);
    refuse_overflow(overflowed);
    dense_now_ = false;
  }

  // The dense part's forward and back substitution on the entries offset + l
  // (l < W) of each vertex's stride in y, gathered into contiguous positions.
  void solve_dense_part(const BlockTrace& t, double* y, std::size_t stride, std::size_t offset) {
    const std::uint32_t r = t.dense.size;
    double* d = dense_y_.data();
    for (std::uint32_t p = 0; p < r; ++p)
      copy_lanes<W>(d + std::size_t(p) * W, y + std::size_t(t.dense.order[p]) * stride + offset);
    solve_dense<W>(r, dense_matrix_.data(), dense_inverse_.data(), dense_extent_.data(), d);
    for (std::uint32_t p = 0; p < r; ++p)
      copy_lanes<W>(y + std::size_t(t.dense.order[p]) * stride + offset, d + std::size_t(p) * W);
  }
  std::size_t forward_end(const BlockTrace& t) const { return dense_now_ ? t.dense.first_forward : t.forward.size(); }
  std::size_t first_solve(const BlockTrace& t) const { return dense_now_ ? t.dense.size : 0; }
  std::uint64_t first_term(const BlockTrace& t) const { return dense_now_ ? t.solve[t.dense.size - 1].term_end : 0; }

  // x := U g on the block's vertices, with g = reward ∘ previous (previous = 1 when null)
  // and exits read from x itself.
  void solve(const ComposedBlock& b, const SolveSpec& spec) {
    solve(b, spec.reward == kOnes ? ones_.data() : reward(spec.reward), spec.reward == kOnes ? 1.0 : scale(spec.reward),
          spec.previous == kNone ? nullptr : solution(spec.previous), solution(spec.out));
  }
  void solve(const ComposedBlock& b, const double* reward, double scale, const double* previous, double* x) {
    const BlockTrace& t = *b.trace;
    const double* v = current_values_;
    double* y = y_.data();
    const std::uint32_t n = t.vertex_count;
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::size_t g = b.vertices[i];
      for (std::uint32_t l = 0; l < W; ++l)
        y[std::size_t(i) * W + l] = previous ? times<Safe>(reward[g] * scale, previous[g * W + l]) : reward[g] * scale;
    }
    for (std::uint32_t s = 0; s < t.exit_count; ++s)
      copy_lanes<W>(y + (std::size_t(n) + s) * W, x + std::size_t(b.exits[s]) * W);
    const std::size_t forward_count = forward_end(t), solve_begin = first_solve(t);
    for (std::size_t i = 0; i < forward_count; ++i) {
      const ForwardCommand& f = t.forward[i];
      accumulate<W, Safe>(y + std::size_t(f.target) * W, v + std::size_t(f.multiplier) * W,
                          y + std::size_t(f.source) * W);
    }
    if (dense_now_) solve_dense_part(t, y, W, 0);
    std::uint64_t k = first_term(t);
    if constexpr (W % 2 == 0 && !Safe) {
      // The same lane operations in pairs of lanes, written out: GCC vectorized the
      // scalar form below only in some inlining contexts (scalar, a batch took ≈ 40 %
      // longer on SFS n = 30).
      constexpr std::uint32_t H = W / 2;
      for (std::size_t i = solve_begin; i < t.solve.size(); ++i) {
        const SolveCommand& s = t.solve[i];
        Pair acc[H];  // never address-taken, so it stays in registers
        double* xv = y + std::size_t(s.vertex) * W;
        for (std::uint32_t h = 0; h < H; ++h) acc[h] = load_pair(xv + 2 * h);
        for (; k < s.term_end; ++k) {
          const double* w = v + std::size_t(t.terms[k].weight) * W;
          const double* z = y + std::size_t(t.terms[k].target) * W;
          for (std::uint32_t h = 0; h < H; ++h) acc[h] += load_pair(w + 2 * h) * load_pair(z + 2 * h);
        }
        const double* inv = v + std::size_t(s.inverse_rate) * W;
        for (std::uint32_t h = 0; h < H; ++h) store_pair(xv + 2 * h, acc[h] * load_pair(inv + 2 * h));
      }
    } else {
      for (std::size_t i = solve_begin; i < t.solve.size(); ++i) {
        const SolveCommand& s = t.solve[i];
        double acc[W];
        double* xv = y + std::size_t(s.vertex) * W;
        for (std::uint32_t l = 0; l < W; ++l) acc[l] = xv[l];
        for (; k < s.term_end; ++k) {
          // acc stays a local array (its address never escapes), so it lives in registers.
          accumulate<W, Safe>(acc, v + std::size_t(t.terms[k].weight) * W, y + std::size_t(t.terms[k].target) * W);
        }
        const double* inv = v + std::size_t(s.inverse_rate) * W;
        for (std::uint32_t l = 0; l < W; ++l) xv[l] = times<Safe>(acc[l], inv[l]);
      }
    }
    for (std::uint32_t i = 0; i < n; ++i) copy_lanes<W>(x + std::size_t(b.vertices[i]) * W, y + std::size_t(i) * W);
  }

  // solve() for G solves of one θ side by side: y holds G entries per slot,
  // y[slot·G + j], and each solve j does exactly what solve() does for it.
  template <std::size_t G>
  void solve_group(const ComposedBlock& b, const SolveSpec* specs) {
    static_assert(W == 1, "solves run side by side only for one θ");
    constexpr std::size_t L = G * W;  // entries per slot of y
    const BlockTrace& t = *b.trace;
    const double* v = current_values_;
    double* y = y_.data();
    const std::uint32_t n = t.vertex_count;
    const double* reward[G];
    const double* previous[G];
    double* x[G];
    double factor[G];
    for (std::size_t j = 0; j < G; ++j) {
      const SolveSpec& s = specs[j];
      reward[j] = s.reward == kOnes ? ones_.data() : this->reward(s.reward);
      factor[j] = s.reward == kOnes ? 1.0 : scale(s.reward);
      previous[j] = s.previous == kNone ? nullptr : solution(s.previous);
      x[j] = solution(s.out);
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::size_t g = b.vertices[i];
      for (std::size_t j = 0; j < G; ++j)
        for (std::uint32_t l = 0; l < W; ++l)
          y[std::size_t(i) * L + j * W + l] = previous[j]
                                                  ? times<Safe>(reward[j][g] * factor[j], previous[j][g * W + l])
                                                  : reward[j][g] * factor[j];
    }
    for (std::uint32_t s = 0; s < t.exit_count; ++s)
      for (std::size_t j = 0; j < G; ++j)
        for (std::uint32_t l = 0; l < W; ++l)
          y[(std::size_t(n) + s) * L + j * W + l] = x[j][std::size_t(b.exits[s]) * W + l];
    const std::size_t forward_count = forward_end(t), solve_begin = first_solve(t);
    for (std::size_t i = 0; i < forward_count; ++i) {
      const ForwardCommand& f = t.forward[i];
      double* __restrict target = y + std::size_t(f.target) * L;
      const double* __restrict source = y + std::size_t(f.source) * L;
      const double* __restrict w = v + std::size_t(f.multiplier) * W;
      for (std::size_t j = 0; j < G; ++j) accumulate<W, Safe>(target + j * W, w, source + j * W);
    }
    if (dense_now_)
      for (std::size_t j = 0; j < G; ++j) solve_dense_part(t, y, L, j * W);
    std::uint64_t k = first_term(t);
    for (std::size_t i = solve_begin; i < t.solve.size(); ++i) {
      const SolveCommand& s = t.solve[i];
      double acc[L];
      double* xv = y + std::size_t(s.vertex) * L;
      for (std::size_t e = 0; e < L; ++e) acc[e] = xv[e];
      for (; k < s.term_end; ++k) {
        // acc stays a local array (its address never escapes), so it lives in registers.
        const double* __restrict w = v + std::size_t(t.terms[k].weight) * W;
        const double* __restrict z = y + std::size_t(t.terms[k].target) * L;
        for (std::size_t j = 0; j < G; ++j)
          for (std::uint32_t l = 0; l < W; ++l) acc[j * W + l] += times<Safe>(w[l], z[j * W + l]);
      }
      const double* inv = v + std::size_t(s.inverse_rate) * W;
      for (std::size_t j = 0; j < G; ++j)
        for (std::uint32_t l = 0; l < W; ++l) xv[j * W + l] = times<Safe>(acc[j * W + l], inv[l]);
    }
    for (std::uint32_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < G; ++j)
        for (std::uint32_t l = 0; l < W; ++l)
          x[j][std::size_t(b.vertices[i]) * W + l] = y[std::size_t(i) * L + j * W + l];
  }

  // Σ_z α_z x[z] in lane l.
  double start_sum(std::size_t s, std::uint32_t l) {
    const double* x = solution(s);
    double sum = 0;
    for (std::size_t e = 0; e < m_.start_target.size(); ++e)
      sum += times<Safe>(m_.start_probability[e], x[std::size_t(m_.start_target[e]) * W + l]);
    return sum;
  }

  // With a reward scaled by s = 1/c, its solves give the moments of R/c: raw moments,
  // the variance and covariances are computed on that scale and multiplied back by
  // powers of c, so a value overflows only when it is itself beyond the largest double.
  void collect(std::uint32_t l, Moments& o) {
    const std::size_t R = m_.reward_count, K = K_;
    o.reward_count = m_.reward_count;
    o.moment_count = K_;
    o.raw.resize(R * K);
    double* scaled = scaled_.data();
    for (std::size_t r = 0; r < R; ++r) {
      double factorial = 1;
      for (std::size_t k = 1; k <= K; ++k) {
        factorial *= double(k);
        scaled[r * K + k - 1] = factorial * start_sum(r * K + k - 1, l);
        double value = scaled[r * K + k - 1];
        for (std::size_t i = 0; i < k && scale(r) != 1.0; ++i) value /= scale(r);
        o.raw[r * K + k - 1] = value;
      }
    }
    o.variance.clear();
    if (K >= 2)
      for (std::size_t r = 0; r < R; ++r)
        o.variance.push_back(variance_of(scaled[r * K], scaled[r * K + 1]) / scale(r) / scale(r));
    o.covariance.resize(pairs_.size());
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
      const std::uint32_t a = pairs_[p].first, b = pairs_[p].second;
      const double cross = start_sum(R * K + 2 * p, l) + start_sum(R * K + 2 * p + 1, l);
      o.covariance[p] = covariance_of(cross, scaled[a * K], scaled[b * K]) / scale(a) / scale(b);
    }
    o.absorption_certain = true;
    if constexpr (Safe) {
      o.absorption_certain = std::isfinite(start_sum(time_solution(), l));
      if (!o.absorption_certain) undetermined(o);
    }
  }

  // Absorption is not certain: some state the process reaches with positive
  // probability cannot reach absorption at θ. A reward that is positive in every state
  // then accumulates without end with positive probability, so its moments are +∞ (the
  // second arithmetic yields exactly that). For any other reward the elimination's
  // answer is not the expectation: it drops the rate into a state that is never left
  // from λ of the state before it, as if that jump were never taken. Those moments,
  // and every covariance (a difference of infinities at best), are undefined.
  void undetermined(Moments& o) const {
    const std::size_t K = K_;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::uint32_t r = 0; r < m_.reward_count; ++r) {
      if (positive_everywhere(r)) {
        for (std::size_t k = 0; k < K; ++k) o.raw[r * K + k] = std::numeric_limits<double>::infinity();
        if (K >= 2) o.variance[r] = std::numeric_limits<double>::infinity();
      } else {
        for (std::size_t k = 0; k < K; ++k) o.raw[r * K + k] = nan;
        if (K >= 2) o.variance[r] = nan;
      }
    }
    for (double& c : o.covariance) c = nan;
  }

  bool positive_everywhere(std::uint32_t r) const {
    const double* g = reward(r);
    for (const ComposedBlock& b : m_.blocks)
      for (VertexId v : b.vertices)
        if (!(g[v] > 0)) return false;
    return true;
  }

  const ModelTrace& m_;
  const std::uint32_t K_;
  std::span<const RewardPair> pairs_;
  const std::atomic<bool>* cancel_;
  EvaluationScratch<double> theta_;           // parameter-major, so DOT loops run over lanes
  const std::size_t block_values_;            // where values_'s second part starts (for one θ: odd blocks)
  EvaluationScratch<double> values_;          // one block's program values; for one θ, two blocks'
  const double* current_values_ = nullptr;    // those of the block being solved
  EvaluationScratch<double> y_;               // one block's working vector
  EvaluationScratch<double> solutions_;       // x of every solve: (reward, moment), (pair, side), then time when Safe
  EvaluationScratch<double> ones_;            // the all-ones reward when Safe
  EvaluationScratch<double> scaled_;          // one θ's raw moments on the rewards' scales
  EvaluationVector<double> scales_;           // per reward when rescaled (else empty: all 1)
  EvaluationVector<SolveSpec> solves_;        // every solve of a block, in order
  EvaluationVector<std::size_t> group_ends_;  // group g is solves_[group_ends_[g] .. group_ends_[g + 1])
  // The dense path (dense_block_evaluation.hpp): the largest dense part it takes, and
  // the current block's factors; dense_now_ says whether the current block took it.
  const std::uint64_t dense_size_;
  EvaluationScratch<double> dense_matrix_;
  EvaluationScratch<double> dense_inverse_;
  EvaluationScratch<double> dense_y_;
  EvaluationScratch<std::uint32_t> dense_extent_;
  bool dense_now_ = false;

 public:
  void set_scales(EvaluationVector<double> scales) { scales_ = std::move(scales); }
};

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
  std::vector<bool> reward_out(m.reward_count);
  for (std::uint32_t r = 0; r < m.reward_count; ++r) reward_out[r] = subnormal(out.moment(r, 1));
  for (std::size_t p = 0; p < pairs.size(); ++p)
    if (covariance_below_range(out, pairs, p)) out.covariance[p] = nan;
  for (std::uint32_t r = 0; r < m.reward_count; ++r) {
    const double mean = out.moment(r, 1);
    for (std::uint32_t k = 1; k <= out.moment_count; ++k) {
      double& value = out.raw[std::size_t(r) * out.moment_count + k - 1];
      if (reward_out[r] || (mean >= kSmallestNormal && value < kSmallestNormal)) value = nan;
    }
    if (!out.variance.empty() && (reward_out[r] || (mean >= kSmallestNormal && out.variance[r] < kSmallestNormal)))
      out.variance[r] = nan;
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
  MomentSession<1>(m, moment_count, pairs, cancel).run(theta.data(), &out);
  if (!in_range(out, pairs)) {
    MomentSession<1, true> exact(m, moment_count, pairs, cancel);
    evaluate_exactly(exact, m, theta.data(), pairs, out);
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
    MomentSession<kBatchLanes> lanes(m, moment_count, pairs, cancel);
    for (; done + kBatchLanes <= count; done += kBatchLanes) lanes.run(thetas.data() + done * P, out.data() + done);
  }
  if (done < count) {
    MomentSession<1> single(m, moment_count, pairs, cancel);
    for (; done < count; ++done) single.run(thetas.data() + done * P, out.data() + done);
  }
  // θ vectors whose fast result is not finite or underflowed are evaluated again one at
  // a time, as evaluate() does, so batch and single results stay identical.
  std::uint32_t first_unfinished = 0;
  while (first_unfinished < count && in_range(out[first_unfinished], pairs)) ++first_unfinished;
  if (first_unfinished < count) {
    MomentSession<1, true> safe(m, moment_count, pairs, cancel);
    for (std::uint32_t i = first_unfinished; i < count; ++i)
      if (!in_range(out[i], pairs)) evaluate_exactly(safe, m, thetas.data() + i * P, pairs, out[i]);
  }
  return out;
}

}  // namespace phasic
