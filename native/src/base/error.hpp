// Errors the engine reports to its callers, at the base of the include line (every
// folder may throw them). Every failure of a run is one of these
// (or BudgetExceeded): a run never ends in a crash or a partial result.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace phasic {

// A failure that points into the model: `site` indexes the compiled model's `sites`
// (-1 for none), `rule` names the rule involved (empty for none), `field` names the
// offending field of an input file (for example "rules[2].updates[0].cell").
struct EngineError : std::runtime_error {
  explicit EngineError(const std::string& message, int site_ = -1, std::string rule_ = {},
                       std::string field_ = {})
      : std::runtime_error(message), site(site_), rule(std::move(rule_)), field(std::move(field_)) {}
  int site;
  std::string rule;
  std::string field;
};

// A state from which no path leads to an absorbing state, found while recording a
// trace. Recording knows vertex ids only: the run, which still has the graph, turns
// this into a message that shows the state (graph/explore.hpp, describe_vertex).
struct NeverAbsorbed : EngineError {
  explicit NeverAbsorbed(std::uint32_t vertex_)
      : EngineError("vertex " + std::to_string(vertex_) + " can never reach an absorbing state"), vertex(vertex_) {}
  std::uint32_t vertex;
};

// Thrown from inner loops when the caller asked the run to stop.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("the run was cancelled") {}
};

}  // namespace phasic
