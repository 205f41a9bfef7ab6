// Cell guards of a rule's loop bindings: conditions on one cell of the state, each
// implied by a `when` of the rule, decided as soon as the loops that index the cell
// are bound. Exploration checks them in its binding enumeration and skips the subtree
// of bindings below a failing one without running a program: `when c[b][a] >= 1`
// inside four nested loops is decided after the two loops that pick the cell, so
// only the non-zero cells are enumerated further.
//
// Invariants of plan_binding_guards' result, for every state whose cells lie within
// the model's bounds and every binding within the loops' ranges:
// - A guard at depth d reads only the values of loops 0..d (depth -1: none): its cell
//   is base + Σ coef[j] · loop_j, and that is the cell the `when` reads.
// - If the cell is below `least` with loops 0..d bound, then at every binding below,
//   the `when` it comes from is false, and no loop bound of loops d+1.. nor any step
//   up to that `when` can raise an error: none of those bindings fires or fails, so
//   skipping them leaves the graph, the firing counts and the warnings as they were.
// - A rule whose programs store into loop or `let` slots, or read a `let` before it
//   is assigned, gets no guards (stale values would make skipping observable).
#pragma once

#include <cstdint>
#include <vector>

#include "model/compiled_model.hpp"

namespace phasic {

struct CellGuard {
  std::int64_t base = 0;
  std::vector<std::int64_t> coef;  // per loop 0..depth
  std::int64_t least = 0;          // the `when` can only hold when the cell is at least this
};

struct BindingGuards {
  // by_depth[d + 1]: the guards decided once loops 0..d are bound (d = -1: before any).
  std::vector<std::vector<CellGuard>> by_depth;
  // Per loop d: whether by_depth[d + 1][0] has a positive coefficient of loop d, so
  // that the values of loop d it lets through can be found by stepping through the
  // cells it reads (ascending) instead of binding each value.
  std::vector<bool> drives;
  bool any() const {
    for (const auto& g : by_depth)
      if (!g.empty()) return true;
    return false;
  }
};

BindingGuards plan_binding_guards(const CompiledModel& model, const Rule& rule);

}  // namespace phasic
