// The trace engine against an independent dense solve on random cyclic graphs:
// moments 1–3 and a covariance, hierarchical against flat composition, serialized
// traces against live ones, and single against batched evaluation.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>

#include "base/error.hpp"
#include "check.hpp"
#include "trace/block.hpp"
#include "trace/condensation.hpp"
#include "trace/dense_block_evaluation.hpp"
#include "trace/dense_elimination.hpp"
#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"
#include "trace/model_trace.hpp"
#include "trace/ordering.hpp"
#include "trace/trace_format.hpp"
#include "trace_fixtures.hpp"

using namespace phasic;
using fixtures::EdgeSpec;
using fixtures::make_graph;

namespace {

using fixtures::below;
using fixtures::Rng;
using fixtures::uniform;

std::vector<double> random_form(Rng& rng, std::uint32_t P) {
  std::vector<double> f(P + 1, 0.0);
  do {
    for (double& c : f)
      if (uniform(rng, 0, 1) < 0.45) c = uniform(rng, 0.05, 2.0);
  } while (std::all_of(f.begin(), f.end(), [](double c) { return c == 0; }));
  return f;
}

struct RandomModel {
  Graph graph;
  std::vector<double> theta;
};

// Groups of states are made strongly connected (a cycle plus random chords) and
// linked forward; every group has an exit, so every state reaches absorption. Vertex
// numbers are shuffled so index order says nothing about the flow.
RandomModel random_model(Rng& rng, std::uint32_t max_states) {
  const std::uint32_t P = below(rng, 4);
  const std::uint32_t states = 2 + below(rng, max_states - 1);
  const std::uint32_t absorbing = 1 + below(rng, 3);
  const std::uint32_t V = 1 + states + absorbing;
  std::vector<VertexId> ids(V - 1);
  for (std::uint32_t i = 0; i < ids.size(); ++i) ids[i] = i + 1;
  std::shuffle(ids.begin(), ids.end(), rng);
  // ids[0..states) are transient states in flow order; the rest absorb.
  std::vector<std::uint32_t> group_start{0};
  while (group_start.back() < states) group_start.push_back(std::min(states, group_start.back() + 1 + below(rng, 8)));
  std::set<std::pair<VertexId, VertexId>> seen;
  std::vector<EdgeSpec> edges;
  auto edge = [&](std::uint32_t from, std::uint32_t to) {
    if (from != to && seen.insert({ids[from], ids[to]}).second)
      edges.push_back({ids[from], ids[to], random_form(rng, P)});
  };
  auto later = [&](std::uint32_t group_end) { return group_end + below(rng, V - 1 - group_end); };
  for (std::size_t g = 0; g + 1 < group_start.size(); ++g) {
    const std::uint32_t a = group_start[g], b = group_start[g + 1], size = b - a;
    for (std::uint32_t i = 0; i < size && size > 1; ++i) edge(a + i, a + (i + 1) % size);
    for (std::uint32_t k = 0; k < size; ++k)
      if (uniform(rng, 0, 1) < 0.5) edge(a + below(rng, size), a + below(rng, size));
    edge(a + below(rng, size), later(b));  // the group's guaranteed exit
    for (std::uint32_t i = a; i < b; ++i)
      if (uniform(rng, 0, 1) < 0.4) edge(i, later(b));
  }
  // Initial distribution over a few states (or absorbing vertices), possibly defective.
  const std::uint32_t starts = 1 + below(rng, 3);
  const double mass = uniform(rng, 0, 1) < 0.3 ? uniform(rng, 0.5, 1.0) : 1.0;
  std::vector<double> weight(starts);
  for (double& w : weight) w = uniform(rng, 0.1, 1.0);
  double total = 0;
  for (double w : weight) total += w;
  std::set<VertexId> start_seen;
  for (std::uint32_t i = 0; i < starts; ++i) {
    const VertexId to = ids[below(rng, uniform(rng, 0, 1) < 0.9 ? states : V - 1)];
    if (start_seen.insert(to).second) {
      std::vector<double> f(P + 1, 0.0);
      f[0] = mass * weight[i] / total;
      edges.push_back({0, to, f});
    }
  }
  std::vector<std::vector<double>> rewards(3, std::vector<double>(V, 0.0));
  for (std::uint32_t i = 0; i < states; ++i) {
    rewards[0][ids[i]] = 1.0;
    rewards[1][ids[i]] = uniform(rng, 0, 1) < 0.3 ? 0.0 : uniform(rng, 0.0, 3.0);
    rewards[2][ids[i]] = double(below(rng, 5));
  }
  RandomModel m{make_graph(P, V, edges, rewards), {}};
  for (std::uint32_t i = 0; i < P; ++i) m.theta.push_back(uniform(rng, 0.3, 2.5));
  return m;
}

// The reference: U = (−T)⁻¹ by LU with partial pivoting in long double, on the states.
struct Dense {
  std::vector<VertexId> state;  // dense index → vertex
  std::vector<long double> lu;  // n × n
  std::vector<std::size_t> pivot;
  const Graph* g;

