// State-space exploration: from a compiled model to the graph of its Markov jump
// process, exactly as model-language.md ("Exploration semantics") defines it.
//
// Invariants of the result (on top of Graph's own):
// - Vertex numbering is discovery order of a breadth-first search from the initial
//   states in `start` order, expanding each state's rules in file order and each
//   rule's bindings in loop order; an edge list keeps first-seen target order. The
//   same model always gives the same graph, bit for bit.
// - Either the whole graph is returned or an exception is thrown (EngineError,
//   Cancelled, BudgetExceeded); there is no partial result.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "graph/graph.hpp"
#include "model/compiled_model.hpp"

namespace phasic {

struct ExploreOptions {
  std::uint64_t max_states = 10'000'000;  // states, not counting S; 0 = only the id range limits
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(std::uint64_t states)> progress;  // states expanded; every 4096 and at the end
  // Skip subtrees of loop bindings that cannot fire: by the rule's cell guards
  // (model/binding_guards.hpp), or, in a rule without any, where interval evaluation
  // proves it (explore.cpp). The result is identical either way; false, which runs
  // every binding through the interpreter, is the reference the tests compare with.
  bool prune_bindings = true;
  // Expand states on two threads (explore.cpp). The result is identical either way;
  // false is for testing that.
  bool parallel = true;
};

// A non-fatal finding, pointing into the model like EngineMessage.
struct ExploreWarning {
  std::string message;
  int site = -1;
  std::string rule;
};

struct Exploration {
  Graph graph;
  ModelInfo info;
  std::vector<std::uint64_t> rule_firings;  // per rule, in file order
  std::vector<ExploreWarning> warnings;
  // False for an imported phasic graph, whose state cells have no names.
  bool named_states = true;
};

Exploration explore(const CompiledModel& model, const ExploreOptions& options);

// A vertex as messages name it: "state (k=3, a=[1, 0])" by the model's state
// variables, or for an imported phasic graph, which names none, its cells and vertex
// id: "state [3, 1] (vertex 5 of the phasic graph, whose states have no names)".
std::string describe_vertex(const Exploration& explored, VertexId vertex);

// The error a run reports when the state limit is exceeded.
std::string state_limit_message(std::uint64_t limit, std::uint64_t explored, std::uint64_t transitions);

}  // namespace phasic
