// Errors the engine reports to its callers. Every failure of a run is one of these
// (or BudgetExceeded): a run never ends in a crash or a partial result.
#pragma once

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

// Thrown from inner loops when the caller asked the run to stop.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("the run was cancelled") {}
};

}  // namespace phasic