  Dense(const Graph& graph, const std::vector<double>& theta) : g(&graph) {
    std::vector<std::int64_t> index(graph.vertex_count, -1);
    for (VertexId v = 1; v < graph.vertex_count; ++v)
      if (!graph.absorbing(v)) index[v] = std::int64_t(state.size()), state.push_back(v);
    const std::size_t n = state.size();
    lu.assign(n * n, 0.0L);
    for (std::size_t i = 0; i < n; ++i) {
      const VertexId u = state[i];
      for (std::uint64_t e = graph.edge_begin[u]; e < graph.edge_begin[u + 1]; ++e) {
        const double* f = graph.form(e);
        long double w = f[0];
        for (std::uint32_t p = 0; p < graph.param_count; ++p) w += (long double)f[p + 1] * theta[p];
        lu[i * n + i] += w;
        if (index[graph.edge_target[e]] >= 0) lu[i * n + index[graph.edge_target[e]]] -= w;
      }
    }
    pivot.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t best = k;
      for (std::size_t i = k + 1; i < n; ++i)
        if (std::fabs(lu[i * n + k]) > std::fabs(lu[best * n + k])) best = i;
      pivot[k] = best;
      if (best != k)
        for (std::size_t j = 0; j < n; ++j) std::swap(lu[k * n + j], lu[best * n + j]);
      for (std::size_t i = k + 1; i < n; ++i) {
        const long double f = lu[i * n + k] /= lu[k * n + k];
        for (std::size_t j = k + 1; j < n; ++j) lu[i * n + j] -= f * lu[k * n + j];
      }
    }
  }

  std::vector<long double> solve(std::vector<long double> b) const {
    const std::size_t n = state.size();
    for (std::size_t k = 0; k < n; ++k) std::swap(b[k], b[pivot[k]]);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < i; ++j) b[i] -= lu[i * n + j] * b[j];
    for (std::size_t i = n; i-- > 0;) {
      for (std::size_t j = i + 1; j < n; ++j) b[i] -= lu[i * n + j] * b[j];
      b[i] /= lu[i * n + i];
    }
    return b;
  }

  std::vector<long double> reward(std::uint32_t r) const {
    std::vector<long double> v;
    for (VertexId s : state) v.push_back(g->reward(r, s));
    return v;
  }

  long double start(const std::vector<long double>& x) const {
    long double sum = 0;
    for (std::uint64_t e = g->edge_begin[0]; e < g->edge_begin[1]; ++e) {
      const auto it = std::find(state.begin(), state.end(), g->edge_target[e]);
      if (it != state.end()) sum += g->form(e)[0] * x[it - state.begin()];
    }
    return sum;
  }

  std::vector<long double> moments(std::uint32_t r, int k) const {
    std::vector<long double> out;
    const std::vector<long double> rv = reward(r);
    std::vector<long double> x(rv.size(), 1.0L);
    long double factorial = 1;
    for (int i = 1; i <= k; ++i) {
      for (std::size_t j = 0; j < x.size(); ++j) x[j] *= rv[j];
      x = solve(x);
      factorial *= i;
      out.push_back(factorial * start(x));
    }
    return out;
  }

  long double cross(std::uint32_t a, std::uint32_t b) const {
    const std::vector<long double> ra = reward(a), rb = reward(b);
    std::vector<long double> ua = solve(ra), ub = solve(rb);
    for (std::size_t j = 0; j < ua.size(); ++j) ua[j] *= rb[j], ub[j] *= ra[j];
    return start(solve(ub)) + start(solve(ua));
  }
};

bool bitwise_equal(const Moments& a, const Moments& b) {
  auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
  };
  return same(a.raw, b.raw) && same(a.variance, b.variance) && same(a.covariance, b.covariance);
}

// One strongly connected group of `states` states in which each ordered pair is joined
// with probability `density` (a ring keeps it strongly connected), each state leaving
// to one of two absorbing vertices with probability 0.3 (the first always), started
// from two states.
RandomModel random_block_model(Rng& rng, std::uint32_t states, double density) {
  const std::uint32_t P = 1 + below(rng, 3);
  const VertexId absorbing = states + 1;
  std::vector<EdgeSpec> edges{{0, 1, {0.75}}, {0, 1 + below(rng, states), {0.25}}};
  if (edges[1].to == 1) edges.pop_back(), edges[0].form = {1.0};
  for (std::uint32_t i = 0; i < states; ++i) {
    for (std::uint32_t j = 0; j < states; ++j)
      if (i != j && (j == (i + 1) % states || uniform(rng, 0, 1) < density))
        edges.push_back({i + 1, j + 1, random_form(rng, P)});
    if (i == 0 || uniform(rng, 0, 1) < 0.3) edges.push_back({i + 1, absorbing + below(rng, 2), random_form(rng, P)});
  }
  std::vector<std::vector<double>> rewards(2, std::vector<double>(states + 3, 0.0));
  for (std::uint32_t i = 1; i <= states; ++i) rewards[0][i] = 1.0, rewards[1][i] = uniform(rng, 0.0, 3.0);
  RandomModel m{make_graph(P, states + 3, edges, rewards), {}};
  for (std::uint32_t i = 0; i < P; ++i) m.theta.push_back(uniform(rng, 0.3, 2.5));
  return m;
}

