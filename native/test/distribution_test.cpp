// The distribution kernels on their own (native/src/distribution/): Poisson windows
// against directly summed probabilities, the reward transformation on a hand-built
// graph, and uniformization (absolute and relative: at and tail_at) against closed
// forms into the far tail and below the floor, with the ledger back to its start.
#include <atomic>
#include <cmath>
#include <initializer_list>

#include "base/error.hpp"
#include "check.hpp"
#include "distribution/parametric_graph.hpp"
#include "distribution/poisson_window.hpp"
#include "distribution/quantile.hpp"
#include "distribution/reward_transform.hpp"
#include "distribution/uniformization.hpp"

using namespace phasic;

namespace {

double poisson(double mu, std::uint64_t k) {
  return std::exp(-mu + double(k) * std::log(mu) - std::lgamma(double(k) + 1));
}

// S → 1 (weight `start`); 1 → 2 at rate a; 1 → 3 (absorbing) at b; 2 → 3 at c. Rewards:
// time, and one that is 0 in state 1 and 1 in state 2.
ParametricGraph small_graph(double start) {
  ParametricGraph g;
  g.param_count = 1;
  g.vertex_count = 4;
  g.reward_count = 2;
  g.edge_begin = {0, 1, 3, 4, 4};
  g.edge_target = {1, 2, 3, 3};
  // Stride 2: c0 + c1·θ. 1 → 3 is θ.
  g.coeffs = {start, 0, 1, 0, 0, 1, 2, 0};
  g.rewards = {0, 1, 1, 1, 0, 0, 1, 0};
  return g;
}

// Phases in series: S → 1 → 2 → … → n → absorbed, phase i left at rates[i]; the time
// to absorption is hypoexponential (Erlang when the rates are equal).
ParametricGraph phases(std::initializer_list<double> rates) {
  const auto n = static_cast<std::uint32_t>(rates.size());
  ParametricGraph g;
  g.param_count = 0;
  g.vertex_count = n + 2;
  g.reward_count = 1;
  for (std::uint32_t v = 0; v <= n; ++v) {
    g.edge_begin.push_back(v);
    g.edge_target.push_back(v + 1);
  }
  g.edge_begin.push_back(n + 1);
  g.edge_begin.push_back(n + 1);
  g.coeffs.push_back(1);
  for (const double r : rates) g.coeffs.push_back(r);
  g.rewards.assign(n + 2, 1);
  g.rewards.front() = 0;
  g.rewards.back() = 0;
  return g;
}

// Erlang(k, λ) at x = λt, in long double (its exponent reaches the 1e-4900s, its
// arguments are exact here): S = Σ_{j<k} e^(−x) x^j / j!, f = λ e^(−x) x^(k−1) / (k−1)!.
long double erlang_survival(int k, long double x) {
  long double s = 0;
  for (int j = 0; j < k; ++j) s += std::exp(-x + j * std::log(x) - std::lgamma((long double)(j + 1)));
  return s;
}
long double erlang_density(int k, long double rate, long double x) {
  return rate * std::exp(-x + (k - 1) * std::log(x) - std::lgamma((long double)k));
}

// |value − exact| ≤ ε·exact, the relative bound tail_at states, with the reference's
// own rounding (long double: 1e-16 relative here) well inside it.
bool within(double value, long double exact, double eps) {
  return std::fabs((long double)value - exact) <= (long double)eps * exact;
}

}  // namespace

TEST(poisson_windows_carry_all_but_their_tails_and_sum_to_one) {
  for (const double mu : {0.3, 1.0, 7.5, 120.0, 5000.0, 3.0e6}) {
    PoissonWindow w;
    const double tail = 1e-12;
    poisson_window(mu, tail, w);
    double sum = 0;
    for (double x : w.weights) sum += x;
    CHECK(check::close(sum, 1.0, 1e-13));
    // The mass outside is within the bound (directly summed near the window).
    if (mu < 1e4) {
      double below = 0, above = 0;
      for (std::uint64_t k = 0; k < w.left; ++k) below += poisson(mu, k);
      for (std::uint64_t k = w.right() + 1; k < w.right() + 2000; ++k) above += poisson(mu, k);
      CHECK(below <= tail);
      CHECK(above <= tail);
      for (std::uint64_t k = w.left; k <= w.right(); ++k)
        CHECK(std::fabs(w.weights[k - w.left] - poisson(mu, k)) <= 1e-12 + 1e-10 * poisson(mu, k));
    }
  }
}

