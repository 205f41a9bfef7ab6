#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "graph/explore.hpp"
#include "json/json.hpp"
#include "model/compiled_model.hpp"
#include "model_fixtures.hpp"

using namespace phasic;

static Exploration explore_text(const std::string& text, ExploreOptions options = {}) {
  const CompiledModel model = load_compiled_model(json::parse(text));
  return explore(model, options);
}

// The form of edge u -> v, or nullptr.
static const double* edge(const Graph& g, VertexId u, VertexId v) {
  for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
    if (g.edge_target[e] == v) return g.form(e);
  return nullptr;
}

static std::vector<std::int32_t> state_of(const Graph& g, VertexId u) {
  return std::vector<std::int32_t>(g.state(u), g.state(u) + g.state_length);
}

static std::string error_of(const std::string& text, ExploreOptions options = {}) {
  try {
    explore_text(text, options);
  } catch (const EngineError& e) {
    return e.what();
  }
  return "";
}

static EngineError engine_error_of(const std::string& text) {
  try {
    explore_text(text);
  } catch (const EngineError& e) {
    return e;
  }
  return EngineError("no error");
}

static bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(kingman_n4_is_a_chain_of_five_vertices) {
  const Exploration x = explore_text(fixtures::kingman(4));
  const Graph& g = x.graph;
  CHECK_EQ(g.vertex_count, 5u);
  CHECK_EQ(g.edge_count(), std::uint64_t(4));
  CHECK_EQ(g.param_count, 1u);
  CHECK_EQ(g.stride(), 2u);
  // S -> k=4 with probability 1, then k -> k-1 at theta * k(k-1)/2.
  CHECK(state_of(g, 0) == std::vector<std::int32_t>{0});
  const double* s = edge(g, 0, 1);
  CHECK(s && s[0] == 1.0 && s[1] == 0.0);
  for (VertexId u = 1; u <= 3; ++u) {
    const int k = 5 - int(u);
    CHECK_EQ(g.state(u)[0], k);
    const double* f = edge(g, u, u + 1);
    CHECK(f && f[0] == 0.0 && f[1] == k * (k - 1) / 2.0);
  }
  CHECK_EQ(g.state(4)[0], 1);
  CHECK(g.absorbing(4));
  CHECK(!g.absorbing(3));
  // Rewards: time, tmrca = 1, total_length = k; S is 0.
  CHECK_EQ(g.reward_count, 3u);
  CHECK_EQ(g.reward(0, 0), 0.0);
  CHECK_EQ(g.reward(0, 2), 1.0);
  CHECK_EQ(g.reward(2, 1), 4.0);
  CHECK_EQ(g.reward(2, 4), 1.0);
  CHECK(x.info.reward_names == (std::vector<std::string>{"time", "tmrca", "total_length"}));
  CHECK(x.info.param_names == std::vector<std::string>{"theta"});
  CHECK(x.info.rule_names == std::vector<std::string>{"coalesce"});
  CHECK_EQ(x.rule_firings[0], std::uint64_t(3));
  CHECK(x.warnings.empty());
}

TEST(rabbits_counts_match_the_reference) {
  const Exploration small = explore_text(fixtures::rabbits(2));
  CHECK_EQ(small.graph.vertex_count, 7u);
  const Exploration x = explore_text(fixtures::rabbits(20));
  const Graph& g = x.graph;
  CHECK_EQ(g.vertex_count, 232u);
  CHECK_EQ(g.edge_count(), std::uint64_t(841));
  CHECK(state_of(g, 1) == (std::vector<std::int32_t>{20, 0}));
  // Breadth-first, rules in file order: hop_right, (hop_left: none), flood_left.
  CHECK(state_of(g, 2) == (std::vector<std::int32_t>{19, 1}));
  CHECK(state_of(g, 3) == (std::vector<std::int32_t>{0, 0}));
  CHECK(g.absorbing(3));
  // Edge 1 -> 3 is flood_left with coefficient 1 on flood_l (the second parameter).
  const double* f = edge(g, 1, 3);
  CHECK(f && f[0] == 0 && f[1] == 0 && f[2] == 1 && f[3] == 0);
  // Edges of a vertex keep the order in which their targets were first seen.
  CHECK_EQ(g.edge_target[g.edge_begin[2]], 4u);  // hop_right to (18, 2)
  CHECK_EQ(x.rule_firings.size(), std::size_t(4));
}

