// Evaluation over W lanes (W = 1 for one θ, 8 for a batch): values and vectors are
// stored lane-interleaved, value[slot·W + lane], so every step is a loop over lanes.
#include "trace/evaluate.hpp"

#include <cmath>
#include <string>
#include <unordered_map>

#include "engine/error.hpp"

namespace phasic {
namespace {

template <class T>
using EvalVector = CountedVector<T, Category::Evaluation>;

// Uninitialized scratch counted in Category::Evaluation: replay and solve write every
// entry before reading it, so zero-filling would only cost time.
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t n) : n_(n), p_(Allocator().allocate(n)) {}
  ~Scratch() { Allocator().deallocate(p_, n_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() { return p_; }
  const T* data() const { return p_; }
  T& operator[](std::size_t i) { return p_[i]; }
  std::size_t size() const { return n_; }

 private:
  using Allocator = CountedAllocator<T, Category::Evaluation>;
  std::size_t n_;
  T* p_;
};

constexpr std::uint32_t kBatchLanes = 8;

void check_theta(const ModelTrace& m, const double* theta) {
  for (std::uint32_t i = 0; i < m.param_count; ++i)
    if (!std::isfinite(theta[i]) || theta[i] < 0)
      throw EngineError("parameter " + std::to_string(i) + " must be finite and ≥ 0, got " + std::to_string(theta[i]));
}

// A trace placed with maps of the wrong size (or into another model) would index
// out of bounds: refuse it before replaying anything.
void check_shape(const ModelTrace& m, const ComposedBlock& b) {
  const BlockTrace& t = *b.trace;
  bool fits = t.param_count == m.param_count && b.vertices.size() == t.vertex_count && b.exits.size() == t.exit_count;
  for (VertexId v : b.vertices) fits = fits && v < m.vertex_count;
  for (VertexId v : b.exits) fits = fits && v < m.vertex_count;
  if (!fits) throw EngineError("a block trace does not fit the model it is placed in");
}

// Lane kernels. The pointers name distinct value slots or vertices (single assignment;
// a forward command's target is never its source), which __restrict tells the compiler
// so that the lane loops vectorize.
template <std::uint32_t W>
inline void mul_add(double* __restrict out, const double* __restrict a, const double* __restrict b,
                    const double* __restrict c) {
  for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] + b[l] * c[l];
}
template <std::uint32_t W>
inline void accumulate(double* __restrict acc, const double* __restrict w, const double* __restrict z) {
  for (std::uint32_t l = 0; l < W; ++l) acc[l] += w[l] * z[l];
}

template <std::uint32_t W>
class Lanes {
 public:
  Lanes(const ModelTrace& m, const std::atomic<bool>* cancel)
      : m_(m), cancel_(cancel), values_(count_values(m) * W), y_(widest_block(m) * W) {
    std::uint64_t slots = 0;
    offset_.reserve(m.blocks.size());
    std::unordered_map<const BlockTrace*, std::uint64_t> first_use;
    for (const ComposedBlock& b : m.blocks) {
      auto [it, fresh] = first_use.try_emplace(b.trace.get(), slots);
      if (fresh) {
        slots += b.trace->value_count();
        distinct_.push_back(static_cast<std::uint32_t>(offset_.size()));
      }
      offset_.push_back(it->second);
    }
  }

