// Interval evaluation of a program: runs it on a concrete state with locals known
// only as intervals, and bounds every value it could produce over all locals in those
// intervals. Exploration uses it to skip whole subtrees of a rule's loop bindings in
// which a `when` is false for every binding (see explore.cpp).
//
// Invariants:
// - Soundness: for every assignment of locals within their intervals, the concrete
//   result lies in the returned interval (NaN only if `nan` is set), and a concrete
//   run can raise an error only if `may_fail` is set.
// - Only programs without STORE and without backward jumps are evaluated (one
//   forward sweep suffices); any other program yields Interval::top() with may_fail.
// - With cell bounds instead of a state (set_cell_bounds), every cell is an interval
//   [lo, hi] and the result bounds the program over every state within them: what a
//   rule's programs can do at any state, known before exploring (binding_guards.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "model/program.hpp"

namespace phasic {

// Trivially constructible: the evaluator's stack of 256 is never initialized.
struct Interval {
  double lo, hi;
  bool integral;  // every value is an integer
  bool nan;       // NaN is possible
  static Interval top() {
    return {-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), false, true};
  }
  static Interval point(double v) {
    if (std::isnan(v)) return top();
    return Interval{v, v, v - std::floor(v) == 0, false};
  }
  bool is_false() const { return lo == 0 && hi == 0 && !nan; }
};

struct IntervalResult {
  Interval value = Interval::top();
  bool may_fail = true;
};

// Looks at one instruction during a run: the intervals of its (up to two) operands
// as it is reached, and, with force_false, its result replaced by 0 — so that the
// run's result says what the program gives whenever that instruction yields false.
struct IntervalProbe {
  std::uint32_t pc = 0;
  bool force_false = false;
  bool reached = false;                                       // out: some path reached pc
  Interval operands[2] = {Interval::top(), Interval::top()};  // out: joined over the paths, [0] deeper
};

// Scratch reused across calls so that evaluation does not allocate.
class IntervalEvaluator {
 public:
  // `state` is the array every following run() reads, until the next call: its cells
  // must not change in between (range bounds over it are kept).
  void set_state(const std::int32_t* state, std::uint32_t state_length);
  // Every cell c is only known to lie in [lo[c], hi[c]]; the arrays are read until the
  // next set_state or set_cell_bounds.
  void set_cell_bounds(const std::int32_t* lo, const std::int32_t* hi, std::uint32_t state_length);
  IntervalResult run(const Program& program, const Interval* locals, IntervalProbe* probe = nullptr);

 private:
  // The least and greatest cell in [lo, hi] of the state.
  std::pair<std::int32_t, std::int32_t> cell_range(std::uint32_t lo, std::uint32_t hi);

  const std::int32_t* state_ = nullptr;
  const std::int32_t* bound_hi_ = nullptr;  // set by set_cell_bounds; state_ holds the lower bounds
  std::uint32_t state_length_ = 0;
  // Sparse tables of range minima and maxima (level k covers 2^k cells), built on the
  // first wide CELL_AT after set_state: exploration asks for ranges of one state
  // dozens of times (every pruning attempt), and a scan would cost their width each time.
  bool ranges_built_ = false;
  std::vector<std::int32_t> range_min_, range_max_;

  std::vector<Interval> pending_;             // (instruction count + 1) stacks of max_depth
  std::vector<int> pending_depth_;            // their depths, where reached
  std::vector<std::uint32_t> pending_stamp_;  // == stamp_: a path has reached the instruction in this run
  std::uint32_t stamp_ = 0;
};

}  // namespace phasic
