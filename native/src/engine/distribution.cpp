#include "engine/distribution.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/error.hpp"
#include "distribution/quantile.hpp"
#include "distribution/reward_transform.hpp"
#include "distribution/uniformization.hpp"
#include "engine/json_writer.hpp"
#include "engine/number_text.hpp"
#include "engine/run.hpp"

namespace phasic {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

constexpr double kQuantileRelative = 1e-9;
constexpr double kGridQuantile = 0.999;

std::uint32_t reward_index(const ModelLabels& labels, const std::string& name) {
  const auto it = std::find(labels.rewards.begin(), labels.rewards.end(), name);
  if (it != labels.rewards.end()) return static_cast<std::uint32_t>(it - labels.rewards.begin());
  std::string known;
  for (const std::string& r : labels.rewards) known += (known.empty() ? "" : ", ") + r;
  throw InvalidArgument("unknown reward '" + name + "'; the model has " + known);
}

void check_request(const DistributionRequest& r) {
  if (!(r.epsilon >= kMinDistributionEpsilon && r.epsilon <= kMaxDistributionEpsilon))
    throw InvalidArgument("epsilon must be from 1e-14 to 1e-3, got " + shortest_text(r.epsilon));
  if (!r.times &&
      !(r.grid_points >= 2 && r.grid_points <= kMaxGridPoints && r.grid_points == std::floor(r.grid_points)))
    throw InvalidArgument("gridPoints must be an integer from 2 to 100000, got " + shortest_text(r.grid_points));
  if (r.times) {
    if (r.times->size() > kMaxGridPoints)
      throw InvalidArgument("at most 100000 times, got " + std::to_string(r.times->size()));
    for (std::size_t i = 0; i < r.times->size(); ++i)
      if (!std::isfinite((*r.times)[i]) || (*r.times)[i] < 0)
        throw InvalidArgument("times[" + std::to_string(i) + "] must be a finite number >= 0, got " +
                              shortest_text((*r.times)[i]));
  }
  for (std::size_t i = 0; i < r.quantiles.size(); ++i) {
    const double p = r.quantiles[i];
    const std::string where = " (quantiles[" + std::to_string(i) + "])";
    if (!(p > 0 && p < 1))
      throw InvalidArgument("quantile p must be strictly between 0 and 1, got " + shortest_text(p) + where);
    // The CDF is known only to within epsilon: within epsilon of 0 the time found would
    // be set by that error, not by the distribution. Near 1 the survival, known to
    // within epsilon relative, decides (upper_quantile).
    if (!(p > r.epsilon))
      throw InvalidArgument("quantile p = " + shortest_text(p) + " is within epsilon (" + shortest_text(r.epsilon) +
                            ") of 0: the CDF is known only to within epsilon there; ask for a larger p or a smaller "
                            "epsilon" +
                            where);
  }
}

}  // namespace

