// The trace engine on hand-built models with known moments, plus the properties of
// its parts: condensation order, block keys, serialized traces, cancellation and
// memory accounting.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "base/error.hpp"
#include "check.hpp"
#include "distribution/parametric_graph.hpp"
#include "engine/gradient_accuracy.hpp"
#include "engine/gradient_refinement.hpp"
#include "engine/load.hpp"
#include "engine/moment_accuracy.hpp"
#include "engine/moment_refinement.hpp"
#include "engine/run.hpp"
#include "trace/block.hpp"
#include "trace/block_trace.hpp"
#include "trace/condensation.hpp"
#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"
#include "trace/model_trace.hpp"
#include "trace/ordering.hpp"
#include "trace/solution_placement.hpp"
#include "trace/trace_format.hpp"
#include "trace_fixtures.hpp"

using namespace phasic;
using fixtures::make_graph;

namespace {

// Kingman coalescent, n = 4: vertices S, k=4, k=3, k=2, k=1 (absorbing); rate θ·k(k−1)/2.
Graph kingman4() {
  return make_graph(1, 5, {{0, 1, {1, 0}}, {1, 2, {0, 6}}, {2, 3, {0, 3}}, {3, 4, {0, 1}}},
                    {{0, 1, 1, 1, 0}, {0, 4, 3, 2, 0}});
}

// Structured coalescent, n = 2, d = 2, θ = (coal, mig): S, (2,0), (1,1), (0,2), absorbed.
Graph structured2() {
  return make_graph(2, 5,
                    {{0, 1, {1, 0, 0}},
                     {1, 4, {0, 1, 0}},
                     {1, 2, {0, 0, 2}},
                     {2, 3, {0, 0, 1}},
                     {2, 1, {0, 0, 1}},
                     {3, 4, {0, 1, 0}},
                     {3, 2, {0, 0, 2}}},
                    {{0, 1, 1, 1, 0}});
}

// Rabbits, N = 2, θ = (jump, flood_l, flood_r): S, (2,0), (1,1), (0,2), (1,0), (0,1), (0,0).
Graph rabbits2() {
  return make_graph(3, 7,
                    {{0, 1, {1}},
                     {1, 2, {0, 1, 0, 0}},
                     {1, 6, {0, 0, 1, 0}},
                     {2, 3, {0, 1, 0, 0}},
                     {2, 1, {0, 1, 0, 0}},
                     {2, 5, {0, 0, 1, 0}},
                     {2, 4, {0, 0, 0, 1}},
                     {3, 2, {0, 1, 0, 0}},
                     {3, 6, {0, 0, 0, 1}},
                     {4, 5, {0, 1, 0, 0}},
                     {4, 6, {0, 0, 1, 0}},
                     {5, 4, {0, 1, 0, 0}},
                     {5, 6, {0, 0, 0, 1}}},
                    {{0, 1, 1, 1, 1, 1, 0}});
}

void report(const char* name, const ModelTrace& t) {
  std::printf("  %s: %zu blocks, %llu operations, %llu commands, %zu bytes\n", name, t.blocks.size(),
              (unsigned long long)t.operations(), (unsigned long long)t.commands(), t.bytes());
}

struct LedgerSnapshot {
  std::size_t subgraphs = ledger().bytes(Category::Subgraphs);
  std::size_t traces = ledger().bytes(Category::Traces);
  std::size_t evaluation = ledger().bytes(Category::Evaluation);
  std::size_t graph = ledger().bytes(Category::Graph);
  bool same_work(const LedgerSnapshot& o) const {
    return subgraphs == o.subgraphs && traces == o.traces && evaluation == o.evaluation;
  }
};

}  // namespace

TEST(kingman_moments_of_time_and_total_length) {
  const Graph g = kingman4();
  const Condensation c = condense(g);
  CHECK_EQ(c.component_count, 5u);
  const ModelTrace t = compose(g, c, {});
  report("kingman n=4", t);
  const double theta[] = {1.0};
  const RewardPair pairs[] = {{0, 1}};
  const Moments m = evaluate(t, theta, 3, pairs);
  CHECK_CLOSE(m.moment(0, 1), 1.5, 1e-9);
  CHECK_CLOSE(m.moment(0, 2), 3.388888888888889, 1e-9);
  CHECK_CLOSE(m.moment(0, 3), 10.583333333333332, 1e-9);
  CHECK_CLOSE(m.moment(1, 1), 3.6666666666666665, 1e-9);
  CHECK_CLOSE(m.variance[1], 5.444444444444445, 1e-9);
  // Cov(T, L) = Σ_k k·Var(T_k) with T_k ~ Exp(k(k−1)/2): 4/36 + 3/9 + 2/1.
  CHECK_CLOSE(m.covariance[0], 4.0 / 36 + 3.0 / 9 + 2.0, 1e-9);
  // Time scales as 1/θ.
  const double half[] = {0.5};
  CHECK_CLOSE(evaluate(t, half, 1).moment(0, 1), 3.0, 1e-12);
}

TEST(structured_coalescent_is_cyclic_and_exact) {
  const Graph g = structured2();
  const Condensation c = condense(g);
  CHECK_EQ(c.component_count, 3u);  // S, the three live states, absorbed
  CHECK_EQ(c.size(1), 3u);
  const ModelTrace t = compose(g, c, {});
  report("structured n=2 d=2", t);
  const double theta[] = {1.0, 0.5};
  const Moments m = evaluate(t, theta, 2);
  CHECK_CLOSE(m.moment(0, 1), 2.0, 1e-9);
  CHECK_CLOSE(m.moment(0, 2), 10.0, 1e-9);
  // E[T] = d whatever the migration rate.
  const double fast[] = {1.0, 7.25};
  CHECK_CLOSE(evaluate(t, fast, 1).moment(0, 1), 2.0, 1e-12);
}