// Three blocks in flow order: a ring upstream; a dense core (each ordered pair of its
// states joined with probability `density`, a ring keeping it connected) inside a
// sparse fringe (each fringe state reached from one core state and leading to another,
// and to the next fringe state); a ring downstream. The middle block's sparse
// recorder eliminates the fringe first, whose forward commands and terms reach the
// core, and hands the core (filled in by the fringe) to the dense kernel part way.
// `stuck`: every rate out of the first core state is θ_0 alone, so at θ_0 = 0 it is
// never left (a λ of 0 in the dense part, which then goes through its recorded ops).
RandomModel random_cored_model(Rng& rng, bool stuck) {
  const std::uint32_t P = 2 + below(rng, 2);
  const std::uint32_t up = 3, core = 96 + below(rng, 16), fringe = 200 + below(rng, 40), down = 4;
  const VertexId first_core = 1 + up, first_fringe = first_core + core, first_down = first_fringe + fringe;
  const VertexId absorbing = first_down + down;
  const double density = uniform(rng, 0.7, 0.9);
  std::vector<EdgeSpec> edges{{0, 1, {0.7}}, {0, first_core + below(rng, core), {0.3}}};
  auto edge = [&](VertexId from, VertexId to) {
    std::vector<double> form = random_form(rng, P);
    if (stuck && from == first_core) form.assign(P + 1, 0.0), form[1] = 1.0;
    edges.push_back({from, to, form});
  };
  for (std::uint32_t i = 0; i < up; ++i) edge(1 + i, 1 + (i + 1) % up);
  edge(1, first_core), edge(2, first_fringe);
  for (std::uint32_t i = 0; i < core; ++i) {
    for (std::uint32_t j = 0; j < core; ++j)
      if (i != j && (j == (i + 1) % core || uniform(rng, 0, 1) < density)) edge(first_core + i, first_core + j);
    if (i == 0 || uniform(rng, 0, 1) < 0.2) edge(first_core + i, first_down + below(rng, down));
    if (uniform(rng, 0, 1) < 0.2) edge(first_core + i, absorbing + below(rng, 2));
  }
  for (std::uint32_t f = 0; f < fringe; ++f) {
    edge(first_core + below(rng, core), first_fringe + f);
    edge(first_fringe + f, first_core + below(rng, core));
    if (f + 1 < fringe) edge(first_fringe + f, first_fringe + f + 1);
  }
  for (std::uint32_t i = 0; i < down; ++i) edge(first_down + i, first_down + (i + 1) % down);
  edge(first_down, absorbing);
  const std::uint32_t V = absorbing + 2;
  std::vector<std::vector<double>> rewards(2, std::vector<double>(V, 0.0));
  for (VertexId v = 1; v < absorbing; ++v) rewards[0][v] = 1.0, rewards[1][v] = uniform(rng, 0.0, 3.0);
  RandomModel m{make_graph(P, V, edges, rewards), {}};
  for (std::uint32_t i = 0; i < P; ++i) m.theta.push_back(uniform(rng, 0.3, 2.5));
  return m;
}

// Derivatives of one output agree when their difference is within `rel` of the larger
// of the two or of the output's largest derivative (a derivative near zero is a
// cancellation of terms on that scale), and both are NaN or neither is.
bool derivatives_agree(const std::vector<double>& a, const std::vector<double>& b, std::size_t per_output, double rel) {
  if (a.size() != b.size()) return false;
  for (std::size_t o = 0; o * per_output < a.size(); ++o) {
    double scale = 0;
    for (std::size_t p = 0; p < per_output; ++p)
      if (std::isfinite(a[o * per_output + p])) scale = std::fmax(scale, std::fabs(a[o * per_output + p]));
    for (std::size_t p = 0; p < per_output; ++p) {
      const double x = a[o * per_output + p], y = b[o * per_output + p];
      if (std::isnan(x) || std::isnan(y)) {
        if (std::isnan(x) != std::isnan(y)) return false;
        continue;
      }
      if (std::fabs(x - y) > rel * std::fmax(std::fmax(std::fabs(x), std::fabs(y)), 1e-3 * scale)) return false;
    }
  }
  return true;
}

// The same trace with every block's dense part forgotten: evaluation then replays the
// dense kernel's recorded ops, as before dense evaluation existed.
ModelTrace replay_only(const ModelTrace& t) {
  ModelTrace copy = t;
  for (ComposedBlock& b : copy.blocks) {
    BlockTrace plain = *b.trace;
    plain.dense = DenseTail{};
    b.trace = share(std::move(plain));
  }
  return copy;
}

bool evaluated_densely(const ModelTrace& t, std::uint32_t lanes) {
  for (const ComposedBlock& b : t.blocks)
    if (evaluate_densely(b.trace->dense, lanes)) return true;
  return false;
}

}  // namespace

