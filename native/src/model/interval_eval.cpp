// Interval arithmetic over the instruction set, in one forward sweep that joins the
// stacks flowing into each jump target.
#include "model/interval_eval.hpp"

#include <algorithm>
#include <cmath>

namespace phasic {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kInt32Max = 2147483647.0;

bool finite(const Interval& a) { return std::isfinite(a.lo) && std::isfinite(a.hi); }

Interval make(double lo, double hi, bool integral, bool nan) {
  // Infinite bounds can meet as inf - inf or 0 * inf: NaN becomes possible.
  if (std::isnan(lo) || std::isnan(hi)) return Interval::top();
  return Interval{lo, hi, integral, nan};
}

Interval join(const Interval& a, const Interval& b) {
  return Interval{std::min(a.lo, b.lo), std::max(a.hi, b.hi), a.integral && b.integral, a.nan || b.nan};
}

Interval boolean(bool can_be_false, bool can_be_true) {
  return Interval{can_be_false ? 0.0 : 1.0, can_be_true ? 1.0 : 0.0, true, false};
}

Interval add(const Interval& a, const Interval& b) {
  const bool nan = a.nan || b.nan || !finite(a) || !finite(b);
  return make(a.lo + b.lo, a.hi + b.hi, a.integral && b.integral, nan);
}

Interval sub(const Interval& a, const Interval& b) {
  const bool nan = a.nan || b.nan || !finite(a) || !finite(b);
  return make(a.lo - b.hi, a.hi - b.lo, a.integral && b.integral, nan);
}

Interval mul(const Interval& a, const Interval& b) {
  const double p[4] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
  for (double v : p)
    if (std::isnan(v)) return Interval::top();
  const bool nan = a.nan || b.nan || !finite(a) || !finite(b);
  return make(*std::min_element(p, p + 4), *std::max_element(p, p + 4), a.integral && b.integral, nan);
}

Interval div(const Interval& a, const Interval& b) {
  if (b.lo <= 0 && b.hi >= 0) return Interval::top();
  const double p[4] = {a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi};
  for (double v : p)
    if (std::isnan(v)) return Interval::top();
  return make(*std::min_element(p, p + 4), *std::max_element(p, p + 4), false,
              a.nan || b.nan || !finite(a) || !finite(b));
}

// Comparisons: NaN makes every comparison false except !=.
Interval compare(Opcode op, const Interval& a, const Interval& b) {
  const bool nan = a.nan || b.nan;
  const bool same_point = a.lo == a.hi && b.lo == b.hi && a.lo == b.lo;
  const bool disjoint = a.hi < b.lo || b.hi < a.lo;
  switch (op) {
    case Opcode::Eq: return boolean(!same_point || nan, !disjoint);
    case Opcode::Ne: return boolean(!disjoint, !same_point || nan);
    case Opcode::Lt: return boolean(!(a.hi < b.lo) || nan, a.lo < b.hi);
    case Opcode::Le: return boolean(!(a.hi <= b.lo) || nan, a.lo <= b.hi);
    case Opcode::Gt: return boolean(!(a.lo > b.hi) || nan, a.hi > b.lo);
    case Opcode::Ge: return boolean(!(a.lo >= b.hi) || nan, a.hi >= b.lo);
    default: return Interval::top();
  }
}

}  // namespace

void IntervalEvaluator::set_state(const std::int32_t* state, std::uint32_t state_length) {
  state_ = state;
  bound_hi_ = nullptr;
  state_length_ = state_length;
  ranges_built_ = false;
}

void IntervalEvaluator::set_cell_bounds(const std::int32_t* lo, const std::int32_t* hi, std::uint32_t state_length) {
  state_ = lo;
  bound_hi_ = hi;
  state_length_ = state_length;
  ranges_built_ = false;
}

std::pair<std::int32_t, std::int32_t> IntervalEvaluator::cell_range(std::uint32_t lo, std::uint32_t hi) {
  // Below this width a scan is cheaper than building the tables for the state.
  constexpr std::uint32_t kScanWidth = 16;
  const std::uint32_t width = hi - lo + 1;
  if (bound_hi_) {  // cell bounds: a scan, only ever done while planning
    std::int32_t mn = state_[lo], mx = bound_hi_[lo];
    for (std::uint32_t c = lo + 1; c <= hi; ++c) {
      mn = std::min(mn, state_[c]);
      mx = std::max(mx, bound_hi_[c]);
    }
    return {mn, mx};
  }
  if (width <= kScanWidth) {
    std::int32_t mn = state_[lo], mx = state_[lo];
    for (std::uint32_t c = lo + 1; c <= hi; ++c) {
      mn = std::min(mn, state_[c]);
      mx = std::max(mx, state_[c]);
    }
    return {mn, mx};
  }
  const std::uint32_t n = state_length_;
  if (!ranges_built_) {
    std::uint32_t levels = 1;
    while ((2u << (levels - 1)) <= n) ++levels;  // level k exists while 2^k <= n
    range_min_.resize(std::size_t(levels) * n);
    range_max_.resize(std::size_t(levels) * n);
    std::copy(state_, state_ + n, range_min_.begin());
    std::copy(state_, state_ + n, range_max_.begin());
    for (std::uint32_t k = 1; k < levels; ++k) {
      const std::uint32_t half = 1u << (k - 1);
      const std::int32_t* pmin = range_min_.data() + std::size_t(k - 1) * n;
      const std::int32_t* pmax = range_max_.data() + std::size_t(k - 1) * n;
      std::int32_t* qmin = range_min_.data() + std::size_t(k) * n;
      std::int32_t* qmax = range_max_.data() + std::size_t(k) * n;
      for (std::uint32_t i = 0; i + (1u << k) <= n; ++i) {
        qmin[i] = std::min(pmin[i], pmin[i + half]);
        qmax[i] = std::max(pmax[i], pmax[i + half]);
      }
    }
    ranges_built_ = true;
  }
  std::uint32_t k = 0;
  while ((2u << k) <= width) ++k;  // 2^k <= width < 2^(k+1)
  const std::int32_t* mn = range_min_.data() + std::size_t(k) * n;
  const std::int32_t* mx = range_max_.data() + std::size_t(k) * n;
  const std::uint32_t tail = hi + 1 - (1u << k);
  return {std::min(mn[lo], mn[tail]), std::max(mx[lo], mx[tail])};
}