TEST(a_rate_set_to_zero_drops_unreached_states_and_reports_infinite_and_undefined) {
  // structured2 with a second reward that is 0 in state (1,1).
  Graph g = structured2();
  g.reward_count = 2;
  const double second[] = {0, 1, 0, 1, 0};
  g.rewards.insert(g.rewards.end(), second, second + 5);
  const Condensation c = condense(g);
  const ModelTrace t = compose(g, c, {});
  const RewardPair pairs[] = {{0, 1}};
  // mig = 0: (1,1) has no rate out but is never reached; T ~ Exp(1), E[T^k] = k!.
  const double no_migration[] = {1.0, 0.0};
  const Moments m = evaluate(t, no_migration, 3, pairs);
  CHECK(m.absorption_certain);
  CHECK_EQ(m.moment(0, 1), 1.0);
  CHECK_EQ(m.moment(0, 2), 2.0);
  CHECK_EQ(m.moment(0, 3), 6.0);
  CHECK_EQ(m.variance[0], 1.0);
  CHECK_EQ(m.covariance[0], 1.0);  // the second reward is time until absorption here too
  // coal = 0: the lineages migrate forever. Time is infinite; the second reward is 0
  // in (1,1), so its moments are undefined, and so is the covariance (∞ − ∞).
  const double no_coalescence[] = {0.0, 0.5};
  const Moments n = evaluate(t, no_coalescence, 2, pairs);
  CHECK(!n.absorption_certain);
  CHECK(std::isinf(n.moment(0, 1)) && n.moment(0, 1) > 0);
  CHECK(std::isinf(n.variance[0]));
  CHECK(std::isnan(n.moment(1, 1)) && std::isnan(n.moment(1, 2)) && std::isnan(n.variance[1]));
  CHECK(std::isnan(n.covariance[0]));
  // A batch (8 lanes and a remainder) gives what single evaluations give.
  std::vector<double> thetas;
  for (int i = 0; i < 11; ++i) thetas.insert(thetas.end(), {i % 3 == 2 ? 0.0 : 1.0, i % 2 ? 0.25 * i : 0.0});
  const std::vector<Moments> batch = evaluate_batch(t, fixtures::placed(), thetas, 11, 3, pairs);
  for (std::uint32_t i = 0; i < 11; ++i) {
    const Moments one = evaluate(t, std::span<const double>(thetas.data() + 2 * i, 2), 3, pairs);
    CHECK_EQ(batch[i].absorption_certain, one.absorption_certain);
    for (std::size_t k = 0; k < one.raw.size(); ++k)
      CHECK(std::memcmp(&batch[i].raw[k], &one.raw[k], sizeof(double)) == 0);
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
}

// One θ replays blocks two at a time, their ops interleaved (evaluate.cpp, run): with
// an even and an odd number of blocks, and in both arithmetics, the moments are bit for
// bit those of the batch's lanes, which replay one block at a time.
TEST(blocks_replayed_in_pairs_give_the_lanes_bits) {
  for (const int N : {7, 8}) {
    const Graph g = fixtures::rabbits(N);
    const Condensation c = condense(g);
    const ModelTrace t = compose(g, c, {});
    CHECK(t.blocks.size() >= 3);
    std::vector<double> thetas;
    for (int i = 0; i < 8; ++i) thetas.insert(thetas.end(), {0.5 + 0.3 * i, i == 3 ? 0.0 : 2.0 + i, 4.0 / (1 + i)});
    const RewardPair pairs[] = {{0, 0}};
    const std::vector<Moments> lanes = evaluate_batch(t, fixtures::placed(), thetas, 8, 3, pairs);
    for (std::uint32_t i = 0; i < 8; ++i) {
      const Moments one = evaluate(t, std::span<const double>(thetas.data() + 3 * i, 3), 3, pairs);
      CHECK_EQ(one.raw.size(), lanes[i].raw.size());
      for (std::size_t k = 0; k < one.raw.size(); ++k)
        CHECK(std::memcmp(&lanes[i].raw[k], &one.raw[k], sizeof(double)) == 0);
      CHECK(std::memcmp(&lanes[i].covariance[0], &one.covariance[0], sizeof(double)) == 0);
    }
    std::printf("  rabbits N = %d: %zu blocks\n", N, t.blocks.size());
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
}

// A batch keeps x only at the vertices a later block exits into and at S's targets,
// numbered block by block (solution_placement.hpp); rabbits exit into few of theirs.
// An absorbing start target reads the zero entry: the batch's moments are then bit
// for bit the single evaluation's, and half those of a start in the chain.
TEST(a_batch_keeps_solutions_only_where_another_block_reads_them) {
  const Graph g = fixtures::rabbits(12);
  const ModelTrace t = compose(g, condense(g), {});
  {
    const SolutionPlacement placement(t);
    std::vector<std::uint8_t> read(t.vertex_count, 0);
    for (const ComposedBlock& b : t.blocks)
      for (VertexId v : b.exits) read[v] = 1;
    for (VertexId z : t.start_target) read[z] = 1;
    std::uint32_t kept = 0, local = 0;
    for (std::size_t bi = 0; bi < t.blocks.size(); ++bi) {
      const ComposedBlock& b = t.blocks[bi];
      CHECK_EQ(placement.first_kept(bi), kept);
      CHECK_EQ(placement.first_vertex(bi), local);
      for (std::uint32_t i = 0; i < b.vertices.size(); ++i)
        if (read[b.vertices[i]]) {
          CHECK_EQ(placement.entry(b.vertices[i]), kept);
          CHECK_EQ(placement.kept_local(kept), i);
          ++kept;
        }
      local += std::uint32_t(b.vertices.size());
    }
    CHECK_EQ(placement.kept_count(), kept);
    CHECK_EQ(placement.first_kept(t.blocks.size()), kept);
    CHECK_EQ(placement.first_vertex(t.blocks.size()), local);
    CHECK_EQ(placement.start_entry(0), placement.entry(t.start_target[0]));
    CHECK(kept > 0 && 2 * kept < local);
    std::printf("  rabbits N = 12: %u of %u vertices kept\n", kept, local);
  }

  // Kingman n = 4 entered at k = 4 or absorbed at once, half and half.
  const Graph split = make_graph(1, 5,
                                 {{0, 1, {0.5, 0}}, {0, 4, {0.5, 0}}, {1, 2, {0, 6}}, {2, 3, {0, 3}}, {3, 4, {0, 1}}},
                                 {{0, 1, 1, 1, 0}, {0, 4, 3, 2, 0}});
  const ModelTrace s = compose(split, condense(split), {});
  CHECK_EQ(SolutionPlacement(s).start_entry(1), SolutionPlacement(s).zero());
  const ModelTrace whole = compose(kingman4(), condense(kingman4()), {});
  std::vector<double> thetas;
  for (int i = 0; i < 8; ++i) thetas.push_back(0.5 + 0.25 * i);
  const RewardPair pairs[] = {{0, 1}};
  const std::vector<Moments> lanes = evaluate_batch(s, fixtures::placed(), thetas, 8, 3, pairs);
  for (std::uint32_t i = 0; i < 8; ++i) {
    const std::span<const double> theta(thetas.data() + i, 1);
    const Moments one = evaluate(s, theta, 3, pairs), chain = evaluate(whole, theta, 3, pairs);
    for (std::size_t k = 0; k < one.raw.size(); ++k) {
      CHECK(std::memcmp(&lanes[i].raw[k], &one.raw[k], sizeof(double)) == 0);
      CHECK_CLOSE(one.raw[k], 0.5 * chain.raw[k], 1e-15);
    }
    CHECK(std::memcmp(&lanes[i].covariance[0], &one.covariance[0], sizeof(double)) == 0);
  }
  // Another trace's placement would index out of bounds: refused before any solve,
  // and the placement is asked for only when lane groups run (8 θ or more).
  const SolutionPlacement of_rabbits(t);
  std::uint32_t asked = 0;
  const PlacementSource wrong = [&](const ModelTrace&) -> const SolutionPlacement& {
    ++asked;
    return of_rabbits;
  };
  CHECK_THROWS(evaluate_batch(s, wrong, thetas, 8, 3, pairs));
  CHECK_EQ(asked, 1u);
  CHECK_EQ(evaluate_batch(s, wrong, std::span<const double>(thetas.data(), 7), 7, 3, pairs).size(), 7u);
  CHECK_EQ(asked, 1u);
  CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
}

// The block's ops in another order their dependencies allow, slots renumbered to
// match: each op keeps its operands, so every value is the same operation on the same
// values. Ready ops are picked at random (seeded).
static BlockTrace reordered(const BlockTrace& t, std::mt19937& random) {
  BlockTrace s;
  s.param_count = t.param_count;
  s.vertex_count = t.vertex_count;
  s.exit_count = t.exit_count;
  s.dot_count = t.dot_count;
  s.dot_coeffs = t.dot_coeffs;
  const std::uint32_t D = t.dot_count;
  const std::size_t n = t.ops.size();
  auto operands = [](const Op& o) {
    return o.code == OpCode::Inv ? std::vector<std::uint32_t>{o.a} : std::vector<std::uint32_t>{o.a, o.b, o.c};
  };
  std::vector<std::uint32_t> waiting(n, 0);
  std::vector<std::vector<std::uint32_t>> readers(n);
  std::vector<std::uint32_t> ready;
  for (std::size_t i = 0; i < n; ++i) {
    for (const std::uint32_t x : operands(t.ops[i]))
      if (x >= D) ++waiting[i], readers[x - D].push_back(std::uint32_t(i));
    if (waiting[i] == 0) ready.push_back(std::uint32_t(i));
  }
  std::vector<std::uint32_t> slot(D + n);
  for (std::uint32_t d = 0; d < D; ++d) slot[d] = d;
  std::vector<std::uint32_t> order;
  while (!ready.empty()) {
    const std::size_t pick = std::uniform_int_distribution<std::size_t>(0, ready.size() - 1)(random);
    const std::uint32_t i = ready[pick];
    ready[pick] = ready.back();
    ready.pop_back();
    slot[D + i] = D + std::uint32_t(order.size());
    order.push_back(i);
    for (const std::uint32_t r : readers[i])
      if (--waiting[r] == 0) ready.push_back(r);
  }
  CHECK_EQ(order.size(), n);
  TraceVector<Op> ops;
  for (const std::uint32_t i : order) {
    Op o = t.ops[i];
    o.a = slot[o.a];
    if (o.code != OpCode::Inv) o.b = slot[o.b], o.c = slot[o.c];
    ops.push_back(o);
  }
  s.ops = OpList(std::move(ops), s.dot_count);
  TraceVector<ForwardCommand> forward = t.forward.widened();
  TraceVector<SolveCommand> solve = t.solve.widened();
  TraceVector<Term> terms = t.terms.widened();
  for (ForwardCommand& f : forward) f.multiplier = slot[f.multiplier];
  for (SolveCommand& c : solve) c.inverse_rate = slot[c.inverse_rate];
  for (Term& k : terms) k.weight = slot[k.weight];
  s.set_commands(std::move(forward), std::move(solve), std::move(terms));
  CHECK_EQ(s.commands_narrow(), t.commands_narrow());
  return s;
}

// Evaluation may issue independent ops in any order (one θ interleaves two blocks'
// ops; docs/performance.md, "Target 3", weighs schedules by dependency depth) but
// every op is one operation on its operands, so a program's values do not depend on
// the order of its independent ops: moments of randomly reordered programs are bit for
// bit the recorded ones, for one θ (blocks in pairs) and for lanes.
TEST(a_programs_independent_ops_in_any_order_give_the_same_bits) {
  std::mt19937 random(15);
  for (const int N : {7, 12}) {
    const Graph g = fixtures::rabbits(N);
    const Condensation c = condense(g);
    const ModelTrace t = compose(g, c, {});
    ModelTrace u = compose(g, c, {});
    std::size_t moved = 0;
    for (ComposedBlock& b : u.blocks) {
      CHECK_EQ(b.trace->dense.size, 0u);
      BlockTrace s = reordered(*b.trace, random);
      for (std::size_t i = 0; i < s.ops.size(); ++i) {
        const Op x = s.ops[i], y = b.trace->ops[i];
        moved += x.code != y.code || x.a != y.a || x.b != y.b || x.c != y.c;
      }
      b.trace = share(std::move(s));
    }
    CHECK(moved > 0);
    std::vector<double> thetas;
    for (int i = 0; i < 8; ++i) thetas.insert(thetas.end(), {0.5 + 0.3 * i, i == 3 ? 0.0 : 2.0 + i, 4.0 / (1 + i)});
    const RewardPair pairs[] = {{0, 0}};
    auto same = [](const Moments& a, const Moments& b) {
      CHECK_EQ(a.raw.size(), b.raw.size());
      CHECK(std::memcmp(a.raw.data(), b.raw.data(), a.raw.size() * sizeof(double)) == 0);
      CHECK(std::memcmp(a.covariance.data(), b.covariance.data(), a.covariance.size() * sizeof(double)) == 0);
    };
    const std::vector<Moments> lanes = evaluate_batch(t, fixtures::placed(), thetas, 8, 3, pairs);
    const std::vector<Moments> reordered_lanes = evaluate_batch(u, fixtures::placed(), thetas, 8, 3, pairs);
    for (std::uint32_t i = 0; i < 8; ++i) {
      const std::span<const double> theta(thetas.data() + 3 * i, 3);
      same(evaluate(u, theta, 3, pairs), evaluate(t, theta, 3, pairs));
      same(reordered_lanes[i], lanes[i]);
    }
    std::printf("  rabbits N = %d: %zu of %llu ops moved\n", N, moved, (unsigned long long)t.operations());
  }
  CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
}

// A block's ops are stored narrow (16-bit slots, block_trace.hpp) up to kNarrowValues
// values and wide beyond: a one-state block whose rate θ is grown by a chain of
// MulAdds, s ← s + s·2⁻¹⁶, then inverted, at value counts just below, at and just above
// the limit. Each form gives E[T] = 1/s with the bits of that chain computed here, for
// one θ (beside the start's block, in pairs), in lanes, and read back from its
// serialized form; the form holds 6 or 16 bytes per op.
TEST(blocks_at_the_narrow_limit_replay_and_round_trip_with_the_chains_bits) {
  const Graph g = make_graph(1, 3, {{0, 1, {1}}, {1, 2, {0, 1}}}, {{0, 1, 0}});
  const Condensation c = condense(g);
  const ModelTrace recorded = compose(g, c, {});
  std::size_t at = recorded.blocks.size();
  for (std::size_t i = 0; i < recorded.blocks.size(); ++i)
    if (recorded.blocks[i].vertices.size() == 1 && recorded.blocks[i].vertices[0] == 1) at = i;
  CHECK(at < recorded.blocks.size());
  const BlockTrace& rate = *recorded.blocks[at].trace;
  CHECK(rate.ops.narrow());
  CHECK_EQ(rate.ops.size(), 1u);
  CHECK(rate.ops[0].code == OpCode::Inv && rate.ops[0].a < rate.dot_count);
  CHECK(rate.forward.empty() && rate.terms.empty());
  const double step = 1.0 / 65536;
  for (const std::uint64_t values : {kNarrowValues - 1, kNarrowValues, kNarrowValues + 1}) {
    BlockTrace t;
    t.param_count = rate.param_count;
    t.vertex_count = rate.vertex_count;
    t.exit_count = rate.exit_count;
    t.dot_coeffs = rate.dot_coeffs;
    t.dot_coeffs.push_back(step);
    for (std::uint32_t p = 0; p < rate.param_count; ++p) t.dot_coeffs.push_back(0.0);
    t.dot_count = rate.dot_count + 1;
    const std::uint32_t constant = rate.dot_count;
    const auto chain = std::uint32_t(values - t.dot_count - 1);
    TraceVector<Op> ops;
    ops.reserve(chain + 1);
    std::uint32_t s = rate.ops[0].a;
    for (std::uint32_t k = 0; k < chain; ++k) {
      ops.push_back({OpCode::MulAdd, s, s, constant});
      s = t.dot_count + k;
    }
    ops.push_back({OpCode::Inv, s, 0, 0});
    const TraceVector<Op> wide = ops;
    t.ops = OpList(std::move(ops), t.dot_count);
    TraceVector<SolveCommand> solve = rate.solve.widened();
    solve[0].inverse_rate = std::uint32_t(values - 1);
    t.set_commands({}, std::move(solve), {});
    CHECK_EQ(t.value_count(), values);
    CHECK(t.ops.form() == (values <= kNarrowValues ? OpForm::Narrow : OpForm::Compact));
    CHECK(t.commands_narrow());  // values ≤ kNarrowCommandSlots
    CHECK_EQ(t.ops.bytes(), wide.size() * (t.ops.narrow() ? sizeof(NarrowOp) : sizeof(CompactOp)));
    bool same_ops = t.ops.size() == wide.size();
    for (std::size_t i = 0; same_ops && i < wide.size(); ++i) {
      const Op x = t.ops[i];
      same_ops = x.code == wide[i].code && x.a == wide[i].a && x.b == wide[i].b && x.c == wide[i].c;
    }
    CHECK(same_ops);

    const std::vector<std::uint8_t> bytes = serialize(t);
    const BlockTrace back = deserialize(bytes.data(), bytes.size());
    CHECK(serialize(back) == bytes);
    CHECK(back.ops.form() == t.ops.form());
    CHECK(back.commands_narrow());
    // The same ops kept wide (16 bytes, as before decision 100) replay to the same bits;
    // the reader refuses them, since they fit a smaller form.
    BlockTrace kept_wide = t;
    kept_wide.ops = OpList::kept_wide(TraceVector<Op>(wide));
    const std::vector<std::uint8_t> wide_bytes = serialize(kept_wide);
    CHECK_THROWS(deserialize(wide_bytes.data(), wide_bytes.size()));

    const BlockTrace* const forms[] = {&t, &back, &kept_wide};
    for (const BlockTrace* form : forms) {
      ModelTrace m = compose(g, c, {});
      m.blocks[at].trace = share(BlockTrace(*form));
      std::vector<double> thetas;
      for (int i = 0; i < 8; ++i) thetas.push_back(0.25 + 0.5 * i);
      const std::vector<Moments> lanes = evaluate_batch(m, fixtures::placed(), thetas, 8, 2, {});
      for (std::uint32_t i = 0; i < 8; ++i) {
        double x = thetas[i];
        for (std::uint32_t k = 0; k < chain; ++k) x = x + x * step;
        const double mean = 1.0 / x;
        const std::span<const double> theta(thetas.data() + i, 1);
        const Moments one = evaluate(m, theta, 2);
        CHECK(std::memcmp(&one.raw[0], &mean, sizeof mean) == 0);
        CHECK(std::memcmp(lanes[i].raw.data(), one.raw.data(), one.raw.size() * sizeof(double)) == 0);
        // E[T] = 1/(θ·g) with g the chain's factor: dE[T]/dθ = −E[T]/θ.
        const Gradient d = evaluate_gradient(m, theta, 2, one);
        CHECK_CLOSE(d.moment[0], -mean / thetas[i], 1e-12);
      }
    }
  }
}

namespace {

// A complete graph of 64 states, θ = (θ1, θ2): S → 1, i → j at complete_rate(i, j, θ),
// i → absorbed at 0.5·θ1 + ((i mod 4)/4 + 1/4)·θ2; one reward, time. Its one block is
// recorded by the dense kernel into ≈ 90 k values: past 16-bit slots.
constexpr std::uint32_t kCompleteStates = 64;
double complete_rate(std::uint32_t i, std::uint32_t j, const double* theta) {
  return (double((i * 5 + j * 3) % 7 + 1) / 8) * theta[0] + (double((i + 2 * j) % 3) / 4) * theta[1];
}
Graph complete_graph() {
  constexpr std::uint32_t r = kCompleteStates, absorbed = r + 1;
  std::vector<fixtures::EdgeSpec> edges{{0, 1, {1}}};
  const double unit[2][2] = {{1, 0}, {0, 1}};
  for (std::uint32_t i = 1; i <= r; ++i) {
    for (std::uint32_t j = 1; j <= r; ++j)
      if (i != j) edges.push_back({i, j, {0, complete_rate(i, j, unit[0]), complete_rate(i, j, unit[1])}});
    edges.push_back({i, absorbed, {0, 0.5, double(i % 4) / 4 + 0.25}});
  }
  std::vector<double> time(r + 2, 1.0);
  time[0] = time[absorbed] = 0;
  return make_graph(2, r + 2, edges, {time});
}

}  // namespace

// A block past 16-bit slots (a complete graph of 64 states, all recorded by the dense
// kernel: ≈ 90 k values) keeps its ops compact (CompactOp, 12 bytes: decision 100). The
// same ops kept wide replay to the same bits in one evaluation, a batch of 8 and the
// gradient, with the dense part factored (as recorded) and replayed (the dense tail
// dropped); the mean matches a Gaussian elimination of the generator in long double.
TEST(a_block_past_16_bit_slots_is_compact_and_replays_as_its_wide_form) {
  constexpr std::uint32_t r = kCompleteStates;
  const auto rate = complete_rate;
  const Graph g = complete_graph();
  const Condensation c = condense(g);
  const ModelTrace compact = compose(g, c, {});
  std::size_t compact_blocks = 0;
  for (const ComposedBlock& b : compact.blocks)
    if (b.trace->ops.form() == OpForm::Compact) {
      ++compact_blocks;
      CHECK(b.trace->value_count() > kNarrowValues);
      CHECK_EQ(b.trace->ops.bytes(), b.trace->ops.size() * sizeof(CompactOp));
      const std::vector<std::uint8_t> bytes = serialize(*b.trace);
      CHECK(serialize(deserialize(bytes.data(), bytes.size())) == bytes);
    }
  CHECK_EQ(compact_blocks, std::size_t(1));

  // E[T]: long double Gaussian elimination of λ_i x_i − Σ_j w_ij x_j = 1 over the block.
  auto mean = [&](const double* theta) {
    std::vector<std::vector<long double>> m(r, std::vector<long double>(r + 1, 0.0L));
    for (std::uint32_t i = 1; i <= r; ++i) {
      long double lambda = 0.5L * theta[0] + (double(i % 4) / 4 + 0.25) * theta[1];
      for (std::uint32_t j = 1; j <= r; ++j)
        if (i != j) lambda += rate(i, j, theta), m[i - 1][j - 1] = -rate(i, j, theta);
      m[i - 1][i - 1] = lambda, m[i - 1][r] = 1;
    }
    for (std::uint32_t k = 0; k < r; ++k)
      for (std::uint32_t i = k + 1; i < r; ++i) {
        const long double f = m[i][k] / m[k][k];
        for (std::uint32_t j = k; j <= r; ++j) m[i][j] -= f * m[k][j];
      }
    std::vector<long double> x(r);
    for (std::uint32_t k = r; k-- > 0;) {
      long double sum = m[k][r];
      for (std::uint32_t j = k + 1; j < r; ++j) sum -= m[k][j] * x[j];
      x[k] = sum / m[k][k];
    }
    return double(x[0]);
  };

  std::vector<double> thetas;
  for (int i = 0; i < 8; ++i) thetas.push_back(0.5 + 0.25 * i), thetas.push_back(1.5 - 0.125 * i);
  auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
  };
  for (const bool dense_tail : {true, false}) {
    ModelTrace stored = compose(g, c, {}), wide = compose(g, c, {});
    for (std::size_t i = 0; i < stored.blocks.size(); ++i) {
      BlockTrace t = *stored.blocks[i].trace;
      if (!dense_tail) t.dense = DenseTail{};
      BlockTrace w = t;
      if (t.ops.form() == OpForm::Compact) {
        TraceVector<Op> ops(t.ops.size());
        for (std::size_t k = 0; k < ops.size(); ++k) ops[k] = t.ops[k];
        w.ops = OpList::kept_wide(std::move(ops));
      }
      stored.blocks[i].trace = share(std::move(t));
      wide.blocks[i].trace = share(std::move(w));
    }
    for (int i = 0; i < 8; ++i) {
      const std::span<const double> theta(thetas.data() + 2 * i, 2);
      const Moments one = evaluate(stored, theta, 2), one_wide = evaluate(wide, theta, 2);
      CHECK(same(one.raw, one_wide.raw));
      CHECK_CLOSE(one.raw[0], mean(theta.data()), 1e-12);
      const Gradient d = evaluate_gradient(stored, theta, 2, one), d_wide = evaluate_gradient(wide, theta, 2, one);
      CHECK(same(d.moment, d_wide.moment));
    }
    const std::vector<Moments> lanes = evaluate_batch(stored, fixtures::placed(), thetas, 8, 2);
    const std::vector<Moments> lanes_wide = evaluate_batch(wide, fixtures::placed(), thetas, 8, 2);
    for (std::size_t i = 0; i < lanes.size(); ++i) CHECK(same(lanes[i].raw, lanes_wide[i].raw));
  }
}

// Commands are stored narrow (block_trace.hpp, NarrowForward) exactly when a block's
// vertices + exits and its values are at most kNarrowCommandSlots: blocks of one-vertex
// solves sharing one inverse rate 1/θ (values stay 2), at y sizes on either side of
// the limit. The reader keeps the form, and refuses a narrow form its header's sizes
// do not allow and a wide form that fits.
TEST(commands_are_narrow_exactly_when_their_indices_fit_16_bits) {
  auto block = [](std::uint32_t vertices, std::uint32_t exits) {
    BlockTrace t;
    t.param_count = 1;
    t.vertex_count = vertices;
    t.exit_count = exits;
    t.dot_count = 1;
    t.dot_coeffs = {0.0, 1.0};
    t.ops = OpList(TraceVector<Op>{Op{OpCode::Inv, 0, 0, 0}}, t.dot_count);
    TraceVector<SolveCommand> solve(vertices);
    for (std::uint32_t v = 0; v < vertices; ++v) solve[v] = {v, 1, 0};
    t.set_commands({}, std::move(solve), {});
    return t;
  };
  auto reseal = [](std::vector<std::uint8_t>& b) {
    const std::uint64_t h = trace_checksum(b.data(), b.size() - 8);
    std::memcpy(b.data() + b.size() - 8, &h, 8);
  };
  for (const std::uint64_t y_size : {kNarrowCommandSlots - 1, kNarrowCommandSlots, kNarrowCommandSlots + 1}) {
    const BlockTrace t = block(std::uint32_t(y_size - 1), 1);
    CHECK_EQ(t.commands_narrow(), y_size <= kNarrowCommandSlots);
    CHECK_EQ(t.solve.bytes(), t.solve.size() * (t.commands_narrow() ? sizeof(NarrowSolve) : sizeof(SolveCommand)));
    CHECK_EQ(t.solve[t.solve.size() - 1].vertex, std::uint32_t(y_size - 2));
    std::vector<std::uint8_t> bytes = serialize(t);
    const BlockTrace back = deserialize(bytes.data(), bytes.size());
    CHECK(serialize(back) == bytes);
    CHECK_EQ(back.commands_narrow(), t.commands_narrow());
    // One more exit (header offset 16) takes a narrow block past the limit; one fewer
    // brings a wide one within it.
    std::uint32_t exits;
    std::memcpy(&exits, bytes.data() + 16, 4);
    if (y_size == kNarrowCommandSlots) exits += 1;
    if (y_size == kNarrowCommandSlots + 1) exits -= 1;
    if (y_size == kNarrowCommandSlots - 1) continue;
    std::memcpy(bytes.data() + 16, &exits, 4);
    reseal(bytes);
    CHECK_THROWS(deserialize(bytes.data(), bytes.size()));
  }
  // A block that fits, its commands held wide by hand: refused when read back.
  BlockTrace wide = block(3, 0);
  wide.forward = ForwardList(wide.forward.widened());
  wide.solve = SolveList(wide.solve.widened());
  wide.terms = TermList(wide.terms.widened());
  const std::vector<std::uint8_t> bytes = serialize(wide);
  CHECK_THROWS(deserialize(bytes.data(), bytes.size()));
}

// Each way the program values can take (reverse, tangents, and the one chosen per
// block) is checked: the small models here would otherwise take reverse only.
TEST(gradients_match_closed_forms_and_central_differences) {
  const LedgerSnapshot before;
  for (const GradientWay way : {GradientWay::Chosen, GradientWay::Reverse, GradientWay::Tangents}) {
    {
      // Structured n = 2, d = 2: E[T] = d/coal whatever mig (Strobeck).
      const Graph g = structured2();
      const ModelTrace t = compose(g, condense(g), {});
      const double theta[] = {1.5, 0.7};
      const Gradient d = evaluate_gradient(t, theta, 2, evaluate(t, theta, 2), {}, nullptr, way);
      CHECK_CLOSE(d.of_moment(0, 1, 0), -2 / (1.5 * 1.5), 1e-12);
      CHECK(std::abs(d.of_moment(0, 1, 1)) < 1e-13);
    }
    // Rabbits N = 2 (three parameters, a cycle): every moment and variance against
    // Richardson-extrapolated central differences of evaluate().
    const Graph g = rabbits2();
    const ModelTrace t = compose(g, condense(g), {});
    const std::vector<double> theta = {0.8, 1.3, 0.6};
    const std::uint32_t K = 3;
    const Moments m = evaluate(t, theta, K);
    const Gradient d = evaluate_gradient(t, theta, K, m, {}, nullptr, way);
    for (std::uint32_t p = 0; p < 3; ++p) {
      auto at = [&](double step) {
        std::vector<double> shifted = theta;
        shifted[p] += step;
        return evaluate(t, shifted, K);
      };
      const double h = 1e-3 * theta[p];
      const Moments a = at(h), b = at(-h), c = at(h / 2), e = at(-h / 2);
      auto difference = [&](auto f) { return (4 * (f(c) - f(e)) / h - (f(a) - f(b)) / (2 * h)) / 3; };
      for (std::uint32_t r = 0; r < m.reward_count; ++r) {
        for (std::uint32_t k = 1; k <= K; ++k)
          CHECK_CLOSE(d.of_moment(r, k, p), difference([&](const Moments& x) { return x.moment(r, k); }), 1e-7);
        CHECK_CLOSE(d.variance[r * 3 + p], difference([&](const Moments& x) { return x.variance[r]; }), 1e-7);
      }
    }
    // Covariances: a second reward (time weighted 1, 2 or 3 by vertex) beside time, in
    // both orders and with itself, against central differences of evaluate()'s.
    {
      Graph two = rabbits2();
      std::vector<double> weighted(two.rewards.begin(), two.rewards.begin() + two.vertex_count);
      for (std::uint32_t v = 0; v < two.vertex_count; ++v) weighted[v] *= 1 + v % 3;
      two.rewards.insert(two.rewards.end(), weighted.begin(), weighted.end());
      two.reward_count = 2;
      const ModelTrace t2 = compose(two, condense(two), {});
      const RewardPair pairs[] = {{0, 1}, {1, 0}, {1, 1}};
      const Moments m2 = evaluate(t2, theta, 2, pairs);
      const Gradient d2 = evaluate_gradient(t2, theta, 2, m2, pairs, nullptr, way);
      CHECK_EQ(d2.pair_count, 3u);
      for (std::uint32_t p = 0; p < 3; ++p) {
        auto at = [&](double step) {
          std::vector<double> shifted = theta;
          shifted[p] += step;
          return evaluate(t2, shifted, 2, pairs);
        };
        const double h = 1e-3 * theta[p];
        const Moments a = at(h), b = at(-h), c = at(h / 2), e = at(-h / 2);
        for (std::size_t q = 0; q < 3; ++q) {
          auto cov = [&](const Moments& x) { return x.covariance[q]; };
          const double expected = (4 * (cov(c) - cov(e)) / h - (cov(a) - cov(b)) / (2 * h)) / 3;
          CHECK_CLOSE(d2.covariance[q * 3 + p], expected, 1e-7);
        }
        // Cov(R, R) is Var(R): the two derivatives agree.
        CHECK_CLOSE(d2.covariance[2 * 3 + p], d2.variance[1 * 3 + p], 1e-12);
      }
    }
  }
  // Every byte of gradient scratch was released.
  CHECK_EQ(ledger().bytes(Category::Evaluation), before.evaluation);
}

// Where double keeps its digits (rabbits N = 2 at ordinary θ), the quadruple-precision
// recomputation (engine/gradient_refinement.hpp) gives the double pass's derivatives:
// every moment to K = 3, variance and covariance, for each parameter recomputed, and
// leaves the others' bits. A refusal or a cancel leaves the gradient as it was.
TEST(quadruple_precision_derivatives_are_the_double_ones_where_double_keeps_its_digits) {
  const LedgerSnapshot before;
  Graph two = rabbits2();
  std::vector<double> weighted(two.rewards.begin(), two.rewards.begin() + two.vertex_count);
  for (std::uint32_t v = 0; v < two.vertex_count; ++v) weighted[v] *= 1 + v % 3;
  two.rewards.insert(two.rewards.end(), weighted.begin(), weighted.end());
  two.reward_count = 2;
  const ModelTrace t = compose(two, condense(two), {});
  const ParametricGraph g = parametric_graph_of(two);
  const std::vector<double> theta = {0.8, 1.3, 0.6};
  const RewardPair pairs[] = {{0, 1}, {1, 1}};
  const std::uint32_t K = 3;
  const Gradient d = evaluate_gradient(t, theta, K, evaluate(t, theta, K, pairs), pairs);
  const std::uint32_t recomputed[] = {0, 2};
  Gradient q = d;
  CHECK(refine_gradient(g, theta, recomputed, pairs, q).empty());
  for (std::uint32_t p = 0; p < 3; ++p) {
    const bool refined = p != 1;
    const auto agrees = [&](double quad, double dbl) {
      if (refined)
        CHECK_CLOSE(quad, dbl, 1e-12);
      else
        CHECK(std::memcmp(&quad, &dbl, sizeof dbl) == 0);
    };
    for (std::uint32_t r = 0; r < 2; ++r) {
      for (std::uint32_t k = 1; k <= K; ++k) agrees(q.of_moment(r, k, p), d.of_moment(r, k, p));
      agrees(q.variance[r * 3 + p], d.variance[r * 3 + p]);
    }
    for (std::uint32_t i = 0; i < 2; ++i) agrees(q.covariance[i * 3 + p], d.covariance[i * 3 + p]);
    // Cov(R, R) is Var(R), by the other path.
    if (refined) CHECK_CLOSE(q.covariance[1 * 3 + p], q.variance[1 * 3 + p], 1e-14);
  }
  const auto same = [](const Gradient& a, const Gradient& b) {
    return a.moment == b.moment && a.variance == b.variance && a.covariance == b.covariance;
  };
  Gradient refused = d;
  const std::string why = refine_gradient(g, theta, recomputed, pairs, refused, nullptr, {1, 1e8});
  CHECK(why.find("largest strongly connected component has") != std::string::npos);
  CHECK(same(refused, d));
  CHECK(refine_gradient(g, theta, recomputed, pairs, refused, nullptr, {1024, 10}).find("multiply-adds") !=
        std::string::npos);
  CHECK(same(refused, d));
  const std::atomic<bool> cancel{true};
  CHECK_THROWS(refine_gradient(g, theta, recomputed, pairs, refused, &cancel));
  CHECK(same(refused, d));
  CHECK_EQ(ledger().bytes(Category::Evaluation), before.evaluation);
}

// Decision 105: a covariance's derivative cancels where A and B are nearly independent,
// though every moment's derivative keeps its digits. Start to state 1 (A, rate θ, then B
// at rate θ) with probability 1/4, to state 2 (A, rate 3θ, then B at rate s·θ) with 3/4,
// s = 1 + 2⁻⁴⁶: Cov = (1/4)(3/4)(1/θ − 1/(3θ))(1/θ − 1/(sθ)) = δ/(8θ²), δ = (s − 1)/s, so
// dCov/dθ = −δ/(4θ³), about 4e-15 of E[A]·E[B]/θ. The double screen names θ by its
// covariance, the quadruple recomputation gets it with a bound that holds, and where
// nothing is recomputed the warning names the covariance.
TEST(a_covariance_derivative_of_nearly_independent_rewards_is_judged_and_bounded) {
  const double s = 1 + 0x1p-46;
  const Graph graph = fixtures::mixture(s);
  const ModelTrace t = compose(graph, condense(graph), {});
  const ParametricGraph g = parametric_graph_of(graph);
  const std::vector<double> theta = {0.37};
  const RewardPair pairs[] = {{0, 1}};
  const Moments m = evaluate(t, theta, 2, pairs);
  const Gradient d = evaluate_gradient(t, theta, 2, m, pairs);
  const double truth = -((s - 1) / s) / (4 * theta[0] * theta[0] * theta[0]);
  // Every moment's derivative keeps its digits: only the covariance flags θ.
  Gradient no_pairs = d;
  no_pairs.pair_count = 0;
  no_pairs.covariance.clear();
  CHECK(imprecise_parameters(no_pairs, m, theta, {}, kDoubleRounding).empty());
  CHECK(imprecise_parameters(d, m, theta, pairs, kDoubleRounding) == std::vector<std::uint32_t>{0});
  const std::vector<std::string> params = {"theta"}, rewards = {"A", "B"};
  const std::string doubt = gradient_accuracy_warning(d, m, theta, pairs, params, rewards, 0, kDoubleRounding,
                                                      "not recomputed");
  CHECK(doubt.find("1 derivative by theta keep fewer than 6 digits at theta = 0.37, the least dCov[A, B]/dtheta = ") ==
        0);
  CHECK(doubt.find("a derivative of Cov[A, B] by theta is dE[A·B] − E[B]·dE[A] − E[A]·dE[B], terms of size "
                   "E[A·B]/theta and E[A]·E[B]/theta that cancel") != std::string::npos);
  // The double's stated ± (an estimate) is about its real error here.
  const double estimate = std::stod(doubt.substr(doubt.find("±") + std::strlen("±")));
  CHECK(std::fabs(d.covariance[0] - truth) <= 10 * estimate);
  Gradient q = d;
  const std::uint32_t recomputed[] = {0};
  CHECK(refine_gradient(g, theta, recomputed, pairs, q).empty());
  CHECK_EQ(q.covariance_bound.size(), 1u);
  CHECK(std::fabs(q.covariance[0] - truth) <= q.covariance_bound[0] + 0x1p-52 * std::fabs(truth));
  CHECK(q.covariance_bound[0] < 1e-12 * std::fabs(truth));
  CHECK_CLOSE(q.covariance[0], truth, 1e-15);
  CHECK(imprecise_parameters(q, m, theta, pairs, kQuadRounding).empty());
  CHECK(refinement_disagreement(d, q, m, theta, pairs, params, rewards, recomputed).empty());
  // Kept double (a disagreement elsewhere): |double − quadruple| + the quadruple's bound.
  const Gradient kept = kept_double(d, q, recomputed);
  CHECK(kept.covariance[0] == d.covariance[0]);
  CHECK(kept.covariance_bound[0] >= std::fabs(d.covariance[0] - q.covariance[0]) + q.covariance_bound[0]);
}

// Decision 115: a derivative that is not finite where every moment is finite is named,
// by parameter, with the first of them; the digits screen skips it (nothing to count).
// Where a moment is not finite, or absorption is not certain, the run's nonFinite
// explains every NaN and nothing is named here.
TEST(derivatives_that_are_not_finite_beside_finite_moments_are_named) {
  const Graph mixture = make_graph(
      1, 6, {{0, 1, {0.25}}, {0, 2, {0.75}}, {1, 3, {0, 1}}, {2, 4, {0, 3}}, {3, 5, {0, 1}}, {4, 5, {0, 2}}},
      {{0, 1, 1, 0, 0, 0}, {0, 0, 0, 1, 1, 0}});
  const ModelTrace t = compose(mixture, condense(mixture), {});
  const std::vector<double> theta = {0.37};
  const RewardPair pairs[] = {{0, 1}};
  const Moments m = evaluate(t, theta, 2, pairs);
  const Gradient d = evaluate_gradient(t, theta, 2, m, pairs);
  const std::vector<std::string> params = {"theta"}, rewards = {"A", "B"};
  CHECK(non_finite_derivatives_warning(d, m, theta, pairs, params, rewards, 0).empty());
  Gradient broken = d;
  broken.moment[0] = std::numeric_limits<double>::infinity();  // dE[A]/dθ
  broken.covariance[0] = std::numeric_limits<double>::quiet_NaN();
  const std::string named = non_finite_derivatives_warning(broken, m, theta, pairs, params, rewards, 0);
  CHECK(named.find("2 derivatives by theta are not finite at theta = 0.37 (the first: dE[A]/dtheta, +infinite) "
                   "though every moment is: ") == 0);
  CHECK(named.find("rescale the parameter") != std::string::npos);
  CHECK(imprecise_parameters(broken, m, theta, pairs, kDoubleRounding).empty());
  Moments not_absorbed = m;
  not_absorbed.absorption_certain = false;
  CHECK(non_finite_derivatives_warning(broken, not_absorbed, theta, pairs, params, rewards, 0).empty());
}

// Decision 110: a covariance that is the difference of two nearly equal moments is
// named with its estimated digits and ±; one that keeps its digits is not. The mixture
// of a_covariance_derivative_of_nearly_independent_rewards_is_judged_and_bounded:
// Cov[A, B] = (1/4)(3/4)(2/(3t))((s − 1)/(s·t)) = (s − 1)/(8·s·t²) in closed form.
TEST(a_covariance_of_nearly_independent_rewards_is_named) {
  const auto mixture_moments = [](double s) {
    const Graph g = fixtures::mixture(s);
    const ModelTrace t = compose(g, condense(g), {});
    const std::vector<double> theta = {0.37};
    const RewardPair pairs[] = {{0, 1}};
    return evaluate(t, theta, 2, pairs);
  };
  const RewardPair pairs[] = {{0, 1}};
  const std::vector<std::string> rewards = {"A", "B"};
  const double t = 0.37;
  const double near = 1 + 0x1p-46;
  const Moments m = mixture_moments(near);
  const double truth = (near - 1) / (8 * near * t * t);
  const std::vector<ImpreciseMoment> doubts = imprecise_moments(m, pairs, kDoubleRounding);
  CHECK_EQ(doubts.size(), 1u);  // the variances keep theirs
  CHECK(doubts[0].covariance && doubts[0].index == 0);
  // Terms E[A·B] ≈ E[A]·E[B] = (1/(2t))·(1/t) ≈ 3.65: 2·3.65·2⁻⁵² ≈ 1.6e-15 against 1.3e-14.
  CHECK(doubts[0].digits > 0.5 && doubts[0].digits < 1.5);
  CHECK_CLOSE(doubts[0].uncertainty, 0x1p-52 * 2 * (1 / (2 * t)) * (1 / t), 1e-6);
  // The stated ± is about the real error (6 % of the value here).
  CHECK(std::fabs(m.covariance[0] - truth) <= 10 * doubts[0].uncertainty);
  const std::string message = moment_accuracy_warning(m, pairs, rewards, kDoubleRounding);
  CHECK(message.find("1 value keeps fewer than 6 digits: Cov(A, B) = ") == 0);
  CHECK(message.find("(about 0.") != std::string::npos || message.find("(about 1.") != std::string::npos);
  CHECK(message.find("the difference of two nearly equal moments (Cov(A, B) = E[A·B] − E[A]·E[B])") !=
        std::string::npos);
  // Closer still, the difference rounds to 0 (the truth is 2.0e-16): named, no digit left.
  const double nearer = 1 + 0x1p-52;
  const Moments zero = mixture_moments(nearer);
  const std::vector<ImpreciseMoment> none_left = imprecise_moments(zero, pairs, kDoubleRounding);
  CHECK_EQ(none_left.size(), 1u);
  CHECK(std::fabs(zero.covariance[0] - (nearer - 1) / (8 * nearer * t * t)) <= 10 * none_left[0].uncertainty);
  if (zero.covariance[0] == 0)
    CHECK(moment_accuracy_warning(zero, pairs, rewards, kDoubleRounding).find("(no digit left, ±") !=
          std::string::npos);
  // Far apart (s = 2: Cov = 1/(16t²)), every value keeps its digits.
  const Moments apart = mixture_moments(2);
  CHECK_CLOSE(apart.covariance[0], 1 / (16 * t * t), 1e-14);
  CHECK(imprecise_moments(apart, pairs, kDoubleRounding).empty());
  CHECK(moment_accuracy_warning(apart, pairs, rewards, kDoubleRounding).empty());
}

// The variance's terms are E[R²] and E[R]²; a reward 0 everywhere (terms 0) and values
// that are not finite are not judged.
TEST(a_variance_that_cancels_is_named_and_zero_rewards_are_not) {
  Moments m;
  m.reward_count = 4;
  m.moment_count = 2;
  // A nearly deterministic reward: E[R] = 1e8, E[R²] = 1e16 + 2 (exact in double), Var = 2.
  m.raw = {1e8, 1e16 + 2, 0, 0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), 2, 6};
  m.variance = {2, 0, std::numeric_limits<double>::infinity(), 2};
  const RewardPair pairs[] = {{1, 3}, {2, 3}};
  m.covariance = {0, std::numeric_limits<double>::quiet_NaN()};
  const std::vector<ImpreciseMoment> doubts = imprecise_moments(m, pairs, kDoubleRounding);
  CHECK_EQ(doubts.size(), 1u);
  CHECK(!doubts[0].covariance && doubts[0].index == 0);
  CHECK_CLOSE(doubts[0].digits, std::log10(2 / (0x1p-52 * (2e16 + 2))), 1e-12);
  CHECK_CLOSE(doubts[0].uncertainty, 0x1p-52 * (2e16 + 2), 1e-12);
  const std::vector<std::string> rewards = {"x", "zero", "forever", "y"};
  const std::string message = moment_accuracy_warning(m, pairs, rewards, kDoubleRounding);
  CHECK(message.find("1 value keeps fewer than 6 digits: Var(x) = 2 (no digit left, ±4.4") == 0);
  CHECK(message.find("(Var(R) = E[R²] − E[R]²)") != std::string::npos);
}