std::string distribution_json(const ParametricGraph& graph, const ModelLabels& labels, const std::string& trace_key,
                              const DistributionRequest& request, const RunObserver& observer) {
  const auto start = Clock::now();
  check_request(request);
  const std::uint32_t reward = reward_index(labels, request.reward);
  const std::vector<double> theta = theta_of(labels, request.params);
  if (observer.progress) observer.progress({RunPhase::Distribution, 0, 1});

  auto phase = Clock::now();
  const TransientChain chain = transform_reward(graph, theta, reward, request.reward, observer.cancel);
  const double transform_ms = ms_since(phase);

  UniformizedSeries series(chain, request.epsilon, observer.cancel, [&](std::uint64_t done, std::uint64_t total) {
    if (observer.progress) observer.progress({RunPhase::Distribution, done, total});
  });
  auto cdf = [&](double t) { return std::clamp(1.0 - series.at(t).survival, 0.0, 1.0); };
  const double scale = series.rate() > 0 ? 1.0 / series.rate() : 1.0;
  auto quantile = [&](double p) {
    return p <= chain.atom ? 0.0 : quantile_by_bisection(cdf, p, scale, kQuantileRelative);
  };
  // Above the median, the smallest t with S(t) ≤ q = 1 − p (exact for p ≥ 1/2), S known
  // within epsilon relative: the same bisection on −S. A survival below the floor is 0 to
  // it (q ≥ 2^−53 is far above the floor).
  auto negative_survival = [&](double t) { return -series.tail_at(t).survival; };
  auto upper_quantile = [&](double q) {
    return q >= 1 - chain.atom ? 0.0 : quantile_by_bisection(negative_survival, -q, scale, kQuantileRelative, 1 - q);
  };

  double quantile_ms = 0, uniformize_ms = 0;
  std::vector<double> times;
  if (request.times) {
    times = *request.times;
    std::sort(times.begin(), times.end());
  } else {
    phase = Clock::now();
    const double before = series.extend_ms();
    double top = 0;
    try {
      top = quantile(kGridQuantile);
    } catch (const InvalidArgument&) {
      throw InvalidArgument(
          "the default grid ends at the 0.999 quantile, which at these parameters is beyond the largest double (about "
          "1.8e308); give times, or rescale a parameter (a time unit) to bring the distribution into range");
    }
    quantile_ms += ms_since(phase) - (series.extend_ms() - before);
    uniformize_ms += series.extend_ms() - before;
    const auto n = static_cast<std::uint32_t>(request.grid_points);
    times.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) times[i] = top * double(i) / double(n - 1);
  }
  phase = Clock::now();
  // One window per point: the survival and the density to epsilon relative (tail_at),
  // the survival null where it is below the floor, and the CDF as 1 − S, which that
  // bound keeps within epsilon·S ≤ epsilon absolute, the CDF's own bound
  // (uniformization.hpp, "The CDF from tail_at"). Below the floor S is taken as 0.
  std::vector<double> cdf_values(times.size()), pdf_values(times.size()), survival_values(times.size());
  std::vector<bool> below_floor(times.size());
  for (std::size_t i = 0; i < times.size(); ++i) {
    const TailValue tail = series.tail_at(times[i]);
    cdf_values[i] = std::clamp(1.0 - tail.survival, 0.0, 1.0);
    survival_values[i] = std::clamp(tail.survival, 0.0, 1.0);
    pdf_values[i] = std::max(0.0, tail.density);
    below_floor[i] = tail.below_floor;
  }
  uniformize_ms += ms_since(phase);

  phase = Clock::now();
  const double before = series.extend_ms();
  // The CDF is within epsilon of the true one, so a quantile is known only between the
  // computed CDF's quantiles of p − ε and p + ε (both inside (0, 1): check_request).
  // Where the density is small that interval is wide: Erlang(50)'s p = 2e-10 at ε =
  // 1e-10 came out 17.58411538, its true value 17.5637, and nothing said so. Above the
  // median the survival is within ε·S, so the quantile lies between the computed
  // survival's quantiles of q·(1 + ε) and q·(1 − ε), q = 1 − p.
  std::vector<double> values, lows, highs;
  for (const double p : request.quantiles) {
    if (p > 0.5) {
      const double q = 1 - p;
      values.push_back(upper_quantile(q));
      lows.push_back(upper_quantile(q * (1 + request.epsilon)) * (1 - kQuantileRelative));
      highs.push_back(upper_quantile(q * (1 - request.epsilon)));
      continue;
    }
    values.push_back(quantile(p));
    lows.push_back(quantile(p - request.epsilon) * (1 - kQuantileRelative));
    highs.push_back(quantile(p + request.epsilon));
  }
  quantile_ms += ms_since(phase) - (series.extend_ms() - before);
  uniformize_ms += series.extend_ms() - before;
  if (observer.progress) observer.progress({RunPhase::Distribution, 1, 1});

  JsonWriter w;
  w.begin_object().field("traceKey", trace_key).field("reward", request.reward);
  w.key("params").begin_object();
  for (std::size_t p = 0; p < labels.params.size(); ++p) w.field(labels.params[p], theta[p]);
  w.end_object();
  w.key("times").begin_array();
  for (const double t : times) w.value(t);
  w.end_array().key("cdf").begin_array();
  for (const double x : cdf_values) w.value(x);
  w.end_array().key("survival").begin_array();
  for (std::size_t i = 0; i < survival_values.size(); ++i) below_floor[i] ? w.null() : w.value(survival_values[i]);
  w.end_array().field("survivalFloor", kSurvivalFloor);
  w.key("pdf").begin_array();
  for (const double x : pdf_values) w.value(x);
  w.end_array().field("atom", std::clamp(chain.atom, 0.0, 1.0));
  w.key("quantiles").begin_array();
  for (std::size_t i = 0; i < values.size(); ++i)
    w.begin_object()
        .field("p", request.quantiles[i])
        .field("value", values[i])
        .field("low", lows[i])
        .field("high", highs[i])
        .end_object();
  w.end_array().field("epsilon", request.epsilon);
  w.key("method")
      .begin_object()
      .field("name", "uniformization")
      .field("rate", series.rate())
      .field("steps", series.steps())
      .field("states", std::uint64_t(chain.states))
      .field("eliminated", std::uint64_t(chain.eliminated))
      .end_object();
  w.key("timingsMs")
      .begin_object()
      .field("transform", transform_ms)
      .field("uniformize", uniformize_ms)
      .field("quantiles", quantile_ms)
      .field("total", ms_since(start))
      .end_object();
  w.end_object();
  return w.take();
}

}  // namespace phasic