TEST(blocks_that_fill_in_match_a_dense_solve_with_their_gradients) {
  // Blocks dense from the start (the dense kernel records all of it) and sparse ones
  // that fill in (the sparse recorder hands over part way), against
  // the long-double LU above; gradients against central differences of that LU.
  Rng rng(20261202);
  int dense_from_start = 0, dense_parts = 0;
  for (int trial = 0; trial < 24; ++trial) {
    // Sparse ones start below dense_enough's tenth of all pairs (a ring of 50 or more
    // states adds at most 1/49) and cross it as they fill in.
    const std::uint32_t states = trial % 2 ? 32 + below(rng, 29) : 50 + below(rng, 31);
    const double density = trial % 2 ? uniform(rng, 0.5, 1.0) : uniform(rng, 0.01, 0.04);
    const RandomModel model = random_block_model(rng, states, density);
    const Graph& g = model.graph;
    const Condensation c = condense(g);
    const BlockInput b = extract_block(g, c, c.component_of[1]);
    CHECK_EQ(b.vertex_count, states);
    std::uint64_t internal = 0;
    for (std::uint32_t t : b.edge_target) internal += t < b.vertex_count;
    dense_from_start += dense_enough(b.vertex_count, internal);
    // The dense kernel keeps the sparse recorder's order.
    const BlockTrace bt = record_block(b);
    // Its ops are stored narrow exactly when its values fit 16-bit slots, else compact,
    // whichever of the sparse recorder and the dense kernel wrote them, in a list of
    // their count.
    CHECK(bt.ops.form() == (bt.value_count() <= kNarrowValues ? OpForm::Narrow : OpForm::Compact));
    CHECK_EQ(bt.ops.bytes(), bt.ops.size() * (bt.ops.narrow() ? sizeof(NarrowOp) : sizeof(CompactOp)));
    const SubgraphVector<std::uint32_t> order = elimination_order(b);
    CHECK_EQ(bt.solve.size(), order.size());
    for (std::size_t i = 0; i < order.size() && i < bt.solve.size(); ++i)
      CHECK_EQ(bt.solve[bt.solve.size() - 1 - i].vertex, order[i]);

    const ModelTrace t = compose(g, c, {});
    const std::uint32_t K = 3;
    const RewardPair pair[] = {{0, 1}};
    const Moments m = evaluate(t, model.theta, K, pair);
    const Dense dense(g, model.theta);
    for (std::uint32_t r = 0; r < 2; ++r) {
      const std::vector<long double> expect = dense.moments(r, K);
      for (std::uint32_t k = 1; k <= K; ++k) CHECK_CLOSE(m.moment(r, k), (double)expect[k - 1], 1e-9);
    }
    // Dense evaluation (dense_block_evaluation.hpp) against the replay of the recorded
    // ops: the same elimination summed in another order.
    CHECK_EQ(evaluated_densely(t, 1), bt.dense.size > 0);
    CHECK_EQ(evaluated_densely(t, 8), bt.dense.size > 0);
    dense_parts += bt.dense.size > 0;
    const Moments replayed = evaluate(replay_only(t), model.theta, K, pair);
    for (std::uint32_t r = 0; r < 2; ++r)
      for (std::uint32_t k = 1; k <= K; ++k) CHECK_CLOSE(m.moment(r, k), replayed.moment(r, k), 1e-13);
    // The covariance is a difference: compare on the scale of the terms it subtracts.
    CHECK(std::fabs(m.covariance[0] - replayed.covariance[0]) <=
          1e-13 * (std::fabs(m.covariance[0]) + m.moment(0, 1) * m.moment(1, 1)));
    // A batch (one lane group of 8 and two singles) equals single evaluations bit for
    // bit, and so does a trace read back from its serialized form.
    std::vector<double> thetas;
    for (int i = 0; i < 10; ++i)
      for (std::uint32_t p = 0; p < g.param_count; ++p) thetas.push_back(uniform(rng, 0.3, 2.5));
    const std::vector<Moments> batch = evaluate_batch(t, fixtures::placed(), thetas, 10, K, pair);
    for (int i = 0; i < 10; ++i)
      CHECK(bitwise_equal(batch[i], evaluate(t, std::span(thetas).subspan(i * g.param_count, g.param_count), K, pair)));
    ModelTrace reloaded = t;
    for (ComposedBlock& rb : reloaded.blocks) {
      const std::vector<std::uint8_t> bytes = serialize(*rb.trace);
      rb.trace = share(deserialize(bytes.data(), bytes.size()));
    }
    CHECK(bitwise_equal(m, evaluate(reloaded, model.theta, K, pair)));
    // A dense part that does not name what the commands do is refused on reading.
    if (bt.dense.size > 1) {
      auto refused = [](const BlockTrace& bad) {
        const std::vector<std::uint8_t> bytes = serialize(bad);
        try {
          (void)deserialize(bytes.data(), bytes.size());
        } catch (const EngineError&) {
          return true;
        }
        return false;
      };
      BlockTrace bad = bt;
      std::swap(bad.dense.order[0], bad.dense.order[1]);
      CHECK(refused(bad));
      bad = bt;
      bad.dense.entries[0].slot = bt.dot_count + bt.dense.first_op;  // a value of the dense part itself
      CHECK(refused(bad));
      bad = bt;
      std::swap(bad.dense.entries[0], bad.dense.entries[1]);
      CHECK(refused(bad));
      bad = bt;
      bad.dense.first_op = std::uint32_t(bt.ops.size() + 1);
      CHECK(refused(bad));
      CHECK(!refused(bt));
    }
    const Gradient d = evaluate_gradient(t, model.theta, K, m, pair);
    for (std::uint32_t p = 0; p < g.param_count; ++p) {
      auto at = [&](double step, std::uint32_t r) {
        std::vector<double> shifted = model.theta;
        shifted[p] += step;
        return Dense(g, shifted).moments(r, K);
      };
      const double h = 1e-4 * model.theta[p];
      for (std::uint32_t r = 0; r < 2; ++r) {
        const std::vector<long double> a = at(h, r), bb = at(-h, r), half_a = at(h / 2, r), half_b = at(-h / 2, r);
        for (std::uint32_t k = 1; k <= K; ++k) {
          const long double diff = (4 * (half_a[k - 1] - half_b[k - 1]) / h - (a[k - 1] - bb[k - 1]) / (2 * h)) / 3;
          CHECK_CLOSE(d.of_moment(r, k, p), (double)diff, 1e-7);
        }
      }
    }
  }
  // Half the trials start dense; the check above covers both paths.
  CHECK_EQ(dense_from_start, 12);
  // The blocks dense from the start are described for dense evaluation; the sparse
  // ones hand over (if at all) with too few ops per matrix entry
  // (worth_dense_evaluation), so their dense parts are replayed.
  CHECK_EQ(dense_parts, 12);
}

