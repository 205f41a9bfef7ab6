#include "distribution/uniformization.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "base/error.hpp"

namespace phasic {
namespace {

std::string too_stiff(double rate) {
  char buffer[32];
  const std::string rate_text(buffer, std::to_chars(buffer, buffer + sizeof buffer, rate).ptr);
  return "the distribution needs more than " + std::to_string(kMaxSteps) +
         " uniformization steps (about the largest exit rate, " + rate_text +
         ", times the largest time asked for, or the time by which all but epsilon of the mass is absorbed): "
         "the model is too stiff at these parameters for this method; ask for smaller times or a larger epsilon";
}

}  // namespace

UniformizedSeries::UniformizedSeries(const TransientChain& chain, double epsilon, const std::atomic<bool>* cancel,
                                     std::function<void(std::uint64_t, std::uint64_t)> progress)
    : chain_(chain), cancel_(cancel), progress_(std::move(progress)) {
  for (const double r : chain.exit_rate) rate_ = std::max(rate_, r);
  epsilon_ = epsilon;
  const double scale = std::max(1.0, rate_);
  tail_ = epsilon / (5 * scale);
  stop_mass_ = epsilon / (2 * scale);
  double m0 = 0, d0 = 0;
  for (std::uint32_t i = 0; i < chain.states; ++i) {
    m0 += chain.start[i];
    d0 += chain.start[i] * chain.absorb_rate[i];
  }
  mass_.push_back(m0);
  density_.push_back(d0);
  absolute_stop_ = !(rate_ > 0) || m0 <= stop_mass_;
  vanished_ = !(rate_ > 0) || m0 == 0;
  if (vanished_) return;
  const std::uint32_t n = chain.states;
  stay_.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) stay_[i] = 1.0 - chain.exit_rate[i] / rate_;
  into_begin_.assign(std::size_t(n) + 1, 0);
  for (const std::uint32_t j : chain.edge_target) ++into_begin_[j + 1];
  for (std::uint32_t j = 0; j < n; ++j) into_begin_[j + 1] += into_begin_[j];
  into_source_.resize(chain.edge_target.size());
  into_jump_.resize(chain.edge_target.size());
  {
    EvaluationVector<std::uint64_t> fill(into_begin_.begin(), into_begin_.end() - 1);
    for (std::uint32_t i = 0; i < n; ++i)
      for (std::uint64_t e = chain.edge_begin[i]; e < chain.edge_begin[i + 1]; ++e) {
        const std::uint64_t at = fill[chain.edge_target[e]]++;
        into_source_[at] = i;
        into_jump_[at] = chain.edge_rate[e] / rate_;
      }
  }
  v_.assign(chain.start.begin(), chain.start.end());
  next_.resize(chain.states);
}

void UniformizedSeries::extend_to(std::uint64_t k, bool absolute) {
  if (vanished_ || (absolute && absolute_stop_) || steps() >= k) return;
  const auto start = std::chrono::steady_clock::now();
  const std::uint32_t n = chain_.states;
  const std::uint64_t* __restrict begin = into_begin_.data();
  const std::uint32_t* __restrict source = into_source_.data();
  const double* __restrict jump = into_jump_.data();
  const double* __restrict stay = stay_.data();
  const double* __restrict absorb = chain_.absorb_rate.data();
  while (steps() < std::min(k, kMaxSteps)) {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
    if (progress_ && (steps() & 255) == 0) progress_(steps(), k);
    const double* __restrict v = v_.data();
    double* __restrict next = next_.data();
    double m = 0, d = 0;
    for (std::uint32_t j = 0; j < n; ++j) {
      double x = v[j] * stay[j];
      for (std::uint64_t e = begin[j]; e < begin[j + 1]; ++e) x += v[source[e]] * jump[e];
      next[j] = x;
      m += x;
      d += x * absorb[j];
    }
    v_.swap(next_);
    mass_.push_back(m);
    density_.push_back(d);
    if (!absolute_stop_ && m <= stop_mass_) {
      absolute_stop_ = true;
      absolute_stop_steps_ = steps();
      if (absolute) break;
    }
    if (m == 0) {
      vanished_ = true;
      break;
    }
  }
  extend_ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!vanished_ && !(absolute && absolute_stop_) && steps() < k) throw StepLimitExceeded(too_stiff(rate_));
  if (progress_) progress_(steps(), std::max(steps(), k));
}