IntervalResult IntervalEvaluator::run(const Program& program, const Interval* locals, IntervalProbe* probe) {
  const std::int32_t* state = state_;
  const std::uint32_t state_length = state_length_;
  IntervalResult result;
  if (bound_hi_ && program.shape == Shape::Cell) {
    const std::uint32_t c = program.code[0].arg;
    return IntervalResult{Interval{double(state[c]), double(bound_hi_[c]), true, false}, false};
  }
  if (!probe && (program.shape == Shape::Constant || program.shape == Shape::Cell)) {
    const Instr& in = program.code[0];
    return IntervalResult{Interval::point(program.shape == Shape::Constant ? in.constant : double(state[in.arg])),
                          false};
  }
  if (!program.forward_only || program.stores) return result;
  const std::uint32_t n = std::uint32_t(program.code.size());
  const std::uint32_t width = std::max<std::uint32_t>(program.max_depth, 1);
  if (pending_.size() < std::size_t(n + 1) * width) pending_.resize(std::size_t(n + 1) * width);
  // Straight-line programs (most `when`s) skip the bookkeeping of jump targets.
  const bool jumps = program.jumps;
  if (jumps) {
    // pending_stamp_[pc] == stamp_ marks the instructions some path has reached in
    // this run: no clearing per run.
    if (pending_stamp_.size() < n + 1) pending_stamp_.resize(n + 1, 0);
    if (++stamp_ == 0) {
      std::fill(pending_stamp_.begin(), pending_stamp_.end(), 0);
      stamp_ = 1;
    }
    if (pending_depth_.size() < n + 1) pending_depth_.resize(n + 1);
  }
  auto reached = [&](std::uint32_t pc) { return pending_stamp_[pc] == stamp_; };

  Interval stack[kMaxStack];
  int sp = 0;
  bool live = true;  // the fall-through path reaches pc
  bool may_fail = false;
  auto flow = [&](std::uint32_t target) {
    Interval* p = pending_.data() + std::size_t(target) * width;
    if (!reached(target)) {
      std::copy(stack, stack + sp, p);
      pending_depth_[target] = sp;
      pending_stamp_[target] = stamp_;
    } else {
      for (int i = 0; i < sp; ++i) p[i] = join(p[i], stack[i]);
    }
  };
  for (std::uint32_t pc = 0;; ++pc) {
    if (jumps && reached(pc)) {
      const Interval* p = pending_.data() + std::size_t(pc) * width;
      if (live) {
        for (int i = 0; i < sp; ++i) stack[i] = join(stack[i], p[i]);
      } else {
        sp = pending_depth_[pc];  // the same on every path (checked at load)
        std::copy(p, p + sp, stack);
        live = true;
      }
    }
    if (pc == n) break;
    if (!live) continue;
    const Instr& in = program.code[pc];
    if (probe && probe->pc == pc) {
      const int operands = std::min(sp, 2);
      for (int i = 0; i < operands; ++i) {
        const Interval& v = stack[sp - operands + i];
        probe->operands[i] = probe->reached ? join(probe->operands[i], v) : v;
      }
      probe->reached = true;
    }
    switch (in.op) {
      case Opcode::Const: stack[sp++] = Interval::point(in.constant); break;
      case Opcode::Load: stack[sp++] = locals[in.arg]; break;
      case Opcode::Store: return result;  // excluded above
      case Opcode::Cell:
        stack[sp++] = bound_hi_ ? Interval{double(state[in.arg]), double(bound_hi_[in.arg]), true, false}
                                : Interval::point(state[in.arg]);
        break;
      case Opcode::CellAt: {
        const Interval i = stack[sp - 1];
        if (i.nan || !i.integral || !(i.lo >= 0 && i.hi < double(state_length))) {
          may_fail = true;
          stack[sp - 1] = Interval::top();
          break;
        }
        const auto [lo, hi] = cell_range(std::uint32_t(i.lo), std::uint32_t(i.hi));
        stack[sp - 1] = Interval{double(lo), double(hi), true, false};
        break;
      }
      case Opcode::Index: {
        const Interval& i = stack[sp - 1];
        if (i.nan || !i.integral || !(i.lo >= 0 && i.hi < double(in.arg))) may_fail = true;
        break;
      }
      case Opcode::Int: {
        const Interval& i = stack[sp - 1];
        if (i.nan || !i.integral || !(i.lo >= -kInt32Max && i.hi <= kInt32Max)) may_fail = true;
        break;
      }
      case Opcode::Add:
        --sp;
        stack[sp - 1] = add(stack[sp - 1], stack[sp]);
        break;
      case Opcode::Sub:
        --sp;
        stack[sp - 1] = sub(stack[sp - 1], stack[sp]);
        break;
      case Opcode::Mul:
        --sp;
        stack[sp - 1] = mul(stack[sp - 1], stack[sp]);
        break;
      case Opcode::Div:
        --sp;
        stack[sp - 1] = div(stack[sp - 1], stack[sp]);
        break;
      case Opcode::Mod: {
        --sp;
        const Interval &a = stack[sp - 1], &b = stack[sp];
        if (a.nan || b.nan || !a.integral || !b.integral || (b.lo <= 0 && b.hi >= 0)) may_fail = true;
        const double m = std::max(std::fabs(b.lo), std::fabs(b.hi));
        stack[sp - 1] = make(a.lo >= 0 ? 0.0 : -m, a.hi <= 0 ? 0.0 : m, true, false);
        break;
      }
      case Opcode::Neg:
        stack[sp - 1] = make(-stack[sp - 1].hi, -stack[sp - 1].lo, stack[sp - 1].integral, stack[sp - 1].nan);
        break;
      case Opcode::Eq:
      case Opcode::Ne:
      case Opcode::Lt:
      case Opcode::Le:
      case Opcode::Gt:
      case Opcode::Ge:
        --sp;
        stack[sp - 1] = compare(in.op, stack[sp - 1], stack[sp]);
        break;
      case Opcode::Not: {
        const Interval a = stack[sp - 1];
        stack[sp - 1] = make(1 - a.hi, 1 - a.lo, a.integral, a.nan || !finite(a));
        break;
      }
      case Opcode::Jump:
        flow(in.arg);
        live = false;
        break;
      case Opcode::JumpIfFalse: {
        const Interval c = stack[--sp];
        const bool can_jump = c.lo <= 0 && c.hi >= 0;  // c == 0 possible
        const bool can_fall = !(c.lo == 0 && c.hi == 0) || c.nan;
        if (can_jump) flow(in.arg);
        live = can_fall;
        break;
      }
      case Opcode::Min:
      case Opcode::Max: {
        const int k = int(in.arg);
        Interval m = stack[sp - k];
        for (int i = sp - k + 1; i < sp; ++i) {
          const Interval& v = stack[i];
          m = in.op == Opcode::Min
                  ? Interval{std::min(m.lo, v.lo), std::min(m.hi, v.hi), m.integral && v.integral, m.nan || v.nan}
                  : Interval{std::max(m.lo, v.lo), std::max(m.hi, v.hi), m.integral && v.integral, m.nan || v.nan};
        }
        // fmin/fmax skip a NaN operand, so a NaN can widen the result to the other operands.
        if (m.nan) m = Interval::top();
        sp -= k;
        stack[sp++] = m;
        break;
      }
      case Opcode::Abs: {
        const Interval a = stack[sp - 1];
        if (a.lo >= 0) break;
        stack[sp - 1] = a.hi <= 0 ? make(-a.hi, -a.lo, a.integral, a.nan)
                                  : make(0, std::max(-a.lo, a.hi), a.integral, a.nan);
        break;
      }
      case Opcode::Floor:
        stack[sp - 1] = make(std::floor(stack[sp - 1].lo), std::floor(stack[sp - 1].hi), true,
                             stack[sp - 1].nan || !finite(stack[sp - 1]));
        break;
      case Opcode::Ceil:
        stack[sp - 1] = make(std::ceil(stack[sp - 1].lo), std::ceil(stack[sp - 1].hi), true,
                             stack[sp - 1].nan || !finite(stack[sp - 1]));
        break;
      case Opcode::Binom: {
        --sp;
        const Interval &a = stack[sp - 1], &b = stack[sp];
        if (a.nan || b.nan || !a.integral || !b.integral) may_fail = true;
        stack[sp - 1] = Interval{0, kInf, true, false};
        break;
      }
      case Opcode::Pop: --sp; break;
      case Opcode::Dup:
        stack[sp] = stack[sp - 1];
        ++sp;
        break;
      case Opcode::SumCells: return result;  // only in Program::fused, never in code
    }
    if (probe && probe->pc == pc && probe->force_false && sp > 0) stack[sp - 1] = Interval::point(0);
  }
  result.value = stack[0];
  result.may_fail = may_fail;
  return result;
}

}  // namespace phasic