// Decision 111: the variances and covariances the screen names are recomputed in
// quadruple precision on the parametric graph, within a bound that holds. The mixture of
// a_covariance_of_nearly_independent_rewards_is_named, B's second rate t + δ (θ = (t, δ)):
// Cov[A, B] = (1/4)(3/4)(1/t − 1/(3t))(1/t − 1/(t + δ)) = δ/(8t(t + δ)). The truths are
// mpmath's at 60 digits with t the double 0.37, both by this closed form and by
// αU(D_A U D_B + D_B U D_A)1 − E[A]·E[B] (they agree to 25 digits), rounded to double.
TEST(a_covariance_that_cancels_is_recomputed_within_its_bound) {
  const double t = 0.37;
  const RewardPair pairs[] = {{0, 1}};
  const std::vector<std::string> rewards = {"A", "B"};
  struct Case {
    double s, delta, truth;
    bool keeps;  // digits ≥ 6 after recomputation
  };
  const Case cases[] = {
      {1 + 0x1p-46, 0, 1.2975579542733567e-14, true},  // double printed 1.3767e-14
      {1 + 0x1p-52, 0, 2.027434303552148e-16, true},   // double printed 0
      {1, 1e-20, 2.4677709118907074e-20, true},        // t + δ = t in double
      {1, 1e-40, 2.4677709118907075e-40, false},       // beyond 2⁻¹¹² of the terms (≈ 3.65) too
  };
  for (const Case& c : cases) {
    const Graph graph = fixtures::mixture(c.s, true);
    const ModelTrace trace = compose(graph, condense(graph), {});
    const ParametricGraph g = parametric_graph_of(graph);
    const std::vector<double> theta = {t, c.delta};
    const Moments m = evaluate(trace, theta, 2, pairs);
    const std::vector<ImpreciseMoment> flagged = imprecise_moments(m, pairs, kDoubleRounding);
    CHECK_EQ(flagged.size(), 1u);
    CHECK(flagged[0].covariance);
    Moments q = m;
    std::vector<double> bounds;
    const std::size_t evaluation = ledger().bytes(Category::Evaluation);
    CHECK(refine_moments(g, theta, pairs, flagged, q, bounds).empty());
    CHECK_EQ(ledger().bytes(Category::Evaluation), evaluation);
    CHECK_EQ(bounds.size(), 1u);
    // Within the bound of the truth (itself within half an ulp of the real one).
    CHECK(std::fabs(q.covariance[0] - c.truth) <= bounds[0] + 0x1p-53 * std::fabs(c.truth));
    // The bound ≈ (2κ + S)·2⁻¹¹²·(E[AB] + E[A]·E[B]) plus the rounding to double.
    CHECK(bounds[0] < 1e-30 + 0x1p-52 * std::fabs(c.truth));
    CHECK((std::fabs(q.covariance[0]) / bounds[0] >= 1e6) == c.keeps);
    // Nothing else moved.
    CHECK(q.raw == m.raw && q.variance == m.variance);
    // The settle function writes the same bits, and names only what keeps too few digits.
    Moments settled = m;
    const std::string message = settle_moment_accuracy(settled, theta, pairs, rewards, &g, nullptr);
    CHECK(settled.covariance[0] == q.covariance[0]);
    if (c.keeps) {
      CHECK(message.empty());
    } else {
      CHECK(message.find("1 value keeps fewer than 6 digits: Cov(A, B) = ") == 0);
      CHECK(message.find("recomputed in quadruple precision") != std::string::npos);
      CHECK(message.find("(no digit left, ±") != std::string::npos || message.find("(about -") != std::string::npos);
    }
  }
  // A variance, asked for although it keeps its digits: Var[A] = E[A²] − E[A]² with
  // E[A] = 1/(2t), E[A²] = (1/4)·2/t² + (3/4)·2/(9t²); mpmath 3.043584124665205819…
  {
    const Graph graph = fixtures::mixture(2, true);
    const ModelTrace trace = compose(graph, condense(graph), {});
    const ParametricGraph g = parametric_graph_of(graph);
    const std::vector<double> theta = {t, 0};
    Moments m = evaluate(trace, theta, 2, pairs);
    const ImpreciseMoment variance[] = {{false, 0, m.variance[0], 0, 0}};
    std::vector<double> bounds;
    CHECK(refine_moments(g, theta, pairs, variance, m, bounds).empty());
    CHECK(std::fabs(m.variance[0] - 3.043584124665206) <= bounds[0] + 0x1p-53 * 3.05);
    CHECK(bounds[0] < 0x1p-52 * 3.05);
  }
  // Refusals say why and change nothing; no graph is named as such; Cancelled propagates.
  {
    const Graph graph = fixtures::mixture(1 + 0x1p-46, true);
    const ModelTrace trace = compose(graph, condense(graph), {});
    const ParametricGraph g = parametric_graph_of(graph);
    const std::vector<double> theta = {t, 0};
    const Moments m = evaluate(trace, theta, 2, pairs);
    const std::vector<ImpreciseMoment> flagged = imprecise_moments(m, pairs, kDoubleRounding);
    Moments q = m;
    std::vector<double> bounds;
    CHECK(refine_moments(g, theta, pairs, flagged, q, bounds, nullptr, {0, 1e8}) ==
          "its largest strongly connected component has 1 states, more than the 0 it eliminates densely");
    CHECK(refine_moments(g, theta, pairs, flagged, q, bounds, nullptr, {1024, 10}).find("multiply-adds") !=
          std::string::npos);
    CHECK(q.covariance == m.covariance);
    const std::string no_graph = settle_moment_accuracy(q, theta, pairs, rewards, nullptr, nullptr);
    CHECK(no_graph.find("1 value keeps fewer than 6 digits: Cov(A, B) = ") == 0);
    CHECK(no_graph.find("the value is printed as computed, not recomputed in quadruple precision: the model's "
                        "graph is not at hand") != std::string::npos);
    CHECK(q.covariance == m.covariance);
    std::atomic<bool> cancel{true};
    CHECK_THROWS(refine_moments(g, theta, pairs, flagged, q, bounds, &cancel));
    CHECK(q.covariance == m.covariance);
    CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
  }
}