TEST(structured_two_lineages_two_demes) {
  const Exploration x = explore_text(fixtures::structured());
  const Graph& g = x.graph;
  CHECK_EQ(g.vertex_count, 6u);
  CHECK_EQ(g.edge_count(), std::uint64_t(7));
  const std::vector<std::vector<std::int32_t>> expected = {{0, 0}, {2, 0}, {1, 0}, {1, 1}, {0, 2}, {0, 1}};
  for (VertexId u = 0; u < 6; ++u) CHECK(state_of(g, u) == expected[u]);
  // coal * 1 from (2,0) to (1,0); mig * 2/(d-1) from (2,0) to (1,1).
  const double* c = edge(g, 1, 2);
  CHECK(c && c[1] == 1.0 && c[2] == 0.0);
  const double* m = edge(g, 1, 3);
  CHECK(m && m[1] == 0.0 && m[2] == 2.0);
  CHECK(edge(g, 3, 4) && edge(g, 3, 1) && edge(g, 4, 5) && edge(g, 4, 3));
  CHECK(g.absorbing(2) && g.absorbing(5));
  CHECK(x.info.variables.size() == 1 && x.info.variables[0].dims == std::vector<std::uint32_t>{2});
}

TEST(kingman_sfs_has_one_state_per_partition) {
  const Exploration x = explore_text(fixtures::kingman_sfs(6));
  CHECK_EQ(x.graph.vertex_count, 12u);  // the 11 partitions of 6, plus S
  CHECK_EQ(x.graph.reward_count, 7u);
  CHECK_EQ(x.graph.reward(2, 1), 6.0);  // xi[0] at the start: six singletons
}

TEST(two_locus_counts_match_the_reference) {
  const Exploration small = explore_text(fixtures::two_locus(3));
  CHECK_EQ(small.graph.vertex_count, 32u);
  const Exploration x = explore_text(fixtures::two_locus(5));
  CHECK_EQ(x.graph.vertex_count, 340u);
  CHECK_EQ(x.graph.edge_count(), std::uint64_t(2151));
}

TEST(exploration_is_deterministic) {
  const Exploration a = explore_text(fixtures::two_locus(4));
  const Exploration b = explore_text(fixtures::two_locus(4));
  CHECK(a.graph.vertex_count == b.graph.vertex_count);
  CHECK(a.graph.states == b.graph.states);
  CHECK(a.graph.edge_begin == b.graph.edge_begin);
  CHECK(a.graph.edge_target == b.graph.edge_target);
  CHECK(std::memcmp(a.graph.coeffs.data(), b.graph.coeffs.data(), a.graph.coeffs.size() * sizeof(double)) == 0);
  CHECK(a.rule_firings == b.rule_firings);
}

TEST(state_limit_is_an_error_with_progress_figures) {
  ExploreOptions options;
  options.max_states = 100;
  const std::string e = error_of(fixtures::rabbits(20), options);
  // The 101st state turns up while vertex 84 is expanded (vertices 1..83 are done),
  // as its edge number 283 (S's edge and 282 others come before it).
  CHECK(e ==
        "the model has more than 100 states (explored 83 states, 283 transitions so far); "
        "raise phasic.engine.maxStates or --max-states");
  options.max_states = 231;  // exactly enough
  CHECK_EQ(explore_text(fixtures::rabbits(20), options).graph.vertex_count, 232u);
  options.max_states = 230;
  CHECK(contains(error_of(fixtures::rabbits(20), options), "more than 230 states"));
}

// A one-variable model with a single rule whose parts the test chooses.
static std::string one_rule(const std::string& variable, const std::string& start, const std::string& loops, int locals,
                            const std::string& steps, const std::string& rate, const std::string& updates,
                            const std::string& extra_rules = "") {
  return fixtures::header("m", R"([{"name":"theta","default":1.0,"lo":null,"hi":null}])", 2, variable,
                          R"([{"probability":1.0,"state":)" + start + "}]") +
         R"(,"absorb":[],"rules":[{"name":"r","site":0,"locals":)" + std::to_string(locals) + R"(,"loops":)" + loops +
         R"(,"steps":)" + steps + R"(,"rate":)" + rate + R"(,"rateSite":1,"updates":)" + updates + "}" + extra_rules +
         R"(],"rewards":[{"name":"time","locals":0,"code":[0,1]}],)" + fixtures::kSites + "}";
}

static const std::string kPair = R"([{"name":"x","offset":0,"dims":[2],"lo":0,"hi":3}])";