SeriesValue UniformizedSeries::at(double t) {
  // Per point too, not only per step: once the series has stopped early, a point still
  // costs its Poisson window, and 10^5 points ran on for seconds past --timeout and Cancel.
  if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
  const double mu = rate_ * t;
  // A window this far out starts beyond any series that fits the step limit (its left
  // end is above μ − 20√μ for every tail ≥ 1e−80): either the series stops early (all
  // but ε/2 absorbed, and the sum over the window is empty, as it would be computed) or
  // the limit is hit, which extend_to reports. Its weights are never computed: there
  // could be billions. μ = Λt overflows to +∞ for the largest finite times.
  if (!std::isfinite(mu) || mu - 20 * std::sqrt(mu) > double(kMaxSteps) + 1) {
    extend_to(kMaxSteps + 1);
    return {};
  }
  // By the same bound, a window of a series that stopped early at step K sums nothing
  // when μ − 20√μ > K, and its weights (tens of thousands at μ near kMaxSteps) need not
  // be computed. Only where the bound holds (tails ≥ 1e−80), so the value is the one
  // the sum gives: 0 and 0.
  if (absolute_stop_ && tail_ >= 1e-80 && mu - 20 * std::sqrt(mu) > double(absolute_steps())) return {};
  poisson_window(mu, tail_, window_);
  extend_to(window_.right());
  SeriesValue value;
  const std::uint64_t last = std::min<std::uint64_t>(window_.right(), absolute_steps());
  for (std::uint64_t k = window_.left; k <= last; ++k) {
    const double w = window_.weights[k - window_.left];
    value.survival += w * mass_[k];
    value.density += w * density_[k];
  }
  return value;
}

TailValue UniformizedSeries::tail_at(double t) {
  if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
  const double m0 = mass_[0];
  if (m0 == 0) return {};  // all of Y's mass is the atom: S = f = 0, exactly
  const double mu = rate_ * t;
  if (mu == 0) return {m0, density_[0], false};
  const double tau = epsilon_ / 8;
  if (!std::isfinite(mu) || mu - 20 * std::sqrt(mu) > double(kMaxSteps) + 1) return beyond_step_limit(mu);
  poisson_window(mu, tau, window_);
  double total = 0;
  for (const double w : window_.weights) total += w;
  // The window upwards, then beyond it by the same recurrence as far as needed: the
  // series goes on past the absolute stop while the rest could still matter relative to
  // the sums so far (header: "right"). The window's own right tail (≤ 2τ of Poisson
  // mass) can matter to f where f ≪ Λ·S, so it is not taken as negligible.
  double s = 0, f = 0, seen = 0;
  const std::uint64_t right = window_.right();
  double w = 0;
  for (std::uint64_t k = window_.left;; ++k) {
    if (k > steps()) {
      extend_to(k <= right ? std::min<std::uint64_t>(right, k + 255) : k + 15, false);
      if (k > steps()) break;  // the mass vanished: every later term is 0
    }
    w = k <= right ? window_.weights[k - window_.left] : w * mu / double(k);
    s += w * mass_[k];
    f += w * density_[k];
    seen += w;
    // Σ_{j>k} of the weights: the window's rest and its tail, or beyond the window (and
    // the mode) w_(k+1)/(1 − μ/(k+2)).
    const double beyond = k < right ? std::max(0.0, total - seen) + 2 * tau
                                    : w * mu / double(k + 1) / (1 - mu / double(k + 2));
    const double rest = mass_[k] * beyond;
    if (rest <= tau * s && rate_ * rest <= tau * f) break;
    // What is left lies below the floor's resolution (the header's "below").
    if (rest < tau * kSurvivalFloor) break;
  }
  // Below the window, downwards, in units of 2^e so that no weight underflows (header:
  // "left"). The sums stay below m_0·B/τ while the loop runs, so no unit overflows.
  double sl = 0, fl = 0;
  int e = 0;
  w = window_.weights[0];
  for (std::uint64_t k = window_.left; k-- > 0;) {
    w *= double(k + 1) / mu;
    if (w < 0x1p-500) {
      w = std::ldexp(w, 500);
      sl = std::ldexp(sl, 500);
      fl = std::ldexp(fl, 500);
      e -= 500;
    }
    const double below = m0 * w / (1 - double(k) / mu);  // ≥ Σ_{j ≤ k} Pois(j)·m_j
    if (below <= tau * (std::ldexp(s, -e) + sl) && rate_ * below <= tau * (std::ldexp(f, -e) + fl)) break;
    if (k <= steps()) {
      sl += w * mass_[k];
      fl += w * density_[k];
    }
    if ((k & 4095) == 0 && cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
  }
  const double survival = s + std::ldexp(sl, e);
  if (!(survival >= kSurvivalFloor)) return {0, 0, true};
  return {survival, f + std::ldexp(fl, e), false};
}

TailValue UniformizedSeries::beyond_step_limit(double mu) {
  // Every k ≤ K = steps() lies far below the window: S(t) ≤ m_0·P(N ≤ K) + m_K, with
  // log P(N ≤ K) ≤ log Pois(K; μ) − log(1 − K/μ) (the ratios below K are at most K/μ).
  // The series goes on until m_K is below the floor (or the step limit says so).
  while (!vanished_ && mass_.back() >= kSurvivalFloor / 2) extend_to(steps() + 4096, false);
  const double k = double(steps());
  const double poisson_below = std::isfinite(mu)
                                   ? std::exp(-mu + k * std::log(mu) - std::lgamma(k + 1) - std::log1p(-k / mu))
                                   : 0.0;
  if (mass_[0] * poisson_below + mass_.back() < kSurvivalFloor) return {0, 0, true};
  throw StepLimitExceeded(too_stiff(rate_));
}

}  // namespace phasic
