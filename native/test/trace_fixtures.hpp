// Hand-built graphs for the trace tests: a graph from an edge list, without the
// explorer, so each test states its model exactly; and the random tests' draws.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "graph/graph.hpp"
#include "trace/block_trace.hpp"
#include "trace/evaluate.hpp"

namespace fixtures {

// The random tests' generator and its two draws, seeded per test for repeatable cases.
using Rng = std::mt19937_64;
inline double uniform(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
inline std::uint32_t below(Rng& rng, std::uint32_t n) {
  return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng);
}

// The pattern of a dense part of r positions: a ring keeps it strongly connected, each
// other weight is there with probability `density`, position 0 always leaves (column
// r) and the others with probability 0.3. Entry slots are numbered in order.
inline phasic::DenseTail random_dense_tail(Rng& rng, std::uint32_t r, double density) {
  phasic::DenseTail tail;
  tail.size = r;
  for (std::uint32_t p = 0; p < r; ++p) {
    for (std::uint32_t q = 0; q < r; ++q)
      if (q != p && (q == (p + 1) % r || uniform(rng, 0, 1) < density))
        tail.entries.push_back({p, q, std::uint32_t(tail.entries.size())});
    if (p == 0 || uniform(rng, 0, 1) < 0.3) tail.entries.push_back({p, r, std::uint32_t(tail.entries.size())});
  }
  return tail;
}

struct EdgeSpec {
  phasic::VertexId from, to;
  std::vector<double> form;  // c0..cP
};

// rewards: one row of vertex_count values per reward.
inline phasic::Graph make_graph(std::uint32_t params, std::uint32_t vertices, std::vector<EdgeSpec> edges,
                                const std::vector<std::vector<double>>& rewards) {
  phasic::Graph g;
  g.param_count = params;
  g.vertex_count = vertices;
  g.state_length = 0;
  std::stable_sort(edges.begin(), edges.end(), [](const EdgeSpec& a, const EdgeSpec& b) { return a.from < b.from; });
  g.edge_begin.assign(vertices + 1, 0);
  for (const EdgeSpec& e : edges) {
    ++g.edge_begin[e.from + 1];
    g.edge_target.push_back(e.to);
    for (std::uint32_t i = 0; i <= params; ++i) g.coeffs.push_back(i < e.form.size() ? e.form[i] : 0.0);
  }
  for (std::uint32_t v = 0; v < vertices; ++v) g.edge_begin[v + 1] += g.edge_begin[v];
  g.reward_count = static_cast<std::uint32_t>(rewards.size());
  for (const auto& row : rewards) g.rewards.insert(g.rewards.end(), row.begin(), row.end());
  return g;
}

// The two-branch mixture whose covariance cancels (decisions 105, 110, 111; the TS
// tests' test/engine/mixture.ts): S to state 1 (A at rate θ₀, then B at rate θ₀) with
// probability 1/4, to state 2 (A at rate 3θ₀, then B at rate s·θ₀, + θ₁ with `offset`)
// with 3/4; rewards A (states 1, 2) and B (states 3, 4).
inline phasic::Graph mixture(double s, bool offset = false) {
  return make_graph(offset ? 2 : 1, 6,
                    {{0, 1, {0.25}},
                     {0, 2, {0.75}},
                     {1, 3, {0, 1}},
                     {2, 4, {0, 3}},
                     {3, 5, {0, 1}},
                     {4, 5, {0, s, offset ? 1.0 : 0.0}}},
                    {{0, 1, 1, 0, 0, 0}, {0, 0, 0, 1, 1, 0}});
}

// rabbits.phasic by hand: states (left, right) reachable from (N, 0), numbered
// breadth-first after S; θ = (jump, flood_l, flood_r); one reward, time.
inline phasic::Graph rabbits(int N) {
  using State = std::pair<int, int>;
  std::map<State, phasic::VertexId> id;
  std::vector<State> order;
  auto vertex = [&](State s) {
    auto [it, fresh] = id.try_emplace(s, static_cast<phasic::VertexId>(order.size() + 1));
    if (fresh) order.push_back(s);
    return it->second;
  };
  std::vector<EdgeSpec> edges{{0, vertex({N, 0}), {1, 0, 0, 0}}};
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto [l, r] = order[i];
    if (l + r == 0) continue;
    const phasic::VertexId from = static_cast<phasic::VertexId>(i + 1);
    std::map<phasic::VertexId, std::vector<double>> out;  // parallel transitions merge
    auto add = [&](State to, int param) {
      auto& f = out.try_emplace(vertex(to), std::vector<double>(4, 0.0)).first->second;
      f[param] += 1;
    };
    if (l > 0) add({l - 1, r + 1}, 1), add({0, r}, 2);
    if (r > 0) add({l + 1, r - 1}, 1), add({l, 0}, 3);
    for (auto& [to, f] : out) edges.push_back({from, to, f});
  }
  const auto V = static_cast<std::uint32_t>(order.size() + 1);
  std::vector<double> time(V, 1.0);
  time[0] = 0;
  time[id[{0, 0}]] = 0;
  return make_graph(3, V, edges, {time});
}

// A batch's placement (trace/solution_placement.hpp) built when the batch asks, for the
// one call: a test's traces are evaluated a batch at a time, where the engine keeps one
// placement per cached trace.
inline phasic::PlacementSource placed() {
  auto kept = std::make_shared<std::unique_ptr<const phasic::SolutionPlacement>>();
  return [kept](const phasic::ModelTrace& t) -> const phasic::SolutionPlacement& {
    *kept = std::make_unique<const phasic::SolutionPlacement>(t);
    return **kept;
  };
}

}  // namespace fixtures