TEST(negative_rate_names_rule_binding_and_state) {
  // rate theta * (x[0] - 2 - i) for i in 0..1: negative for i = 1 at x = [2, 0].
  const std::string text = one_rule(kPair, "[2,0]", R"([{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}])", 1, "[]",
                                    "[null,[3,0,0,2,8,1,0,8]]", R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  const EngineError e = engine_error_of(text);
  CHECK(std::string(e.what()) ==
        "the coefficient of theta of the rate is -1, but must be finite and >= 0 in rule r with i=1 at state x=[2, 0]");
  CHECK_EQ(e.site, 1);
  CHECK(e.rule == "r");
}

TEST(non_finite_rate_is_an_error) {
  const std::string text = one_rule(kPair, "[2,0]", "[]", 0, "[]", "[[0,1,0,0,10],null]",
                                    R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  CHECK(contains(error_of(text), "the constant term of the rate is inf"));
}

TEST(index_out_of_range_names_the_site_binding_and_state) {
  // x[i + 1] -= 1 for i in 0..1: i = 1 indexes x[2].
  const std::string text = one_rule(kPair, "[1,1]", R"([{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}])", 1, "[]",
                                    "[[0,1],null]",
                                    R"([{"cell":[1,0,0,1,7,5,2,3],"op":"add","value":[0,1],"site":2}])");
  const EngineError e = engine_error_of(text);
  CHECK(std::string(e.what()) == "index 2 is out of range 0..1 in rule r with i=1 at state x=[1, 1]");
  CHECK_EQ(e.site, 3);
}

TEST(bounds_are_checked_after_each_update) {
  // x[0] += 2 from 2 leaves 0..3.
  const std::string text = one_rule(kPair, "[2,0]", "[]", 0, "[]", "[[0,1],null]",
                                    R"([{"cell":[0,0],"op":"add","value":[0,2],"site":2}])");
  const EngineError e = engine_error_of(text);
  CHECK(std::string(e.what()) == "the update makes x[0] = 4, above its upper bound 3 in rule r at state x=[2, 0]");
  CHECK_EQ(e.site, 2);
  const std::string below = one_rule(kPair, "[0,0]", "[]", 0, "[]", "[[0,1],null]",
                                     R"([{"cell":[0,1],"op":"sub","value":[0,1],"site":2}])");
  CHECK(contains(error_of(below), "x[1] = -1, below its lower bound 0"));
  const std::string fraction = one_rule(kPair, "[0,0]", "[]", 0, "[]", "[[0,1],null]",
                                        R"([{"cell":[0,1],"op":"set","value":[0,1,0,2,10],"site":2}])");
  CHECK(contains(error_of(fraction), "update value 0.5 is not an integer"));
}

TEST(updates_read_the_state_before_the_rule_fires) {
  // x[0] = x[1]; x[1] = x[0] swaps the cells, because both values come from the
  // pre-state. From [1, 0]: [0, 1], then [1, 0] again (a 2-cycle, 3 vertices).
  const std::string text = one_rule(
      kPair, "[1,0]", "[]", 0, "[]", "[[0,1],null]",
      R"([{"cell":[0,0],"op":"set","value":[3,1]},{"cell":[0,1],"op":"set","value":[3,0]}])");
  const Exploration x = explore_text(text);
  CHECK_EQ(x.graph.vertex_count, 3u);
  CHECK(state_of(x.graph, 2) == (std::vector<std::int32_t>{0, 1}));
  CHECK(edge(x.graph, 2, 1) != nullptr);
  // x[0] -= 1; x[0] -= 1 subtracts 2 (applied in order).
  const std::string twice = one_rule(
      kPair, "[2,0]", "[]", 0, R"([{"when":[3,0,0,2,18]}])", "[[0,1],null]",
      R"([{"cell":[0,0],"op":"sub","value":[0,1]},{"cell":[0,0],"op":"sub","value":[0,1]}])");
  const Exploration y = explore_text(twice);
  CHECK(state_of(y.graph, 2) == (std::vector<std::int32_t>{0, 0}));
}

// A second rule that moves x[0] down to 0.
static const std::string kDown = R"(,{"name":"down","site":0,"locals":0,"loops":[],"steps":[{"when":[3,0,0,0,17]}],
      "rate":[[0,1],null],"updates":[{"cell":[0,0],"op":"sub","value":[0,1]}]})";

