#include <cstring>
#include <string>
#include <vector>

#include "check.hpp"
#include "engine/load.hpp"
#include "graph/phasic_import.hpp"
#include "json/json.hpp"
#include "model_fixtures.hpp"

using namespace phasic;

static std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Writes a graph the way phasic's Graph.serialize() lays it out: constant parts of
// weights in `edges`, parameter coefficients in `param_edges`, S's edges in
// `start_edges`.
static std::string to_phasic(const Graph& g) {
  std::string states = "[", edges = "[", params = "[", starts = "[";
  for (VertexId u = 0; u < g.vertex_count; ++u) {
    states += u ? ",[" : "[";
    for (std::uint32_t c = 0; c < g.state_length; ++c) states += (c ? "," : "") + std::to_string(g.state(u)[c]);
    states += "]";
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e) {
      const double* f = g.form(e);
      const std::string to = std::to_string(g.edge_target[e]);
      if (u == 0) {
        starts += (starts.size() > 1 ? ",[" : "[") + to + "," + num(f[0]) + "]";
        continue;
      }
      if (f[0] != 0) edges += (edges.size() > 1 ? ",[" : "[") + std::to_string(u) + "," + to + "," + num(f[0]) + "]";
      bool any = false;
      std::string row = std::to_string(u) + "," + to;
      for (std::uint32_t k = 1; k <= g.param_count; ++k) {
        row += "," + num(f[k]);
        any = any || f[k] != 0;
      }
      if (any) params += (params.size() > 1 ? ",[" : "[") + row + "]";
    }
  }
  return R"({"states":)" + states + R"(],"edges":)" + edges + R"(],"start_edges":)" + starts + R"(],"param_edges":)" +
         params + R"(],"start_param_edges":[],"param_length":)" + std::to_string(g.param_count) +
         R"(,"state_length":)" + std::to_string(g.state_length) + R"(,"n_vertices":)" + std::to_string(g.vertex_count) +
         "}";
}

static bool contains_text(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

static Exploration explored(const std::string& model) { return load_model_file(model, ExploreOptions{}); }

static void check_same_graph(const Graph& a, const Graph& b) {
  CHECK_EQ(a.vertex_count, b.vertex_count);
  CHECK_EQ(a.param_count, b.param_count);
  CHECK_EQ(a.state_length, b.state_length);
  CHECK(a.states == b.states);
  CHECK(a.edge_begin == b.edge_begin);
  CHECK(a.edge_target == b.edge_target);
  CHECK(a.coeffs.size() == b.coeffs.size() &&
        std::memcmp(a.coeffs.data(), b.coeffs.data(), a.coeffs.size() * sizeof(double)) == 0);
}

TEST(round_trip_of_explored_models) {
  for (const std::string& model :
       {fixtures::kingman(5), fixtures::rabbits(6), fixtures::structured(), fixtures::two_locus(3)}) {
    const Exploration x = explored(model);
    const std::string text = to_phasic(x.graph);
    CHECK(model_file_kind(json::parse(text)) == ModelFileKind::PhasicGraph);
    const Exploration y = load_model_file(text, ExploreOptions{});
    check_same_graph(x.graph, y.graph);
    CHECK(y.warnings.empty());
  }
}

TEST(names_and_rewards_of_an_imported_graph) {
  const Exploration y = import_phasic_graph(json::parse(to_phasic(explored(fixtures::rabbits(2)).graph)));
  CHECK(y.info.param_names == (std::vector<std::string>{"p1", "p2", "p3"}));
  CHECK(y.info.param_defaults == (std::vector<double>{1, 1, 1}));
  CHECK(y.info.reward_names == (std::vector<std::string>{"time", "s0", "s1"}));
  CHECK(y.info.variables.size() == 1 && y.info.variables[0].name == "s" &&
        y.info.variables[0].dims == std::vector<std::uint32_t>{2});
  CHECK(y.info.rule_names.empty());
  const Graph& g = y.graph;
  CHECK_EQ(g.reward_count, 3u);
  CHECK_EQ(g.reward(0, 0), 0.0);
  CHECK_EQ(g.reward(0, 1), 1.0);
  CHECK_EQ(g.reward(1, 1), 2.0);  // vertex 1 is (left 2, right 0)
  CHECK_EQ(g.reward(2, 1), 0.0);
}

static const std::string kHead =
    R"({"states":[[0,0],[2,0],[1,1],[0,2]],"param_length":2,"state_length":2,"n_vertices":4,)";

TEST(duplicate_rows_merge_and_self_loops_drop) {
  const std::string text = kHead + R"("start_edges":[[1,0.25],[1,0.75]],
    "edges":[[1,3,0.5],[1,2,1.0],[2,2,9.0]],
    "param_edges":[[1,2,0,2],[1,3,1,0],[1,2,0,1],[2,1,0,0],[2,3,1,1]]})";
  const Exploration x = import_phasic_graph(json::parse(text));
  const Graph& g = x.graph;
  CHECK_EQ(g.edge_count(), std::uint64_t(4));
  // S -> 1 with 0.25 + 0.75.
  CHECK_EQ(g.edge_begin[1], std::uint64_t(1));
  CHECK_EQ(g.form(0)[0], 1.0);
  // Vertex 1: targets in first-seen order 3, 2; forms summed over all rows.
  CHECK_EQ(g.edge_target[1], 3u);
  CHECK(g.form(1)[0] == 0.5 && g.form(1)[1] == 1.0 && g.form(1)[2] == 0.0);
  CHECK_EQ(g.edge_target[2], 2u);
  CHECK(g.form(2)[0] == 1.0 && g.form(2)[1] == 0.0 && g.form(2)[2] == 3.0);
  // Vertex 2: the self-loop and the all-zero row are gone.
  CHECK_EQ(g.edge_begin[3] - g.edge_begin[2], std::uint64_t(1));
  CHECK_EQ(g.edge_target[3], 3u);
  CHECK(g.absorbing(3));
  CHECK_EQ(x.warnings.size(), std::size_t(1));
  CHECK(x.warnings[0].message == "dropped 1 self-loop(s) of the imported graph");
}

