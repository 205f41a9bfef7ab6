// Uniformization: the survival function and density of the time to absorption of a
// transient chain (reward_transform.hpp), to an absolute error bound ε.
//
// Method. With Λ = the largest exit rate and P = I + Q/Λ (substochastic), the row
// vectors v_k = α P^k give m_k = v_k·1 and d_k = v_k·a (a: absorption rates), and
//   S(t) = P(Y > t) = Σ_k Pois(k; Λt) m_k,   f(t) = Σ_k Pois(k; Λt) d_k.
// The scalars m_k and d_k are computed once (one sparse product per step) and shared
// by every time point; only the Poisson weights depend on t (poisson_window.hpp).
//
// Error bound (exact arithmetic), with δ = ε / (5·max(1, Λ)):
// - Poisson tails: each tail outside t's window has mass ≤ δ; renormalizing the
//   window changes S by at most 2δ/(1 − 2δ) ≤ 0.41ε and f by Λ times that
//   (d_k ≤ Λ·m_k ≤ Λ), also ≤ 0.41ε.
// - Early stop: m_k is non-increasing (P is substochastic), so once m_K ≤ ε / (2·max(1, Λ))
//   the terms k > K add at most m_K ≤ ε/2 to S and at most Λ·m_K ≤ ε/2 to f; the
//   series stops there. This is what bounds the work on stiff chains (large Λt) whose
//   mass is absorbed long before the Poisson window of t is reached.
// So |error| ≤ ε for S, the CDF 1 − S, and f. Rounding adds about K·u relative to m_0
// (u = 2^−53), well below ε for the step counts that fit in memory at ε ≥ 1e−14
// except on extreme chains; docs/engine.md, "Distributions".
//
// Invariants: all scratch (v_k, v_(k+1), m, d, the window) is counted in
// Category::Evaluation; cancellation is checked every step and every point; at most kMaxSteps steps
// are taken (StepLimitExceeded, kind limit, beyond: 64 MB of scalars and, for a chain
// of any size, minutes of work), so a very stiff chain fails with a clear message
// instead of running for hours.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "base/error.hpp"

#include "distribution/poisson_window.hpp"
#include "distribution/reward_transform.hpp"

namespace phasic {

inline constexpr std::uint64_t kMaxSteps = 4'000'000;

// The series would need more than kMaxSteps steps.
struct StepLimitExceeded : EngineError {
  explicit StepLimitExceeded(const std::string& message) : EngineError(ErrorKind::Limit, message) {}
};

struct SeriesValue {
  double survival = 0;  // P(Y > t)
  double density = 0;   // f(t), the density of Y's continuous part
};

class UniformizedSeries {
 public:
  // progress(done, target) is called at most every 256 steps while extending.
  UniformizedSeries(const TransientChain& chain, double epsilon, const std::atomic<bool>* cancel,
                    std::function<void(std::uint64_t, std::uint64_t)> progress);

  // S and f at time t ≥ 0 (finite), extending the series as far as t needs.
  SeriesValue at(double t);

  double rate() const { return rate_; }
  std::uint64_t steps() const { return mass_.size() - 1; }  // products by P computed
  double extend_ms() const { return extend_ms_; }           // time spent computing steps

 private:
  void extend_to(std::uint64_t k);

  const TransientChain& chain_;
  const std::atomic<bool>* cancel_;
  std::function<void(std::uint64_t, std::uint64_t)> progress_;
  double rate_ = 0;
  double tail_ = 0, stop_mass_ = 0;
  bool exhausted_ = false;
  // P by target (CSC): a step gathers each state's inflow, so the product, the mass and
  // the absorption flow are one pass with no scattered writes.
  EvaluationVector<double> stay_;               // 1 − exit rate / Λ
  EvaluationVector<std::uint64_t> into_begin_;  // states + 1
  EvaluationVector<std::uint32_t> into_source_;
  EvaluationVector<double> into_jump_;  // edge rate / Λ
  EvaluationVector<double> v_, next_;
  EvaluationVector<double> mass_, density_;  // m_k, d_k
  PoissonWindow window_;
  double extend_ms_ = 0;
};

}  // namespace phasic