  // theta: W vectors of P values, lane-major.
  void replay(const double* theta) {
    const std::uint32_t P = m_.param_count;
    EvalVector<double> th(std::size_t(P) * W);  // parameter-major, so DOT loops run over lanes
    for (std::uint32_t l = 0; l < W; ++l)
      for (std::uint32_t i = 0; i < P; ++i) th[std::size_t(i) * W + l] = theta[std::size_t(l) * P + i];
    for (std::uint32_t index : distinct_) {
      check_cancel();
      const BlockTrace& t = *m_.blocks[index].trace;
      double* v = values_.data() + offset_[index] * W;
      const std::uint32_t S = P + 1;
      for (std::uint32_t d = 0; d < t.dot_count; ++d) {
        const double* c = t.dot_coeffs.data() + std::size_t(d) * S;
        double acc[W];
        for (std::uint32_t l = 0; l < W; ++l) acc[l] = c[0];
        for (std::uint32_t i = 0; i < P; ++i) {
          if (c[i + 1] == 0) continue;
          for (std::uint32_t l = 0; l < W; ++l) acc[l] += c[i + 1] * th[std::size_t(i) * W + l];
        }
        for (std::uint32_t l = 0; l < W; ++l) v[std::size_t(d) * W + l] = acc[l];
      }
      double* out = v + std::size_t(t.dot_count) * W;
      for (const Op& op : t.ops) {
        const double* a = v + std::size_t(op.a) * W;
        const double* b = v + std::size_t(op.b) * W;
        const double* c = v + std::size_t(op.c) * W;
        if (op.code == OpCode::MulAdd) [[likely]] {
          mul_add<W>(out, a, b, c);
        } else if (op.code == OpCode::Inv) {
          for (std::uint32_t l = 0; l < W; ++l) out[l] = 1.0 / a[l];
        } else if (op.code == OpCode::Add) {
          for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] + b[l];
        } else {
          for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] * b[l];
        }
        out += W;
      }
    }
  }

  // x := U g on every state; x must be zero on absorbing vertices (it is never written there).
  void solve(const double* g, double* x) {
    for (std::size_t index = 0; index < m_.blocks.size(); ++index) {
      check_cancel();
      const ComposedBlock& b = m_.blocks[index];
      const BlockTrace& t = *b.trace;
      const double* v = values_.data() + offset_[index] * W;
      double* y = y_.data();
      const std::uint32_t n = t.vertex_count;
      for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t l = 0; l < W; ++l) y[std::size_t(i) * W + l] = g[std::size_t(b.vertices[i]) * W + l];
      for (std::uint32_t s = 0; s < t.exit_count; ++s)
        for (std::uint32_t l = 0; l < W; ++l) y[(std::size_t(n) + s) * W + l] = x[std::size_t(b.exits[s]) * W + l];
      for (const ForwardCommand& f : t.forward) {
        double* target = y + std::size_t(f.target) * W;
        const double* source = y + std::size_t(f.source) * W;
        accumulate<W>(target, v + std::size_t(f.multiplier) * W, source);
      }
      std::uint64_t k = 0;
      for (const SolveCommand& s : t.solve) {
        double acc[W];
        double* xv = y + std::size_t(s.vertex) * W;
        for (std::uint32_t l = 0; l < W; ++l) acc[l] = xv[l];
        for (; k < s.term_end; ++k) {
          // acc stays a local array (its address never escapes), so it lives in registers.
          const double* __restrict w = v + std::size_t(t.terms[k].weight) * W;
          const double* __restrict z = y + std::size_t(t.terms[k].target) * W;
          for (std::uint32_t l = 0; l < W; ++l) acc[l] += w[l] * z[l];
        }
        const double* inv = v + std::size_t(s.inverse_rate) * W;
        for (std::uint32_t l = 0; l < W; ++l) xv[l] = acc[l] * inv[l];
      }
      for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t l = 0; l < W; ++l) x[std::size_t(b.vertices[i]) * W + l] = y[std::size_t(i) * W + l];
    }
  }

  // Σ_z α_z x[z] per lane.
  void start_sum(const double* x, double* out) const {
    for (std::uint32_t l = 0; l < W; ++l) out[l] = 0;
    for (std::size_t e = 0; e < m_.start_target.size(); ++e)
      for (std::uint32_t l = 0; l < W; ++l) out[l] += m_.start_probability[e] * x[std::size_t(m_.start_target[e]) * W + l];
  }

 private:
  void check_cancel() const {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
  }

  static std::uint64_t count_values(const ModelTrace& m) {
    std::unordered_map<const BlockTrace*, bool> seen;
    std::uint64_t slots = 0;
    for (const ComposedBlock& b : m.blocks)
      if (seen.try_emplace(b.trace.get(), true).second) slots += b.trace->value_count();
    return slots;
  }
  static std::uint64_t widest_block(const ModelTrace& m) {
    std::uint64_t widest = 0;
    for (const ComposedBlock& b : m.blocks)
      widest = std::max<std::uint64_t>(widest, std::uint64_t(b.trace->vertex_count) + b.trace->exit_count);
    return widest;
  }

  const ModelTrace& m_;
  const std::atomic<bool>* cancel_;
  Scratch<double> values_;
  Scratch<double> y_;
  EvalVector<std::uint64_t> offset_;      // per block: first value slot of its trace
  EvalVector<std::uint32_t> distinct_;    // blocks whose trace is replayed (first use)
};

// Moments of W θ vectors at a time. All scratch is allocated once per session, so a
// batch of many lane groups pays for it once.
template <std::uint32_t W>
class MomentSession {
 public:
  MomentSession(const ModelTrace& m, std::uint32_t moment_count, std::span<const RewardPair> pairs,
                const std::atomic<bool>* cancel)
      : m_(m), K_(moment_count), pairs_(pairs), lanes_(m, cancel), g_(std::size_t(m.vertex_count) * W),
        x_(std::size_t(m.vertex_count) * W), kept_(m.reward_count, 0), first_solution_(count_kept() * m.vertex_count * W),
        raw_(std::size_t(m.reward_count) * moment_count * W), cross_(pairs.size() * W) {
    std::fill(x_.data(), x_.data() + x_.size(), 0.0);  // absorbing vertices keep x = 0: never written
  }