// Decision 82: a recomputed derivative is used only within kRefinementAgreement of
// double's rounding ε·|E|/θ of the double one; beyond, the worst is named.
TEST(a_refinement_far_from_double_is_named) {
  Moments m;
  m.reward_count = 1;
  m.moment_count = 1;
  m.raw = {4};
  Gradient before;
  before.reward_count = 1;
  before.moment_count = 1;
  before.param_count = 2;
  before.moment = {1.06e-165, -4};
  const std::vector<double> theta = {1e150, 1};
  const std::vector<std::string> params = {"mig", "coal"}, rewards = {"xi[0]"};
  const std::vector<std::uint32_t> flagged = {0};
  const double rounding = kDoubleRounding * 4 / 1e150;
  Gradient near = before;
  near.moment[0] = before.moment[0] + 900 * rounding;
  CHECK(refinement_disagreement(before, near, m, theta, {}, params, rewards, flagged).empty());
  Gradient far = before;
  far.moment[0] = -1.97e-68;
  const std::string why = refinement_disagreement(before, far, m, theta, {}, params, rewards, flagged);
  // ε·|E|/θ is quoted as the unit the two lie apart in, never as double's ± (decision 104).
  CHECK(why.find("there it gives dE[xi[0]]/dmig = -1.97e-68, 2.2e+97 times double's rounding estimate ε·|E|/mig = "
                 "8.9e-166 from double's 1.06e-165: ") == 0);
  CHECK(why.find("1.06e-165 ±") == std::string::npos);
  CHECK(why.find("the double is kept, and its ± is |double − quadruple| + the quadruple's bound") != std::string::npos);
  // A parameter not flagged is not compared, nor a value that is not finite.
  near.moment[1] = 1e300;
  CHECK(refinement_disagreement(before, near, m, theta, {}, params, rewards, flagged).empty());
  near.moment[0] = std::nan("");
  CHECK(refinement_disagreement(before, near, m, theta, {}, params, rewards, flagged).empty());
}

TEST(traces_out_of_the_order_the_gradient_needs_are_refused) {
  // Solving the vertices in the opposite order makes a term read a vertex not yet solved.
  const Graph g = structured2();
  const Condensation c = condense(g);
  const BlockTrace good = record_block(extract_block(g, c, 1));
  CHECK(good.terms.size() > 0);
  BlockTrace bad = record_block(extract_block(g, c, 1));
  TraceVector<SolveCommand> solve;
  TraceVector<Term> terms;
  for (std::size_t i = good.solve.size(); i-- > 0;) {
    const std::uint64_t begin = i == 0 ? 0 : good.solve[i - 1].term_end;
    for (std::uint64_t k = begin; k < good.solve[i].term_end; ++k) terms.push_back(good.terms[k]);
    solve.push_back({good.solve[i].vertex, good.solve[i].inverse_rate, terms.size()});
  }
  bad.set_commands(good.forward.widened(), std::move(solve), std::move(terms));
  const std::vector<std::uint8_t> bytes = serialize(bad);
  CHECK_THROWS(deserialize(bytes.data(), bytes.size()));
  const std::vector<std::uint8_t> fine = serialize(good);
  CHECK(serialize(deserialize(fine.data(), fine.size())) == fine);
}

TEST(rabbits_time_to_extinction) {
  const Graph g = rabbits2();
  const Condensation c = condense(g);
  // S, {(2,0),(1,1),(0,2)}, {(1,0),(0,1)}, (0,0)
  CHECK_EQ(c.component_count, 4u);
  CHECK_EQ(c.size(1), 3u);
  CHECK_EQ(c.size(2), 2u);
  const ModelTrace t = compose(g, c, {});
  report("rabbits N=2", t);
  const double theta[] = {1.0, 2.0, 4.0};
  CHECK_CLOSE(evaluate(t, theta, 1).moment(0, 1), 0.5038265306122449, 1e-9);
  const ModelTrace flat = compose_flat(g, c);
  CHECK_EQ(flat.blocks.size(), std::size_t(1));
  CHECK_CLOSE(evaluate(flat, theta, 1).moment(0, 1), 0.5038265306122449, 1e-9);
}

TEST(rabbits_twenty_has_the_reference_shape_and_value) {
  const Graph g = fixtures::rabbits(20);
  CHECK_EQ(g.vertex_count, 232u);
  CHECK_EQ(g.edge_count(), 841u);
  const Condensation c = condense(g);
  CHECK_EQ(c.component_count, 22u);
  std::uint32_t largest = 0;
  for (std::uint32_t k = 0; k < c.component_count; ++k) largest = std::max(largest, c.size(k));
  CHECK_EQ(largest, 21u);
  const ModelTrace t = compose(g, c, {});
  report("rabbits N=20", t);
  const double theta[] = {1.0, 2.0, 4.0};
  CHECK_CLOSE(evaluate(t, theta, 1).moment(0, 1), 0.536563856863072, 1e-9);
  CHECK_CLOSE(evaluate(compose_flat(g, c), theta, 1).moment(0, 1), 0.536563856863072, 1e-9);
}

TEST(a_stiff_cycle_keeps_full_relative_accuracy) {
  // 1 ⇄ 2 at rates a, b = 1e12 and a slow exit c = 1e-6 from 2: λ_1 − loop would be
  // a − a·b/(b+c), which cancels to 0 in doubles; E[T | start 1] = (a+b+c)/(a·c).
  const double a = 1e12, b = 1e12, c = 1e-6;
  const Graph g = make_graph(0, 4, {{0, 1, {1}}, {1, 2, {a}}, {2, 1, {b}}, {2, 3, {c}}}, {{0, 1, 1, 0}});
  const ModelTrace t = compose(g, condense(g), {});
  CHECK_CLOSE(evaluate(t, {}, 1).moment(0, 1), (a + b + c) / (a * c), 1e-14);
}