TEST(negative_cells_are_not_rewards) {
  const std::string text = R"({"states":[[0,0],[1,-1],[0,3]],"param_length":0,"state_length":2,"n_vertices":3,
    "start_edges":[[1,1]],"edges":[[1,2,2.5]],"param_edges":[]})";
  const Exploration x = import_phasic_graph(json::parse(text));
  CHECK(x.info.reward_names == (std::vector<std::string>{"time", "s0"}));
  CHECK_EQ(x.warnings.size(), std::size_t(1));
  CHECK_EQ(x.graph.form(1)[0], 2.5);
  CHECK_EQ(x.graph.stride(), 1u);
}

static std::string import_error(const std::string& text) {
  try {
    import_phasic_graph(json::parse(text));
  } catch (const EngineError& e) {
    return e.field;
  }
  return "accepted";
}

TEST(malformed_graphs_name_the_field) {
  const std::string tail = R"("start_edges":[[1,1]],"edges":[],"param_edges":[[1,2,1,0],[2,3,0,1]]})";
  CHECK(import_error(kHead + tail) == "accepted");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[],"param_edges":[[1,2,1,0],[2,4,0,1]]})") ==
        "param_edges[1][1]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[],"param_edges":[[1,2,1,0],[2,0,0,1]]})") ==
        "param_edges[1][1]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[[0,2,1]],"param_edges":[]})") == "edges[0][0]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[[1,2,-1]],"param_edges":[]})") == "edges[0][2]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[[1,2]],"param_edges":[]})") == "edges[0]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[[1.5,2,1]],"param_edges":[]})") == "edges[0][0]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[[1,"2",1]],"param_edges":[]})") == "edges[0][1]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[],"param_edges":[[1,2,1]]})") == "param_edges[0]");
  CHECK(import_error(kHead + R"("start_edges":[[0,1]],"edges":[],"param_edges":[]})") == "start_edges[0][0]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[],"param_edges":[],"start_param_edges":[[1,1,1]]})") ==
        "start_param_edges");
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[]})") == "param_edges");
  const std::string bad_s =
      R"({"states":[[1,0],[2,0]],"param_length":0,"state_length":2,"n_vertices":2,"start_edges":[],"edges":[],"param_edges":[]})";
  CHECK(import_error(bad_s) == "states[0][0]");
  const std::string short_states =
      R"({"states":[[0,0]],"param_length":0,"state_length":2,"n_vertices":2,"start_edges":[],"edges":[],"param_edges":[]})";
  CHECK(import_error(short_states) == "states");
  const std::string wide =
      R"({"states":[[0,0],[1,2,3]],"param_length":0,"state_length":2,"n_vertices":2,"start_edges":[],"edges":[],"param_edges":[]})";
  CHECK(import_error(wide) == "states[1]");
  const std::string big =
      R"({"states":[[0,0],[1,3e9]],"param_length":0,"state_length":2,"n_vertices":2,"start_edges":[],"edges":[],"param_edges":[]})";
  CHECK(import_error(big) == "states[1][1]");
  CHECK(import_error(R"({"states":[],"param_length":0,"state_length":2,"n_vertices":0})") == "n_vertices");
}

static std::string import_message(const std::string& text) {
  try {
    import_phasic_graph(json::parse(text));
  } catch (const EngineError& e) {
    return e.what();
  }
  return "accepted";
}

