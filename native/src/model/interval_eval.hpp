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
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
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

// Scratch reused across calls so that evaluation does not allocate.
class IntervalEvaluator {
 public:
  IntervalResult run(const Program& program, const std::int32_t* state, std::uint32_t state_length,
                     const Interval* locals);

 private:
  std::vector<Interval> pending_;   // (instruction count + 1) stacks of max_depth
  std::vector<int> pending_depth_;  // -1: no path has reached the instruction yet
};

}  // namespace phasic