// The Markowitz rule with fill, evaluated from scratch at every step on a boolean
// pattern (no queue): count = remaining parents × (children + 1 if the vertex can
// leave), ties to the smaller index; eliminating v joins each parent to each child.
std::vector<std::uint32_t> markowitz_with_fill_by_brute_force(const BlockInput& b) {
  const std::uint32_t n = b.vertex_count;
  std::vector<std::vector<std::uint8_t>> edge(n, std::vector<std::uint8_t>(n, 0));
  std::vector<std::uint8_t> leaves(n, 0), done(n, 0);
  for (std::uint32_t u = 0; u < n; ++u)
    for (std::uint64_t e = b.edge_begin[u]; e < b.edge_begin[u + 1]; ++e)
      (b.edge_target[e] < n ? edge[u][b.edge_target[e]] : leaves[u]) = 1;
  std::vector<std::uint32_t> order;
  for (std::uint32_t step = 0; step < n; ++step) {
    std::uint64_t best_count = ~std::uint64_t(0);
    std::uint32_t best = n;
    for (std::uint32_t v = 0; v < n; ++v) {
      if (done[v]) continue;
      std::uint64_t parents = 0, children = 0;
      for (std::uint32_t u = 0; u < n; ++u) parents += !done[u] && edge[u][v];
      for (std::uint32_t z = 0; z < n; ++z) children += !done[z] && edge[v][z];
      const std::uint64_t count = parents * (children + leaves[v]);
      if (count < best_count) best_count = count, best = v;
    }
    for (std::uint32_t u = 0; u < n; ++u) {
      if (done[u] || !edge[u][best]) continue;
      edge[u][best] = 0;
      for (std::uint32_t z = 0; z < n; ++z)
        if (z != u && !done[z] && edge[best][z]) edge[u][z] = 1;
      leaves[u] |= leaves[best];
    }
    done[best] = 1;
    order.push_back(best);
  }
  return order;
}

// Small blocks find the least count by a scan (EliminationQueue, decision 107), larger
// ones by the heap: both give the rule's order, on either side of the switch and in a
// composition whose recorder reuses one queue for blocks of every size.
TEST(cyclic_blocks_are_eliminated_in_the_markowitz_order_on_both_sides_of_the_scan) {
  Rng rng(20261204);
  for (int trial = 0; trial < 40; ++trial) {
    const std::uint32_t states = 2 + below(rng, 47);
    const RandomModel model = random_block_model(rng, states, uniform(rng, 0.02, 0.3));
    const Graph& g = model.graph;
    const Condensation c = condense(g);
    const BlockInput b = extract_block(g, c, c.component_of[1]);
    CHECK_EQ(b.vertex_count, states);
    const std::vector<std::uint32_t> expect = markowitz_with_fill_by_brute_force(b);
    const SubgraphVector<std::uint32_t> order = elimination_order(b);
    CHECK(std::equal(order.begin(), order.end(), expect.begin(), expect.end()));
    const BlockTrace bt = record_block(b);
    CHECK_EQ(bt.solve.size(), expect.size());
    for (std::size_t i = 0; i < expect.size() && i < bt.solve.size(); ++i)
      CHECK_EQ(bt.solve[bt.solve.size() - 1 - i].vertex, expect[i]);
  }
  for (int trial = 0; trial < 6; ++trial) {
    const RandomModel model = random_model(rng, 120);
    const Condensation c = condense(model.graph);
    const ModelTrace t = compose(model.graph, c, {});
    for (const ComposedBlock& block : t.blocks) {
      const BlockInput b = extract_components(model.graph, c, block.first_component, block.last_component);
      const std::vector<std::uint32_t> expect = markowitz_with_fill_by_brute_force(b);
      CHECK_EQ(block.trace->solve.size(), expect.size());
      for (std::size_t i = 0; i < expect.size() && i < block.trace->solve.size(); ++i)
        CHECK_EQ(block.trace->solve[block.trace->solve.size() - 1 - i].vertex, expect[i]);
    }
  }
}

