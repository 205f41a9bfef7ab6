// The compiled model (docs/compiled-model.md) as the engine holds it: validated once
// at load, with programs decoded into instruction arrays.
//
// Invariants (established by load_compiled_model, relied on by exploration):
// - Variables tile the state vector in order: variable k covers
//   [offset_k, offset_k + cells_k) and the offsets are consecutive from 0 to
//   state_length. cell_lo/cell_hi hold each cell's bounds clipped to int32.
// - Every start state has state_length cells within their bounds; probabilities are
//   in (0, 1] and sum to at most 1.
// - Every rule has exactly param_count + 1 rate programs (an empty Program is a
//   coefficient that is 0); all its programs are valid for its `locals` slots.
// - rewards[0] is "time"; reward and rule names are unique.
// - Every site index is -1 or < sites.size().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "json/json.hpp"
#include "model/model_info.hpp"
#include "model/program.hpp"

namespace phasic {

struct ModelParam {
  std::string name;
  double default_value = 1.0;
  std::optional<double> lo, hi;
};

struct ModelVariable {
  std::string name;
  std::uint32_t offset = 0;
  std::vector<std::uint32_t> dims;  // empty for a scalar
  std::uint32_t cells = 1;
  std::int64_t lo = 0;
  std::optional<std::int64_t> hi;
};

struct ModelStart {
  double probability = 1.0;
  std::vector<std::int32_t> state;
  int site = -1;
};

// A program with its own local slots (absorb conditions, rewards).
struct StandaloneProgram {
  std::string name;  // rewards only
  std::uint32_t locals = 0;
  Program program;
  int site = -1;
};

struct RuleLoop {
  std::string name;
  std::uint32_t slot = 0;
  Program lo, hi;
};

struct RuleStep {
  bool is_let = false;  // let: store into slot; otherwise a `when` condition
  std::uint32_t slot = 0;
  Program program;
  int site = -1;
};

enum class UpdateOp { Set, Add, Sub };

struct RuleUpdate {
  Program cell;
  UpdateOp op = UpdateOp::Set;
  Program value;
  int site = -1;
};

struct Rule {
  std::string name;
  int site = -1;
  std::uint32_t locals = 0;
  std::vector<RuleLoop> loops;
  std::vector<RuleStep> steps;
  std::vector<Program> rate;  // P + 1 coefficients; empty = 0
  int rate_site = -1;
  std::vector<RuleUpdate> updates;
};

struct SourceRange {
  int line = 0, column = 0, end_line = 0, end_column = 0;
};

struct CompiledModel {
  std::string name;
  std::vector<ModelParam> params;
  std::uint32_t state_length = 0;
  std::vector<ModelVariable> variables;
  std::vector<ModelStart> starts;
  std::vector<StandaloneProgram> absorb;
  std::vector<Rule> rules;
  std::vector<StandaloneProgram> rewards;
  std::vector<SourceRange> sites;

  std::vector<std::uint32_t> cell_variable;  // variable index of each cell
  std::vector<std::int32_t> cell_lo, cell_hi;
};

// Validates and decodes; throws EngineError whose `field` names the offending field.
CompiledModel load_compiled_model(const json::Value& root);

// Names the UI shows for the model.
ModelInfo model_info(const CompiledModel& model);

// "x=[1, 0], k=3": a state decoded by variable, arrays nested by dimension; past 64
// cells, a variable by its nonzero cells ("x[0]=1, the other cells of x 0"), and at
// most 64 of those in all ("(and 12 more nonzero cells)").
std::string describe_state(const CompiledModel& model, const std::int32_t* state);
// "x[1]" or "c[2][3]" for a flat cell index; "k" for a scalar.
std::string describe_cell(const CompiledModel& model, std::uint32_t cell);

}  // namespace phasic