TEST(zero_reward_states_are_integrated_out_into_the_atom) {
  const std::size_t before = ledger().bytes(Category::Evaluation);
  {
    const ParametricGraph g = small_graph(0.9);
    const double theta[] = {3.0};
    const TransientChain time = transform_reward(g, theta, 0, "time", nullptr);
    CHECK_EQ(time.states, 2u);
    CHECK_EQ(time.eliminated, 0u);
    CHECK(check::close(time.atom, 0.1, 1e-15));
    const TransientChain r = transform_reward(g, theta, 1, "r", nullptr);
    CHECK_EQ(r.states, 1u);
    CHECK_EQ(r.eliminated, 1u);
    // Defect 0.1, and from state 1 absorption (θ = 3) beats the move to 2 (rate 1): 0.9·3/4.
    CHECK(check::close(r.atom, 0.1 + 0.9 * 0.75, 1e-15));
    CHECK(check::close(r.start[0], 0.9 * 0.25, 1e-15));
    CHECK(check::close(r.exit_rate[0], 2.0, 1e-15));
    CHECK(check::close(r.absorb_rate[0], 2.0, 1e-15));
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
}

TEST(a_trap_at_theta_is_a_model_error) {
  const ParametricGraph g = small_graph(1.0);
  // θ = 0 leaves 1 → 2 → 3 open: certain. Cutting 2 → 3 needs a graph where the exit is
  // parametric: make 2 → 3 the parametric edge.
  ParametricGraph trap = g;
  trap.coeffs = {1, 0, 1, 0, 0, 1, 0, 1};
  const double zero[] = {0.0};
  bool thrown = false;
  try {
    (void)transform_reward(trap, zero, 0, "time", nullptr);
  } catch (const EngineError& e) {
    thrown = e.kind == ErrorKind::Model && std::string(e.what()).find("not certain") != std::string::npos;
  }
  CHECK(thrown);
}

TEST(uniformization_matches_an_erlang_and_its_quantiles) {
  // Erlang(2, 1.5) through two states, plus a stiff fast state in front (rate 1e4).
  ParametricGraph g;
  g.param_count = 0;
  g.vertex_count = 5;
  g.reward_count = 1;
  g.edge_begin = {0, 1, 2, 3, 4, 4};
  g.edge_target = {1, 2, 3, 4};
  g.coeffs = {1, 1e4, 1.5, 1.5};
  g.rewards = {0, 1, 1, 1, 0};
  const TransientChain chain = transform_reward(g, {}, 0, "time", nullptr);
  const double eps = 1e-10;
  UniformizedSeries series(chain, eps, nullptr, nullptr);
  CHECK_EQ(series.rate(), 1e4);
  const double a = 1e4, b = 1.5;
  // P(X + E > t), X ~ Exp(a), E ~ Erlang(2, b): e^(−at) + a e^(−at) ∫0^t e^((a−b)u)(1 + bu) du,
  // with the exponentials combined so that none overflows.
  auto survival = [&](double t) {
    const double c = a - b, ea = std::exp(-a * t), eb = std::exp(-b * t);
    return ea + (a / c) * (eb - ea) + a * b * (eb * (t / c - 1 / (c * c)) + ea / (c * c));
  };
  for (const double t : {0.5, 1.0, 3.0}) CHECK(std::fabs(series.at(t).survival - survival(t)) <= eps);
  // The early stop bounds the work: once all but ε/(2Λ) of the mass is absorbed (t ≈ 25
  // here) no more steps are taken, however deep in the tail the time asked for.
  (void)series.at(60.0);
  CHECK(series.steps() < 0.5 * 1e4 * 60);
  CHECK_EQ(series.at(60.0).survival, 0.0);
  const double median = quantile_by_bisection([&](double t) { return 1 - series.at(t).survival; }, 0.5, 1e-4, 1e-9);
  CHECK(std::fabs((1 - series.at(median).survival) - 0.5) <= 1e-8);
}

TEST(a_cancel_stops_every_point_even_after_the_series_has_stopped_early) {
  // Exp(1): the series stops within a few dozen steps. Points past it used to compute
  // their Poisson windows with no cancellation check, so --timeout and Cancel waited for
  // 10^5 of them; and a point whose window lies past the last step sums nothing: 0.
  ParametricGraph g;
  g.param_count = 0;
  g.vertex_count = 3;
  g.reward_count = 1;
  g.edge_begin = {0, 1, 2, 2};
  g.edge_target = {1, 2};
  g.coeffs = {1, 1};
  g.rewards = {0, 1, 0};
  const TransientChain chain = transform_reward(g, {}, 0, "time", nullptr);
  std::atomic<bool> cancel{false};
  UniformizedSeries series(chain, 1e-10, &cancel, nullptr);
  CHECK(std::fabs(series.at(1.0).survival - std::exp(-1.0)) <= 1e-10);
  const SeriesValue far = series.at(3e6);
  CHECK_EQ(far.survival, 0.0);
  CHECK_EQ(far.density, 0.0);
  const std::uint64_t steps = series.steps();
  CHECK(steps < 100);
  cancel = true;
  for (const double t : {0.5, 1.0, 1e3, 3e6}) {
    bool cancelled = false;
    try {
      (void)series.at(t);
    } catch (const Cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
  }
  CHECK_EQ(series.steps(), steps);
}

TEST(tail_at_matches_exponential_and_erlang_survival_and_density_to_epsilon_relative_into_the_far_tail) {
  const std::size_t before = ledger().bytes(Category::Evaluation);
  {
    const double eps = 1e-10;
    // Exp(2): S is the k = 0 term alone, which an absolute window drops once e^(−λt) < ε.
    // λt from 0 to 664 (S = 4.3e-289, just above the floor); λt exact, so the reference is.
    const ParametricGraph exp_graph = phases({2.0});
    const TransientChain exp_chain = transform_reward(exp_graph, {}, 0, "time", nullptr);
    UniformizedSeries exp_series(exp_chain, eps, nullptr, nullptr);
    const TailValue zero = exp_series.tail_at(0);
    CHECK_EQ(zero.survival, 1.0);
    CHECK_EQ(zero.density, 2.0);
    for (const double t : {0.25, 1.0, 10.0, 17.5, 50.0, 115.0, 200.0, 300.0, 332.0}) {
      const TailValue v = exp_series.tail_at(t);
      const long double s = std::exp(-2.0L * t);
      CHECK(!v.below_floor);
      CHECK(within(v.survival, s, eps));
      CHECK(within(v.density, 2 * s, eps));
      // The CDF taken as 1 − S is within ε·S ≤ ε (uniformization.hpp), as at()'s.
      CHECK(std::fabs((1.0L - v.survival) - (1.0L - s)) <= eps * s + 0x1p-53L);
    }
    // Erlang(5, 3): near 0 the density (2.2e-15 at t = 2^−13) is below ε, and the window
    // of t alone gives it 0; in the tail S = 1.4e-251 at t = 200.
    const ParametricGraph erlang_graph = phases({3.0, 3.0, 3.0, 3.0, 3.0});
    const TransientChain erlang_chain = transform_reward(erlang_graph, {}, 0, "time", nullptr);
    UniformizedSeries erlang(erlang_chain, eps, nullptr, nullptr);
    for (const double t : {0x1p-13, 0.0625, 0.5, 1.0, 2.5, 10.0, 50.0, 125.0, 200.0}) {
      const TailValue v = erlang.tail_at(t);
      const long double x = 3.0L * t;
      CHECK(!v.below_floor);
      CHECK(within(v.survival, erlang_survival(5, x), eps));
      CHECK(within(v.density, erlang_density(5, 3, x), eps));
    }
    CHECK(erlang_density(5, 3, 3.0L * 0x1p-13L) < 1e-14L);
    // Rates 1 and 3 (Λ = 3, P keeps 2/3 of the slow phase each step): the far tail is
    // carried by k ≈ 2μ/3, below t's window, and needs the series well past the absolute
    // stop. S = (3e^(−t) − e^(−3t))/2, f = 3(e^(−t) − e^(−3t))/2.
    const ParametricGraph hypo_graph = phases({1.0, 3.0});
    const TransientChain hypo_chain = transform_reward(hypo_graph, {}, 0, "time", nullptr);
    UniformizedSeries hypo(hypo_chain, eps, nullptr, nullptr);
    for (const double t : {0.5, 5.0, 50.0, 300.0, 600.0}) {
      const TailValue v = hypo.tail_at(t);
      const long double a = std::exp(-(long double)t), b = std::exp(-3.0L * t);
      CHECK(!v.below_floor);
      CHECK(within(v.survival, (3 * a - b) / 2, eps));
      CHECK(within(v.density, 3 * (a - b) / 2, eps));
    }
    // at() is unchanged by what tail_at computed beyond the absolute stop.
    CHECK(hypo.steps() > hypo.absolute_steps());
    const long double s5 = (3 * std::exp(-5.0L) - std::exp(-15.0L)) / 2;
    CHECK(std::fabs((long double)hypo.at(5.0).survival - s5) <= eps);
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), before);
}

TEST(tail_at_reports_a_survival_below_the_floor_as_below_never_as_a_value) {
  const double eps = 1e-10;
  const ParametricGraph exp_graph = phases({2.0});
  const TransientChain exp_chain = transform_reward(exp_graph, {}, 0, "time", nullptr);
  UniformizedSeries series(exp_chain, eps, nullptr, nullptr);
  // e^(−2t) at λt = 664 is 4.3e-289, resolved; at 666 it is 5.8e-290, below 1e-289; at 745
  // subnormal; at 1e300 the window lies beyond the step limit.
  const TailValue above = series.tail_at(332);
  CHECK(!above.below_floor);
  CHECK(above.survival >= kSurvivalFloor);
  for (const double t : {333.0, 345.0, 372.5, 1e6, 1e300}) {
    const TailValue v = series.tail_at(t);
    CHECK(v.below_floor);
    CHECK_EQ(v.survival, 0.0);
    CHECK_EQ(v.density, 0.0);
  }
  // Erlang(5, 3): S(t = 229) = 4.1e-289 is resolved, S(t = 230) = 2.1e-290 is below.
  const ParametricGraph erlang_graph = phases({3.0, 3.0, 3.0, 3.0, 3.0});
  const TransientChain erlang_chain = transform_reward(erlang_graph, {}, 0, "time", nullptr);
  UniformizedSeries erlang(erlang_chain, eps, nullptr, nullptr);
  const TailValue last = erlang.tail_at(229);
  CHECK(!last.below_floor);
  CHECK(within(last.survival, erlang_survival(5, 3.0L * 229), eps));
  CHECK(erlang.tail_at(230).below_floor);
}

TEST_MAIN()