// The gradient takes a dense part through its LU (dense_block_gradient.hpp): against
// the adjoint of its recorded ops (the same trace with the part forgotten), both ways
// a block can go, and against central differences of the long-double solve, on blocks
// where a sparse part feeds the dense one, and at θ with a zero (rates that vanish,
// states never left: NaN where the replayed adjoint has NaN).
TEST(gradients_through_dense_parts_match_the_replayed_adjoint_and_central_differences) {
  Rng rng(20261204);
  int mixed = 0, stuck_in_dense = 0;
  for (int trial = 0; trial < 10; ++trial) {
    const bool stuck = trial % 5 == 4;
    RandomModel model = random_cored_model(rng, stuck);
    const Graph& g = model.graph;
    const ModelTrace t = compose(g, condense(g), {});
    const ModelTrace replayed = replay_only(t);
    for (const ComposedBlock& b : t.blocks)
      mixed += b.trace->dense.size > 0 && b.trace->dense.first_forward > 0 && b.trace->dense.first_op > 0 &&
               b.trace->dense.size < b.trace->vertex_count && evaluate_densely(b.trace->dense, 1);
    const std::uint32_t K = 3, P = g.param_count;
    const RewardPair pair[] = {{0, 1}};
    for (int zeroed = 0; zeroed < 2; ++zeroed) {
      std::vector<double> theta = model.theta;
      if (zeroed) theta[stuck ? 0 : below(rng, P)] = 0.0;
      const Moments m = evaluate(t, theta, K, pair);
      if (stuck && zeroed) {
        // The stuck state (vertex 4, the first of the core) is reached: E[T] = ∞, and
        // the dense part it is in (if any) cannot be factored.
        CHECK(std::isinf(m.moment(0, 1)));
        for (const ComposedBlock& b : t.blocks)
          for (std::uint32_t p = 0; p < b.trace->dense.size; ++p)
            stuck_in_dense += evaluate_densely(b.trace->dense, 1) && b.vertices[b.trace->dense.order[p]] == 4;
      }
      for (GradientWay way : {GradientWay::Chosen, GradientWay::Reverse, GradientWay::Tangents}) {
        const Gradient d = evaluate_gradient(t, theta, K, m, pair, nullptr, way);
        const Gradient e = evaluate_gradient(replayed, theta, K, evaluate(replayed, theta, K, pair), pair, nullptr,
                                             way);
        CHECK(derivatives_agree(d.moment, e.moment, P, 1e-9));
        CHECK(derivatives_agree(d.variance, e.variance, P, 1e-9));
        CHECK(derivatives_agree(d.covariance, e.covariance, P, 1e-9));
      }
      const Gradient d = evaluate_gradient(t, theta, K, m, pair);
      const Dense dense(g, theta);
      for (std::uint32_t p = 0; p < P; ++p) {
        if (theta[p] == 0) continue;  // a central difference would step to a negative rate
        auto at = [&](double step) {
          std::vector<double> shifted = theta;
          shifted[p] += step;
          const Dense shifted_dense(g, shifted);
          std::vector<long double> out = shifted_dense.moments(0, K);
          const std::vector<long double> second = shifted_dense.moments(1, K);
          out.insert(out.end(), second.begin(), second.end());
          out.push_back(shifted_dense.cross(0, 1));
          return out;
        };
        const double h = 1e-4 * theta[p];
        const std::vector<long double> a = at(h), b = at(-h), half_a = at(h / 2), half_b = at(-h / 2);
        auto derivative = [&](std::size_t i) {
          return (double)((4 * (half_a[i] - half_b[i]) / h - (a[i] - b[i]) / (2 * h)) / 3);
        };
        for (std::uint32_t r = 0; r < 2; ++r)
          for (std::uint32_t k = 1; k <= K; ++k) {
            if (!std::isfinite(m.moment(r, k))) {
              CHECK(std::isnan(d.of_moment(r, k, p)));
              continue;
            }
            CHECK_CLOSE(d.of_moment(r, k, p), derivative(r * K + k - 1), 1e-7);
          }
        if (std::isfinite(m.covariance[0])) {
          // dCov = dE[R_0 R_1] − E[R_1]·dE[R_0] − E[R_0]·dE[R_1], on the scale of its terms.
          const double expect = derivative(2 * K) - m.moment(1, 1) * derivative(0) - m.moment(0, 1) * derivative(K);
          const double scale = std::fabs(derivative(2 * K)) + std::fabs(m.moment(1, 1) * derivative(0)) +
                               std::fabs(m.moment(0, 1) * derivative(K));
          CHECK(std::fabs(d.covariance[p] - expect) <= 1e-7 * scale);
        }
      }
    }
  }
  // Half the trials' middle block has a sparse part and a dense part taken densely (the
  // others hand over too early for the part to be worth it, or not at all).
  std::printf("  %d of 10 cored models with a mixed block\n", mixed);
  CHECK(mixed >= 4);
  CHECK(stuck_in_dense >= 1);
  CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
}