TEST(condensation_is_topological_with_ascending_members) {
  // States numbered against the flow: 5 → {3,4} → 2 → 1 (absorbing).
  const Graph g = make_graph(
      0, 6, {{0, 5, {1}}, {5, 4, {1}}, {4, 3, {1}}, {3, 4, {1}}, {3, 2, {1}}, {4, 2, {2}}, {2, 1, {1}}},
      {{0, 0, 1, 1, 1, 1}});
  const Condensation c = condense(g);
  CHECK_EQ(c.component_count, 5u);
  CHECK_EQ(c.component_of[0], 0u);
  for (VertexId u = 0; u < g.vertex_count; ++u)
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      CHECK(c.component_of[u] <= c.component_of[g.edge_target[e]]);
  const std::uint32_t pair = c.component_of[3];
  CHECK_EQ(c.component_of[4], pair);
  CHECK_EQ(c.members_of(pair)[0], 3u);
  CHECK_EQ(c.members_of(pair)[1], 4u);
  CHECK_EQ(c.internal_edges[pair], 2u);
  CHECK_EQ(c.exit_edges[pair], 2u);
  CHECK_EQ(c.successors(pair).size(), std::size_t(1));  // both exits go to vertex 2: one condensation edge
}

TEST(malformed_graphs_are_rejected) {
  CHECK_THROWS(condense(make_graph(0, 3, {{0, 1, {1}}, {1, 0, {1}}, {1, 2, {1}}}, {{0, 1, 0}})));  // edge into S
  CHECK_THROWS(condense(make_graph(1, 3, {{0, 1, {1}}, {1, 2, {0, -1}}}, {{0, 1, 0}})));           // negative rate
  CHECK_THROWS(condense(make_graph(0, 3, {{0, 1, {1}}, {1, 5, {1}}}, {{0, 1, 0}})));               // no such vertex
  Graph short_coeffs = make_graph(0, 3, {{0, 1, {1}}, {1, 2, {1}}}, {{0, 1, 0}});
  short_coeffs.coeffs.pop_back();
  CHECK_THROWS(condense(short_coeffs));
}

TEST(block_keys_see_exits_and_coefficients_but_not_position) {
  // A: 1⇄2 → 3; B: 3⇄4 → absorbing 7; C: 5⇄6 → 7, shaped and weighted like B.
  auto build = [](double tweak) {
    return make_graph(1, 8,
                      {{0, 1, {0.5}},
                       {0, 5, {0.5}},
                       {1, 2, {0, 1}},
                       {2, 1, {0, 2}},
                       {2, 3, {1, 0}},
                       {3, 4, {0, 1}},
                       {4, 3, {0, 2}},
                       {4, 7, {1, 0}},
                       {5, 6, {0, 1}},
                       {6, 5, {0, 2}},
                       {6, 7, {tweak, 0}}},
                      {{0, 1, 1, 1, 1, 1, 1, 0}});
  };
  const Graph g = build(1.0);
  const Condensation c = condense(g);
  auto key = [&](const Graph& graph, VertexId v) {
    return extract_block(graph, c, c.component_of[v]).canonical_bytes();
  };
  CHECK(key(g, 3) == key(g, 5));  // same input at different positions
  CHECK(key(g, 1) != key(g, 3));  // an exit slot is not absorption
  const Graph h = build(1.0000000000000002);
  CHECK(key(h, 5) != key(g, 5));  // one ulp in one coefficient
  const BlockInput a = extract_block(g, c, c.component_of[1]);
  CHECK_EQ(a.vertex_count, 2u);
  CHECK_EQ(a.exit_count, 1u);
  CHECK_EQ(a.exits[0], 3u);
}

TEST(forms_are_copied_and_compared_bit_for_bit_at_every_length) {
  // The fixed-length cases (1–4 coefficients) and the general one must agree with
  // memcpy and memcmp: a DOT is shared only between forms of equal bits.
  for (std::uint32_t stride = 1; stride <= 7; ++stride) {
    std::vector<double> form(stride), copy(stride, -1.0);
    for (std::uint32_t i = 0; i < stride; ++i) form[i] = 0.25 * i + (i % 2 ? 3.0 : 28.0);
    copy_form(copy.data(), form.data(), stride);
    CHECK(std::memcmp(copy.data(), form.data(), stride * sizeof(double)) == 0);
    CHECK(same_form(copy.data(), form.data(), stride));
    for (std::uint32_t i = 0; i < stride; ++i) {
      std::vector<double> other = form;
      other[i] = std::nextafter(other[i], 1e300);  // one ulp
      CHECK(!same_form(other.data(), form.data(), stride));
      other[i] = form[i];
      CHECK(same_form(other.data(), form.data(), stride));
    }
    // +0 and −0 are equal numbers but different forms.
    std::vector<double> zero(stride, 0.0), negative_zero(stride, 0.0);
    negative_zero[stride - 1] = -0.0;
    CHECK(!same_form(zero.data(), negative_zero.data(), stride));
  }
}

TEST(absorbing_edges_sum_into_one_absorption_form) {
  // State 1 has edges to two absorbing vertices; its block has one absorption edge.
  const Graph g = make_graph(1, 4, {{0, 1, {1}}, {1, 2, {0, 1}}, {1, 3, {0.5, 2}}}, {{0, 1, 0, 0}});
  const Condensation c = condense(g);
  const BlockInput b = extract_block(g, c, c.component_of[1]);
  CHECK_EQ(b.edge_count(), 1u);
  CHECK_EQ(b.edge_target[0], b.absorb_target());
  CHECK_EQ(b.form(0)[0], 0.5);
  CHECK_EQ(b.form(0)[1], 3.0);
  const ModelTrace t = compose(g, c, {});
  const double theta[] = {1.5};
  CHECK_CLOSE(evaluate(t, theta, 1).moment(0, 1), 1.0 / 5.0, 1e-15);
}

TEST(a_closed_class_is_reported_not_evaluated) {
  // 1 ⇄ 2 with no way out: x would be infinite.
  const Graph g = make_graph(0, 3, {{0, 1, {1}}, {1, 2, {1}}, {2, 1, {1}}}, {{0, 1, 1}});
  const Condensation c = condense(g);
  CHECK_THROWS(compose(g, c, {}));
}

// A ring of k states (i → i+1, i → i+2) where every state also leaves to its own E
// exit states, each of which is absorbed at rate 1: vertices S, ring 1..k, exits, A.
Graph ring_with_many_exits(std::uint32_t k, std::uint32_t E) {
  const std::uint32_t absorbing = 1 + k + k * E;
  std::vector<fixtures::EdgeSpec> edges{{0, 1, {1}}};
  for (std::uint32_t i = 0; i < k; ++i) {
    edges.push_back({1 + i, 1 + (i + 1) % k, {1.5}});
    edges.push_back({1 + i, 1 + (i + 2) % k, {0.5 + i}});
    for (std::uint32_t j = 0; j < E; ++j) {
      const VertexId exit = 1 + k + i * E + j;
      edges.push_back({1 + i, exit, {0.01 * (j + 1)}});
      edges.push_back({exit, absorbing, {1.0 + j}});
    }
  }
  std::vector<double> reward(absorbing + 1, 1.0);
  reward[0] = reward[absorbing] = 0;
  return make_graph(0, absorbing + 1, edges, {reward});
}

TEST(exits_cost_operations_per_exit_edge_not_per_parent_and_exit) {
  const std::uint32_t k = 10, E = 40;
  const Graph g = ring_with_many_exits(k, E);
  const Condensation c = condense(g);
  const BlockInput ring = extract_block(g, c, c.component_of[1]);
  CHECK_EQ(ring.vertex_count, k);
  CHECK_EQ(ring.exit_count, k * E);
  const BlockTrace t = record_block(ring);
  // Each exit edge needs its DOT, a share of its vertex's leave sum and one inflow
  // command; the elimination itself is O(k²). Updating every (parent, exit) pair
  // instead, as exits accumulate in the rows, would take several thousand.
  CHECK(t.operations() <= 2 * k * E + 8 * k * k);
  // The exit inflows come first, one per exit edge, then the elimination's commands.
  CHECK(t.forward.size() > std::size_t(k * E));
  for (std::size_t i = 0; i < t.forward.size(); ++i) CHECK_EQ(t.forward[i].source >= k, i < k * E);
  // Exits entering through the right-hand side give the flat elimination's answer.
  const ModelTrace blocked = compose(g, c, {});
  const ModelTrace flat = compose_flat(g, c);
  CHECK_CLOSE(evaluate(blocked, {}, 2).moment(0, 1), evaluate(flat, {}, 2).moment(0, 1), 1e-12);
  CHECK_CLOSE(evaluate(blocked, {}, 2).moment(0, 2), evaluate(flat, {}, 2).moment(0, 2), 1e-12);
}

TEST(recording_eliminates_in_elimination_order) {
  for (const Graph& g : {ring_with_many_exits(7, 3), rabbits2(), structured2()}) {
    const Condensation c = condense(g);
    for (std::uint32_t comp = 1; comp < c.component_count; ++comp) {
      const BlockInput b = extract_block(g, c, comp);
      if (b.vertex_count == 0) continue;
      const BlockTrace t = record_block(b);
      const SubgraphVector<std::uint32_t> order = elimination_order(b);
      CHECK_EQ(order.size(), t.solve.size());
      // Solve commands run in reverse elimination order.
      for (std::size_t i = 0; i < order.size(); ++i) CHECK_EQ(t.solve[t.solve.size() - 1 - i].vertex, order[i]);
    }
  }
}

// The Markowitz rule evaluated from scratch at every step (no queue, no fill: on an
// acyclic block eliminating a vertex without parents changes no other row).
std::vector<std::uint32_t> markowitz_by_brute_force(const BlockInput& b) {
  const std::uint32_t n = b.vertex_count;
  std::vector<std::uint8_t> done(n, 0);
  std::vector<std::uint32_t> order;
  for (std::uint32_t step = 0; step < n; ++step) {
    std::uint64_t best_count = ~std::uint64_t(0);
    std::uint32_t best = n;
    for (std::uint32_t v = 0; v < n; ++v) {
      if (done[v]) continue;
      std::uint64_t parents = 0, children = 0, leaves = 0;
      for (std::uint32_t u = 0; u < n; ++u)
        for (std::uint64_t e = b.edge_begin[u]; e < b.edge_begin[u + 1]; ++e)
          if (!done[u] && b.edge_target[e] == v) ++parents;
      for (std::uint64_t e = b.edge_begin[v]; e < b.edge_begin[v + 1]; ++e)
        (b.edge_target[e] < n ? children : leaves) += 1;
      const std::uint64_t count = parents * (children + (leaves > 0));
      if (count < best_count) best_count = count, best = v;
    }
    done[best] = 1;
    order.push_back(best);
  }
  return order;
}

TEST(acyclic_blocks_are_eliminated_in_the_markowitz_order_without_the_queue) {
  std::mt19937 rng(15);
  for (int round = 0; round < 30; ++round) {
    // A random DAG numbered against its topological order in places, so the order
    // is not simply 0..n−1; every state can also be absorbed.
    const std::uint32_t states = 3 + rng() % 12, absorbing = states + 1;
    std::vector<VertexId> rank(states);
    for (std::uint32_t i = 0; i < states; ++i) rank[i] = i + 1;
    std::shuffle(rank.begin(), rank.end(), rng);
    std::vector<fixtures::EdgeSpec> edges{{0, rank[0], {1, 0}}};
    for (std::uint32_t i = 0; i < states; ++i) {
      for (std::uint32_t j = i + 1; j < states; ++j)
        if (rng() % 3 == 0) edges.push_back({rank[i], rank[j], {double(1 + rng() % 3), 1}});
      if (rng() % 2 == 0 || i + 1 == states) edges.push_back({rank[i], absorbing, {0, double(1 + rng() % 2)}});
    }
    const Graph g = make_graph(1, states + 2, edges, {std::vector<double>(states + 2, 1.0)});
    const Condensation c = condense(g);
    const BlockInput b = extract_components(g, c, 1, c.component_count - 1);
    if (b.vertex_count == 0) continue;
    const SubgraphVector<std::uint32_t> order = acyclic_order(b);
    const std::vector<std::uint32_t> expected = markowitz_by_brute_force(b);
    CHECK_EQ(order.size(), expected.size());
    for (std::size_t i = 0; i < expected.size() && i < order.size(); ++i) CHECK_EQ(order[i], expected[i]);
    const BlockTrace t = record_block(b);
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK_EQ(t.solve[t.solve.size() - 1 - i].vertex, expected[i]);
  }
  // A cycle has no acyclic order: the block goes through the queue.
  const Graph ring = ring_with_many_exits(5, 1);
  const Condensation rc = condense(ring);
  CHECK(acyclic_order(extract_block(ring, rc, rc.component_of[1])).empty());
}

