#include "distribution/uniformization.hpp"

#include <algorithm>
#include <chrono>

#include "base/error.hpp"

namespace phasic {

UniformizedSeries::UniformizedSeries(const TransientChain& chain, double epsilon, const std::atomic<bool>* cancel,
                                     std::function<void(std::uint64_t, std::uint64_t)> progress)
    : chain_(chain), cancel_(cancel), progress_(std::move(progress)) {
  for (const double r : chain.exit_rate) rate_ = std::max(rate_, r);
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
  if (!(rate_ > 0) || m0 <= stop_mass_) {
    exhausted_ = true;
    return;
  }
  stay_.resize(chain.states);
  for (std::uint32_t i = 0; i < chain.states; ++i) stay_[i] = 1.0 - chain.exit_rate[i] / rate_;
  jump_.resize(chain.edge_rate.size());
  for (std::size_t e = 0; e < jump_.size(); ++e) jump_[e] = chain.edge_rate[e] / rate_;
  v_.assign(chain.start.begin(), chain.start.end());
  next_.resize(chain.states);
}

void UniformizedSeries::extend_to(std::uint64_t k) {
  if (exhausted_ || steps() >= k) return;
  const auto start = std::chrono::steady_clock::now();
  const std::uint32_t n = chain_.states;
  const std::uint64_t* begin = chain_.edge_begin.data();
  const std::uint32_t* target = chain_.edge_target.data();
  const double* absorb = chain_.absorb_rate.data();
  while (steps() < k) {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
    if (progress_ && (steps() & 255) == 0) progress_(steps(), k);
    for (std::uint32_t i = 0; i < n; ++i) next_[i] = v_[i] * stay_[i];
    for (std::uint32_t i = 0; i < n; ++i) {
      const double x = v_[i];
      if (x == 0) continue;
      for (std::uint64_t e = begin[i]; e < begin[i + 1]; ++e) next_[target[e]] += x * jump_[e];
    }
    double m = 0, d = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      m += next_[i];
      d += next_[i] * absorb[i];
    }
    v_.swap(next_);
    mass_.push_back(m);
    density_.push_back(d);
    if (m <= stop_mass_) {
      exhausted_ = true;
      break;
    }
  }
  if (progress_) progress_(steps(), std::max(steps(), k));
  extend_ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

SeriesValue UniformizedSeries::at(double t) {
  poisson_window(rate_ * t, tail_, window_);
  extend_to(window_.right());
  SeriesValue value;
  const std::uint64_t last = std::min<std::uint64_t>(window_.right(), steps());
  for (std::uint64_t k = window_.left; k <= last; ++k) {
    const double w = window_.weights[k - window_.left];
    value.survival += w * mass_[k];
    value.density += w * density_[k];
  }
  return value;
}

}  // namespace phasic
