// Exploration with cell guards (model/binding_guards.hpp), interval pruning and fused
// sum loops against full enumeration by the plain interpreter (prune_bindings =
// false), which runs every program of every binding as written: on random models,
// on every example of examples/ (compiled by the front end, see
// scripts/native-tests.mjs), and on the guards the planner must and must not find.
#include <dirent.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "check.hpp"
#include "graph/explore.hpp"
#include "json/json.hpp"
#include "model/binding_guards.hpp"
#include "model/compiled_model.hpp"
#include "model_fixtures.hpp"

using namespace phasic;
using fixtures::Code;

namespace {

// What an exploration gave: the graph and its statistics, or the error's message.
struct Outcome {
  bool ok = false;
  std::string error;
  Exploration x;
};

Outcome explore_outcome(const CompiledModel& model, bool prune, bool parallel) {
  ExploreOptions options;
  options.prune_bindings = prune;
  options.parallel = parallel;
  options.max_states = 3000;
  Outcome o;
  try {
    o.x = explore(model, options);
    o.ok = true;
  } catch (const EngineError& e) {
    o.error = e.what();
  }
  return o;
}

bool same_outcome(const Outcome& a, const Outcome& b) {
  if (a.ok != b.ok) return false;
  if (!a.ok) return a.error == b.error;
  const Graph &g = a.x.graph, &h = b.x.graph;
  if (g.vertex_count != h.vertex_count || g.states != h.states || g.edge_begin != h.edge_begin ||
      g.edge_target != h.edge_target || g.coeffs.size() != h.coeffs.size() || g.rewards != h.rewards)
    return false;
  // Bit for bit: cache keys hash the coefficients' bits.
  if (std::memcmp(g.coeffs.data(), h.coeffs.data(), g.coeffs.size() * sizeof(double)) != 0) return false;
  if (a.x.rule_firings != b.x.rule_firings || a.x.warnings.size() != b.x.warnings.size()) return false;
  for (std::size_t i = 0; i < a.x.warnings.size(); ++i)
    if (a.x.warnings[i].message != b.x.warnings[i].message) return false;
  return true;
}

// ---- Random models, bytecode written as the front end writes it ----------------

Code operator+(Code a, const Code& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Code constant(long long v) { return {0, v}; }
Code load(int slot) { return {1, slot}; }

// The front end's sum(c) over `cells` cells from offset 0 into slots acc, i.
Code sum_loop(long long cells, int acc, int i) {
  Code c = {0, 0, 2, acc, 0, 0, 2, i};
  const long long top = 8, end = top + 27;
  c = c + Code{1, i, 0, cells, 15, 21, end, 1, acc, 1, i, 5, cells, 3, 4, 7, 2, acc};
  c = c + Code{1, i, 0, 1, 7, 2, i, 20, top, 1, acc};
  return c;
}

// a and b (each without jumps), as the front end short-circuits it.
Code both(const Code& a, const Code& b) {
  const long long A = (long long)a.size(), B = (long long)b.size();
  const long long otherwise = A + 4 + B;
  return a + Code{21, otherwise} + b + Code{20, otherwise + 2, 0, 0};
}
Code either(const Code& a, const Code& b) {
  const long long A = (long long)a.size(), B = (long long)b.size();
  const long long second = A + 6;
  return a + Code{21, second, 0, 1, 20, second + B} + b;
}

struct RandomModel {
  std::mt19937 rng;
  int R = 2, C = 3;  // c[R][C], then a scalar k
  explicit RandomModel(unsigned seed) : rng(seed) {}
  int below(int n) { return int(rng() % unsigned(n)); }
  bool chance(int percent) { return below(100) < percent; }

  // c[row][col] where row and col are programs (checked by INDEX, site 3).
  Code cell(const Code& row, const Code& col) const { return row + Code{5, R, 3, 0, C, 9} + col + Code{5, C, 3, 7, 4}; }

  std::string rule(int r) {
    const int loops = 1 + below(4);
    // Loops alternate row and column variables; one may start at the previous of its kind.
    std::string loop_json;
    std::vector<int> rows, cols;
    for (int j = 0; j < loops; ++j) {
      const bool row = j % 2 == 0;
      Code lo = constant(0);
      const std::vector<int>& same = row ? rows : cols;
      if (!same.empty() && chance(40)) lo = load(same.back());
      loop_json += std::string(j ? "," : "") + R"({"name":"v)" + std::to_string(j) + R"(","slot":)" +
                   std::to_string(j) + R"(,"lo":)" + fixtures::json(lo) + R"(,"hi":)" +
                   fixtures::json(constant(row ? R - 1 : C - 1)) + "}";
      (row ? rows : cols).push_back(j);
    }
    int locals = loops;
    auto any_row = [&] { return load(rows[std::size_t(below(int(rows.size())))]); };
    auto any_col = [&] { return cols.empty() ? constant(below(C)) : load(cols[std::size_t(below(int(cols.size())))]); };
    auto a_cell = [&] { return cell(any_row(), any_col()); };
    std::string steps;
    int let_slot = -1;
    const int count = 1 + below(3);
    for (int s = 0; s < count; ++s) {
      Code when;
      switch (below(10)) {
        case 0: when = a_cell() + constant(1 + below(2)) + Code{18}; break;  // c[..] >= 1 or 2
        case 1: when = constant(1) + a_cell() + Code{16}; break;             // 1 <= c[..]
        case 2: when = a_cell() + constant(0) + Code{17}; break;             // c[..] > 0
        case 3: when = both(a_cell() + constant(1) + Code{18}, a_cell() + constant(1) + Code{18}); break;
        case 4: when = either(any_row() + any_row() + Code{16}, any_col() + any_col() + Code{18}); break;
        case 5:  // may raise: row + 1 is out of range on the last row
          when = cell(any_row() + constant(1) + Code{7}, any_col()) + constant(0) + Code{18};
          break;
        case 6: when = Code{3, R * C} + constant(3) + Code{15}; break;  // k < 3
        case 7:
          if (let_slot < 0) {
            let_slot = locals++;
            steps += std::string(steps.empty() ? "" : ",") + R"({"let":)" + std::to_string(let_slot) + R"(,"code":)" +
                     fixtures::json(any_row() + any_row() + Code{13}) + R"(,"site":0})";
            continue;
          }
          when = a_cell() + constant(1) + load(let_slot) + Code{7, 18};  // c[..] >= 1 + same
          break;
        case 8: when = either(a_cell() + constant(1) + Code{18}, Code{3, R * C} + constant(0) + Code{17}); break;
        default: when = both(any_row() + any_row() + Code{14}, a_cell() + constant(2) + Code{18}); break;
      }
      steps += std::string(steps.empty() ? "" : ",") + R"({"when":)" + fixtures::json(when) + R"(,"site":0})";
    }
    const int kinds = below(4);
    const Code rate = kinds == 0   ? constant(1)
                      : kinds == 1 ? a_cell()
                      : kinds == 2 ? a_cell() + constant(2) + Code{10}
                                   : a_cell() + a_cell() + Code{9};
    // Mostly moves of one lineage from cell to cell; sometimes k grows past its bound.
    const Code from = a_cell(), to = a_cell();
    auto index_of = [&](const Code& cell_code) { return Code(cell_code.begin(), cell_code.end() - 1); };
    std::string updates = R"({"cell":)" + fixtures::json(index_of(from)) + R"(,"op":"sub","value":[0,1],"site":2})";
    switch (below(4)) {
      case 0: updates += R"(,{"cell":[0,)" + std::to_string(R * C) + R"(],"op":"add","value":[0,1],"site":2})"; break;
      case 1:
        updates += R"(,{"cell":)" + fixtures::json(index_of(to)) + R"(,"op":"set","value":[0,0],"site":2})";
        break;
      default:
        updates += R"(,{"cell":)" + fixtures::json(index_of(to)) + R"(,"op":"add","value":[0,1],"site":2})";
        break;
    }
    return R"({"name":"r)" + std::to_string(r) + R"(","site":0,"locals":)" + std::to_string(locals) + R"(,"loops":[)" +
           loop_json + R"(],"steps":[)" + steps + R"(],"rate":[null,)" + fixtures::json(rate) +
           R"(],"rateSite":1,"updates":[)" + updates + "]}";
  }

  std::string text() {
    R = 2 + below(2);
    C = 2 + below(3);
    const int cells = R * C;
    const std::string hi = chance(50) ? "null" : std::to_string(5 + below(2));  // at least any start
    std::vector<int> start(std::size_t(cells + 1), 0);
    for (int lineages = 2 + below(4); lineages > 0; --lineages) ++start[std::size_t(below(cells))];
    std::string start_json = "[";
    for (std::size_t i = 0; i < start.size(); ++i) start_json += (i ? "," : "") + std::to_string(start[i]);
    start_json += "]";
    std::string rules;
    const int count = 1 + below(3);
    for (int r = 0; r < count; ++r) rules += (r ? "," : "") + rule(r);
    const Code absorb = sum_loop(cells, 0, 1) + constant(1) + Code{16};
    return fixtures::header("random", R"([{"name":"theta","default":1.0,"lo":null,"hi":null}])", cells + 1,
                            R"([{"name":"c","offset":0,"dims":[)" + std::to_string(R) + "," + std::to_string(C) +
                                R"(],"lo":0,"hi":)" + hi + R"(},{"name":"k","offset":)" + std::to_string(cells) +
                                R"(,"dims":[],"lo":0,"hi":4}])",
                            R"([{"probability":1.0,"state":)" + start_json + "}]") +
           R"(,"absorb":[)" + (chance(70) ? R"({"locals":2,"code":)" + fixtures::json(absorb) + R"(,"site":-1})" : "") +
           R"(],"rules":[)" + rules + R"(],"rewards":[{"name":"time","locals":0,"code":[0,1]},)" +
           R"({"name":"total","locals":2,"code":)" + fixtures::json(sum_loop(cells, 0, 1)) + "}]," + fixtures::kSites +
           "}";
  }
};

}  // namespace

TEST(random_models_explore_as_full_enumeration_does) {
  int compared = 0, explored = 0, failed = 0, guarded = 0;
  for (unsigned seed = 1; seed <= 600; ++seed) {
    RandomModel gen(seed);
    const std::string text = gen.text();
    CompiledModel model;
    try {
      model = load_compiled_model(json::parse(text));
    } catch (const EngineError& e) {
      std::printf("  seed %u does not load: %s\n", seed, e.what());
      CHECK(false);
      continue;
    }
    for (const Rule& r : model.rules) guarded += plan_binding_guards(model, r).any();
    const Outcome reference = explore_outcome(model, false, false);
    const Outcome fast = explore_outcome(model, true, true);
    const Outcome fast_one = explore_outcome(model, true, false);
    ++compared;
    reference.ok ? ++explored : ++failed;
    if (!same_outcome(reference, fast) || !same_outcome(reference, fast_one)) {
      std::printf("  seed %u differs: %s | %s\n", seed, reference.ok ? "explored" : reference.error.c_str(),
                  fast.ok ? "explored" : fast.error.c_str());
      CHECK(false);
    }
  }
  std::printf("  %d random models: %d explored, %d failed alike; %d rules had cell guards\n", compared, explored,
              failed, guarded);
  // The generator must exercise both outcomes and the guards, or the comparison proves little.
  CHECK(explored > 100);
  CHECK(failed > 20);
  CHECK(guarded > 100);
}

TEST(every_example_explores_as_full_enumeration_does) {
  const char* dir = std::getenv("PHASIC_EXAMPLE_MODELS");
  if (!dir) SKIP("PHASIC_EXAMPLE_MODELS is not set (scripts/native-tests.mjs compiles examples/ into it)");
  DIR* d = opendir(dir);
  CHECK(d != nullptr);
  if (!d) return;
  int models = 0;
  while (const dirent* entry = readdir(d)) {
    const std::string name = entry->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    std::ifstream in(std::string(dir) + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    const CompiledModel model = load_compiled_model(json::parse(text.str()));
    const Outcome reference = explore_outcome(model, false, false);
    const Outcome fast = explore_outcome(model, true, true);
    CHECK(reference.ok);
    if (!same_outcome(reference, fast)) {
      std::printf("  %s differs\n", name.c_str());
      CHECK(false);
    }
    std::printf("  %s: %u vertices, the same graph\n", name.c_str(), reference.x.graph.vertex_count);
    ++models;
  }
  closedir(d);
  CHECK(models >= 5);
}

TEST(two_locus_coalescence_is_guarded_by_the_cells_it_pairs) {
  // coalesce: for b1, a1, b2 in b1..n, a2: when c[b1][a1] >= 1 + same and c[b2][a2] >= 1,
  // over c[n+1][n+1] at offset 0 (index a + (n+1) b).
  const CompiledModel model = load_compiled_model(json::parse(fixtures::two_locus(4)));
  const BindingGuards g = plan_binding_guards(model, model.rules[0]);
  CHECK_EQ(g.by_depth.size(), std::size_t(5));
  CHECK(g.by_depth[0].empty() && g.by_depth[1].empty() && g.by_depth[3].empty());
  CHECK_EQ(g.by_depth[2].size(), std::size_t(1));
  CHECK_EQ(g.by_depth[4].size(), std::size_t(1));
  if (g.by_depth[2].size() == 1 && g.by_depth[4].size() == 1) {
    const CellGuard &first = g.by_depth[2][0], &second = g.by_depth[4][0];
    CHECK(first.base == 0 && first.coef == (std::vector<std::int64_t>{5, 1}) && first.least == 1);
    CHECK(second.base == 0 && second.coef == (std::vector<std::int64_t>{0, 0, 5, 1}) && second.least == 1);
  }
  CHECK(g.drives == (std::vector<bool>{false, true, false, true}));
}

TEST(no_guard_may_hide_an_error_or_read_a_stale_let) {
  using fixtures::header;
  const std::string pair = R"([{"name":"x","offset":0,"dims":[2],"lo":0,"hi":3}])";
  auto model = [&](const std::string& steps, int locals = 1, const std::string& rate = "[0,1]") {
    return load_compiled_model(
        json::parse(header("m", R"([{"name":"theta","default":1.0,"lo":null,"hi":null}])", 2, pair,
                           R"([{"probability":1.0,"state":[1,0]}])") +
                    R"(,"absorb":[],"rules":[{"name":"r","site":0,"locals":)" + std::to_string(locals) +
                    R"(,"loops":[{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}],"steps":)" + steps + R"(,"rate":[)" +
                    rate + R"(,null],"rateSite":1,"updates":[{"cell":[0,0],"op":"set","value":[0,0]}]}],
          "rewards":[{"name":"time","locals":0,"code":[0,1]}],)" +
                    fixtures::kSites + "}"));
  };
  const std::string x_i = "1,0,5,2,3,4";         // x[i]
  const std::string x_i1 = "1,0,0,1,7,5,2,3,4";  // x[i + 1]: out of range at i = 1
  // when x[i] >= 1: a guard on x[i] once i is bound (loop 0), driving i through the cells.
  const CompiledModel guarded = model(R"([{"when":[)" + x_i + R"(,0,1,18]}])");
  BindingGuards g = plan_binding_guards(guarded, guarded.rules[0]);
  CHECK(g.any() && g.by_depth[1].size() == 1 && g.drives[0]);
  // A step that may raise comes first: skipping would hide its error.
  const CompiledModel raising = model(R"([{"when":[)" + x_i1 + R"(,0,0,18]},{"when":[)" + x_i + R"(,0,1,18]}])");
  CHECK(!plan_binding_guards(raising, raising.rules[0]).any());
  CHECK(same_outcome(explore_outcome(raising, false, false), explore_outcome(raising, true, true)));
  // A comparison under `or` is not implied by the `when`.
  const CompiledModel either_side = model(R"([{"when":[)" + x_i + R"(,0,1,18,21,15,0,1,20,20,1,0,0,1,13]}])");
  CHECK(!plan_binding_guards(either_side, either_side.rules[0]).any());
  // A `let` read before it is written holds the previous binding's value.
  const CompiledModel stale = model(
      R"([{"when":[1,1,0,0,13]},{"let":1,"code":[0,1]},{"when":[)" + x_i + R"(,0,1,18]}])", 2);
  CHECK(!plan_binding_guards(stale, stale.rules[0]).any());
  // A rate that stores into the loop's slot changes what later bindings see.
  const CompiledModel storing = model(R"([{"when":[)" + x_i + R"(,0,1,18]}])", 1, "[0,1,2,0,0,1]");
  CHECK(!plan_binding_guards(storing, storing.rules[0]).any());
}

TEST_MAIN()
