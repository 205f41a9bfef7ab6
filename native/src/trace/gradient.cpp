// Reverse mode through the composed trace (see gradient.hpp for the method). One θ
// at a time; the forward pass is evaluate()'s fast arithmetic, the backward pass its
// adjoint, command by command:
//   solve    y[v] = (y[v] + Σ w·y[t]) · inv     ā = ȳ[v]·inv, inv̄ += ȳ[v]·acc,
//                                               w̄ += ā·y[t], ȳ[t] += ā·w, ȳ[v] = ā
//   forward  y[t] += m·y[s]                     m̄ += ȳ[t]·y[s], ȳ[s] += ȳ[t]·m
// The adjoint values (ȳ) depend on the chain i only and the forward values (y) on the
// solve j only: the forward values are kept from the forward pass, and each chain's
// backward sweep contracts its ȳ with every solve j it pairs with as it goes.
#include "trace/gradient.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "base/error.hpp"
#include "trace/scratch.hpp"

namespace phasic {
namespace {

using Scratch = EvaluationScratch<double>;

template <class Size>
std::uint64_t largest(const ModelTrace& m, Size size) {
  std::uint64_t most = 0;
  for (const ComposedBlock& b : m.blocks) most = std::max<std::uint64_t>(most, size(*b.trace));
  return most;
}

// 8 Mi doubles (64 MiB): larger traces replay each block's program once more instead.
constexpr std::uint64_t kMaxKeptValues = std::uint64_t(8) << 20;

class GradientSession {
 public:
  GradientSession(const ModelTrace& m, std::uint32_t moment_count, const std::atomic<bool>* cancel)
      : m_(m),
        K_(moment_count),
        R_(m.reward_count),
        O_(std::size_t(m.reward_count) * moment_count),
        P_(m.param_count),
        cancel_(cancel),
        block_values_(largest(m, [](const BlockTrace& t) { return t.value_count(); })),
        block_slots_(largest(m, [](const BlockTrace& t) { return std::uint64_t(t.vertex_count) + t.exit_count; })),
        values_(total_values(m) <= kMaxKeptValues ? 0 : block_values_),
        value_adjoints_(block_values_ * std::max<std::size_t>(O_, 1)),
        kept_values_(total_values(m) <= kMaxKeptValues ? total_values(m) : 0),
        solutions_(O_ * m.vertex_count),
        before_solve_(O_ * m.vertex_count),
        sums_(O_ * m.vertex_count),
        adjoints_(O_ * m.vertex_count),
        y_(block_slots_),
        forward_pre_(std::size_t(K_) * block_slots_),
        forward_final_(std::size_t(K_) * block_slots_),
        forward_acc_(std::size_t(K_) * block_slots_),
        adjoint_in_(std::size_t(K_) * block_slots_),
        theta_adjoints_(O_ * P_) {}

  // Fills fast[o] = E[R^k] in IEEE arithmetic and d[o·P + j] = dE[R^k]/dθ_j (o = r·K + k−1).
  void run(const double* theta, std::vector<double>& fast, std::vector<double>& d) {
    theta_ = theta;
    // Absorbing vertices are never written: their x and x̄ stay 0.
    solutions_.zero();
    adjoints_.zero();
    theta_adjoints_.zero();
    std::size_t kept = 0;
    for (const ComposedBlock& b : m_.blocks) {
      check_cancel();
      double* values = kept_values_.size() ? kept_values_.data() + kept : values_.data();
      replay(*b.trace, values);
      values_at_ = values;
      kept += b.trace->value_count();
      for (std::size_t r = 0; r < R_; ++r)
        for (std::size_t k = 1; k <= K_; ++k) solve(b, r, k);
    }
    fast.assign(O_, 0.0);
    for (std::size_t r = 0; r < R_; ++r) {
      double factorial = 1;
      for (std::size_t k = 1; k <= K_; ++k) {
        factorial *= double(k);
        const double* x = solution(r, k);
        double sum = 0;
        for (std::size_t e = 0; e < m_.start_target.size(); ++e) sum += m_.start_probability[e] * x[m_.start_target[e]];
        fast[r * K_ + k - 1] = factorial * sum;
      }
      // b_0 = α: the adjoint of x_k in E[R^k] = k!·α x_k (k! is applied at the end).
      double* a0 = adjoint(r, 0);
      for (std::size_t e = 0; e < m_.start_target.size(); ++e) a0[m_.start_target[e]] += m_.start_probability[e];
    }
    for (std::size_t bi = m_.blocks.size(); bi-- > 0;) {
      check_cancel();
      const ComposedBlock& b = m_.blocks[bi];
      if (kept_values_.size()) {
        kept -= b.trace->value_count();
        values_at_ = kept_values_.data() + kept;
      } else {
        values_at_ = values_.data();
        replay(*b.trace, values_.data());
      }
      std::fill(value_adjoints_.data(), value_adjoints_.data() + b.trace->value_count() * O_, 0.0);
      for (std::size_t r = 0; r < R_; ++r) {
        for (std::uint32_t j = 1; j <= K_; ++j) forward_values(b, r, j);
        for (std::uint32_t i = 0; i < K_; ++i) adjoint_and_contract(b, r, i);
      }
      program_adjoint(*b.trace);
    }
    d.assign(O_ * P_, 0.0);
    for (std::size_t r = 0; r < R_; ++r) {
      double factorial = 1;
      for (std::size_t k = 1; k <= K_; ++k) {
        factorial *= double(k);
        const std::size_t o = r * K_ + k - 1;
        for (std::size_t p = 0; p < P_; ++p) d[o * P_ + p] = factorial * theta_adjoints_[o * P_ + p];
      }
    }
  }

