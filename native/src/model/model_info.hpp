// What a model names, as opposed to its graph: parameters, rewards, state variables
// and rules, in file order. This is what the UI shows next to a graph's numbers.
//
// Invariant: reward_names has one entry per reward of the graph, "time" first;
// variables tile the state vector in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace phasic {

struct StateVariable {
  std::string name;
  std::uint32_t offset = 0;
  std::vector<std::uint32_t> dims;  // empty for a scalar
};

struct ModelInfo {
  std::string name;
  std::vector<std::string> param_names;
  std::vector<double> param_defaults;
  std::vector<std::string> reward_names;  // reward_count entries, "time" first
  std::vector<StateVariable> variables;
  std::vector<std::string> rule_names;
};

}  // namespace phasic
