// Uniformization: the survival function and density of the time to absorption of a
// transient chain (reward_transform.hpp), to an absolute error bound ε (at) and to a
// relative one (tail_at).
//
// Method. With Λ = the largest exit rate and P = I + Q/Λ (substochastic), the row
// vectors v_k = α P^k give m_k = v_k·1 and d_k = v_k·a (a: absorption rates), and
//   S(t) = P(Y > t) = Σ_k Pois(k; Λt) m_k,   f(t) = Σ_k Pois(k; Λt) d_k.
// The scalars m_k and d_k are computed once (one sparse product per step) and shared
// by every time point; only the Poisson weights depend on t (poisson_window.hpp).
// Every term is ≥ 0 (P, α and a are), m_k is non-increasing and d_k ≤ Λ·m_k.
//
// Absolute bound (at), exact arithmetic, with δ = ε / (5·max(1, Λ)):
// - Poisson tails: each tail outside t's window has mass ≤ δ; renormalizing the
//   window changes S by at most 2δ/(1 − 2δ) ≤ 0.41ε and f by Λ times that
//   (d_k ≤ Λ·m_k ≤ Λ), also ≤ 0.41ε.
// - Early stop: m_k is non-increasing (P is substochastic), so once m_K ≤ ε / (2·max(1, Λ))
//   the terms k > K add at most m_K ≤ ε/2 to S and at most Λ·m_K ≤ ε/2 to f; the
//   absolute sums stop there (K = absolute_steps()). This is what bounds the work on
//   stiff chains (large Λt) whose mass is absorbed long before the Poisson window of t
//   is reached.
// So |error| ≤ ε for S, the CDF 1 − S, and f.
//
// Relative bound (tail_at), exact arithmetic, with τ = ε/8 and the sums' partial values
// (each ≤ the true value, all terms being ≥ 0) as the reference:
// - normalization: the window of tail τ gives weights Pois(k)/(1 − τ'), τ' ≤ 2τ, a
//   relative error ≤ 2τ/(1 − 2τ) in S and f;
// - right: summing k upwards, through the window and beyond it by the recurrence
//   w_{k+1} = w_k·μ/(k+1), once m_k·r_k ≤ τ·S_part and Λ·m_k·r_k ≤ τ·f_part (r_k ≥ the
//   Poisson mass beyond k: the window's rest + 2τ inside it, w_{k+1}/(1 − μ/(k+2))
//   beyond it) the rest adds at most τ relative (m_j ≤ m_k, d_j ≤ Λ·m_j); the series is
//   extended past the absolute stop as far as this needs. The window's own tail is not
//   negligible to f where f ≪ Λ·S (near t = 0 of an Erlang);
// - left: below the window the weights go on (w_{k−1} = w_k·k/μ, kept with a binary
//   exponent so they never underflow) until m_0·B ≤ τ·S_part and Λ·m_0·B ≤ τ·f_part,
//   B = w_{k−1}/(1 − (k−1)/μ) the Poisson mass left below. In the far tail S ≪ m_0 is
//   carried by small k (an exponential's S(t) = e^(−λt) is the k = 0 term alone),
//   which an absolute window drops.
// So |error| ≤ ε·S and ≤ ε·f (4.1τ < ε). A value below kSurvivalFloor (1e-289) is not
// resolved: m_k is a plain double, and below the floor the terms it would need are
// subnormal or lost; it is reported as below (never as 0), as is a time whose window
// lies beyond the step limit once m_K and the Poisson mass up to K bound S below it.
// Rounding: every term is a sum of products of non-negative numbers, so m_k and d_k
// carry a relative rounding error of about k·(in-degree + 1)·u (u = 2^−53), and the sums
// add about u per term: well below ε for the step counts that fit in memory at
// ε ≥ 1e−14 except on extreme chains; docs/engine.md, "Distributions".
//
// The CDF from tail_at. 1 − S is the CDF and S ≤ m_0 ≤ 1, so tail_at's
// |Ŝ − S| ≤ ε·S gives |(1 − Ŝ) − (1 − S)| ≤ ε·S ≤ ε: at()'s absolute bound, at
// every t, and tighter where S is small. Below the floor Ŝ is taken as 0, and 1 is
// off by S < 1e-289 ≤ ε. Rounding: Ŝ carries the relative rounding of the m_k and
// of its sum (above), that times S ≤ 1 absolute, and forming 1 − Ŝ adds u/2: what
// at()'s 1 − S carries. So a time whose survival is asked for needs no at() window
// of its own (engine/distribution.cpp takes its CDF as 1 − Ŝ). at() remains for
// the searches on the CDF alone (quantiles up to the median, the default grid's
// end): they need no relative bound, and their results, the grid's times among
// them, stay those of the absolute path.
//
// Invariants: all scratch (v_k, v_(k+1), m, d, the window) is counted in
// Category::Evaluation; cancellation is checked every step and every point; at most kMaxSteps steps
// are taken (StepLimitExceeded, kind limit, beyond: 64 MB of scalars and, for a chain
// of any size, minutes of work), so a very stiff chain fails with a clear message
// instead of running for hours. at() reads only m_k, d_k up to the absolute stop, so
// what tail_at() computes beyond it never changes at()'s values.
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

// The smallest survival tail_at resolves (about 2^−960): below it S is said to be below.
inline constexpr double kSurvivalFloor = 1e-289;

struct TailValue {
  double survival = 0;       // P(Y > t) within ε·S; 0 when below_floor
  double density = 0;        // f(t) within ε·f; 0 when below_floor
  bool below_floor = false;  // S(t) < kSurvivalFloor: not resolved (and f(t) < Λ·kSurvivalFloor)
};

class UniformizedSeries {
 public:
  // progress(done, target) is called at most every 256 steps while extending.
  UniformizedSeries(const TransientChain& chain, double epsilon, const std::atomic<bool>* cancel,
                    std::function<void(std::uint64_t, std::uint64_t)> progress);

  // S and f at time t ≥ 0 (finite) within ε, extending the series as far as t needs.
  SeriesValue at(double t);
  // S and f at time t ≥ 0 (finite) within ε relative (or below the floor).
  TailValue tail_at(double t);

  double rate() const { return rate_; }
  std::uint64_t steps() const { return mass_.size() - 1; }  // products by P computed
  // The steps at() sums over: up to the absolute stop once reached.
  std::uint64_t absolute_steps() const { return absolute_stop_ ? absolute_stop_steps_ : steps(); }
  double extend_ms() const { return extend_ms_; }  // time spent computing steps

 private:
  // Extends to step k (at most kMaxSteps, else StepLimitExceeded); `absolute`: not past
  // the absolute stop. Never past a step whose mass is exactly 0 (all later ones are).
  void extend_to(std::uint64_t k, bool absolute = true);
  TailValue beyond_step_limit(double mu);

  const TransientChain& chain_;
  const std::atomic<bool>* cancel_;
  std::function<void(std::uint64_t, std::uint64_t)> progress_;
  double rate_ = 0;
  double epsilon_ = 0, tail_ = 0, stop_mass_ = 0;
  bool absolute_stop_ = false;  // m_K ≤ stop_mass_ reached, at K = absolute_stop_steps_
  std::uint64_t absolute_stop_steps_ = 0;
  bool vanished_ = false;  // m_K = 0 exactly: every later term is 0
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