namespace {

// Op for op, command for command: the same program and the same solve.
void check_same_trace(const BlockTrace& t, const BlockTrace& alone) {
  CHECK_EQ(t.vertex_count, alone.vertex_count);
  CHECK_EQ(t.exit_count, alone.exit_count);
  CHECK_EQ(t.dot_count, alone.dot_count);
  CHECK(t.dot_coeffs.size() == alone.dot_coeffs.size() &&
        std::memcmp(t.dot_coeffs.data(), alone.dot_coeffs.data(), t.dot_coeffs.size() * sizeof(double)) == 0);
  CHECK_EQ(t.ops.size(), alone.ops.size());
  for (std::size_t i = 0; i < t.ops.size() && i < alone.ops.size(); ++i)
    CHECK(t.ops[i].code == alone.ops[i].code && t.ops[i].a == alone.ops[i].a && t.ops[i].b == alone.ops[i].b &&
          t.ops[i].c == alone.ops[i].c);
  CHECK_EQ(t.forward.size(), alone.forward.size());
  for (std::size_t i = 0; i < t.forward.size() && i < alone.forward.size(); ++i)
    CHECK(t.forward[i].target == alone.forward[i].target && t.forward[i].source == alone.forward[i].source &&
          t.forward[i].multiplier == alone.forward[i].multiplier);
  CHECK_EQ(t.solve.size(), alone.solve.size());
  for (std::size_t i = 0; i < t.solve.size() && i < alone.solve.size(); ++i)
    CHECK(t.solve[i].vertex == alone.solve[i].vertex && t.solve[i].inverse_rate == alone.solve[i].inverse_rate &&
          t.solve[i].term_end == alone.solve[i].term_end);
  CHECK_EQ(t.terms.size(), alone.terms.size());
  for (std::size_t i = 0; i < t.terms.size() && i < alone.terms.size(); ++i)
    CHECK(t.terms[i].target == alone.terms[i].target && t.terms[i].weight == alone.terms[i].weight);
}

// Every block of a composition against the same block cut afresh and recorded with
// fresh working storage: its vertices, its exits and its trace.
void check_composition_matches_fresh_blocks(const Graph& g, const Condensation& c, std::uint32_t min_block) {
  const ModelTrace m = compose(g, c, {}, min_block);
  for (const ComposedBlock& block : m.blocks) {
    const BlockInput input = extract_components(g, c, block.first_component, block.last_component);
    CHECK(std::equal(block.vertices.begin(), block.vertices.end(), input.vertices.begin(), input.vertices.end()));
    CHECK(std::equal(block.exits.begin(), block.exits.end(), input.exits.begin(), input.exits.end()));
    check_same_trace(*block.trace, record_block(input));
  }
}

std::string read_fixture(const char* name) {
  std::ifstream in(std::string("test/fixtures/engine/") + name, std::ios::binary);
  CHECK(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST(the_working_storage_of_a_composition_does_not_change_any_trace) {
  // compose lends one working storage and one block input to every block, whatever
  // their sizes and order; each block cut and recorded alone, with fresh storage, must
  // come out the same.
  for (const Graph& g : {fixtures::rabbits(6), ring_with_many_exits(9, 4), structured2(), rabbits2()}) {
    const Condensation c = condense(g);
    for (const std::uint32_t min_block : {1u, 2u, 4u}) check_composition_matches_fresh_blocks(g, c, min_block);
  }
  // Nothing of the working storage outlives the composition.
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
}

// The recorder's direct-mapped value table is never cleared between blocks: an entry
// carries the 16-bit number of the block that wrote it, and the whole table is zeroed
// only when the number comes round (decision 101). A chain of 65,540 components, one
// block each: two 16-state rings 65,535 blocks apart (so the second gets the first's
// number, whatever number the composition starts at, and exactly one wrap lies between
// them) and 2-cycles elsewhere. The 2-cycles' tables have 64 entries; the ring's has
// 256, so about three quarters of the first ring's entries are still there, carrying its
// number and keys that the second ring asks for again: without the wrap's zeroing the
// second ring takes the first one's slots. Every block must be the block recorded
// alone with fresh storage, and E[T] the sum of each component's mean sojourn
// (closed form for a 2-cycle, long double elimination for a ring).
TEST(the_value_tables_block_number_comes_round_without_changing_any_trace) {
  constexpr std::uint32_t components = 65540, period = 65535, ring = 16;
  const std::uint32_t ring_at[] = {components, components - period};  // recorded first, and period blocks later
  auto is_ring = [&](std::uint32_t i) { return i == ring_at[0] || i == ring_at[1]; };
  // Component i (1-based, S → C_1 → … → C_m → absorbed) starts at vertex entry[i].
  std::vector<VertexId> entry(components + 2);
  entry[1] = 1;
  for (std::uint32_t i = 1; i <= components; ++i) entry[i + 1] = entry[i] + (is_ring(i) ? ring : 2);
  const VertexId absorbed = entry[components + 1];
  std::vector<fixtures::EdgeSpec> edges{{0, 1, {1}}};
  auto ring_rates = [](std::uint32_t j, double& next, double& skip, double& out) {
    next = 1.5, skip = 0.5 + j / 4.0, out = 0.25 + (j % 4) / 8.0;
  };
  auto cycle_rates = [](std::uint32_t i, double& ab, double& ba, double& a_out, double& b_out) {
    ab = 1 + (i % 7) / 8.0, ba = 0.5 + (i % 5) / 4.0, a_out = 2 + (i % 3) / 2.0, b_out = 1 + (i % 11) / 16.0;
  };
  long double mean = 0;
  for (std::uint32_t i = 1; i <= components; ++i) {
    const VertexId v = entry[i], next = entry[i + 1];
    if (is_ring(i)) {
      // E over the ring from its entry: λ_j x_j − Σ w_jk x_k = 1, by Gaussian elimination.
      std::vector<std::vector<long double>> m(ring, std::vector<long double>(ring + 1, 0.0L));
      for (std::uint32_t j = 0; j < ring; ++j) {
        double to_next, to_skip, out;
        ring_rates(j, to_next, to_skip, out);
        edges.push_back({v + j, v + (j + 1) % ring, {to_next}});
        edges.push_back({v + j, v + (j + 2) % ring, {to_skip}});
        edges.push_back({v + j, next, {out}});
        m[j][j] = (long double)to_next + to_skip + out;
        m[j][(j + 1) % ring] -= to_next;
        m[j][(j + 2) % ring] -= to_skip;
        m[j][ring] = 1;
      }
      for (std::uint32_t k = 0; k < ring; ++k)
        for (std::uint32_t r = k + 1; r < ring; ++r) {
          const long double f = m[r][k] / m[k][k];
          for (std::uint32_t q = k; q <= ring; ++q) m[r][q] -= f * m[k][q];
        }
      std::vector<long double> x(ring);
      for (std::uint32_t k = ring; k-- > 0;) {
        long double sum = m[k][ring];
        for (std::uint32_t q = k + 1; q < ring; ++q) sum -= m[k][q] * x[q];
        x[k] = sum / m[k][k];
      }
      mean += x[0];
      continue;
    }
    double ab, ba, a_out, b_out;
    cycle_rates(i, ab, ba, a_out, b_out);
    edges.push_back({v, v + 1, {ab}});
    edges.push_back({v, next, {a_out}});
    edges.push_back({v + 1, v, {ba}});
    edges.push_back({v + 1, next, {b_out}});
    // x_a = (1 + ab·x_b)/(ab + a_out), x_b = (1 + ba·x_a)/(ba + b_out), solved for x_a.
    const long double b_rate = (long double)ba + b_out;
    mean += (b_rate + ab) / (((long double)ab + a_out) * b_rate - (long double)ab * ba);
  }
  std::vector<double> time(absorbed + 1, 1.0);
  time[0] = time[absorbed] = 0;
  const Graph g = make_graph(0, absorbed + 1, edges, {time});
  const Condensation c = condense(g);
  CHECK_EQ(c.component_count, components + 2);

  const ModelTrace m = compose(g, c, {});
  CHECK_EQ(m.blocks.size(), std::size_t(components));
  // Recorded sink-first: block k holds component components − k.
  CHECK_EQ(m.blocks[0].vertices.size(), std::size_t(ring));
  CHECK_EQ(m.blocks[period].vertices.size(), std::size_t(ring));
  // A block recorded alone is a function of its input's canonical bytes (block.hpp), so
  // each distinct input (1,155 rate patterns of 2-cycles, two rings) is recorded once.
  BlockCutter cutter(g, c);
  BlockInput input;
  std::map<std::string, BlockTrace> alone;
  for (const ComposedBlock& block : m.blocks) {
    cutter.cut_into(block.first_component, block.last_component, input);
    const SubgraphVector<std::uint8_t> key = input.canonical_bytes();
    auto [it, fresh] = alone.try_emplace(std::string(key.begin(), key.end()));
    if (fresh) it->second = record_block(input);
    check_same_trace(*block.trace, it->second);
  }
  CHECK_EQ(alone.size(), std::size_t(3 * 5 * 7 * 11 + 2));
  // The rings' exits differ (absorption, then a 2-cycle) but their programs are one:
  // the second asked the table for every key the first wrote.
  const OpList &first = m.blocks[0].trace->ops, &second = m.blocks[period].trace->ops;
  CHECK_EQ(first.size(), second.size());
  bool same_program = first.size() == second.size();
  for (std::size_t i = 0; same_program && i < first.size(); ++i)
    same_program = first[i].code == second[i].code && first[i].a == second[i].a && first[i].b == second[i].b &&
                   first[i].c == second[i].c;
  CHECK(same_program);
  // Σ of 65,540 positive means summed block by block in double: n·ε ≈ 1e-11 at worst.
  CHECK_CLOSE(evaluate(m, {}, 1).moment(0, 1), double(mean), 1e-10);
}

// A composition's working storage is kept for the next one, as workspace: the ledger
// moves its bytes out of Category::Subgraphs, a later composition takes them back and
// records the same trace, and release_free_heap() frees them. A composition ended by an
// exception keeps nothing.
TEST(a_compositions_working_storage_is_kept_as_workspace_for_the_next) {
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), 0u);
  const Exploration explored = load_model_file(read_fixture("two_locus_n6.json"), ExploreOptions{});
  const Condensation c = condense(explored.graph);
  const std::vector<std::uint8_t> fresh = serialize(*compose(explored.graph, c, {}).blocks[3].trace);
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
  // The workspace also holds the counted blocks the composition freed (decision 57).
  const std::size_t workspace = ledger().bytes(Category::Workspace);
  {
    // Taken back while a composition records: its bytes move to Category::Subgraphs.
    const RecordingScratch scratch;
    const std::size_t kept = ledger().bytes(Category::Subgraphs);
    CHECK(kept > 0 && kept <= kMaxKeptStorageBytes);
    CHECK_EQ(ledger().bytes(Category::Workspace), workspace - kept);
  }
  CHECK_EQ(ledger().bytes(Category::Workspace), workspace);
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
  // Recorded with storage another composition left: the same bytes.
  const ModelTrace again = compose(explored.graph, c, {});
  CHECK(serialize(*again.blocks[3].trace) == fresh);
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), 0u);
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
  const std::atomic<bool> cancelled{true};
  bool threw = false;
  try {
    compose(explored.graph, c, {}, 4, &cancelled);
  } catch (const Cancelled&) {
    threw = true;
  }
  CHECK(threw);
  CHECK_EQ(ledger().bytes(Category::Workspace), 0u);
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
}

// Replay, batches and gradients read the commands in either form: every block of the
// reference models with its commands held wide gives the narrow form's bits.
TEST(narrow_and_wide_commands_give_the_same_bits) {
  for (const char* name : {"two_locus_n6.json", "structured_n8_d3.json", "rabbits.json", "kingman_sfs.json"}) {
    const Exploration explored = load_model_file(read_fixture(name), ExploreOptions{});
    const Condensation c = condense(explored.graph);
    const ModelTrace narrow = compose(explored.graph, c, {});
    ModelTrace wide = compose(explored.graph, c, {});
    std::size_t widened = 0;
    for (ComposedBlock& b : wide.blocks) {
      BlockTrace t = *b.trace;
      widened += t.commands_narrow();
      t.forward = ForwardList(t.forward.widened());
      t.solve = SolveList(t.solve.widened());
      t.terms = TermList(t.terms.widened());
      b.trace = share(std::move(t));
    }
    CHECK(widened > 0);
    const std::uint32_t P = explored.graph.param_count;
    std::vector<double> thetas;
    for (int i = 0; i < 8; ++i)
      for (std::uint32_t p = 0; p < P; ++p) thetas.push_back(0.5 + 0.25 * i + 0.125 * p);
    auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
    };
    const std::span<const double> theta(thetas.data(), P);
    const Moments one = evaluate(narrow, theta, 3), one_wide = evaluate(wide, theta, 3);
    CHECK(same(one.raw, one_wide.raw));
    const std::vector<Moments> lanes = evaluate_batch(narrow, fixtures::placed(), thetas, 8, 3);
    const std::vector<Moments> lanes_wide = evaluate_batch(wide, fixtures::placed(), thetas, 8, 3);
    for (std::size_t i = 0; i < lanes.size(); ++i) CHECK(same(lanes[i].raw, lanes_wide[i].raw));
    const Gradient d = evaluate_gradient(narrow, theta, 3, one), d_wide = evaluate_gradient(wide, theta, 3, one);
    CHECK(same(d.moment, d_wide.moment));
    std::printf("  %s: %zu of %zu blocks narrow\n", name, widened, wide.blocks.size());
  }
}

TEST(the_examples_compose_op_for_op_as_blocks_recorded_alone) {
  // The compiled reference models: acyclic runs (SFS), cyclic blocks of up to 45 states
  // (structured n = 8 d = 3), blocks that fill in and many small ones (two-locus).
  for (const char* name :
       {"kingman_sfs.json", "structured_n8_d3.json", "two_locus.json", "two_locus_n6.json", "rabbits.json"}) {
    std::printf("  %s\n", name);
    const Exploration explored = load_model_file(read_fixture(name), ExploreOptions{});
    const Condensation c = condense(explored.graph);
    for (const std::uint32_t min_block : {1u, 2u, 4u, 16u})
      check_composition_matches_fresh_blocks(explored.graph, c, min_block);
  }
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
}

TEST(a_block_cut_over_another_blocks_storage_is_the_block_cut_afresh) {
  // Larger and smaller blocks in turn, so the reused vectors both grow and shrink.
  const Exploration explored = load_model_file(read_fixture("two_locus.json"), ExploreOptions{});
  const Graph& g = explored.graph;
  const Condensation c = condense(g);
  BlockCutter cutter(g, c);
  BlockInput reused;
  for (int pass = 0; pass < 2; ++pass)
    for (std::uint32_t k = 1; k < c.component_count; ++k) {
      // Single components in ascending order, then runs of three ending at each one.
      const std::uint32_t last = k, first = pass == 0 ? k : std::max(1u, k >= 2 ? k - 2 : 1u);
      cutter.cut_into(first, last, reused);
      const BlockInput fresh = extract_components(g, c, first, last);
      CHECK_EQ(reused.vertex_count, fresh.vertex_count);
      CHECK_EQ(reused.exit_count, fresh.exit_count);
      CHECK(reused.vertices == fresh.vertices);
      CHECK(reused.exits == fresh.exits);
      CHECK(reused.edge_begin == fresh.edge_begin);
      CHECK(reused.edge_target == fresh.edge_target);
      // Bit for bit; an empty vector's data() may be null, which memcmp must not see.
      CHECK(reused.coeffs.size() == fresh.coeffs.size() &&
            (fresh.coeffs.empty() ||
             std::memcmp(reused.coeffs.data(), fresh.coeffs.data(), fresh.coeffs.size() * sizeof(double)) == 0));
      CHECK(reused.canonical_bytes() == fresh.canonical_bytes());
      // The run's non-absorbing members in ascending order, however they were put in order.
      std::vector<VertexId> members;
      for (std::uint32_t k2 = first; k2 <= last; ++k2)
        for (const VertexId v : c.members_of(k2))
          if (!g.absorbing(v)) members.push_back(v);
      std::sort(members.begin(), members.end());
      CHECK(std::equal(members.begin(), members.end(), reused.vertices.begin(), reused.vertices.end()));
      // What the block holds, however much storage the reused input kept.
      CHECK_EQ(reused.bytes(), fresh.bytes());
    }
}

// An acyclic block records sums and inverses only, each shared exactly (Program's exact
// mode: sums keyed by their two operands, inverses by their operand). A layered DAG whose
// rows draw their rates from 40 values, so the same sums recur thousands of vertices
// apart and there are enough distinct ones to grow the sum table many times over: the
// trace holds each sum and inverse once, as many as the plain definition below counts
// (terms in target order, then the absorption; summed in adjacent pairs, level by
// level), and E[T] is a long-double recursion's; composed with other blocks before it
// (the table and the inverses kept from block to block), each block is the one
// recorded alone.
TEST(an_acyclic_block_records_each_distinct_sum_and_inverse_once) {
  std::mt19937 rng(106);
  const std::uint32_t states = 3000, absorbing = states + 1;
  std::vector<fixtures::EdgeSpec> edges{{0, 1, {1, 0}}};
  std::vector<std::vector<std::pair<VertexId, double>>> out(states + 1);  // per state, its targets ascending
  for (VertexId u = 1; u <= states; ++u) {
    const std::uint32_t width = std::min<std::uint32_t>(1 + rng() % 8, states - u);
    std::vector<VertexId> targets;
    while (targets.size() < width) {
      const VertexId t = u + 1 + rng() % std::min<std::uint32_t>(60, states - u);
      if (std::find(targets.begin(), targets.end(), t) == targets.end()) targets.push_back(t);
    }
    std::sort(targets.begin(), targets.end());
    for (const VertexId t : targets) out[u].push_back({t, double(1 + rng() % 40)});
    if (targets.empty() || rng() % 3 == 0) out[u].push_back({absorbing, double(1 + rng() % 40)});
    for (const auto& [t, rate] : out[u]) edges.push_back({u, t, {0, rate}});
  }
  const Graph g = make_graph(1, states + 2, edges, {std::vector<double>(states + 2, 1.0)});
  const Condensation c = condense(g);

  // The plain definition: a value is its rate, or a sum of two values (unordered), or
  // an inverse; each distinct one is a value of the trace.
  std::map<double, int> dots;
  std::map<std::pair<int, int>, int> sums;
  std::map<int, int> inverses;
  int next = 0;
  for (VertexId u = 1; u <= states; ++u) {
    std::vector<int> terms;
    for (const auto& [t, rate] : out[u]) terms.push_back(dots.emplace(rate, next).second ? next++ : dots[rate]);
    while (terms.size() > 1) {
      std::vector<int> kept;
      for (std::size_t i = 0; i + 1 < terms.size(); i += 2) {
        const std::pair<int, int> key{std::min(terms[i], terms[i + 1]), std::max(terms[i], terms[i + 1])};
        kept.push_back(sums.emplace(key, next).second ? next++ : sums[key]);
      }
      if (terms.size() % 2) kept.push_back(terms.back());
      terms = kept;
    }
    if (inverses.emplace(terms[0], next).second) ++next;
  }
  CHECK(sums.size() > 4096);  // the table (64 entries at first) grows at least seven times

  const double theta[] = {0.7};
  std::vector<long double> time(states + 2, 0.0L);  // E[T] from each state
  for (VertexId u = states; u >= 1; --u) {
    long double rate = 0, ahead = 1;
    for (const auto& [t, r] : out[u]) rate += r * theta[0], ahead += r * theta[0] * time[t];
    time[u] = ahead / rate;
  }

  const BlockInput b = extract_components(g, c, 1, c.component_count - 1);
  CHECK_EQ(b.vertex_count, states);
  CHECK(!acyclic_order(b).empty());
  const BlockTrace t = record_block(b);
  CHECK_EQ(t.ops.size(), sums.size() + inverses.size());
  CHECK_EQ(t.dot_count, dots.size() + 1);  // and the constant 1 of a + b·1
  std::set<std::tuple<int, std::uint32_t, std::uint32_t, std::uint32_t>> seen;
  for (std::size_t i = 0; i < t.ops.size(); ++i) {
    const Op op = t.ops[i];
    CHECK(seen.insert({int(op.code), op.a, op.b, op.c}).second);
  }
  const ModelTrace whole = compose(g, c, {}, states + 2);
  CHECK_EQ(whole.blocks.size(), 1u);
  check_same_trace(*whole.blocks[0].trace, t);
  CHECK_CLOSE(evaluate(whole, theta, 1).moment(0, 1), double(time[1]), 1e-12);
  // Runs of two and eight components: many acyclic blocks in a row on one scratch.
  check_composition_matches_fresh_blocks(g, c, 2);
  check_composition_matches_fresh_blocks(g, c, 8);
  CHECK_CLOSE(evaluate(compose(g, c, {}, 8), theta, 1).moment(0, 1), double(time[1]), 1e-12);
}