// As for a compiled model's starts: some mass, at most 1 in all (rounding allowed).
TEST(start_weights_form_a_distribution) {
  const std::string tail = R"("edges":[[1,3,1],[2,3,1]],"param_edges":[]})";
  CHECK(import_message(kHead + R"("start_edges":[[1,0.5],[2,0.5]],)" + tail) == "accepted");
  CHECK(import_message(kHead + R"("start_edges":[[1,0.25],[2,0.5]],)" + tail) == "accepted");  // a defect
  CHECK(import_message(kHead + R"("start_edges":[[1,0.7],[2,0.3000000000001]],)" + tail) == "accepted");
  CHECK(import_message(kHead + R"("start_edges":[[1,1],[2,0.5]],)" + tail) ==
        "start_edges: start weights sum to 1.5, more than 1");
  CHECK(import_message(kHead + R"("start_edges":[[1,0.75],[1,0.75]],)" + tail) ==
        "start_edges: start weights sum to 1.5, more than 1");
  CHECK(import_message(kHead + R"("start_edges":[[1,2]],)" + tail) ==
        "start_edges: start weights sum to 2, more than 1");
  CHECK(import_message(kHead + R"("start_edges":[],)" + tail) ==
        "start_edges: at least one initial state with a positive weight is required");
  CHECK(import_message(kHead + R"("start_edges":[[1,0],[2,0]],)" + tail) ==
        "start_edges: at least one initial state with a positive weight is required");
  CHECK(import_error(kHead + R"("start_edges":[[1,-0.5],[2,1]],)" + tail) == "start_edges[0][1]");
  CHECK(import_error(kHead + R"("start_edges":[[1,1e400]],)" + tail) != "accepted");
}

TEST(a_vertex_left_only_by_self_loops_never_absorbs) {
  // Vertex 2 = [1, 1] has a self-loop of weight 9 and no other edge: a transition
  // fires there, so it is not absorbing, and nothing leaves it.
  const std::string text = kHead + R"("start_edges":[[1,1]],"edges":[[1,2,1],[1,3,1],[2,2,9]],"param_edges":[]})";
  try {
    import_phasic_graph(json::parse(text));
    CHECK(false);
  } catch (const EngineError& e) {
    CHECK(std::string(e.what()) ==
          "edges[2][0]: state [1, 1] (vertex 2 of the phasic graph, whose states have no names) can never reach an "
          "absorbing state: its only edges are self-loops");
    CHECK(e.field == "edges[2][0]");
  }
  // The same through a parameterized self-loop.
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[[1,2,1],[1,3,1]],"param_edges":[[2,2,0,1]]})") ==
        "param_edges[0][0]");
  // A self-loop of weight 0 does not fire: vertex 2 absorbs.
  CHECK(import_error(kHead + R"("start_edges":[[1,1]],"edges":[[1,2,1],[1,3,1],[2,2,0]],"param_edges":[]})") ==
        "accepted");
}

TEST(merged_rows_whose_sum_overflows_are_an_error) {
  const std::string text = kHead +
                           R"("start_edges":[[1,1]],"edges":[[1,2,1e308],[1,2,1e308],[2,3,1]],"param_edges":[]})";
  CHECK(
      import_message(text) ==
      "the rows from state [2, 0] (vertex 1 of the phasic graph, whose states have no names) to state [1, 1] (vertex 2 "
      "of the phasic graph, whose states have no names) sum to a weight of inf, but it must be finite");
  const std::string params = kHead +
                             R"("start_edges":[[1,1]],"edges":[[2,3,1]],"param_edges":[[1,2,0,1e308],[1,2,0,1e308]]})";
  CHECK(contains_text(import_message(params), "sum to a coefficient of p2 of inf"));
}

TEST(load_model_file_tells_the_formats_apart) {
  CHECK_EQ(load_model_file(fixtures::kingman(4), ExploreOptions{}).graph.vertex_count, 5u);
  CHECK_THROWS(load_model_file(R"({"format":"something-else"})", ExploreOptions{}));
  CHECK_THROWS(load_model_file(R"({"states":[]})", ExploreOptions{}));
  CHECK_THROWS(load_model_file("[1,2]", ExploreOptions{}));
  CHECK_THROWS(load_model_file("{", ExploreOptions{}));
  // The state limit applies to imported graphs too.
  const std::string text = to_phasic(explored(fixtures::rabbits(6)).graph);  // 28 states
  ExploreOptions options;
  options.max_states = 27;
  try {
    load_model_file(text, options);
    CHECK(false);
  } catch (const EngineError& e) {
    CHECK(std::string(e.what()) ==
          "the graph has 28 states, more than the limit of 27; raise phasic.engine.maxStates or --max-states");
  }
  options.max_states = 28;
  CHECK_EQ(load_model_file(text, options).graph.vertex_count, 29u);
}

TEST(import_memory_is_counted_and_released) {
  const std::string text = to_phasic(explored(fixtures::rabbits(30)).graph);
  const json::Value doc = json::parse(text);
  const std::size_t before = ledger().bytes(Category::Graph);
  {
    const Exploration x = import_phasic_graph(doc);
    const Graph& g = x.graph;
    CHECK_EQ(ledger().bytes(Category::Graph), before + held_bytes(g.states) + held_bytes(g.edge_begin) +
                                                  held_bytes(g.edge_target) + held_bytes(g.coeffs) +
                                                  held_bytes(g.rewards));
  }
  CHECK_EQ(ledger().bytes(Category::Graph), before);
}

TEST_MAIN()