 private:
  void check_cancel() const {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
  }
  const double* reward(std::size_t r) const { return m_.rewards.data() + r * m_.vertex_count; }
  // x_k of reward r (k ≥ 1) and x̄ of chain i (the adjoint b_i and what flows into it).
  double* solution(std::size_t r, std::size_t k) { return solutions_.data() + (r * K_ + k - 1) * m_.vertex_count; }
  double* adjoint(std::size_t r, std::size_t i) { return adjoints_.data() + (r * K_ + i) * m_.vertex_count; }
  double* slots(Scratch& s, std::size_t index) { return s.data() + index * block_slots_; }
  double* global(Scratch& s, std::size_t r, std::size_t k) { return s.data() + (r * K_ + k - 1) * m_.vertex_count; }

  static std::uint64_t total_values(const ModelTrace& m) {
    std::uint64_t total = 0;
    for (const ComposedBlock& b : m.blocks) total += b.trace->value_count();
    return total;
  }

  void replay(const BlockTrace& t, double* v) {
    const std::uint32_t S = P_ + 1;
    for (std::uint32_t d = 0; d < t.dot_count; ++d) {
      const double* c = t.dot_coeffs.data() + std::size_t(d) * S;
      double acc = c[0];
      for (std::uint32_t i = 0; i < P_; ++i)
        if (c[i + 1] != 0) acc += c[i + 1] * theta_[i];
      v[d] = acc;
    }
    double* out = v + t.dot_count;
    for (const Op& op : t.ops) {
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

  // Loads y with the right-hand side g_k = r ∘ x_(k−1) and the exits' x_k.
  void load(const ComposedBlock& b, std::size_t r, std::size_t k, double* y) {
    const BlockTrace& t = *b.trace;
    const double* g = reward(r);
    const double* previous = k == 1 ? nullptr : solution(r, k - 1);
    const double* x = solution(r, k);
    for (std::uint32_t i = 0; i < t.vertex_count; ++i) {
      const VertexId v = b.vertices[i];
      y[i] = previous ? g[v] * previous[v] : g[v];
    }
    for (std::uint32_t s = 0; s < t.exit_count; ++s) y[t.vertex_count + s] = x[b.exits[s]];
    const double* val = values_at_;
    for (const ForwardCommand& f : t.forward) y[f.target] += val[f.multiplier] * y[f.source];
  }

  void solve(const ComposedBlock& b, std::size_t r, std::size_t k) {
    const BlockTrace& t = *b.trace;
    double* y = y_.data();
    load(b, r, k, y);
    // What the backward pass contracts with: y after the forward commands, and each
    // vertex's sum before its multiplication by the inverse rate.
    double* before = global(before_solve_, r, k);
    double* sums = global(sums_, r, k);
    for (std::uint32_t i = 0; i < t.vertex_count; ++i) before[b.vertices[i]] = y[i];
    const double* val = values_at_;
    std::uint64_t n = 0;
    for (const SolveCommand& s : t.solve) {
      double acc = y[s.vertex];
      for (; n < s.term_end; ++n) acc += val[t.terms[n].weight] * y[t.terms[n].target];
      sums[b.vertices[s.vertex]] = acc;
      y[s.vertex] = acc * val[s.inverse_rate];
    }
    double* x = solution(r, k);
    for (std::uint32_t i = 0; i < t.vertex_count; ++i) x[b.vertices[i]] = y[i];
  }

  // Solve j's values on the block, gathered from the forward pass: y after the forward
  // commands (pre; exits hold x), its final y (fin: x, exits included), and each
  // solved vertex's sum before the multiplication by its inverse rate (acc).
  void forward_values(const ComposedBlock& b, std::size_t r, std::uint32_t j) {
    const BlockTrace& t = *b.trace;
    const std::uint32_t n = t.vertex_count;
    double* pre = slots(forward_pre_, j - 1);
    double* fin = slots(forward_final_, j - 1);
    double* acc = slots(forward_acc_, j - 1);
    const double* x = solution(r, j);
    const double* before = global(before_solve_, r, j);
    const double* sums = global(sums_, r, j);
    for (std::uint32_t i = 0; i < n; ++i) {
      const VertexId v = b.vertices[i];
      pre[i] = before[v];
      fin[i] = x[v];
      acc[i] = sums[v];
    }
    for (std::uint32_t s = 0; s < t.exit_count; ++s) pre[n + s] = fin[n + s] = x[b.exits[s]];
  }

  // Chain i backwards through the block's commands, contracted on the way with every
  // solve j ≤ K − i into the adjoints of the program values of output k = i + j:
  //   inv̄ += ȳ_out[v]·acc_j[v],  w̄ += ā[v]·y_j[t],  m̄ += ḡ[t]·pre_j[s].
  // Chain i's x̄ on the block is complete here: later blocks have added what they read
  // at their exits, and b_i = r ∘ (b_(i−1) U) is injected from chain i−1's ḡ on this
  // block. What stays in adjoint_in_ is ḡ = b_i U on the block (and its exits' part).
  // At a forward command ȳ[target] is already final (ḡ): the target is written by no
  // later forward command and read only by later ones.
  void adjoint_and_contract(const ComposedBlock& b, std::size_t r, std::uint32_t i) {
    const BlockTrace& t = *b.trace;
    const std::uint32_t n = t.vertex_count;
    const std::uint32_t J = K_ - i;  // solves j = 1..J pair with chain i
    double* y = slots(adjoint_in_, i);
    const double* xbar = adjoint(r, i);
    const double* g = reward(r);
    const double* injected = i == 0 ? nullptr : slots(adjoint_in_, i - 1);
    for (std::uint32_t l = 0; l < n; ++l)
      y[l] = xbar[b.vertices[l]] + (injected ? g[b.vertices[l]] * injected[l] : 0.0);
    for (std::uint32_t s = 0; s < t.exit_count; ++s) y[n + s] = 0;
    const double* val = values_at_;
    double* vbar = value_adjoints_.data() + r * K_ + i;  // + j − 1: output k = i + j
    const std::size_t O = O_, stride = block_slots_;
    const double* acc = forward_acc_.data();
    const double* fin = forward_final_.data();
    const double* pre = forward_pre_.data();
    for (std::size_t c = t.solve.size(); c-- > 0;) {
      const SolveCommand& s = t.solve[c];
      const std::uint64_t begin = c == 0 ? 0 : t.solve[c - 1].term_end;
      const double out = y[s.vertex];
      const double a = out * val[s.inverse_rate];
      double* inv_bar = vbar + std::size_t(s.inverse_rate) * O;
      for (std::uint32_t j = 0; j < J; ++j) inv_bar[j] += out * acc[j * stride + s.vertex];
      for (std::uint64_t k = begin; k < s.term_end; ++k) {
        const Term& term = t.terms[k];
        y[term.target] += a * val[term.weight];
        double* w_bar = vbar + std::size_t(term.weight) * O;
        for (std::uint32_t j = 0; j < J; ++j) w_bar[j] += a * fin[j * stride + term.target];
      }
      y[s.vertex] = a;
    }
    for (std::size_t c = t.forward.size(); c-- > 0;) {
      const ForwardCommand& f = t.forward[c];
      const double target = y[f.target];
      y[f.source] += target * val[f.multiplier];
      double* m_bar = vbar + std::size_t(f.multiplier) * O;
      for (std::uint32_t j = 0; j < J; ++j) m_bar[j] += target * pre[j * stride + f.source];
    }
    double* into = adjoint(r, i);
    for (std::uint32_t s = 0; s < t.exit_count; ++s) into[b.exits[s]] += y[n + s];
  }

  // The program backwards for all O outputs at once, then the DOTs' linear forms.
  void program_adjoint(const BlockTrace& t) {
    // The common output counts (R·K) get loops of a fixed length, which the compiler
    // unrolls; any other count takes the same code with a run-time length.
    switch (O_) {
      case 2: ops_backward<2>(t); break;
      case 4: ops_backward<4>(t); break;
      case 6: ops_backward<6>(t); break;
      case 8: ops_backward<8>(t); break;
      default: ops_backward<0>(t);
    }
    const double* vbar = value_adjoints_.data();
    const std::size_t O = O_;
    const std::uint32_t S = P_ + 1;
    for (std::uint32_t d = 0; d < t.dot_count; ++d) {
      const double* coeff = t.dot_coeffs.data() + std::size_t(d) * S;
      const double* db = vbar + std::size_t(d) * O;
      for (std::uint32_t p = 0; p < P_; ++p) {
        if (coeff[p + 1] == 0) continue;
        for (std::size_t o = 0; o < O; ++o) theta_adjoints_[o * P_ + p] += coeff[p + 1] * db[o];
      }
    }
  }

  template <std::size_t Fixed>
  void ops_backward(const BlockTrace& t) {
    const double* v = values_at_;
    double* vbar = value_adjoints_.data();
    const std::size_t O = Fixed ? Fixed : O_;
    for (std::size_t i = t.ops.size(); i-- > 0;) {
      const Op& op = t.ops[i];
      const std::size_t slot = t.dot_count + i;
      const double* ob = vbar + slot * O;
      double* a = vbar + std::size_t(op.a) * O;
      double* bb = vbar + std::size_t(op.b) * O;
      double* c = vbar + std::size_t(op.c) * O;
      if (op.code == OpCode::MulAdd) [[likely]] {
        const double vb = v[op.b], vc = v[op.c];
        for (std::size_t o = 0; o < O; ++o) {
          a[o] += ob[o];
          bb[o] += ob[o] * vc;
          c[o] += ob[o] * vb;
        }
      } else if (op.code == OpCode::Inv) {
        // d(1/a) = −(1/a)² da
        const double minus_square = -(v[slot] * v[slot]);
        for (std::size_t o = 0; o < O; ++o) a[o] += ob[o] * minus_square;
      } else if (op.code == OpCode::Add) {
        for (std::size_t o = 0; o < O; ++o) a[o] += ob[o], bb[o] += ob[o];
      } else {
        const double va = v[op.a], vb = v[op.b];
        for (std::size_t o = 0; o < O; ++o) a[o] += ob[o] * vb, bb[o] += ob[o] * va;
      }
    }
  }

  const ModelTrace& m_;
  const std::uint32_t K_;
  const std::size_t R_, O_, P_;
  const std::atomic<bool>* cancel_;
  const double* theta_ = nullptr;
  const std::size_t block_values_, block_slots_;
  Scratch values_;          // one block's program values (when not all are kept)
  Scratch value_adjoints_;  // one block's, O per value
  // Every block's values from the forward pass, in block order, when they fit in
  // kMaxKeptValues (else the backward pass replays each block again).
  Scratch kept_values_;
  const double* values_at_ = nullptr;                  // the current block's values
  Scratch solutions_;                                  // x_k of every (reward, k) on the whole model
  Scratch before_solve_;                               // y after the forward commands, per (reward, k)
  Scratch sums_;                                       // each vertex's sum before its inverse rate, per (reward, k)
  Scratch adjoints_;                                   // x̄ of every (reward, chain i) on the whole model
  Scratch y_;                                          // the forward pass's working vector
  Scratch forward_pre_, forward_final_, forward_acc_;  // per solve j, on one block
  Scratch adjoint_in_;                                 // ḡ per chain i, on one block
  Scratch theta_adjoints_;                             // O × P
};

}  // namespace

Gradient evaluate_gradient(const ModelTrace& m, std::span<const double> theta, std::uint32_t moment_count,
                           const Moments& exact, const std::atomic<bool>* cancel) {
  if (theta.size() != m.param_count)
    throw EngineError("expected " + std::to_string(m.param_count) + " parameter values, got " +
                      std::to_string(theta.size()));
  for (double value : theta)
    if (!std::isfinite(value) || value < 0) throw EngineError("parameters must be finite and ≥ 0");
  if (moment_count == 0) throw EngineError("at least one moment must be requested");
  if (exact.reward_count != m.reward_count || exact.moment_count != moment_count)
    throw InternalError("the gradient's moments were evaluated for another request");
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
  std::vector<double> fast;
  {
    GradientSession session(m, moment_count, cancel);
    session.run(theta.data(), fast, out.moment);
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
  return out;
}

}  // namespace phasic