  // theta: W vectors of P values, lane-major; out: W results.
  void run(const double* theta, Moments* out) {
    lanes_.replay(theta);
    const std::size_t V = m_.vertex_count, R = m_.reward_count, K = K_;
    double* g = g_.data();
    double* x = x_.data();
    for (std::size_t r = 0; r < R; ++r) {
      const double* reward = m_.rewards.data() + r * V;
      double factorial = 1, sum[W];
      for (std::uint32_t k = 1; k <= K; ++k) {
        for (std::size_t v = 0; v < V; ++v)
          for (std::uint32_t l = 0; l < W; ++l) g[v * W + l] = k == 1 ? reward[v] : reward[v] * x[v * W + l];
        lanes_.solve(g, x);
        if (k == 1 && kept_[r]) std::copy(x, x + V * W, first_solution_.data() + (kept_[r] - 1) * V * W);
        factorial *= k;
        lanes_.start_sum(x, sum);
        for (std::uint32_t l = 0; l < W; ++l) raw_[(r * K + k - 1) * W + l] = factorial * sum[l];
      }
    }
    std::fill(cross_.begin(), cross_.end(), 0.0);
    for (std::size_t p = 0; p < pairs_.size(); ++p) {
      const std::uint32_t rs[2] = {pairs_[p].first, pairs_[p].second};
      for (int side = 0; side < 2; ++side) {
        const double* reward = m_.rewards.data() + rs[side] * V;
        const double* other = first_solution_.data() + (kept_[rs[1 - side]] - 1) * V * W;
        for (std::size_t v = 0; v < V; ++v)
          for (std::uint32_t l = 0; l < W; ++l) g[v * W + l] = reward[v] * other[v * W + l];
        lanes_.solve(g, x);
        double sum[W];
        lanes_.start_sum(x, sum);
        for (std::uint32_t l = 0; l < W; ++l) cross_[p * W + l] += sum[l];
      }
    }
    for (std::uint32_t l = 0; l < W; ++l) collect(l, out[l]);
  }

 private:
  std::size_t count_kept() {
    std::uint32_t n = 0;
    for (const RewardPair& p : pairs_)
      for (std::uint32_t r : {p.first, p.second})
        if (!kept_[r]) kept_[r] = ++n;
    return n;
  }

  void collect(std::uint32_t l, Moments& o) const {
    const std::size_t R = m_.reward_count, K = K_;
    o.reward_count = m_.reward_count;
    o.moment_count = K_;
    o.raw.resize(R * K);
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t k = 0; k < K; ++k) o.raw[r * K + k] = raw_[(r * K + k) * W + l];
    o.variance.clear();
    if (K >= 2)
      for (std::size_t r = 0; r < R; ++r) o.variance.push_back(o.raw[r * K + 1] - o.raw[r * K] * o.raw[r * K]);
    o.covariance.resize(pairs_.size());
    for (std::size_t p = 0; p < pairs_.size(); ++p)
      o.covariance[p] = cross_[p * W + l] - o.raw[pairs_[p].first * K] * o.raw[pairs_[p].second * K];
  }

  const ModelTrace& m_;
  const std::uint32_t K_;
  std::span<const RewardPair> pairs_;
  Lanes<W> lanes_;
  Scratch<double> g_, x_;
  EvalVector<std::uint32_t> kept_;  // per reward: 1 + its index among kept U r, or 0
  Scratch<double> first_solution_;
  EvalVector<double> raw_;
  EvalVector<double> cross_;
};

void check_request(const ModelTrace& m, std::uint32_t moment_count, std::span<const RewardPair> pairs) {
  if (m.rewards.size() != std::size_t(m.reward_count) * m.vertex_count || m.start_target.size() != m.start_probability.size())
    throw EngineError("the model trace's rewards or initial distribution have the wrong size");
  for (VertexId v : m.start_target)
    if (v >= m.vertex_count) throw EngineError("the initial distribution names a vertex outside the model");
  if (moment_count == 0) throw EngineError("at least one moment must be requested");
  for (const RewardPair& p : pairs)
    if (p.first >= m.reward_count || p.second >= m.reward_count)
      throw EngineError("a covariance pair names a reward that does not exist");
}

}  // namespace

Moments evaluate(const ModelTrace& m, std::span<const double> theta, std::uint32_t moment_count,
                 std::span<const RewardPair> pairs, const std::atomic<bool>* cancel) {
  if (theta.size() != m.param_count)
    throw EngineError("expected " + std::to_string(m.param_count) + " parameter values, got " + std::to_string(theta.size()));
  check_theta(m, theta.data());
  check_request(m, moment_count, pairs);
  for (const ComposedBlock& b : m.blocks) check_shape(m, b);
  Moments out;
  MomentSession<1>(m, moment_count, pairs, cancel).run(theta.data(), &out);
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
  if (count >= kBatchLanes) {
    MomentSession<kBatchLanes> lanes(m, moment_count, pairs, cancel);
    for (; done + kBatchLanes <= count; done += kBatchLanes) lanes.run(thetas.data() + done * P, out.data() + done);
  }
  if (done < count) {
    MomentSession<1> single(m, moment_count, pairs, cancel);
    for (; done < count; ++done) single.run(thetas.data() + done * P, out.data() + done);
  }
  return out;
}

}  // namespace phasic