TEST(self_transitions_are_dropped_with_one_warning_per_rule) {
  // x[0] = x[0] (while x[0] > 0) never changes the state.
  const std::string text = one_rule(kPair, "[2,0]", "[]", 0, R"([{"when":[3,0,0,0,17]}])", "[[0,1],null]",
                                    R"([{"cell":[0,0],"op":"set","value":[3,0]}])", kDown);
  const Exploration x = explore_text(text);
  CHECK_EQ(x.graph.vertex_count, 4u);
  CHECK_EQ(x.graph.edge_count(), std::uint64_t(3));
  CHECK_EQ(x.warnings.size(), std::size_t(1));
  CHECK(x.warnings[0].rule == "r");
  CHECK_EQ(x.warnings[0].site, 0);
  CHECK(x.warnings[0].message ==
        "rule r leaves the state unchanged at state x=[2, 0]; such self-transitions are dropped (reported once per "
        "rule)");
  CHECK_EQ(x.rule_firings[0], std::uint64_t(2));  // it fired at [2, 0] and [1, 0], to itself
  CHECK(x.graph.absorbing(3));                    // x = [0, 0]: no rule fires there
}

TEST(a_state_whose_every_firing_leaves_it_unchanged_never_absorbs) {
  // model-language.md: a state is absorbing when no rule fires. At [0, 0] rule r still
  // fires (to itself) and nothing else does, so the process never leaves it.
  const std::string text = one_rule(kPair, "[2,0]", "[]", 0, "[]", "[[0,1],null]",
                                    R"([{"cell":[0,0],"op":"set","value":[3,0]}])", kDown);
  ExploreOptions one;
  one.parallel = false;
  for (const ExploreOptions& options : {ExploreOptions{}, one}) {
    try {
      explore_text(text, options);
      CHECK(false);
    } catch (const EngineError& e) {
      CHECK(
          std::string(e.what()) ==
          "state (x=[0, 0]) can never reach an absorbing state: every transition that fires there leaves it unchanged "
          "(rule r)");
      CHECK(e.rule == "r");
      CHECK_EQ(e.site, 0);
    }
  }
  // A self-transition whose rate is 0 there does not fire: the state absorbs.
  const std::string zero = one_rule(kPair, "[2,0]", "[]", 0, "[]", "[[3,0],null]",
                                    R"([{"cell":[0,0],"op":"set","value":[3,0]}])", kDown);
  CHECK(explore_text(zero).graph.absorbing(3));
  // Several scalar variables are each named.
  const std::string two =
      fixtures::header(
          "m", R"([{"name":"theta","default":1.0,"lo":null,"hi":null}])", 2,
          R"([{"name":"k","offset":0,"dims":[],"lo":0,"hi":3},{"name":"a","offset":1,"dims":[],"lo":0,"hi":3}])",
          R"([{"probability":1.0,"state":[3,1]}])") +
      R"(,"absorb":[],"rules":[{"name":"stay","site":0,"locals":0,"loops":[],"steps":[],"rate":[[0,1],null],
                             "rateSite":1,"updates":[{"cell":[0,1],"op":"add","value":[0,0]}]}],
                             "rewards":[{"name":"time","locals":0,"code":[0,1]}],)" +
      fixtures::kSites + "}";
  CHECK(error_of(two) ==
        "state (k=3, a=1) can never reach an absorbing state: every transition that fires there leaves it unchanged "
        "(rule stay)");
}

TEST(merged_transitions_whose_rates_overflow_are_an_error) {
  // Two bindings (i = 0, 1) both set x[0] = 0 with rate 1e308 each: each is finite,
  // their sum is not.
  const std::string e308 = "[0,1000000000000000000,29,9,29,9,29,9,29,9,0,1000000000000000000,9,0,100,9]";
  const std::string text = one_rule(kPair, "[2,0]", R"([{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}])", 1, "[]",
                                    "[" + e308 + ",null]", R"([{"cell":[0,0],"op":"set","value":[0,0]}])");
  CHECK(error_of(text) ==
        "the transitions from state (x=[2, 0]) to state (x=[0, 0]) sum to a rate whose constant term is inf, but must "
        "be finite");
}

TEST(transitions_to_one_target_merge_into_one_edge) {
  // Two bindings (i = 0, 1) both set x[0] = 0, with rates 1 + 2 theta and 3 + i theta.
  const std::string text = one_rule(kPair, "[2,0]", R"([{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}])", 1,
                                    R"([{"when":[3,0,0,0,17]}])", "[[0,1,1,0,7],[0,2]]",
                                    R"([{"cell":[0,0],"op":"set","value":[0,0]}])");
  const Exploration x = explore_text(text);
  CHECK_EQ(x.graph.vertex_count, 3u);
  const double* f = edge(x.graph, 1, 2);
  CHECK(f && f[0] == 3.0 && f[1] == 4.0);
  CHECK_EQ(x.rule_firings[0], std::uint64_t(2));
}

