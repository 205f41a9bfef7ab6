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
// Lanes. Solves of the same moment k for every reward run together, R values per
// slot (slot·R + r), and so do the chains i ≥ 1: one pass over a block's commands
// serves every reward. Chain 0 is α for every reward, so it is swept once.
#include "trace/gradient.hpp"

#include <algorithm>
#include <array>
#include <cfenv>
#include <cmath>
#include <limits>
#include <string>

#include "base/error.hpp"
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

// to[l] += by·from[l] for l < n (n = Fixed when Fixed > 0). The arrays never overlap
// (distinct program values, slots or scratch arrays), which __restrict tells the
// compiler so that the loop vectorizes.
template <std::size_t Fixed = 0>
inline void add_scaled(double* __restrict to, double by, const double* __restrict from, std::size_t n = Fixed) {
  for (std::size_t l = 0; l < (Fixed ? Fixed : n); ++l) to[l] += by * from[l];
}

// to[l] += by[l]·from[l] for l < n, likewise.
template <std::size_t Fixed = 0>
inline void multiply_add(double* __restrict to, const double* __restrict by, const double* __restrict from,
                         std::size_t n = Fixed) {
  for (std::size_t l = 0; l < (Fixed ? Fixed : n); ++l) to[l] += by[l] * from[l];
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

// Outputs, in the order of the adjoints per program value: moment k of reward r at
// (k−1)·R + r (so a chain's contraction with the solves of every reward is one run of
// R adjacent entries), then the cross moment of pair p at R·K + p.
class GradientSession {
 public:
  GradientSession(const ModelTrace& m, std::uint32_t moment_count, std::span<const RewardPair> pairs,
                  const std::atomic<bool>* cancel, GradientWay way)
      : m_(m),
        way_(way),
        pairs_(pairs),
        K_(moment_count),
        R_(m.reward_count),
        N_(pairs.size()),
        Q_(2 * pairs.size()),
        RK_(std::size_t(m.reward_count) * moment_count),
        O_(RK_ + N_),
        P_(m.param_count),
        C_(std::max<std::size_t>(moment_count, pairs.empty() ? 1 : 2)),
        V_(m.vertex_count),
        cancel_(cancel),
        block_values_(largest(m, [](const BlockTrace& t) { return t.value_count(); })),
        block_slots_(largest(m, [](const BlockTrace& t) { return std::uint64_t(t.vertex_count) + t.exit_count; })),
        keep_all_values_(total_values(m) <= kMaxKeptValues),
        layout_{{
            keep_all_values_ ? 0 : block_values_,                                                   // values_
            keep_all_values_ ? total_values(m) : 0,                                                 // kept_values_
            largest_of(false) * std::max<std::size_t>(O_, 1),                                       // value_adjoints_
            R_ * V_,                                                                                // rewards_
            RK_ * V_,                                                                               // solutions_
            Q_ * V_,                                                                                // pair_solutions_
            kept_solve_size(m, RK_ + Q_),                                                           // kept_solves_
            (1 + (C_ - 1) * R_) * V_,                                                               // adjoints_
            block_slots_ * std::max<std::size_t>({R_, Q_, 1}),                                      // y_
            C_ * block_slots_ * std::max<std::size_t>(R_, 1),                                       // chains_
            2 * std::max<std::size_t>(R_, 1),                                                       // lanes_
            O_ * P_,                                                                                // theta_adjoints_
            largest_of(true) * std::max<std::size_t>(P_, 1),                                        // tangents_
            m.blocks.size(),                                                                        // dense_taken_
            keep_all_values_ ? total_dense_doubles(m) : largest(m, dense_doubles),                  // kept_dense_
            largest(m, [](const BlockTrace& t) { return dense_candidate(t) ? t.dense.size : 0; }),  // dense_y_
            RK_ + Q_,                                                                               // differences_
        }},
        workspace_(workspace_bytes(layout_), Category::Evaluation),
        values_(slice(0)),
        kept_values_(slice(1)),
        value_adjoints_(slice(2)),
        rewards_(slice(3)),
        solutions_(slice(4)),
        pair_solutions_(slice(5)),
        kept_solves_(slice(6)),
        adjoints_(slice(7)),
        y_(slice(8)),
        chains_(slice(9)),
        lanes_(slice(10)),
        theta_adjoints_(slice(11)),
        tangents_(slice(12)),
        dense_taken_(slice(13)),
        kept_dense_(slice(14)),
        dense_y_(slice(15)),
        differences_(slice(16)) {
    for (std::size_t r = 0; r < R_; ++r)
      for (std::size_t v = 0; v < V_; ++v) rewards_[v * R_ + r] = m.rewards[r * V_ + v];
    // The backward pass leaves every value adjoint it consumed at 0 (see
    // ops_backward), so one block's adjoints start at 0 without a fill per block; and
    // they are zeroed only as far as a block reaches (zero_value_adjoints): a block
    // whose dense part goes through its LU uses the values before the part only, and
    // zeroing for all of them (2.7 M values, 86 MB on structured n = 8 d = 5) took
    // half the gradient's time.
    adjoints_zeroed_ = workspace_.fresh() ? value_adjoints_.size() : 0;
  }

  // Fills fast[r·K + k−1] = E[R_r^k] and cross[p] = E[R_a R_b] in IEEE arithmetic, and
  // d[(r·K + k−1)·P + j] = dE[R_r^k]/dθ_j, dcross[p·P + j] = dE[R_a R_b]/dθ_j.
  void run(const double* theta, std::vector<double>& fast, std::vector<double>& cross, std::vector<double>& d,
           std::vector<double>& dcross) {
    theta_ = theta;
    // Absorbing vertices are never written: their x and x̄ stay 0.
    solutions_.zero();
    pair_solutions_.zero();
    adjoints_.zero();
    theta_adjoints_.zero();
    std::size_t kept = 0, kept_solve = 0, kept_dense = 0;
    for (std::size_t bi = 0; bi < m_.blocks.size(); ++bi) {
      const ComposedBlock& b = m_.blocks[bi];
      check_cancel();
      double* values = keep_all_values_ ? kept_values_.data() + kept : values_.data();
      replay(*b.trace, values, keep_all_values_ ? kept_dense : 0);
      dense_taken_[bi] = dense_now_;
      values_at_ = values;
      kept += b.trace->value_count();
      if (keep_all_values_) kept_dense += dense_doubles(*b.trace);
      const Kept keep = kept_at(*b.trace, kept_solve);
      for (std::size_t k = 1; k <= K_; ++k) solve_moment(b, k, keep);
      if (N_) solve_pairs(b, keep);
      kept_solve += kept_solve_size(*b.trace, RK_ + Q_);
    }
    collect(fast, cross);
    // b_0 = α: the adjoint of x_k in E[R^k] = k!·α x_k (k! is applied at the end).
    for (std::size_t e = 0; e < m_.start_target.size(); ++e) adjoints_[m_.start_target[e]] += m_.start_probability[e];
    for (std::size_t bi = m_.blocks.size(); bi-- > 0;) {
      check_cancel();
      const ComposedBlock& b = m_.blocks[bi];
      const BlockTrace& t = *b.trace;
      kept_solve -= kept_solve_size(t, RK_ + Q_);
      if (keep_all_values_) {
        kept -= t.value_count();
        kept_dense -= dense_doubles(t);
        values_at_ = kept_values_.data() + kept;
        dense_now_ = dense_taken_[bi] != 0;
        if (dense_now_) dense_factors_at(t, kept_dense);
      } else {
        values_at_ = values_.data();
        replay(t, values_.data(), 0);
      }
      const Kept keep = kept_at(t, kept_solve);
      if (use_tangents(t)) {
        switch (P_) {
          case 1: tangent_replay<1>(t); break;
          case 2: tangent_replay<2>(t); break;
          case 3: tangent_replay<3>(t); break;
          default: tangent_replay<0>(t);
        }
        chains<true>(b, keep);
      } else {
        zero_value_adjoints(std::size_t(t.dot_count) + op_end(t));
        chains<false>(b, keep);
        program_adjoint(t);
      }
    }
    d.assign(RK_ * P_, 0.0);
    for (std::size_t r = 0; r < R_; ++r) {
      double factorial = 1;
      for (std::size_t k = 1; k <= K_; ++k) {
        factorial *= double(k);
        const std::size_t o = (k - 1) * R_ + r;
        for (std::size_t p = 0; p < P_; ++p) d[(r * K_ + k - 1) * P_ + p] = factorial * theta_adjoints_[o * P_ + p];
      }
    }
    dcross.assign(theta_adjoints_.data() + RK_ * P_, theta_adjoints_.data() + O_ * P_);
  }

 private:
  // One block's forward values of every solve, kept for the backward pass: per slot
  // (vertex, then exit) y after the forward commands (pre) and at the end (fin), per
  // vertex its sum before the multiplication by its inverse rate (acc); R·K entries
  // per slot for the moments ([k−1][r]), then 2 per pair (side 0: r_a ∘ x_1 of b,
  // side 1: r_b ∘ x_1 of a).
  struct Kept {
    double *pre, *fin, *acc, *pair_pre, *pair_fin, *pair_acc;
  };
  static std::uint64_t kept_solve_size(const BlockTrace& t, std::size_t width) {
    return (2 * (std::uint64_t(t.vertex_count) + t.exit_count) + t.vertex_count) * width;
  }
  static std::uint64_t kept_solve_size(const ModelTrace& m, std::size_t width) {
    std::uint64_t total = 0;
    for (const ComposedBlock& b : m.blocks) total += kept_solve_size(*b.trace, width);
    return total;
  }
  Kept kept_at(const BlockTrace& t, std::size_t offset) {
    const std::size_t slots = std::size_t(t.vertex_count) + t.exit_count, n = t.vertex_count;
    double* p = kept_solves_.data() + offset;
    Kept k;
    k.pre = p, p += slots * RK_;
    k.fin = p, p += slots * RK_;
    k.acc = p, p += n * RK_;
    k.pair_pre = p, p += slots * Q_;
    k.pair_fin = p, p += slots * Q_;
    k.pair_acc = p;
    return k;
  }

  void check_cancel() const {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
  }
  // x_k of every reward, R per vertex.
  double* solution(std::size_t k) { return solutions_.data() + (k - 1) * R_ * V_; }
  // x̄ of chain 0 (one per vertex) and of chain i ≥ 1 (R per vertex).
  double* adjoint(std::size_t i) { return adjoints_.data() + (i == 0 ? 0 : (1 + (i - 1) * R_) * V_); }
  // ȳ of chain i on the current block: block_slots_ per chain, R per slot for i ≥ 1.
  double* chain_slots(std::size_t i) { return chains_.data() + i * block_slots_ * std::max<std::size_t>(R_, 1); }

  // A block's values into v. A dense part (dense_block_evaluation.hpp) is factored
  // densely into kept_dense_ at `dense_offset` instead of replayed, unless some λ of it
  // is not positive and finite: then its ops are replayed and the block goes through
  // its recorded commands like any other (dense_now_ says which).
  void replay(const BlockTrace& t, double* v, std::size_t dense_offset) {
    const std::uint32_t S = P_ + 1;
    for (std::uint32_t d = 0; d < t.dot_count; ++d) {
      const double* c = t.dot_coeffs.data() + std::size_t(d) * S;
      double acc = c[0];
      for (std::uint32_t i = 0; i < P_; ++i)
        if (c[i + 1] != 0) acc += c[i + 1] * theta_[i];
      v[d] = acc;
    }
    dense_now_ = dense_candidate(t);
    const std::size_t dense_begin = dense_now_ ? t.dense.first_op : t.ops.size();
    replay_ops(t, v, 0, dense_begin);
    if (dense_now_) {
      dense_factors_at(t, dense_offset);
      dense_now_ = factor_dense<1>(t.dense, v, dense_matrix_, dense_inverse_, dense_extent_);
    }
    if (!dense_now_) replay_ops(t, v, dense_begin, t.ops.size());
  }

  // The O adjoints of the first `values` program values are 0.
  void zero_value_adjoints(std::size_t values) {
    const std::size_t entries = values * O_;
    if (entries <= adjoints_zeroed_) return;
    std::fill(value_adjoints_.data() + adjoints_zeroed_, value_adjoints_.data() + entries, 0.0);
    adjoints_zeroed_ = entries;
  }

  void dense_factors_at(const BlockTrace& t, std::size_t offset) {
    dense_matrix_ = kept_dense_.data() + offset;
    dense_inverse_ = dense_matrix_ + dense_matrix_doubles(t.dense.size);
    dense_extent_ = reinterpret_cast<std::uint32_t*>(dense_inverse_ + t.dense.size);
  }

  // The commands the dense part leaves to the recorded form: forward commands before
  // its own, solve commands after its own (and their terms), ops before its own.
  std::size_t forward_end(const BlockTrace& t) const { return dense_now_ ? t.dense.first_forward : t.forward.size(); }
  std::size_t solve_begin(const BlockTrace& t) const { return dense_now_ ? t.dense.size : 0; }
  std::uint64_t first_term(const BlockTrace& t) const { return dense_now_ ? t.solve[t.dense.size - 1].term_end : 0; }
  std::size_t op_end(const BlockTrace& t) const { return dense_now_ ? t.dense.first_op : t.ops.size(); }

  // Lane l of y (`width` per slot) through the dense part, gathered by position: its
  // solve (forward pass), or the transposed solve of its adjoint (backward pass).
  void dense_lane(const BlockTrace& t, double* y, std::size_t width, std::size_t l, bool transposed) {
    const std::uint32_t r = t.dense.size;
    double* d = dense_y_.data();
    for (std::uint32_t p = 0; p < r; ++p) d[p] = y[std::size_t(t.dense.order[p]) * width + l];
    if (transposed)
      transpose_solve_dense(r, dense_matrix_, dense_inverse_, dense_extent_, d);
    else
      solve_dense<1>(r, dense_matrix_, dense_inverse_, dense_extent_, d);
    for (std::uint32_t p = 0; p < r; ++p) y[std::size_t(t.dense.order[p]) * width + l] = d[p];
  }

  // z_q − z_p (z_q = 0 for the leave column q = r) of every solve at the hand-over
  // entry e, from the kept final values: into differences_, RK moment entries, then Q
  // pair entries when `with_pairs`.
  const double* entry_differences(const BlockTrace& t, const Kept& keep, const DenseEntry& e, bool with_pairs) {
    double* diff = differences_.data();
    const std::size_t RK = RK_, Q = Q_;
    const std::size_t vp = t.dense.order[e.row];
    const double* fp = keep.fin + vp * RK;
    if (e.column < t.dense.size) {
      const double* fq = keep.fin + std::size_t(t.dense.order[e.column]) * RK;
      for (std::size_t o = 0; o < RK; ++o) diff[o] = fq[o] - fp[o];
    } else {
      for (std::size_t o = 0; o < RK; ++o) diff[o] = -fp[o];
    }
    if (with_pairs) {
      const double* pp = keep.pair_fin + vp * Q;
      double* pdiff = diff + RK;
      if (e.column < t.dense.size) {
        const double* pq = keep.pair_fin + std::size_t(t.dense.order[e.column]) * Q;
        for (std::size_t j = 0; j < Q; ++j) pdiff[j] = pq[j] - pp[j];
      } else {
        for (std::size_t j = 0; j < Q; ++j) pdiff[j] = -pp[j];
      }
    }
    return diff;
  }

  void replay_ops(const BlockTrace& t, double* v, std::size_t begin, std::size_t end) {
    double* out = v + t.dot_count + begin;
    for (std::size_t i = begin; i < end; ++i) {
      const Op& op = t.ops[i];
      if (op.code == OpCode::MulAdd) [[likely]] {
        *out = v[op.a] + v[op.b] * v[op.c];
      } else if (op.code == OpCode::Inv) {
        *out = 1.0 / v[op.a];
      } else if (op.code == OpCode::Add) {
        *out = v[op.a] + v[op.b];
      } else {
        *out = v[op.a] * v[op.b];
      }
      ++out;
    }
  }

  // x_k = U(r ∘ x_(k−1)) on the block for every reward at once.
  void solve_moment(const ComposedBlock& b, std::size_t k, const Kept& keep) {
    const BlockTrace& t = *b.trace;
    double* y = y_.data();
    const std::size_t R = R_;
    const double* previous = k == 1 ? nullptr : solution(k - 1);
    for (std::uint32_t l = 0; l < t.vertex_count; ++l) {
      const std::size_t v = b.vertices[l];
      for (std::size_t r = 0; r < R; ++r)
        y[l * R + r] = previous ? rewards_[v * R + r] * previous[v * R + r] : rewards_[v * R + r];
    }
    const std::size_t offset = (k - 1) * R;
    switch (R) {
      case 1: solve_lanes<1>(b, R, solution(k), keep.pre + offset, keep.fin + offset, keep.acc + offset, RK_); break;
      case 2: solve_lanes<2>(b, R, solution(k), keep.pre + offset, keep.fin + offset, keep.acc + offset, RK_); break;
      case 3: solve_lanes<3>(b, R, solution(k), keep.pre + offset, keep.fin + offset, keep.acc + offset, RK_); break;
      case 4: solve_lanes<4>(b, R, solution(k), keep.pre + offset, keep.fin + offset, keep.acc + offset, RK_); break;
      default: solve_lanes<0>(b, R, solution(k), keep.pre + offset, keep.fin + offset, keep.acc + offset, RK_);
    }
  }

  // The cross-moment solves U(r_a ∘ x_1 of b) and U(r_b ∘ x_1 of a) of every pair.
  void solve_pairs(const ComposedBlock& b, const Kept& keep) {
    const BlockTrace& t = *b.trace;
    double* y = y_.data();
    const std::size_t R = R_, Q = Q_;
    const double* x1 = solution(1);
    for (std::uint32_t l = 0; l < t.vertex_count; ++l) {
      const std::size_t v = b.vertices[l];
      for (std::size_t p = 0; p < N_; ++p) {
        const std::size_t a = pairs_[p].first, c = pairs_[p].second;
        y[l * Q + 2 * p] = rewards_[v * R + a] * x1[v * R + c];
        y[l * Q + 2 * p + 1] = rewards_[v * R + c] * x1[v * R + a];
      }
    }
    solve_lanes<0>(b, Q, pair_solutions_.data(), keep.pair_pre, keep.pair_fin, keep.pair_acc, Q);
  }

  // y (W lanes per slot, vertices loaded with the right-hand side) := U y on the
  // block, exits read from x; writes x at the block's vertices and keeps pre, fin and
  // acc at lane 0 of `stride` entries per slot.
  template <std::size_t Fixed>
  void solve_lanes(const ComposedBlock& b, std::size_t width, double* x, double* pre, double* fin, double* acc,
                   std::size_t stride) {
    const BlockTrace& t = *b.trace;
    const std::size_t W = Fixed ? Fixed : width;
    const std::uint32_t n = t.vertex_count, slots = n + t.exit_count;
    double* y = y_.data();
    const double* val = values_at_;
    for (std::uint32_t s = 0; s < t.exit_count; ++s)
      for (std::size_t l = 0; l < W; ++l) y[(n + s) * W + l] = x[std::size_t(b.exits[s]) * W + l];
    const std::size_t forward_count = forward_end(t);
    for (std::size_t i = 0; i < forward_count; ++i) {
      const ForwardCommand& f = t.forward[i];
      const double m = val[f.multiplier];
      double* __restrict target = y + std::size_t(f.target) * W;
      const double* __restrict source = y + std::size_t(f.source) * W;
      for (std::size_t l = 0; l < W; ++l) target[l] += m * source[l];
    }
    // pre and acc of the dense part's vertices are what its commands would read: left
    // unread when the part is solved densely (its adjoint needs fin only).
    for (std::uint32_t s = 0; s < slots; ++s)
      for (std::size_t l = 0; l < W; ++l) pre[s * stride + l] = y[s * W + l];
    if (dense_now_)
      for (std::size_t l = 0; l < W; ++l) dense_lane(t, y, W, l, false);
    std::uint64_t k = first_term(t);
    for (std::size_t c = solve_begin(t), end = t.solve.size(); c < end; ++c) {
      const SolveCommand& s = t.solve[c];
      double sum[Fixed ? Fixed : 1];
      double* xv = y + std::size_t(s.vertex) * W;
      double* keep = acc + std::size_t(s.vertex) * stride;
      if constexpr (Fixed != 0) {
        for (std::size_t l = 0; l < W; ++l) sum[l] = xv[l];
        for (; k < s.term_end; ++k) {
          const double w = val[t.terms[k].weight];
          const double* __restrict z = y + std::size_t(t.terms[k].target) * W;
          for (std::size_t l = 0; l < W; ++l) sum[l] += w * z[l];
        }
        const double inv = val[s.inverse_rate];
        for (std::size_t l = 0; l < W; ++l) keep[l] = sum[l], xv[l] = sum[l] * inv;
      } else {
        // The sum accumulates in the slot itself (a run-time width has no registers).
        const std::uint64_t begin = k;
        for (std::size_t l = 0; l < W; ++l) {
          double a = xv[l];
          for (k = begin; k < s.term_end; ++k) a += val[t.terms[k].weight] * y[std::size_t(t.terms[k].target) * W + l];
          keep[l] = a;
        }
        k = s.term_end;
        const double inv = val[s.inverse_rate];
        for (std::size_t l = 0; l < W; ++l) xv[l] = keep[l] * inv;
      }
    }
    for (std::uint32_t s = 0; s < slots; ++s)
      for (std::size_t l = 0; l < W; ++l) fin[s * stride + l] = y[s * W + l];
    for (std::uint32_t i = 0; i < n; ++i)
      for (std::size_t l = 0; l < W; ++l) x[std::size_t(b.vertices[i]) * W + l] = y[i * W + l];
  }

  // A block's program values reach the outputs in one of two ways. Reverse (the
  // default): the chains leave O adjoints on each value a command reads, and the
  // program is run backwards with O adjoints per value. Tangents: the program is run
  // forwards with P derivatives per value (dv/dθ), and each command contracts its O
  // adjoints with its value's tangents straight into θ̄. Reverse costs ≈ O per op and
  // O per command reference, tangents ≈ P per op and O·P per reference: tangents
  // save O − P per op and cost O·(P − 1) more per reference in each chain, counted as
  // at least O because their loops per output have a run-time length and do not
  // vectorize (SFS n = 30, P = 1: 13.4 ms by tangents against 10.6 ms). So dense blocks
  // (many ops per command: structured n=8 d=5 has 36) take tangents, two-locus's
  // (≈ 2 per command) reverse. Only the way a block takes needs its scratch (value
  // adjoints or tangents). The results differ by rounding.
  // The most values of a block that goes the one way (tangents) or the other.
  std::size_t largest_of(bool tangents) const {
    std::size_t most = 0;
    for (const ComposedBlock& b : m_.blocks)
      if (use_tangents(*b.trace) == tangents) most = std::max<std::size_t>(most, b.trace->value_count());
    return most;
  }
  bool use_tangents(const BlockTrace& t) const {
    if (P_ == 0 || way_ == GradientWay::Reverse) return false;
    if (way_ == GradientWay::Tangents) return true;
    if (P_ >= O_) return false;
    // A dense part (when factored densely) leaves its ops out of either way and adds
    // one reference per hand-over entry.
    const bool dense = dense_candidate(t);
    const double ops = double(dense ? t.dense.first_op : t.ops.size()) + t.dot_count;
    double refs = double(t.forward.size()) + double(t.solve.size()) + double(t.terms.size());
    if (dense)
      refs = double(t.dense.first_forward) + double(t.solve.size() - t.dense.size) +
             double(t.terms.size() - t.solve[t.dense.size - 1].term_end) + double(t.dense.entries.size());
    return ops * double(O_ - P_) > refs * double(C_ * O_ * std::max<std::size_t>(P_ - 1, 1));
  }

  template <bool Tangents>
  void chains(const ComposedBlock& b, const Kept& keep) {
    switch (RK_) {
      case 2: chain_zero<2, Tangents>(b, keep); break;
      case 4: chain_zero<4, Tangents>(b, keep); break;
      case 6: chain_zero<6, Tangents>(b, keep); break;
      default: chain_zero<0, Tangents>(b, keep);
    }
    for (std::size_t i = 1; i < C_; ++i) {
      switch (R_) {
        case 1: chain<1, Tangents>(b, keep, i); break;
        case 2: chain<2, Tangents>(b, keep, i); break;
        case 3: chain<3, Tangents>(b, keep, i); break;
        case 4: chain<4, Tangents>(b, keep, i); break;
        default: chain<0, Tangents>(b, keep, i);
      }
    }
  }

  // θ̄[o][p] += adjoint·dv_u/dθ_p (tangent blocks): output o's adjoint of a value a
  // command reads, against that value's tangents tu.
  void to_theta(std::size_t o, double adjoint, const double* tu) {
    double* into = theta_adjoints_.data() + o * P_;
    if (P_ == 2) {
      into[0] += adjoint * tu[0];
      into[1] += adjoint * tu[1];
    } else {
      for (std::size_t p = 0; p < P_; ++p) into[p] += adjoint * tu[p];
    }
  }

  // dv/dθ of every value of the block, P per value: the DOTs' coefficients, then each
  // op's derivative by the chain rule (the values themselves are at values_at_).
  template <std::size_t FixedP>
  void tangent_replay(const BlockTrace& t) {
    const std::size_t P = FixedP ? FixedP : P_;
    const std::uint32_t S = P_ + 1;
    const double* v = values_at_;
    double* T = tangents_.data();
    for (std::uint32_t d = 0; d < t.dot_count; ++d)
      for (std::size_t p = 0; p < P; ++p) T[std::size_t(d) * P + p] = t.dot_coeffs[std::size_t(d) * S + p + 1];
    std::size_t slot = t.dot_count;
    for (std::size_t i = 0, end = op_end(t); i < end; ++i) {
      const Op& op = t.ops[i];
      double* __restrict out = T + slot * P;
      const double* ta = T + std::size_t(op.a) * P;
      const double* tb = T + std::size_t(op.b) * P;
      const double* tc = T + std::size_t(op.c) * P;
      if (op.code == OpCode::MulAdd) [[likely]] {
        const double b = v[op.b], c = v[op.c];
        for (std::size_t p = 0; p < P; ++p) out[p] = ta[p] + tb[p] * c + b * tc[p];
      } else if (op.code == OpCode::Inv) {
        // d(1/a) = −(1/a)² da
        const double w = -(v[slot] * v[slot]);
        for (std::size_t p = 0; p < P; ++p) out[p] = w * ta[p];
      } else if (op.code == OpCode::Add) {
        for (std::size_t p = 0; p < P; ++p) out[p] = ta[p] + tb[p];
      } else {
        const double a = v[op.a], b = v[op.b];
        for (std::size_t p = 0; p < P; ++p) out[p] = ta[p] * b + a * tb[p];
      }
      ++slot;
    }
  }

  // The moments and cross moments from x, in the order evaluate() sums them.
  void collect(std::vector<double>& fast, std::vector<double>& cross) {
    fast.assign(RK_, 0.0);
    for (std::size_t r = 0; r < R_; ++r) {
      double factorial = 1;
      for (std::size_t k = 1; k <= K_; ++k) {
        factorial *= double(k);
        const double* x = solution(k);
        double sum = 0;
        for (std::size_t e = 0; e < m_.start_target.size(); ++e)
          sum += m_.start_probability[e] * x[std::size_t(m_.start_target[e]) * R_ + r];
        fast[r * K_ + k - 1] = factorial * sum;
      }
    }
    cross.assign(N_, 0.0);
    for (std::size_t p = 0; p < N_; ++p) {
      double side[2] = {0, 0};
      for (std::size_t q = 0; q < 2; ++q)
        for (std::size_t e = 0; e < m_.start_target.size(); ++e)
          side[q] += m_.start_probability[e] * pair_solutions_[std::size_t(m_.start_target[e]) * Q_ + 2 * p + q];
      cross[p] = side[0] + side[1];
    }
  }

  // Chain 0 (b_0 = α, the same for every reward) backwards through the block's
  // commands, contracted on the way with every solve into the adjoints of the program
  // values: inv̄ += ȳ_out[v]·acc[v], w̄ += ā[v]·fin[t], m̄ += ḡ[t]·pre[s], for the
  // moment solves (output (k−1)·R + r: chain 0 pairs with every k) and the pairs'
  // (output R·K + p, both sides). Its x̄ on the block is complete here: later blocks
  // have added what they read at their exits. At a forward command ȳ[target] is
  // already final: the target is written by no later forward command and read only by
  // later ones.
  template <std::size_t FixedRK, bool Tangents>
  void chain_zero(const ComposedBlock& b, const Kept& keep) {
    const BlockTrace& t = *b.trace;
    const std::uint32_t n = t.vertex_count;
    double* y = chain_slots(0);
    double* xbar = adjoint(0);
    for (std::uint32_t l = 0; l < n; ++l) y[l] = xbar[b.vertices[l]];
    for (std::uint32_t s = 0; s < t.exit_count; ++s) y[n + s] = 0;
    const double* val = values_at_;
    const std::size_t RK = FixedRK ? FixedRK : RK_, Q = Q_, N = N_;
    auto contract = [&](std::size_t u, double by, const double* moments, const double* pairs) {
      if constexpr (Tangents) {
        const double* tu = tangents_.data() + u * P_;
        for (std::size_t o = 0; o < RK; ++o) to_theta(o, by * moments[o], tu);
        for (std::size_t p = 0; p < N; ++p) to_theta(RK + p, by * (pairs[2 * p] + pairs[2 * p + 1]), tu);
      } else {
        double* into = value_adjoints_.data() + u * O_;
        add_scaled<FixedRK>(into, by, moments, RK);
        for (std::size_t p = 0; p < N; ++p) into[RK + p] += by * (pairs[2 * p] + pairs[2 * p + 1]);
      }
    };
    for (std::size_t c = t.solve.size(), end = solve_begin(t); c-- > end;) {
      const SolveCommand& s = t.solve[c];
      const std::uint64_t begin = c == 0 ? 0 : t.solve[c - 1].term_end;
      const double out = y[s.vertex];
      const double a = out * val[s.inverse_rate];
      contract(s.inverse_rate, out, keep.acc + std::size_t(s.vertex) * RK, keep.pair_acc + std::size_t(s.vertex) * Q);
      for (std::uint64_t k = begin; k < s.term_end; ++k) {
        const Term& term = t.terms[k];
        y[term.target] += a * val[term.weight];
        contract(term.weight, a, keep.fin + std::size_t(term.target) * RK,
                 keep.pair_fin + std::size_t(term.target) * Q);
      }
      y[s.vertex] = a;
    }
    if (dense_now_) {
      // The dense part's adjoint (dense_block_gradient.hpp): ȳ on its vertices, then
      // each hand-over entry's ȳ_p·(z_q − z_p) of every solve.
      dense_lane(t, y, 1, 0, true);
      for (const DenseEntry& e : t.dense.entries) {
        const double* diff = entry_differences(t, keep, e, N > 0);
        contract(e.slot, y[t.dense.order[e.row]], diff, diff + RK);
      }
    }
    for (std::size_t c = forward_end(t); c-- > 0;) {
      const ForwardCommand& f = t.forward[c];
      const double target = y[f.target];
      y[f.source] += target * val[f.multiplier];
      contract(f.multiplier, target, keep.pre + std::size_t(f.source) * RK, keep.pair_pre + std::size_t(f.source) * Q);
    }
    for (std::uint32_t s = 0; s < t.exit_count; ++s) xbar[b.exits[s]] += y[n + s];
  }

  // Chain i ≥ 1 of every reward (R lanes), contracted with the solves j ≤ K − i of the
  // same reward into output k = i + j; chain 1 also with the first-moment solve of the
  // other reward of each pair (E[R_a R_b] has b_1 of a against x_1 of b and the
  // reverse). b_i = r ∘ (b_(i−1) U) is injected from chain i−1's ḡ on this block.
  template <std::size_t Fixed, bool Tangents>
  void chain(const ComposedBlock& b, const Kept& keep, std::size_t i) {
    const BlockTrace& t = *b.trace;
    const std::size_t R = Fixed ? Fixed : R_;
    const std::uint32_t n = t.vertex_count;
    double* y = chain_slots(i);
    double* xbar = adjoint(i);
    const double* injected = chain_slots(i - 1);
    for (std::uint32_t l = 0; l < n; ++l) {
      const std::size_t v = b.vertices[l];
      for (std::size_t r = 0; r < R; ++r)
        y[l * R + r] = xbar[v * R + r] + rewards_[v * R + r] * injected[i == 1 ? l : l * R + r];
    }
    for (std::uint32_t s = 0; s < t.exit_count; ++s)
      for (std::size_t r = 0; r < R; ++r) y[(n + s) * R + r] = 0;
    const double* val = values_at_;
    const std::size_t RK = RK_, J = K_ - std::min<std::size_t>(i, K_);
    const bool pairs = i == 1 && N_ > 0;
    // Output i + j of reward r sits at (i + j − 1)·R + r; solve j's values at (j − 1)·R + r.
    auto contract = [&](std::size_t u, const double* by, const double* moments) {
      if constexpr (Tangents) {
        const double* tu = tangents_.data() + u * P_;
        for (std::size_t jr = 0; jr < J * R; jr += R)
          for (std::size_t r = 0; r < R; ++r) to_theta(i * R + jr + r, by[r] * moments[jr + r], tu);
        if (pairs)
          for (std::size_t p = 0; p < N_; ++p) {
            const std::size_t a = pairs_[p].first, c = pairs_[p].second;
            to_theta(RK + p, by[a] * moments[c] + by[c] * moments[a], tu);
          }
      } else {
        double* into = value_adjoints_.data() + u * O_;
        for (std::size_t jr = 0; jr < J * R; jr += R) multiply_add<Fixed>(into + i * R + jr, by, moments + jr, R);
        if (pairs)
          for (std::size_t p = 0; p < N_; ++p) {
            const std::size_t a = pairs_[p].first, c = pairs_[p].second;
            into[RK + p] += by[a] * moments[c] + by[c] * moments[a];
          }
      }
    };
    double a[Fixed ? Fixed : 1], out[Fixed ? Fixed : 1];
    double* pa = Fixed ? a : lanes_.data();
    double* pout = Fixed ? out : lanes_.data() + R;
    for (std::size_t c = t.solve.size(), end = solve_begin(t); c-- > end;) {
      const SolveCommand& s = t.solve[c];
      const std::uint64_t begin = c == 0 ? 0 : t.solve[c - 1].term_end;
      const double inv = val[s.inverse_rate];
      double* yv = y + std::size_t(s.vertex) * R;
      for (std::size_t r = 0; r < R; ++r) pout[r] = yv[r], pa[r] = yv[r] * inv;
      contract(s.inverse_rate, pout, keep.acc + std::size_t(s.vertex) * RK);
      for (std::uint64_t k = begin; k < s.term_end; ++k) {
        const Term& term = t.terms[k];
        const double w = val[term.weight];
        double* __restrict yt = y + std::size_t(term.target) * R;
        for (std::size_t r = 0; r < R; ++r) yt[r] += pa[r] * w;
        contract(term.weight, pa, keep.fin + std::size_t(term.target) * RK);
      }
      for (std::size_t r = 0; r < R; ++r) yv[r] = pa[r];
    }
    if (dense_now_) {
      for (std::size_t r = 0; r < R; ++r) dense_lane(t, y, R, r, true);
      for (const DenseEntry& e : t.dense.entries)
        contract(e.slot, y + std::size_t(t.dense.order[e.row]) * R, entry_differences(t, keep, e, false));
    }
    for (std::size_t c = forward_end(t); c-- > 0;) {
      const ForwardCommand& f = t.forward[c];
      const double m = val[f.multiplier];
      const double* __restrict target = y + std::size_t(f.target) * R;
      double* __restrict source = y + std::size_t(f.source) * R;
      for (std::size_t r = 0; r < R; ++r) source[r] += target[r] * m;
      contract(f.multiplier, target, keep.pre + std::size_t(f.source) * RK);
    }
    for (std::uint32_t s = 0; s < t.exit_count; ++s)
      for (std::size_t r = 0; r < R; ++r) xbar[std::size_t(b.exits[s]) * R + r] += y[(n + s) * R + r];
  }

  // The program backwards for all O outputs at once, then the DOTs' linear forms.
  void program_adjoint(const BlockTrace& t) {
    // The common output counts get loops of a fixed length, which the compiler
    // unrolls; any other count takes the same code with a run-time length.
    switch (O_) {
      case 2: ops_backward<2>(t); break;
      case 4: ops_backward<4>(t); break;
      case 6: ops_backward<6>(t); break;
      case 8: ops_backward<8>(t); break;
      default: ops_backward<0>(t);
    }
    double* vbar = value_adjoints_.data();
    const std::size_t O = O_;
    const std::uint32_t S = P_ + 1;
    for (std::uint32_t d = 0; d < t.dot_count; ++d) {
      const double* coeff = t.dot_coeffs.data() + std::size_t(d) * S;
      double* db = vbar + std::size_t(d) * O;
      for (std::uint32_t p = 0; p < P_; ++p) {
        if (coeff[p + 1] == 0) continue;
        for (std::size_t o = 0; o < O; ++o) theta_adjoints_[o * P_ + p] += coeff[p + 1] * db[o];
      }
      std::fill(db, db + O, 0.0);
    }
  }

  template <std::size_t Fixed>
  void ops_backward(const BlockTrace& t) {
    const double* v = values_at_;
    double* vbar = value_adjoints_.data();
    const std::size_t O = Fixed ? Fixed : O_;
    for (std::size_t i = op_end(t); i-- > 0;) {
      const Op& op = t.ops[i];
      const std::size_t slot = t.dot_count + i;
      double* ob = vbar + slot * O;
      double* a = vbar + std::size_t(op.a) * O;
      double* bb = vbar + std::size_t(op.b) * O;
      double* c = vbar + std::size_t(op.c) * O;
      // a, b and c may be one value (x + y·y): one loop per operand keeps each update
      // in order, and each loop's arrays are distinct from the op's own adjoints.
      if (op.code == OpCode::MulAdd) [[likely]] {
        add_scaled<Fixed>(a, 1.0, ob, O);
        add_scaled<Fixed>(bb, v[op.c], ob, O);
        add_scaled<Fixed>(c, v[op.b], ob, O);
      } else if (op.code == OpCode::Inv) {
        // d(1/a) = −(1/a)² da
        add_scaled<Fixed>(a, -(v[slot] * v[slot]), ob, O);
      } else if (op.code == OpCode::Add) {
        add_scaled<Fixed>(a, 1.0, ob, O);
        add_scaled<Fixed>(bb, 1.0, ob, O);
      } else {
        add_scaled<Fixed>(a, v[op.b], ob, O);
        add_scaled<Fixed>(bb, v[op.a], ob, O);
      }
      // Consumed: leaving it 0 (its line is in cache now) spares the next block a fill.
      for (std::size_t o = 0; o < O; ++o) ob[o] = 0;
    }
  }

  const ModelTrace& m_;
  const GradientWay way_;
  std::span<const RewardPair> pairs_;
  const std::uint32_t K_;
  // rewards, pairs, their two sides, moment outputs, all outputs, parameters, chains, vertices
  const std::size_t R_, N_, Q_, RK_, O_, P_, C_, V_;
  const std::atomic<bool>* cancel_;
  const double* theta_ = nullptr;
  const std::size_t block_values_, block_slots_;
  const bool keep_all_values_;
  // Every array below is a slice of one workspace, taken from RetainedRegion: on large
  // models a fresh allocation per call cost more in first-touch page faults than the
  // gradient itself (docs/performance.md, "Gradients"). Entries, in doubles, in
  // member order; each slice starts on a cache line.
  static constexpr std::size_t kArrays = 17;
  const std::array<std::size_t, kArrays> layout_;
  static constexpr std::size_t kLineDoubles = 8;
  static std::size_t rounded(std::size_t n) { return (n + kLineDoubles - 1) / kLineDoubles * kLineDoubles; }
  static std::size_t workspace_bytes(const std::array<std::size_t, kArrays>& layout) {
    std::size_t total = kLineDoubles;  // room to align the first slice
    for (std::size_t n : layout) total += rounded(n);
    return total * sizeof(double);
  }
  Slice slice(std::size_t i) {
    auto base = reinterpret_cast<std::uintptr_t>(workspace_.data());
    base = (base + 63) / 64 * 64;
    std::size_t offset = 0;
    for (std::size_t j = 0; j < i; ++j) offset += rounded(layout_[j]);
    return Slice{reinterpret_cast<double*>(base) + offset, layout_[i]};
  }
  RetainedRegion workspace_;
  Slice values_;  // one block's program values (when not all are kept)
  // Every block's values from the forward pass, in block order, when they fit in
  // kMaxKeptValues (else the backward pass replays each block again).
  Slice kept_values_;
  const double* values_at_ = nullptr;  // the current block's values
  Slice value_adjoints_;               // one block's, O per value; all 0 between blocks
  Slice rewards_;                      // R per vertex
  Slice solutions_;                    // x_k of every reward on the whole model, per k: R per vertex
  Slice pair_solutions_;               // the pairs' solves on the whole model, Q per vertex
  Slice kept_solves_;                  // every block's Kept, in block order
  Slice adjoints_;                     // x̄ of chain 0, then of chains i ≥ 1 (R per vertex)
  Slice y_;                            // the forward pass's working vector, one block
  Slice chains_;                       // ȳ per chain on one block
  Slice lanes_;                        // a chain's ā and ȳ_out at one solve command, R each
  Slice theta_adjoints_;               // O × P
  Slice tangents_;                     // one block's dv/dθ, P per value (tangent blocks)
  Slice dense_taken_;                  // per block, 1 when its dense part was factored densely
  // Dense parts' factors (dense_doubles each): every block's in block order when all
  // values are kept, else the current block's (refactored as its values are replayed).
  Slice kept_dense_;
  Slice dense_y_;      // one lane of the dense part, by position
  Slice differences_;  // entry_differences' RK + Q
  // The current block's: whether its dense part is solved densely, and its factors.
  bool dense_now_ = false;
  std::size_t adjoints_zeroed_ = 0;  // value_adjoints_ entries known to be 0
  double* dense_matrix_ = nullptr;
  double* dense_inverse_ = nullptr;
  std::uint32_t* dense_extent_ = nullptr;
};

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
  {
    GradientSession session(m, moment_count, pairs, cancel, way);
    session.run(theta.data(), fast, cross, out.moment, dcross);
  }
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