TEST(a_run_of_every_component_holds_every_state_in_ascending_order) {
  // Components are numbered topologically, not by state id: a run of all of them
  // gathers its members out of order (the SFS models record one such run).
  for (const char* fixture : {"two_locus.json", "kingman_sfs.json"}) {
    const Exploration explored = load_model_file(read_fixture(fixture), ExploreOptions{});
    const Graph& g = explored.graph;
    const Condensation c = condense(g);
    const BlockInput run = extract_components(g, c, 1, c.component_count - 1);
    std::vector<VertexId> states;
    for (VertexId v = 1; v < g.vertex_count; ++v)
      if (!g.absorbing(v)) states.push_back(v);
    CHECK(std::equal(states.begin(), states.end(), run.vertices.begin(), run.vertices.end()));
  }
}

namespace {

// The block of components first..last as block.hpp defines it, computed the plain way
// (membership by component number, absorption by the graph, a sort per row): what the
// cutter's shortcuts must reproduce.
BlockInput reference_cut(const Graph& g, const Condensation& c, std::uint32_t first, std::uint32_t last) {
  BlockInput b;
  b.param_count = g.param_count;
  const std::uint32_t stride = g.stride();
  auto inside = [&](VertexId v) { return c.component_of[v] >= first && c.component_of[v] <= last; };
  for (VertexId v = 0; v < g.vertex_count; ++v)
    if (inside(v) && !g.absorbing(v)) b.vertices.push_back(v);
  std::vector<VertexId> exits;
  for (const VertexId u : b.vertices)
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (!g.absorbing(g.edge_target[e]) && !inside(g.edge_target[e])) exits.push_back(g.edge_target[e]);
  std::sort(exits.begin(), exits.end());
  exits.erase(std::unique(exits.begin(), exits.end()), exits.end());
  b.exits.assign(exits.begin(), exits.end());
  b.vertex_count = static_cast<std::uint32_t>(b.vertices.size());
  b.exit_count = static_cast<std::uint32_t>(b.exits.size());
  auto local = [&](VertexId t) -> std::uint32_t {
    if (g.absorbing(t)) return b.absorb_target();
    if (inside(t))
      return static_cast<std::uint32_t>(std::lower_bound(b.vertices.begin(), b.vertices.end(), t) - b.vertices.begin());
    return b.vertex_count + static_cast<std::uint32_t>(std::lower_bound(exits.begin(), exits.end(), t) - exits.begin());
  };
  std::vector<std::uint32_t> targets;
  std::vector<double> coeffs;
  b.edge_begin.push_back(0);
  for (const VertexId u : b.vertices) {
    std::vector<std::pair<std::uint32_t, std::uint64_t>> row;  // (local target, edge): absorbing edges in edge order
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e) row.push_back({local(g.edge_target[e]), e});
    std::sort(row.begin(), row.end());
    for (const auto& [t, e] : row) {
      if (!targets.empty() && targets.size() > b.edge_begin.back() && targets.back() == t) {
        for (std::uint32_t i = 0; i < stride; ++i) coeffs[coeffs.size() - stride + i] += g.form(e)[i];
        continue;
      }
      targets.push_back(t);
      coeffs.insert(coeffs.end(), g.form(e), g.form(e) + stride);
    }
    b.edge_begin.push_back(targets.size());
  }
  b.edge_target.assign(targets.begin(), targets.end());
  b.coeffs.assign(coeffs.begin(), coeffs.end());
  return b;
}

void check_same_cut(const BlockInput& cut, const BlockInput& want) {
  CHECK(cut.vertices == want.vertices);
  CHECK(cut.exits == want.exits);
  CHECK(cut.edge_begin == want.edge_begin);
  CHECK(cut.edge_target == want.edge_target);
  CHECK(cut.coeffs.size() == want.coeffs.size() &&
        (want.coeffs.empty() ||
         std::memcmp(cut.coeffs.data(), want.coeffs.data(), want.coeffs.size() * sizeof(double)) == 0));
}

}  // namespace

TEST(one_cutter_cuts_any_ranges_in_any_order_as_the_plain_definition) {
  // The cutter classifies a target by one mark per vertex (in this cut, absorbing, or
  // neither) that it keeps from cut to cut; ranges are cut here in any order and again,
  // not only sink-first as composition does. A vertex with three edges into absorbing
  // states sums them in edge order: (2^53 + 1) + 1 is 2^53, 1 + 1 + 2^53 is not.
  const double big = 9007199254740992.0;
  const Graph absorbing = make_graph(1, 7,
                                     {{0, 1, {1}},
                                      {1, 5, {0, big}},
                                      {1, 2, {0, 1}},
                                      {1, 3, {0, 1}},
                                      {1, 4, {0, 1}},
                                      {1, 6, {0, 2}},
                                      {2, 1, {0, 1}},
                                      {6, 3, {1, 0}}},
                                     {{0, 1, 1, 0, 0, 0, 1}});
  std::vector<Graph> graphs{absorbing};
  for (const char* name : {"two_locus.json", "kingman_sfs.json", "structured_n8_d3.json", "rabbits.json"})
    graphs.push_back(load_model_file(read_fixture(name), ExploreOptions{}).graph);
  fixtures::Rng rng(101);
  for (const Graph& g : graphs) {
    const Condensation c = condense(g);
    BlockCutter cutter(g, c);
    BlockInput reused;
    const std::uint32_t k = c.component_count - 1;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges{{1, k}};
    for (std::uint32_t first = 1; first <= k; ++first)
      ranges.push_back({first, first}), ranges.push_back({first, std::min(k, first + fixtures::below(rng, 4))});
    std::shuffle(ranges.begin() + 1, ranges.end(), rng);
    ranges.push_back({1, k});
    for (const auto& [first, last] : ranges) {
      cutter.cut_into(first, last, reused);
      check_same_cut(reused, reference_cut(g, c, first, last));
    }
  }
  const Condensation c = condense(absorbing);
  const BlockInput b = extract_block(absorbing, c, c.component_of[1]);
  CHECK_EQ(b.edge_begin[1], 3u);  // 1 → 2 inside, 1 → 6 an exit, the absorption
  CHECK_EQ(b.edge_target[2], b.absorb_target());
  CHECK_EQ(b.form(2)[1], big);
}

TEST(provider_sees_large_blocks_only_and_shares_traces) {
  const Graph g = rabbits2();
  const Condensation c = condense(g);
  std::vector<std::uint32_t> asked;
  auto provider = [&](std::uint32_t component, const BlockInput& input) {
    asked.push_back(component);
    CHECK(input.vertex_count >= 3);
    return share(record_block(input));
  };
  const ModelTrace t = compose(g, c, provider, 3);
  CHECK_EQ(asked.size(), std::size_t(1));
  CHECK_EQ(asked[0], 1u);
  // The 2-vertex component was recorded inline; blocks are sink-first.
  CHECK_EQ(t.blocks.size(), std::size_t(2));
  CHECK(!t.blocks[0].cacheable);
  CHECK(t.blocks[1].cacheable);
  CHECK(t.blocks[0].first_component > t.blocks[1].last_component);
  const double theta[] = {1.0, 2.0, 4.0};
  CHECK_CLOSE(evaluate(t, theta, 1).moment(0, 1), 0.5038265306122449, 1e-9);
}

TEST(serialized_traces_round_trip_and_reject_corruption) {
  const Graph g = rabbits2();
  const Condensation c = condense(g);
  const BlockTrace trace = record_block(extract_block(g, c, 1));
  const std::vector<std::uint8_t> bytes = serialize(trace);
  const BlockTrace back = deserialize(bytes.data(), bytes.size());
  CHECK(serialize(back) == bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_THROWS(deserialize(bytes.data(), n));
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      std::vector<std::uint8_t> bad = bytes;
      bad[i] ^= flip;
      try {
        deserialize(bad.data(), bad.size());
        ++accepted;
      } catch (const EngineError&) {
      }
    }
  CHECK_EQ(accepted, std::size_t(0));
  CHECK_THROWS(deserialize(nullptr, 0));
}

// The serialized trace's checksum as trace_format.hpp words it, restated word by word
// (not the engine's loop): words by index mod 4 into lanes, the tail FNV-1a into lane 0.
static std::uint64_t format_checksum(const std::uint8_t* p, std::size_t n) {
  auto rotl = [](std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  std::uint64_t lane[4] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL, 0x9ce484222325cbf2ULL, 0x2325cbf29ce48422ULL};
  const std::size_t words = n / 8;
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t w = 0;
    for (int k = 7; k >= 0; --k) w = (w << 8) | p[8 * i + k];
    lane[i % 4] = rotl(lane[i % 4] ^ w, 29) * 0x9E3779B97F4A7C15ULL;
  }
  for (std::size_t i = 8 * words; i < n; ++i) lane[0] = (lane[0] ^ p[i]) * 0x100000001b3ULL;
  std::uint64_t h = 0;
  for (const std::uint64_t l : lane) h = rotl((h ^ l) * 0x100000001b3ULL, 31);
  return h ^ n;
}

TEST(crafted_traces_with_a_valid_checksum_are_still_validated) {
  const Graph g = structured2();
  const Condensation c = condense(g);
  const BlockTrace trace = record_block(extract_block(g, c, 1));
  auto reseal = [](std::vector<std::uint8_t> b) {
    const std::uint64_t h = format_checksum(b.data(), b.size() - 8);
    std::memcpy(b.data() + b.size() - 8, &h, 8);
    return b;
  };
  const std::vector<std::uint8_t> good = serialize(trace);
  CHECK(reseal(good) == good);
  std::size_t accepted = 0, tried = 0;
  for (std::size_t i = 0; i + 8 < good.size(); ++i)
    for (std::uint8_t flip : {0x01, 0x10, 0x80}) {
      std::vector<std::uint8_t> bad = good;
      bad[i] ^= flip;
      bad = reseal(bad);
      ++tried;
      try {
        // A changed coefficient or operand can be a valid trace: it must replay without UB.
        auto t = share(deserialize(bad.data(), bad.size()));
        ++accepted;
        ModelTrace m = compose(g, c, {});
        m.blocks[0].trace = t;
        const double theta[] = {1.0, 0.5};
        const Moments moments = evaluate(m, theta, 2);
        (void)evaluate_gradient(m, theta, 2, moments);
      } catch (const EngineError&) {
      }
    }
  CHECK(accepted < tried);
  // A header claiming huge counts must be refused before allocating.
  std::vector<std::uint8_t> huge = good;
  const std::uint64_t big = ~0ULL / 2;
  std::memcpy(huge.data() + 24, &big, 8);
  CHECK_THROWS(deserialize(reseal(huge).data(), huge.size()));
}

TEST(randomly_mutated_resealed_traces_never_misbehave) {
  // Mutations with a recomputed checksum reach the structural checks. Whatever they
  // accept must be a trace serialize can produce (the reader's invariant: it gives back
  // the very bytes it read) and must evaluate without undefined behaviour (the
  // sanitizer build checks that) to a number or an EngineError.
  const Graph g = rabbits2();
  const Condensation c = condense(g);
  const std::vector<std::uint8_t> good = serialize(record_block(extract_block(g, c, 1)));
  const double theta[] = {1.0, 2.0, 4.0};
  {
    // The unmutated bytes replay to the closed-form value (rabbits_time_to_extinction).
    ModelTrace m = compose(g, c, {});
    m.blocks.back().trace = share(deserialize(good.data(), good.size()));
    CHECK_CLOSE(evaluate(m, theta, 1).moment(0, 1), 0.5038265306122449, 1e-9);
  }
  std::mt19937_64 rng(99);
  std::size_t accepted = 0, not_canonical = 0, evaluated = 0, refused_at_evaluation = 0, not_a_number = 0;
  for (int round = 0; round < 4000; ++round) {
    std::vector<std::uint8_t> bad = good;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits && !bad.empty(); ++e) {
      const std::size_t at = rng() % bad.size();
      switch (rng() % 4) {
        case 0: bad[at] = std::uint8_t(rng()); break;
        case 1: bad.erase(bad.begin() + at); break;
        case 2: bad.insert(bad.begin() + at, std::uint8_t(rng())); break;
        default: bad[at] ^= std::uint8_t(1u << (rng() % 8)); break;
      }
    }
    if (bad.size() >= 8) {
      const std::uint64_t h = format_checksum(bad.data(), bad.size() - 8);
      std::memcpy(bad.data() + bad.size() - 8, &h, 8);
    }
    std::shared_ptr<const BlockTrace> t;
    try {
      t = share(deserialize(bad.data(), bad.size()));
    } catch (const EngineError&) {
      continue;
    }
    ++accepted;
    if (serialize(*t) != bad) ++not_canonical;
    ModelTrace m = compose(g, c, {});
    m.blocks.back().trace = t;
    try {
      const Moments moments = evaluate(m, theta, 2);
      ++evaluated;
      if (std::isnan(moments.moment(0, 1)) || std::isnan(moments.moment(0, 2))) ++not_a_number;
    } catch (const EngineError&) {
      ++refused_at_evaluation;
    }
  }
  std::printf("  %zu of 4000 mutated traces were well-formed: %zu evaluated, %zu refused at evaluation\n", accepted,
              evaluated, refused_at_evaluation);
  CHECK_EQ(not_canonical, std::size_t(0));
  CHECK_EQ(not_a_number, std::size_t(0));
  CHECK_EQ(evaluated + refused_at_evaluation, accepted);
  // Most random edits change a length or an index: the reader must catch them.
  CHECK(accepted < 4000 / 2);
}