TEST(identical_start_states_merge_and_sum) {
  std::string text = fixtures::kingman(3);
  const std::string one = R"("starts":[{"probability":1.0,"state":[3],"site":-1}])";
  text.replace(
      text.find(one), one.size(),
      R"("starts":[{"probability":0.25,"state":[3]},{"probability":0.5,"state":[2]},{"probability":0.25,"state":[3]}])");
  const Exploration x = explore_text(text);
  const Graph& g = x.graph;
  CHECK_EQ(g.edge_begin[1], std::uint64_t(2));  // two edges out of S
  CHECK_EQ(g.state(1)[0], 3);
  CHECK_EQ(g.state(2)[0], 2);
  CHECK_EQ(edge(g, 0, 1)[0], 0.5);
  CHECK_EQ(edge(g, 0, 2)[0], 0.5);
}

TEST(rewards_must_be_finite_and_non_negative) {
  std::string text = fixtures::kingman(3);
  const std::string total = R"({"name":"total_length","locals":0,"code":[3,0]})";
  text.replace(text.find(total), total.size(), R"({"name":"odd","locals":0,"code":[3,0,0,2,8],"site":2})");
  const EngineError e = engine_error_of(text);
  CHECK(std::string(e.what()) == "reward odd is -1 at state k=1, but must be finite and >= 0");
  CHECK_EQ(e.site, 2);
}

TEST(graph_memory_is_counted_and_released) {
  const std::size_t before = ledger().bytes(Category::Graph);
  {
    const Exploration x = explore_text(fixtures::rabbits(50));
    const Graph& g = x.graph;
    const std::size_t held = held_bytes(g.states) + held_bytes(g.edge_begin) + held_bytes(g.edge_target) +
                             held_bytes(g.coeffs) + held_bytes(g.rewards);
    CHECK_EQ(ledger().bytes(Category::Graph), before + held);
  }
  CHECK_EQ(ledger().bytes(Category::Graph), before);
  // A failed exploration leaves nothing behind either.
  ExploreOptions options;
  options.max_states = 500;
  CHECK_THROWS(explore_text(fixtures::rabbits(50), options));
  CHECK_EQ(ledger().bytes(Category::Graph), before);
}

TEST(memory_budget_stops_exploration_cleanly) {
  const std::size_t before = ledger().bytes(Category::Graph);
  ledger().set_budget(ledger().total() + 64 * 1024);
  bool over = false;
  try {
    explore_text(fixtures::rabbits(200));
  } catch (const BudgetExceeded&) {
    over = true;
  }
  ledger().set_budget(0);
  CHECK(over);
  CHECK_EQ(ledger().bytes(Category::Graph), before);
}

TEST(cancellation_and_progress) {
  std::atomic<bool> cancel{true};
  ExploreOptions options;
  options.cancel = &cancel;
  bool cancelled = false;
  try {
    explore_text(fixtures::rabbits(100), options);
  } catch (const Cancelled&) {
    cancelled = true;
  }
  CHECK(cancelled);
  cancel = false;
  std::vector<std::uint64_t> reports;
  options.progress = [&](std::uint64_t states) { reports.push_back(states); };
  const Exploration x = explore_text(fixtures::rabbits(100), options);  // 5151 states
  CHECK(reports == (std::vector<std::uint64_t>{4096, 5151}));
  CHECK_EQ(x.graph.vertex_count, 5152u);
}

TEST(a_looping_program_is_cancellable) {
  // when: JUMP 0 never leaves a value, so it is rejected when the model is loaded.
  const std::string never = one_rule(kPair, "[2,0]", "[]", 0, R"([{"when":[20,0]}])", "[[0,1],null]",
                                     R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  CHECK_THROWS(load_compiled_model(json::parse(never)));
  // when: CONST 0; JUMP_IF_FALSE 0; CONST 1 is valid and loops forever: only
  // cancellation (polled by the interpreter) ends it.
  const std::string forever = one_rule(kPair, "[2,0]", "[]", 0, R"([{"when":[0,0,21,0,0,1]}])", "[[0,1],null]",
                                       R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  std::atomic<bool> cancel{false};
  ExploreOptions options;
  options.cancel = &cancel;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel = true;
  });
  bool cancelled = false;
  try {
    explore_text(forever, options);
  } catch (const Cancelled&) {
    cancelled = true;
  }
  stopper.join();
  CHECK(cancelled);
}