// The dense kernel alone on random blocks: x with (diag(λ) − W) x = y, λ_p = Σ_q w_pq +
// leave_p (the block equations of engine.md), against Gaussian elimination with
// partial pivoting in long double; 8 lanes against each lane alone, bit for bit; and
// the cases it hands back to the replay.
TEST(the_dense_block_kernel_solves_the_block_equations) {
  Rng rng(20261203);
  for (int trial = 0; trial < 12; ++trial) {
    const std::uint32_t r = 2 + below(rng, 90);
    constexpr std::uint32_t W = 8;
    const DenseTail tail = fixtures::random_dense_tail(rng, r, uniform(rng, 0.05, 1.0));
    std::vector<double> lanes(tail.entries.size() * W), y(std::size_t(r) * W);
    for (double& v : lanes) v = std::exp(uniform(rng, -3, 3));  // rates over six orders of magnitude
    for (double& v : y) v = uniform(rng, 0, 2);
    std::vector<double> matrix(dense_matrix_doubles(r) * W), inverse(std::size_t(r) * W), x8 = y;
    std::vector<std::uint32_t> extent(3 * r);
    CHECK(factor_dense<W>(tail, lanes.data(), matrix.data(), inverse.data(), extent.data()));
    solve_dense<W>(r, matrix.data(), inverse.data(), extent.data(), x8.data());
    for (std::uint32_t l = 0; l < W; ++l) {
      std::vector<double> one(tail.entries.size()), x(r);
      for (std::size_t e = 0; e < one.size(); ++e) one[e] = lanes[e * W + l];
      for (std::uint32_t p = 0; p < r; ++p) x[p] = y[std::size_t(p) * W + l];
      std::vector<double> m1(dense_matrix_doubles(r)), inv1(r);
      std::vector<std::uint32_t> ext1(3 * r);
      CHECK(factor_dense<1>(tail, one.data(), m1.data(), inv1.data(), ext1.data()));
      solve_dense<1>(r, m1.data(), inv1.data(), ext1.data(), x.data());
      for (std::uint32_t p = 0; p < r; ++p) CHECK(std::memcmp(&x[p], &x8[std::size_t(p) * W + l], sizeof(double)) == 0);
      // The reference.
      std::vector<long double> a(std::size_t(r) * r, 0.0L), b(r);
      for (const DenseEntry& e : tail.entries) {
        a[std::size_t(e.row) * r + e.row] += one[e.slot];
        if (e.column < r) a[std::size_t(e.row) * r + e.column] -= one[e.slot];
      }
      for (std::uint32_t p = 0; p < r; ++p) b[p] = y[std::size_t(p) * W + l];
      for (std::uint32_t k = 0; k < r; ++k) {
        std::uint32_t pivot = k;
        for (std::uint32_t i = k + 1; i < r; ++i)
          if (std::fabs(a[std::size_t(i) * r + k]) > std::fabs(a[std::size_t(pivot) * r + k])) pivot = i;
        for (std::uint32_t q = 0; q < r; ++q) std::swap(a[std::size_t(k) * r + q], a[std::size_t(pivot) * r + q]);
        std::swap(b[k], b[pivot]);
        for (std::uint32_t i = k + 1; i < r; ++i) {
          const long double f = a[std::size_t(i) * r + k] / a[std::size_t(k) * r + k];
          for (std::uint32_t q = k; q < r; ++q) a[std::size_t(i) * r + q] -= f * a[std::size_t(k) * r + q];
          b[i] -= f * b[k];
        }
      }
      for (std::uint32_t k = r; k-- > 0;) {
        long double v = b[k];
        for (std::uint32_t q = k + 1; q < r; ++q) v -= a[std::size_t(k) * r + q] * b[q];
        b[k] = v / a[std::size_t(k) * r + k];
      }
      for (std::uint32_t p = 0; p < r; ++p) CHECK_CLOSE(x[p], (double)b[p], 1e-12);
    }
    // A zero total rate (a state whose rates all vanish at θ) and an overflowed one are
    // left to the replay, whose arithmetic handles the first and reports the second.
    std::vector<double> zeroed(tail.entries.size(), 1.0);
    for (const DenseEntry& e : tail.entries)
      if (e.row == r - 1) zeroed[e.slot] = 0.0;
    std::vector<double> m1(dense_matrix_doubles(r)), inv1(r);
    std::vector<std::uint32_t> ext1(3 * r);
    CHECK(!factor_dense<1>(tail, zeroed.data(), m1.data(), inv1.data(), ext1.data()));
    std::vector<double> huge(tail.entries.size(), 1.0);
    for (const DenseEntry& e : tail.entries)
      if (e.row == 0) huge[e.slot] = 1e308;
    CHECK(!factor_dense<1>(tail, huge.data(), m1.data(), inv1.data(), ext1.data()) || r == 1);
  }
}

