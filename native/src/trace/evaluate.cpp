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

template <std::uint32_t W>
class Lanes {
 public:
  Lanes(const ModelTrace& m, const std::atomic<bool>* cancel) : m_(m), cancel_(cancel) {
    std::uint64_t slots = 0, widest = 0;
    offset_.reserve(m.blocks.size());
    std::unordered_map<const BlockTrace*, std::uint64_t> first_use;
    for (const ComposedBlock& b : m.blocks) {
      check_shape(m, b);
      auto [it, fresh] = first_use.try_emplace(b.trace.get(), slots);
      if (fresh) {
        slots += b.trace->value_count();
        distinct_.push_back(static_cast<std::uint32_t>(offset_.size()));
      }
      offset_.push_back(it->second);
      widest = std::max<std::uint64_t>(widest, std::uint64_t(b.trace->vertex_count) + b.trace->exit_count);
    }
    values_.resize(slots * W);
    y_.resize(widest * W);
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
        switch (op.code) {
          case OpCode::Add: for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] + b[l]; break;
          case OpCode::Mul: for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] * b[l]; break;
          case OpCode::MulAdd: for (std::uint32_t l = 0; l < W; ++l) out[l] = a[l] + b[l] * c[l]; break;
          case OpCode::Inv: for (std::uint32_t l = 0; l < W; ++l) out[l] = 1.0 / a[l]; break;
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
        const double* m = v + std::size_t(f.multiplier) * W;
        for (std::uint32_t l = 0; l < W; ++l) target[l] += m[l] * source[l];
      }
      std::uint64_t k = 0;
      for (const SolveCommand& s : t.solve) {
        double acc[W];
        double* xv = y + std::size_t(s.vertex) * W;
        for (std::uint32_t l = 0; l < W; ++l) acc[l] = xv[l];
        for (; k < s.term_end; ++k) {
          const double* w = v + std::size_t(t.terms[k].weight) * W;
          const double* z = y + std::size_t(t.terms[k].target) * W;
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

  const ModelTrace& m_;
  const std::atomic<bool>* cancel_;
  EvalVector<std::uint64_t> offset_;      // per block: first value slot of its trace
  EvalVector<std::uint32_t> distinct_;    // blocks whose trace is replayed (first use)
  EvalVector<double> values_;
  EvalVector<double> y_;
};

// Moments of W θ vectors (lane-major, W × P) into out[0..W).
template <std::uint32_t W>
void moments_of(const ModelTrace& m, const double* theta, std::uint32_t moment_count, std::span<const RewardPair> pairs,
                const std::atomic<bool>* cancel, Moments* out) {
  Lanes<W> lanes(m, cancel);
  lanes.replay(theta);
  const std::size_t V = m.vertex_count, R = m.reward_count;
  const std::uint32_t K = std::max<std::uint32_t>(moment_count, 2);
  EvalVector<double> g(V * W), x(V * W, 0.0);
  EvalVector<std::uint8_t> paired(R, 0);
  for (const RewardPair& p : pairs) paired[p.first] = paired[p.second] = 1;
  EvalVector<double> first_solution(R * V * W, 0.0);  // U r for rewards in pairs
  EvalVector<double> raw(R * K * W);
  auto reward = [&](std::size_t r, std::size_t v) { return m.rewards[r * V + v]; };

  for (std::size_t r = 0; r < R; ++r) {
    double factorial = 1, sum[W];
    for (std::uint32_t k = 1; k <= K; ++k) {
      for (std::size_t v = 0; v < V; ++v)
        for (std::uint32_t l = 0; l < W; ++l) g[v * W + l] = reward(r, v) * (k == 1 ? 1.0 : x[v * W + l]);
      lanes.solve(g.data(), x.data());
      if (k == 1 && paired[r]) std::copy(x.begin(), x.end(), first_solution.begin() + r * V * W);
      factorial *= k;
      lanes.start_sum(x.data(), sum);
      for (std::uint32_t l = 0; l < W; ++l) raw[(r * K + k - 1) * W + l] = factorial * sum[l];
    }
  }
  EvalVector<double> cross(pairs.size() * W, 0.0);
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const std::uint32_t rs[2] = {pairs[p].first, pairs[p].second};
    for (int side = 0; side < 2; ++side) {
      const std::size_t a = rs[side], b = rs[1 - side];
      const double* ub = first_solution.data() + b * V * W;
      for (std::size_t v = 0; v < V; ++v)
        for (std::uint32_t l = 0; l < W; ++l) g[v * W + l] = reward(a, v) * ub[v * W + l];
      lanes.solve(g.data(), x.data());
      double sum[W];
      lanes.start_sum(x.data(), sum);
      for (std::uint32_t l = 0; l < W; ++l) cross[p * W + l] += sum[l];
    }
  }
  for (std::uint32_t l = 0; l < W; ++l) {
    Moments& o = out[l];
    o.reward_count = static_cast<std::uint32_t>(R);
    o.moment_count = moment_count;
    o.raw.resize(R * moment_count);
    o.variance.resize(R);
    for (std::size_t r = 0; r < R; ++r) {
      for (std::uint32_t k = 0; k < moment_count; ++k) o.raw[r * moment_count + k] = raw[(r * K + k) * W + l];
      const double mean = raw[(r * K) * W + l];
      o.variance[r] = raw[(r * K + 1) * W + l] - mean * mean;
    }
    o.covariance.resize(pairs.size());
    for (std::size_t p = 0; p < pairs.size(); ++p)
      o.covariance[p] = cross[p * W + l] - raw[(pairs[p].first * K) * W + l] * raw[(pairs[p].second * K) * W + l];
  }
}

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
  Moments out;
  moments_of<1>(m, theta.data(), moment_count, pairs, cancel, &out);
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
  std::vector<Moments> out(count);
  std::uint32_t done = 0;
  for (; done + kBatchLanes <= count; done += kBatchLanes)
    moments_of<kBatchLanes>(m, thetas.data() + done * P, moment_count, pairs, cancel, out.data() + done);
  for (; done < count; ++done) moments_of<1>(m, thetas.data() + done * P, moment_count, pairs, cancel, out.data() + done);
  return out;
}

}  // namespace phasic