TEST(endless_enumeration_is_an_error) {
  // Three nested loops over 0..2^31-1 whose rate is always 0: nothing would ever fire.
  const std::string big =
      R"({"name":"a","slot":0,"lo":[0,0],"hi":[0,2147483647]},{"name":"b","slot":1,"lo":[0,0],"hi":[0,2147483647]},{"name":"c","slot":2,"lo":[0,0],"hi":[0,2147483647]})";
  const std::string text = one_rule(kPair, "[1,0]", "[" + big + "]", 3, "[]", "[null,null]",
                                    R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  const EngineError e = engine_error_of(text);
  CHECK(std::string(e.what()) ==
        "the rule has more than 268435456 loop bindings at one state in rule r with a=0, b=0, c=268435456 at state "
        "x=[1, 0]");
  CHECK_EQ(e.site, 0);
}

static void check_identical(const Exploration& a, const Exploration& b) {
  CHECK_EQ(a.graph.vertex_count, b.graph.vertex_count);
  CHECK(a.graph.states == b.graph.states);
  CHECK(a.graph.edge_begin == b.graph.edge_begin);
  CHECK(a.graph.edge_target == b.graph.edge_target);
  CHECK(a.graph.coeffs.size() == b.graph.coeffs.size() &&
        std::memcmp(a.graph.coeffs.data(), b.graph.coeffs.data(), a.graph.coeffs.size() * sizeof(double)) == 0);
  CHECK(a.graph.rewards == b.graph.rewards);
  CHECK(a.rule_firings == b.rule_firings);
  CHECK_EQ(a.warnings.size(), b.warnings.size());
}

TEST(pruning_bindings_changes_nothing_but_speed) {
  ExploreOptions full;
  full.prune_bindings = false;
  for (const std::string& text :
       {fixtures::two_locus(4), fixtures::kingman_sfs(7), fixtures::structured(), fixtures::rabbits(5)})
    check_identical(explore_text(text), explore_text(text, full));
}

static std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  CHECK(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

TEST(two_threads_build_the_graph_one_thread_builds) {
  ExploreOptions one;
  one.parallel = false;
  for (const std::string& text :
       {fixtures::two_locus(5), fixtures::kingman_sfs(12), fixtures::structured(), fixtures::rabbits(40)})
    check_identical(explore_text(text), explore_text(text, one));

  // The first self-transition is deep in the search: flooding the right bank empties
  // it except when it holds 20 (right := (right == 20) * 20). The same warning.
  const std::string rabbits = fixtures::rabbits(40);
  const std::string self = replaced(rabbits, R"({"cell":[0,1],"op":"set","value":[0,0]})",
                                    R"({"cell":[0,1],"op":"set","value":[3,1,0,20,13,0,20,9]})");
  const Exploration a = explore_text(self), b = explore_text(self, one);
  check_identical(a, b);
  CHECK_EQ(a.warnings.size(), 1u);
  CHECK(a.warnings[0].message == b.warnings[0].message);
  CHECK(contains(a.warnings[0].message, "right=20"));

  // The first error in id order is the one reported, and the state limit is hit at the same edge.
  const std::string bounded = replaced(rabbits, R"("name":"right","offset":1,"dims":[],"lo":0,"hi":40)",
                                       R"("name":"right","offset":1,"dims":[],"lo":0,"hi":20)");
  const std::string e = error_of(bounded);
  CHECK(contains(e, "above its upper bound 20"));
  CHECK(e == error_of(bounded, one));
  ExploreOptions limited, limited_one = one;
  limited.max_states = limited_one.max_states = 500;
  CHECK(contains(error_of(rabbits, limited), "more than 500 states"));
  CHECK(error_of(rabbits, limited) == error_of(rabbits, limited_one));
}

TEST(pruning_never_hides_an_error) {
  // when x[i + 1] >= 0 fails for i = 1 before the always-false when is reached.
  const std::string fails = one_rule(kPair, "[1,0]", R"([{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}])", 1,
                                     R"([{"when":[1,0,0,1,7,5,2,3,4,0,0,18]},{"when":[3,0,0,100,17]}])", "[[0,1],null]",
                                     R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  const std::string e = error_of(fails);
  CHECK(e == "index 2 is out of range 0..1 in rule r with i=1 at state x=[1, 0]");
  // With the false condition first, the failing one is never evaluated, pruned or not.
  const std::string quiet = one_rule(kPair, "[1,0]", R"([{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}])", 1,
                                     R"([{"when":[3,0,0,100,17]},{"when":[1,0,0,1,7,5,2,3,4,0,0,18]}])", "[[0,1],null]",
                                     R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  ExploreOptions full;
  full.prune_bindings = false;
  CHECK_EQ(explore_text(quiet).graph.vertex_count, 2u);
  CHECK_EQ(explore_text(quiet, full).graph.vertex_count, 2u);
  // A loop bound that is not an integer is reported even where every when is false.
  const std::string bound = one_rule(kPair, "[1,0]", R"([{"name":"i","slot":0,"lo":[0,0],"hi":[0,1,0,2,10]}])", 1,
                                     R"([{"when":[3,0,0,100,17]}])", "[[0,1],null]",
                                     R"([{"cell":[0,0],"op":"sub","value":[0,1]}])");
  CHECK(contains(error_of(bound), "loop bound 0.5 is not a 32-bit integer in rule r at state x=[1, 0]"));
}

static bool forward_only(const CompiledModel& m) {
  auto ok = [](const Program& p) { return p.forward_only; };
  for (const StandaloneProgram& p : m.absorb)
    if (!ok(p.program)) return false;
  for (const StandaloneProgram& p : m.rewards)
    if (!ok(p.program)) return false;
  for (const Rule& r : m.rules) {
    for (const RuleLoop& l : r.loops)
      if (!ok(l.lo) || !ok(l.hi)) return false;
    for (const RuleStep& s : r.steps)
      if (!ok(s.program)) return false;
    for (const Program& c : r.rate)
      if (!ok(c)) return false;
    for (const RuleUpdate& u : r.updates)
      if (!ok(u.cell) || !ok(u.value)) return false;
  }
  return true;
}

TEST(mutated_models_fail_cleanly) {
  // Replace one number of a valid model with another value, many times: loading and
  // exploring either succeed or throw an engine error (the sanitizer build checks
  // that nothing in between is undefined behaviour). Models whose mutation made a
  // program loop are skipped: they would run until cancelled.
  const char* values[] = {"-1", "0",  "1",  "2",   "3",   "4",   "5",   "7",          "20",
                          "21", "29", "30", "255", "256", "1e9", "0.5", "-2147483649"};
  std::uint32_t seed = 2024;
  int loaded = 0, explored = 0;
  for (const std::string& text :
       {fixtures::kingman(4), fixtures::structured(), fixtures::kingman_sfs(4), fixtures::two_locus(2)}) {
    std::vector<std::size_t> numbers;
    for (std::size_t i = 0; i < text.size(); ++i)
      if (i > 0 && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '-') &&
          !std::isalnum(static_cast<unsigned char>(text[i - 1])) && text[i - 1] != '.' && text[i - 1] != '"' &&
          text[i - 1] != '-')
        numbers.push_back(i);
    for (int round = 0; round < 600; ++round) {
      seed = seed * 1664525u + 1013904223u;
      const std::size_t at = numbers[(seed >> 8) % numbers.size()];
      std::size_t end = at + 1;
      while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.' ||
                                   text[end] == 'e' || text[end] == '-'))
        ++end;
      std::string m = text;
      m.replace(at, end - at, values[(seed >> 24) % (sizeof values / sizeof *values)]);
      try {
        const CompiledModel model = load_compiled_model(json::parse(m));
        ++loaded;
        if (!forward_only(model)) continue;
        ExploreOptions options;
        options.max_states = 300;
        explore(model, options);
        ++explored;
      } catch (const EngineError&) {
      }
    }
  }
  std::printf("  %d mutated models loaded, %d explored without error\n", loaded, explored);
  CHECK(loaded > 0);
}

// Rabbits on two banks of 0..N: every (left, right) with left + right <= N, once.
static void check_rabbit_states(const Graph& g, int N) {
  CHECK_EQ(g.vertex_count, std::uint32_t((N + 1) * (N + 2) / 2 + 1));  // + S
  std::vector<bool> seen(std::size_t(N + 1) * (N + 1), false);
  bool in_range = true, distinct = true;
  for (VertexId u = 1; u < g.vertex_count; ++u) {
    const std::int32_t l = g.state(u)[0], r = g.state(u)[1];
    if (l < 0 || r < 0 || l + r > N) {
      in_range = false;
      continue;
    }
    distinct = distinct && !seen[std::size_t(l) * (N + 1) + r];
    seen[std::size_t(l) * (N + 1) + r] = true;
  }
  CHECK(in_range);
  CHECK(distinct);
}

// Multisets of lineage types (a, b) != (0, 0) with both loci summing to n: the
// partitions of the bipartite number (n, n) (OEIS A002774), counted by an unbounded
// knapsack over the types, independent of the engine.
static std::uint64_t bipartite_partitions(int n) {
  std::vector<std::uint64_t> ways(std::size_t(n + 1) * (n + 1), 0);
  ways[0] = 1;
  for (int a = 0; a <= n; ++a)
    for (int b = 0; b <= n; ++b) {
      if (a == 0 && b == 0) continue;
      for (int i = a; i <= n; ++i)
        for (int j = b; j <= n; ++j) ways[std::size_t(i) * (n + 1) + j] += ways[std::size_t(i - a) * (n + 1) + (j - b)];
    }
  return ways.back();
}

// Two-locus: every state keeps n ancestral samples at each locus, and no state twice.
static void check_two_locus_states(const Graph& g, int n) {
  CHECK_EQ(std::uint64_t(g.vertex_count), bipartite_partitions(n) + 1);  // + S
  const int D = n + 1;
  bool conserved = true;
  std::vector<std::vector<std::int32_t>> states;
  for (VertexId u = 1; u < g.vertex_count; ++u) {
    long long at_a = 0, at_b = 0;
    for (int b = 0; b < D; ++b)
      for (int a = 0; a < D; ++a) {
        at_a += (long long)a * g.state(u)[a + D * b];
        at_b += (long long)b * g.state(u)[a + D * b];
      }
    conserved = conserved && at_a == n && at_b == n;
    states.emplace_back(g.state(u), g.state(u) + g.state_length);
  }
  CHECK(conserved);
  std::sort(states.begin(), states.end());
  CHECK(std::adjacent_find(states.begin(), states.end()) == states.end());
}

// Explores on two threads and on one, checks that both built the same graph bit for
// bit, and returns the two speeds in states per second of process CPU time (the
// machine may be shared, which distorts elapsed time) and of elapsed time.
struct Speeds {
  double wall, cpu, wall_one;
};
static Speeds explore_both_ways(const std::string& text, Exploration* out) {
  const CompiledModel model = load_compiled_model(json::parse(text));
  const std::clock_t t0 = std::clock();
  const auto w0 = std::chrono::steady_clock::now();
  Exploration two = explore(model, {});
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double cpu = double(std::clock() - t0) / CLOCKS_PER_SEC;
  ExploreOptions one;
  one.parallel = false;
  const auto w1 = std::chrono::steady_clock::now();
  const Exploration single = explore(model, one);
  const double wall_one = std::chrono::duration<double>(std::chrono::steady_clock::now() - w1).count();
  check_identical(two, single);
  const double states = two.graph.vertex_count - 1;
  *out = std::move(two);
  return {states / wall, states / cpu, states / wall_one};
}

TEST(exploration_at_benchmark_size_reaches_exactly_the_closed_form_states) {
  // The speeds are printed for docs/performance.md, never asserted (docs/decisions.md).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const int rabbits_n = 200, two_locus_n = 5;
#else
  const int rabbits_n = 1000, two_locus_n = 9;
#endif
  Exploration x;
  const Speeds r = explore_both_ways(fixtures::rabbits(rabbits_n), &x);
  std::printf("  rabbits N=%d: %u vertices, %.0f states/s (%.0f per CPU second; %.0f on one thread)\n", rabbits_n,
              x.graph.vertex_count, r.wall, r.cpu, r.wall_one);
  check_rabbit_states(x.graph, rabbits_n);
  const Speeds t = explore_both_ways(fixtures::two_locus(two_locus_n), &x);
  std::printf("  two_locus n=%d: %u vertices, %.0f states/s (%.0f per CPU second; %.0f on one thread)\n", two_locus_n,
              x.graph.vertex_count, t.wall, t.cpu, t.wall_one);
  check_two_locus_states(x.graph, two_locus_n);
  // The counter agrees with the published sequence where both are known.
  CHECK_EQ(bipartite_partitions(3), 31u);
  CHECK_EQ(bipartite_partitions(6), 1043u);
  CHECK_EQ(bipartite_partitions(9), 22652u);
}

TEST_MAIN()