TEST(random_graphs_match_a_dense_solve) {
  Rng rng(20261126);
  const RewardPair pairs[] = {{0, 1}, {1, 2}};
  int checked = 0;
  std::uint64_t ops = 0, commands = 0, flat_ops = 0;
  for (int trial = 0; trial < 240; ++trial) {
    const std::size_t before_traces = ledger().bytes(Category::Traces);
    {
      const RandomModel model = random_model(rng, 40);
      const Graph& g = model.graph;
      const Condensation c = condense(g);
      for (VertexId u = 0; u < g.vertex_count; ++u)
        for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
          CHECK(c.component_of[u] <= c.component_of[g.edge_target[e]]);
      const std::uint32_t min_block = 1 + below(rng, 4);
      const ModelTrace t = compose(g, c, {}, min_block);
      const ModelTrace flat = compose_flat(g, c);
      ops += t.operations(), commands += t.commands(), flat_ops += flat.operations();
      const Moments m = evaluate(t, model.theta, 3, pairs);
      const Dense dense(g, model.theta);
      for (std::uint32_t r = 0; r < 3; ++r) {
        const std::vector<long double> expect = dense.moments(r, 3);
        for (int k = 1; k <= 3; ++k) CHECK_CLOSE(m.moment(r, k), (double)expect[k - 1], 1e-9);
      }
      for (std::size_t p = 0; p < 2; ++p) {
        const long double e_ab = dense.cross(pairs[p].first, pairs[p].second);
        const long double cov = e_ab - (long double)m.moment(pairs[p].first, 1) * m.moment(pairs[p].second, 1);
        // The covariance is a difference: compare on the scale of the terms it subtracts.
        CHECK(std::fabs(m.covariance[p] - (double)cov) <= 1e-9 * (double)e_ab + 1e-300);
      }
      const Moments mf = evaluate(flat, model.theta, 3, pairs);
      for (std::uint32_t r = 0; r < 3; ++r)
        for (int k = 1; k <= 3; ++k) CHECK_CLOSE(m.moment(r, k), mf.moment(r, k), 1e-12);

      // Every block through its serialized form: bit-identical moments.
      ModelTrace reloaded = compose(g, c, {}, min_block);
      for (ComposedBlock& b : reloaded.blocks) {
        const std::vector<std::uint8_t> bytes = serialize(*b.trace);
        b.trace = share(deserialize(bytes.data(), bytes.size()));
      }
      CHECK(bitwise_equal(m, evaluate(reloaded, model.theta, 3, pairs)));

      // A batch of 11 θ (one lane group of 8 and three singles): each equals its single evaluation.
      if (trial % 8 == 0) {
        std::vector<double> thetas;
        for (int i = 0; i < 11; ++i)
          for (std::uint32_t p = 0; p < g.param_count; ++p) thetas.push_back(uniform(rng, 0.3, 2.5));
        const std::vector<Moments> batch = evaluate_batch(t, fixtures::placed(), thetas, 11, 3, pairs);
        for (int i = 0; i < 11; ++i) {
          const std::span<const double> theta(thetas.data() + i * g.param_count, g.param_count);
          CHECK(bitwise_equal(batch[i], evaluate(t, theta, 3, pairs)));
        }
      }
      ++checked;
    }
    CHECK_EQ(ledger().bytes(Category::Traces), before_traces);
  }
  CHECK_EQ(checked, 240);
  std::printf("  240 random graphs: %llu operations, %llu commands (flat: %llu operations)\n", (unsigned long long)ops,
              (unsigned long long)commands, (unsigned long long)flat_ops);
}

TEST(a_larger_random_graph_matches_the_dense_solve) {
  Rng rng(7);
  const RandomModel model = random_model(rng, 400);
  const Graph& g = model.graph;
  const Condensation c = condense(g);
  const ModelTrace t = compose(g, c, {});
  const ModelTrace flat = compose_flat(g, c);
  std::printf(
      "  random graph, %u vertices, %llu edges, %u components: %llu operations, %llu commands (flat %llu, %llu)\n",
      g.vertex_count, (unsigned long long)g.edge_count(), c.component_count, (unsigned long long)t.operations(),
      (unsigned long long)t.commands(), (unsigned long long)flat.operations(), (unsigned long long)flat.commands());
  const Moments m = evaluate(t, model.theta, 3);
  const Dense dense(g, model.theta);
  for (std::uint32_t r = 0; r < 3; ++r) {
    const std::vector<long double> expect = dense.moments(r, 3);
    for (int k = 1; k <= 3; ++k) CHECK_CLOSE(m.moment(r, k), (double)expect[k - 1], 1e-9);
  }
}

// One θ solves up to four rewards side by side (evaluate.cpp): with 1–9 rewards every
// group size and remainder occurs. Each reward's moments must be bit for bit what the
// trace gives with that reward alone (one solve at a time), and match the dense solve.
TEST(rewards_solved_side_by_side_equal_each_reward_alone_and_the_dense_solve) {
  Rng rng(20261202);
  for (int trial = 0; trial < 40; ++trial) {
    RandomModel model = random_model(rng, 30);
    Graph& g = model.graph;
    const std::uint32_t R = 1 + trial % 9;
    g.reward_count = R;
    g.rewards.assign(std::size_t(R) * g.vertex_count, 0.0);
    for (std::uint32_t r = 0; r < R; ++r)
      for (VertexId v = 1; v < g.vertex_count; ++v)
        if (!g.absorbing(v)) g.rewards[std::size_t(r) * g.vertex_count + v] = r == 0 ? 1.0 : uniform(rng, 0.0, 2.0);
    const ModelTrace t = compose(g, condense(g), {}, 1 + below(rng, 4));
    std::vector<RewardPair> pairs;
    for (std::uint32_t r = 0; r + 1 < R; r += 2) pairs.push_back({r, r + 1});
    const Moments all = evaluate(t, model.theta, 3, pairs);
    const Dense dense(g, model.theta);
    for (std::uint32_t r = 0; r < R; ++r) {
      ModelTrace alone = t;
      alone.reward_count = 1;
      alone.rewards.assign(t.rewards.begin() + std::ptrdiff_t(r) * g.vertex_count,
                           t.rewards.begin() + std::ptrdiff_t(r + 1) * g.vertex_count);
      const Moments one = evaluate(alone, model.theta, 3);
      CHECK(std::memcmp(&all.raw[std::size_t(r) * 3], one.raw.data(), 3 * sizeof(double)) == 0);
      const std::vector<long double> expect = dense.moments(r, 3);
      for (int k = 1; k <= 3; ++k) CHECK_CLOSE(all.moment(r, k), (double)expect[k - 1], 1e-9);
    }
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      const long double e_ab = dense.cross(pairs[p].first, pairs[p].second);
      const long double cov = e_ab - (long double)all.moment(pairs[p].first, 1) * all.moment(pairs[p].second, 1);
      CHECK(std::fabs(all.covariance[p] - (double)cov) <= 1e-9 * (double)e_ab + 1e-300);
    }
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
}

TEST_MAIN()