// No fuzz seed can hold a compact block: it has more than kNarrowValues values, each
// at least 8 bytes on disk (a DOT of no parameter; an op is 12), so its trace is over
// 512 KiB, past the seeds' 64 KiB. The compact reader is tested here instead, on the
// complete graph's recorded block (≈ 90 k values, a dense part), each corruption read
// as a run entry reads its traces (verify_checksum = false: the container checked a
// checksum of its own), so that only the structural checks can refuse it:
// truncations, ops reading a value not yet computed, a marked Inv with an operand, slots
// out of range in the commands and the dense part, form bits that disagree with the
// counts, a block that fits narrow stored compact, and random edits of the op section,
// whatever is accepted being the very bytes serialize writes and evaluating without
// undefined behaviour (the sanitized build) to a number or an EngineError.
TEST(corrupt_compact_traces_are_refused_by_the_structural_checks) {
  const Graph g = complete_graph();
  const Condensation c = condense(g);
  const ModelTrace recorded = compose(g, c, {});
  std::size_t at = recorded.blocks.size();
  for (std::size_t i = 0; i < recorded.blocks.size(); ++i)
    if (recorded.blocks[i].trace->ops.form() == OpForm::Compact) at = i;
  CHECK(at < recorded.blocks.size());
  if (at == recorded.blocks.size()) return;
  const BlockTrace& t = *recorded.blocks[at].trace;
  CHECK(!t.commands_narrow() && t.dense.size > 0);
  const std::vector<std::uint8_t> good = serialize(t);
  CHECK(serialize(deserialize(good.data(), good.size())) == good);
  std::printf("  a compact block of %llu values, %zu bytes serialized\n", (unsigned long long)t.value_count(),
              good.size());

  // Refused, by the check whose message contains `why`.
  auto refused = [](const std::vector<std::uint8_t>& b, const char* why) {
    try {
      deserialize(b.data(), b.size(), false);
    } catch (const EngineError& e) {
      if (std::string(e.what()).find(why) != std::string::npos) return true;
      std::printf("  refused for another reason: %s (expected: %s)\n", e.what(), why);
      return false;
    }
    return false;
  };
  auto put32 = [](std::vector<std::uint8_t>& b, std::size_t offset, std::uint32_t v) {
    std::memcpy(b.data() + offset, &v, 4);
  };
  // Offsets of trace_format.hpp's sections.
  constexpr std::size_t header = 81, form_byte = 56, op_count_at = 24;
  const std::uint64_t values = t.value_count();
  const std::size_t ops_at = header + t.dot_coeffs.size() * 8, op_bytes = 12;
  const std::size_t forward_at = ops_at + t.ops.size() * op_bytes;
  const std::size_t solve_at = forward_at + t.forward.size() * 12, terms_at = solve_at + t.solve.size() * 16;
  const std::size_t entries_at = terms_at + t.terms.size() * 8 + t.dense.size * 4;
  CHECK_EQ(entries_at + t.dense.entries.size() * 12 + 8, good.size());
  CHECK_EQ(good[form_byte], 4);  // compact ops, wide commands

  // Truncated anywhere (header, coefficients, between and inside ops, commands, the
  // dense part): the counts no longer fit the length.
  std::vector<std::size_t> cuts;
  for (std::size_t n = 0; n <= header + 16; ++n) cuts.push_back(n);
  for (const std::size_t op :
       {std::size_t(0), std::size_t(1), t.ops.size() / 2, std::size_t(t.dense.first_op), t.ops.size() - 1})
    for (std::size_t k = 0; k < op_bytes; ++k) cuts.push_back(ops_at + op * op_bytes + k);
  for (const std::size_t s : {forward_at, solve_at, terms_at, entries_at}) cuts.push_back(s), cuts.push_back(s + 3);
  for (std::size_t k = 1; k <= 24; ++k) cuts.push_back(good.size() - k);
  std::size_t truncations_refused = 0;
  for (const std::size_t n : cuts) {
    const std::vector<std::uint8_t> cut(good.begin(), good.begin() + std::ptrdiff_t(n));
    truncations_refused += refused(cut, "corrupt serialized trace");
  }
  CHECK_EQ(truncations_refused, cuts.size());
  {
    // The last op dropped with its count: the length fits, but some command or op read it.
    std::vector<std::uint8_t> shorter = good;
    shorter.erase(shorter.begin() + std::ptrdiff_t(forward_at - op_bytes),
                  shorter.begin() + std::ptrdiff_t(forward_at));
    const std::uint64_t fewer = t.ops.size() - 1;
    std::memcpy(shorter.data() + op_count_at, &fewer, 8);
    CHECK_THROWS(deserialize(shorter.data(), shorter.size(), false));
  }

  // An op reading its own slot or one past, in each operand; an Inv (b = kCompactInv)
  // with c ≠ 0; operands at the top of the 32-bit range.
  std::size_t muladds = 0, invs = 0;
  for (const std::size_t i : {std::size_t(0), std::size_t(1), t.ops.size() / 3, std::size_t(t.dense.first_op),
                              std::size_t(t.dense.first_op) + 1, t.ops.size() - 1}) {
    const std::uint32_t slot = t.dot_count + std::uint32_t(i);
    const std::size_t op = ops_at + i * op_bytes;
    const bool inv = t.ops[i].code == OpCode::Inv;
    (inv ? invs : muladds) += 1;
    const std::size_t operands = inv ? 1 : 3;
    for (std::size_t k = 0; k < operands; ++k)
      for (const std::uint32_t bad : {slot, slot + 1, std::uint32_t(values), 0xfffffffeu}) {
        std::vector<std::uint8_t> b = good;
        put32(b, op + 4 * k, bad);
        CHECK(refused(b, "reads a value not yet computed"));
      }
    std::vector<std::uint8_t> b = good;
    put32(b, op + 4, kCompactInv);
    put32(b, op + 8, 1);
    CHECK(refused(b, "reads a value not yet computed"));
    if (!inv) {
      // A MulAdd's c may not be the Inv mark.
      std::vector<std::uint8_t> marked = good;
      put32(marked, op + 8, kCompactInv);
      CHECK(refused(marked, "reads a value not yet computed"));
    }
  }
  CHECK(muladds > 0 && invs > 0);

  // Value slots out of range where commands and the dense part read them.
  auto slot_refused = [&](std::size_t offset, std::uint32_t slot, const char* why) {
    std::vector<std::uint8_t> b = good;
    put32(b, offset, slot);
    return refused(b, why);
  };
  CHECK(slot_refused(forward_at + 8, std::uint32_t(values), "forward command index out of range"));
  CHECK(slot_refused(forward_at + (t.forward.size() - 1) * 12 + 8, kCompactInv, "forward command index out of range"));
  CHECK(slot_refused(solve_at + 4, std::uint32_t(values), "solve command value out of range"));
  CHECK(slot_refused(solve_at + (t.solve.size() - 1) * 16 + 4, std::uint32_t(values),
                     "solve command value out of range"));
  CHECK(slot_refused(terms_at + 4, std::uint32_t(values), "term index out of range"));
  CHECK(!t.dense.entries.empty());
  CHECK(slot_refused(entries_at + 8, t.dot_count + t.dense.first_op, "dense entry out of range"));

  // Form bits that disagree with the counts: wide ops (13 bytes each), narrow ops,
  // narrow commands; both op bits, or a bit no form has.
  const std::pair<std::uint8_t, const char*> forms[] = {{0, "larger than the data"},
                                                        {1, "length does not match the counts"},
                                                        {6, "length does not match the counts"},
                                                        {5, "unknown op or command form"},
                                                        {7, "unknown op or command form"},
                                                        {8, "unknown op or command form"}};
  for (const auto& [form, why] : forms) {
    std::vector<std::uint8_t> b = good;
    b[form_byte] = form;
    CHECK(refused(b, why));
  }

  {
    // A block that fits 16-bit slots, its narrow ops rewritten as compact ones: a form
    // serialize never writes, so the reader refuses it (the identity on bytes).
    const BlockTrace small = record_block(extract_block(structured2(), condense(structured2()), 1));
    CHECK(small.ops.narrow());
    const std::vector<std::uint8_t> narrow = serialize(small);
    const std::size_t small_ops = header + small.dot_coeffs.size() * 8;
    std::vector<std::uint8_t> b(narrow.begin(), narrow.begin() + std::ptrdiff_t(small_ops));
    b[form_byte] = std::uint8_t((b[form_byte] & ~1) | 4);
    for (std::size_t i = 0; i < small.ops.size(); ++i)
      for (std::size_t k = 0; k < 3; ++k) {
        std::uint16_t v;
        std::memcpy(&v, narrow.data() + small_ops + 6 * i + 2 * k, 2);
        const std::uint32_t wide = v == kNarrowInv ? kCompactInv : v;
        b.insert(b.end(), reinterpret_cast<const std::uint8_t*>(&wide),
                 reinterpret_cast<const std::uint8_t*>(&wide) + 4);
      }
    b.insert(b.end(), narrow.begin() + std::ptrdiff_t(small_ops + 6 * small.ops.size()), narrow.end());
    CHECK(refused(b, "compact ops that fit the narrow form"));
  }

  // Random edits in place in the op section (a byte set or a bit flipped: an edit that
  // moves the sections is a truncation, above).
  const double theta[] = {0.75, 1.25};
  std::mt19937_64 rng(1729);
  std::size_t accepted = 0, not_canonical = 0, evaluated = 0, refused_at_evaluation = 0;
  constexpr int rounds = 120;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::uint8_t> bad = good;
    const int edits = 1 + int(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t where = ops_at + rng() % (t.ops.size() * op_bytes);
      if (rng() % 2)
        bad[where] = std::uint8_t(rng());
      else
        bad[where] ^= std::uint8_t(1u << (rng() % 8));
    }
    std::shared_ptr<const BlockTrace> read;
    try {
      read = share(deserialize(bad.data(), bad.size(), false));
    } catch (const EngineError&) {
      continue;
    }
    ++accepted;
    // The same bytes but the checksum, which was not read.
    const std::vector<std::uint8_t> again = serialize(*read);
    if (again.size() != bad.size() || !std::equal(bad.begin(), bad.end() - 8, again.begin())) ++not_canonical;
    ModelTrace m = recorded;
    m.blocks[at].trace = read;
    // Replayed, not factored: the dense part's ops are what the edits reached.
    BlockTrace replayed = *read;
    replayed.dense = DenseTail{};
    ModelTrace r = recorded;
    r.blocks[at].trace = share(std::move(replayed));
    for (const ModelTrace* model : {&m, &r}) try {
        const Moments moments = evaluate(*model, theta, 2);
        (void)evaluate_gradient(*model, theta, 2, moments);
        ++evaluated;
      } catch (const EngineError&) {
        ++refused_at_evaluation;
      }
  }
  std::printf("  %zu of %d edited compact traces were well-formed: %zu evaluations, %zu refused at evaluation\n",
              accepted, rounds, evaluated, refused_at_evaluation);
  CHECK_EQ(not_canonical, std::size_t(0));
  CHECK_EQ(evaluated + refused_at_evaluation, 2 * accepted);
  CHECK(accepted > 0);
}

TEST(cancellation_leaves_the_ledger_where_it_was) {
  const Graph g = rabbits2();
  const Condensation c = condense(g);
  const LedgerSnapshot before;
  std::atomic<bool> cancel{true};
  CHECK_THROWS(record_block(extract_block(g, c, 1), &cancel));
  CHECK_THROWS(compose(g, c, {}, 2, &cancel));
  CHECK_THROWS(condense(g, &cancel));
  // Cancelled in the middle of composition, after a block was provided.
  std::atomic<bool> later{false};
  bool threw = false;
  try {
    compose(
        g, c,
        [&](std::uint32_t, const BlockInput& input) {
          later = true;
          return share(record_block(input));
        },
        2, &later);
  } catch (const Cancelled&) {
    threw = true;
  }
  CHECK(threw);
  CHECK(before.same_work(LedgerSnapshot()));
  const ModelTrace t = compose(g, c, {});
  const LedgerSnapshot composed;
  const double theta[] = {1.0, 2.0, 4.0};
  threw = false;
  try {
    evaluate(t, theta, 2, {}, &cancel);
  } catch (const Cancelled&) {
    threw = true;
  }
  CHECK(threw);
  // The gradient pass checks the flag at each block of both its passes.
  const Moments moments = evaluate(t, theta, 2);
  threw = false;
  try {
    evaluate_gradient(t, theta, 2, moments, {}, &cancel);
  } catch (const Cancelled&) {
    threw = true;
  }
  CHECK(threw);
  const LedgerSnapshot after;
  CHECK(composed.same_work(after));
  CHECK(before.subgraphs == after.subgraphs);
}

// A cancel stops a block in whichever step eliminates it (eliminate_acyclic or
// eliminate_cyclic, decision 114) with Cancelled, and the working storage it leaves
// mid-block records the next blocks as fresh storage does.
TEST(a_cancel_stops_acyclic_and_cyclic_blocks_and_the_storage_records_on) {
  const Graph chain = make_graph(1, 5, {{0, 1, {1}}, {1, 2, {0, 2}}, {2, 3, {0, 3}}, {3, 4, {0, 5}}},
                                 {std::vector<double>(5, 1.0)});
  const Condensation chain_components = condense(chain);
  const BlockInput acyclic = extract_components(chain, chain_components, 1, chain_components.component_count - 1);
  CHECK_EQ(acyclic.vertex_count, 3u);
  CHECK(!acyclic_order(acyclic).empty());
  const Graph g = rabbits2();
  const Condensation c = condense(g);
  const BlockInput cyclic = extract_block(g, c, 1);
  CHECK(cyclic.vertex_count > 1);
  CHECK(acyclic_order(cyclic).empty());
  const BlockTrace fresh_acyclic = record_block(acyclic), fresh_cyclic = record_block(cyclic);

  const RecordingScratch scratch;
  std::atomic<bool> cancel{true};
  for (const BlockInput* b : {&acyclic, &cyclic, &acyclic}) {
    bool cancelled = false;
    try {
      record_block(*b, &cancel);
    } catch (const Cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
  }
  check_same_trace(record_block(cyclic), fresh_cyclic);
  check_same_trace(record_block(acyclic), fresh_acyclic);
}

TEST(everything_built_is_released) {
  const LedgerSnapshot before;
  {
    const Graph g = rabbits2();
    const Condensation c = condense(g);
    const ModelTrace t = compose(g, c, {});
    const ModelTrace flat = compose_flat(g, c);
    const double thetas[] = {1, 2, 4, 1, 1, 1};
    CHECK_EQ(evaluate_batch(t, fixtures::placed(), thetas, 2, 2).size(), std::size_t(2));
    // Everything a model trace reports as its size is accounted (plus the shared
    // pointers' control blocks).
    CHECK(ledger().bytes(Category::Traces) >= before.traces + t.bytes() + flat.bytes());
    CHECK_EQ(ledger().bytes(Category::Subgraphs), before.subgraphs);
    CHECK_EQ(ledger().bytes(Category::Evaluation), before.evaluation);
  }
  const LedgerSnapshot after;
  CHECK(before.same_work(after));
  CHECK_EQ(after.graph, before.graph);
}

TEST(bad_parameters_are_refused) {
  const Graph g = kingman4();
  const ModelTrace t = compose(g, condense(g), {});
  const double negative[] = {-1.0};
  CHECK_THROWS(evaluate(t, negative, 1));
  const double two[] = {1.0, 1.0};
  CHECK_THROWS(evaluate(t, two, 1));
  const double one[] = {1.0};
  CHECK_THROWS(evaluate(t, one, 0));
  const RewardPair missing[] = {{0, 5}};
  CHECK_THROWS(evaluate(t, one, 1, missing));
}

TEST(a_million_vertex_chain_decomposes_without_stack_overflow) {
  const std::uint32_t n = 1000000;
  // One strongly connected chain 1 ⇄ 2 ⇄ … ⇄ n → absorbing n+1: the DFS is n deep.
  std::vector<fixtures::EdgeSpec> edges{{0, 1, {1}}};
  for (VertexId v = 1; v < n; ++v) {
    edges.push_back({v, v + 1, {2}});
    edges.push_back({v + 1, v, {1}});
  }
  edges.push_back({n, n + 1, {1}});
  const Graph cyclic = make_graph(0, n + 2, edges, {});
  const Condensation c = condense(cyclic);
  CHECK_EQ(c.component_count, 3u);
  CHECK_EQ(c.size(1), n);

  // A one-way chain: a million trivial components, recorded as one inline block.
  edges.assign({{0, 1, {1}}});
  for (VertexId v = 1; v <= n; ++v) edges.push_back({v, v + 1, {4}});
  std::vector<double> time(n + 2, 1.0);
  time[0] = time[n + 1] = 0;
  const Graph chain = make_graph(0, n + 2, edges, {time});
  const Condensation cc = condense(chain);
  CHECK_EQ(cc.component_count, n + 2);
  const ModelTrace t = compose(chain, cc, {});
  CHECK_EQ(t.blocks.size(), std::size_t(1));
  CHECK_CLOSE(evaluate(t, {}, 1).moment(0, 1), n / 4.0, 1e-12);
}

TEST_MAIN()
