// Finding cell guards: a symbolic sweep of each `when` names the comparisons between
// a cell at an affine index of the loop variables and anything else; interval
// evaluation over the model's cell bounds gives the other side's least value, and,
// with the comparison forced false, proves that the whole `when` is then false.
#include "model/binding_guards.hpp"

#include <cmath>
#include <limits>
#include <optional>

#include "model/interval_eval.hpp"

namespace phasic {

namespace {

constexpr double kMaxCoef = 2147483647.0;

bool small_integer(double v) { return std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= kMaxCoef; }

// c0 + Σ coef[j] · loop_j, with integral coefficients.
struct Affine {
  double c0 = 0;
  std::vector<double> coef;
};

// What the sweep knows of a stack value.
struct Sym {
  enum Kind { Other, Linear, CellOf } kind = Other;
  Affine a;  // Linear: the value; CellOf: the cell's index
};

std::optional<Affine> combine(const Affine& x, const Affine& y, double sy) {
  Affine r = x;
  r.c0 += sy * y.c0;
  for (std::size_t j = 0; j < r.coef.size(); ++j) r.coef[j] += sy * y.coef[j];
  if (!small_integer(r.c0)) return std::nullopt;
  for (double c : r.coef)
    if (!small_integer(c)) return std::nullopt;
  return r;
}

bool constant(const Affine& a) {
  for (double c : a.coef)
    if (c != 0) return false;
  return true;
}

std::optional<Affine> scale(const Affine& x, double s) {
  Affine zero;
  zero.coef.assign(x.coef.size(), 0);
  return combine(zero, x, s);
}

// A comparison between a cell at an affine index and another value.
struct Candidate {
  std::uint32_t pc;
  Affine cell;
  bool cell_first;  // the cell is the left operand
};

// The comparisons of `program` whose one operand is a cell at an affine index of the
// loops (slot_loop[s]: the loop whose variable slot s holds, or -1).
std::vector<Candidate> cell_comparisons(const Program& program, const std::vector<int>& slot_loop, std::size_t loops) {
  std::vector<Candidate> found;
  const std::uint32_t n = std::uint32_t(program.code.size());
  std::vector<int> target_depth(n + 1, -1);
  for (const Instr& in : program.code)
    if (in.op == Opcode::Jump || in.op == Opcode::JumpIfFalse) target_depth[in.arg] = 0;  // marked; depth below
  std::vector<Sym> stack;
  bool live = true;
  auto linear = [&](double c0) {
    Sym s;
    s.kind = Sym::Linear;
    s.a.c0 = c0;
    s.a.coef.assign(loops, 0);
    return s;
  };
  auto pop = [&] {
    Sym s = stack.back();
    stack.pop_back();
    return s;
  };
  for (std::uint32_t pc = 0; pc < n; ++pc) {
    if (target_depth[pc] >= 0) {
      // A join: what arrives by a jump is not tracked, so nothing on the stack is known.
      if (live) target_depth[pc] = int(stack.size());
      stack.assign(std::size_t(target_depth[pc]), Sym{});
      live = true;
    }
    if (!live) continue;
    const Instr& in = program.code[pc];
    switch (in.op) {
      case Opcode::Const: stack.push_back(small_integer(in.constant) ? linear(in.constant) : Sym{}); break;
      case Opcode::Load: {
        Sym s;
        if (in.arg < slot_loop.size() && slot_loop[in.arg] >= 0) {
          s = linear(0);
          s.a.coef[std::size_t(slot_loop[in.arg])] = 1;
        }
        stack.push_back(s);
        break;
      }
      case Opcode::Cell: {
        Sym s = linear(double(in.arg));
        s.kind = Sym::CellOf;
        stack.push_back(s);
        break;
      }
      case Opcode::CellAt: {
        Sym& s = stack.back();
        s.kind = s.kind == Sym::Linear ? Sym::CellOf : Sym::Other;
        break;
      }
      case Opcode::Index:
      case Opcode::Int: break;  // the value passes unchanged (or the program raises)
      case Opcode::Add:
      case Opcode::Sub: {
        const Sym y = pop(), x = pop();
        Sym r;
        if (x.kind == Sym::Linear && y.kind == Sym::Linear)
          if (auto a = combine(x.a, y.a, in.op == Opcode::Add ? 1 : -1)) {
            r.kind = Sym::Linear;
            r.a = *a;
          }
        stack.push_back(r);
        break;
      }
      case Opcode::Mul: {
        const Sym y = pop(), x = pop();
        Sym r;
        if (x.kind == Sym::Linear && y.kind == Sym::Linear) {
          std::optional<Affine> a;
          if (constant(y.a))
            a = scale(x.a, y.a.c0);
          else if (constant(x.a))
            a = scale(y.a, x.a.c0);
          if (a) {
            r.kind = Sym::Linear;
            r.a = *a;
          }
        }
        stack.push_back(r);
        break;
      }
      case Opcode::Neg: {
        Sym& s = stack.back();
        if (s.kind == Sym::Linear) {
          if (auto a = scale(s.a, -1))
            s.a = *a;
          else
            s = Sym{};
        } else {
          s = Sym{};
        }
        break;
      }
      case Opcode::Eq:
      case Opcode::Lt:
      case Opcode::Le:
      case Opcode::Gt:
      case Opcode::Ge: {
        const Sym y = pop(), x = pop();
        if (x.kind == Sym::CellOf && y.kind != Sym::CellOf)
          found.push_back(Candidate{pc, x.a, true});
        else if (y.kind == Sym::CellOf && x.kind != Sym::CellOf)
          found.push_back(Candidate{pc, y.a, false});
        stack.push_back(Sym{});
        break;
      }
      case Opcode::Jump:
        target_depth[in.arg] = int(stack.size());
        live = false;
        break;
      case Opcode::JumpIfFalse:
        stack.pop_back();
        target_depth[in.arg] = int(stack.size());
        break;
      case Opcode::Min:
      case Opcode::Max:
        stack.resize(stack.size() - in.arg);
        stack.push_back(Sym{});
        break;
      case Opcode::Pop: stack.pop_back(); break;
      case Opcode::Dup: stack.push_back(stack.back()); break;
      case Opcode::Store: stack.pop_back(); break;
      case Opcode::SumCells: return found;  // only in Program::fused, never in code
      case Opcode::Ne:
      case Opcode::Not:
      case Opcode::Abs:
      case Opcode::Floor:
      case Opcode::Ceil:
        stack.back() = Sym{};
        if (in.op == Opcode::Ne) {
          stack.pop_back();
          stack.back() = Sym{};
        }
        break;
      case Opcode::Div:
      case Opcode::Mod:
      case Opcode::Binom:
        stack.pop_back();
        stack.back() = Sym{};
        break;
    }
  }
  return found;
}

// The least value the cell must have for the comparison to hold, given the other
// operand's interval; nothing when no such bound follows.
std::optional<double> least_cell(Opcode op, bool cell_first, const Interval& other) {
  if (other.nan || !std::isfinite(other.lo)) return std::nullopt;
  // Normalise to "cell OP other".
  if (!cell_first) switch (op) {
      case Opcode::Lt: op = Opcode::Gt; break;
      case Opcode::Le: op = Opcode::Ge; break;
      case Opcode::Gt: op = Opcode::Lt; break;
      case Opcode::Ge: op = Opcode::Le; break;
      default: break;
    }
  switch (op) {
    case Opcode::Ge:
    case Opcode::Eq: return std::ceil(other.lo);
    case Opcode::Gt: return std::floor(other.lo) + 1;
    default: return std::nullopt;
  }
}

bool reads_slot_outside(const Program& p, const std::vector<char>& readable) {
  for (const Instr& in : p.code)
    if (in.op == Opcode::Load && (in.arg >= readable.size() || !readable[in.arg])) return true;
  return false;
}

bool stores_into(const Program& p, const std::vector<char>& owned) {
  for (const Instr& in : p.code)
    if (in.op == Opcode::Store && in.arg < owned.size() && owned[in.arg]) return true;
  return false;
}

}  // namespace

BindingGuards plan_binding_guards(const CompiledModel& model, const Rule& rule) {
  BindingGuards guards;
  const std::size_t loops = rule.loops.size();
  if (loops == 0) return guards;

  // Loop and let slots: written only by the enumeration and the lets.
  std::vector<int> slot_loop(rule.locals, -1);
  std::vector<char> owned(rule.locals, 0);
  for (std::size_t j = 0; j < loops; ++j) {
    const std::uint32_t s = rule.loops[j].slot;
    if (owned[s]) return guards;
    owned[s] = 1;
    slot_loop[s] = int(j);
  }
  for (const RuleStep& s : rule.steps)
    if (s.is_let) {
      if (owned[s.slot] == 1) return guards;
      owned[s.slot] = 2;
    }
  for (const RuleLoop& l : rule.loops)
    if (l.lo.stores || l.hi.stores) return guards;
  for (const RuleStep& s : rule.steps)
    if (stores_into(s.program, owned)) return guards;
  for (const Program& c : rule.rate)
    if (stores_into(c, owned)) return guards;
  for (const RuleUpdate& u : rule.updates)
    if (stores_into(u.cell, owned) || stores_into(u.value, owned)) return guards;

  IntervalEvaluator eval;
  eval.set_cell_bounds(model.cell_lo.data(), model.cell_hi.data(), model.state_length);
  std::vector<Interval> locals(rule.locals, Interval::top());
  std::vector<char> readable(rule.locals, 0);

  // The loops' ranges over every state. Skipping a subtree must not hide a loop
  // bound's error, so every bound must be an int32 whatever the state.
  constexpr double kMax = 2147483647.0;
  auto safe = [&](const IntervalResult& b) {
    return !b.may_fail && !b.value.nan && b.value.integral && b.value.lo >= -kMax && b.value.hi <= kMax;
  };
  std::vector<double> loop_magnitude(loops, 0);
  for (std::size_t j = 0; j < loops; ++j) {
    const RuleLoop& l = rule.loops[j];
    if (reads_slot_outside(l.lo, readable) || reads_slot_outside(l.hi, readable)) return guards;
    const IntervalResult lo = eval.run(l.lo, locals.data()), hi = eval.run(l.hi, locals.data());
    if (!safe(lo) || !safe(hi)) return guards;
    locals[l.slot] = Interval{lo.value.lo, std::max(lo.value.lo, hi.value.hi), true, false};
    loop_magnitude[j] = std::max(std::fabs(lo.value.lo), std::fabs(hi.value.hi));
    readable[l.slot] = 1;
  }
  // The index is computed in int64 at run time and in doubles by the program: both
  // exact while every partial sum stays below 2^52.
  auto exact = [&](const Affine& a) {
    double m = std::fabs(a.c0);
    for (std::size_t j = 0; j < loops; ++j) m += std::fabs(a.coef[j]) * loop_magnitude[j];
    return m < 4503599627370496.0;
  };

  guards.by_depth.resize(loops + 1);
  for (const RuleStep& step : rule.steps) {
    if (reads_slot_outside(step.program, readable)) break;
    const IntervalResult v = eval.run(step.program, locals.data());
    if (v.may_fail) break;  // this step may raise: no `when` from here on may skip a binding
    if (step.is_let) {
      locals[step.slot] = v.value;
      readable[step.slot] = 1;
      continue;
    }
    for (const Candidate& c : cell_comparisons(step.program, slot_loop, loops)) {
      IntervalProbe look;
      look.pc = c.pc;
      eval.run(step.program, locals.data(), &look);
      if (!look.reached) continue;
      const Interval& cell = look.operands[c.cell_first ? 0 : 1];
      const auto least = least_cell(step.program.code[c.pc].op, c.cell_first, look.operands[c.cell_first ? 1 : 0]);
      if (!least || *least <= cell.lo || *least > kMax) continue;  // it would never fail
      IntervalProbe forced;
      forced.pc = c.pc;
      forced.force_false = true;
      if (!eval.run(step.program, locals.data(), &forced).value.is_false()) continue;  // not implied by the `when`
      if (!exact(c.cell)) continue;
      int depth = -1;
      for (std::size_t j = 0; j < loops; ++j)
        if (c.cell.coef[j] != 0) depth = int(j);
      CellGuard g;
      g.base = std::int64_t(c.cell.c0);
      for (int j = 0; j <= depth; ++j) g.coef.push_back(std::int64_t(c.cell.coef[std::size_t(j)]));
      g.least = std::int64_t(*least);
      guards.by_depth[std::size_t(depth + 1)].push_back(std::move(g));
    }
  }
  guards.drives.assign(loops, false);
  for (std::size_t d = 0; d < loops; ++d) {
    std::vector<CellGuard>& at = guards.by_depth[d + 1];
    for (std::size_t i = 0; i < at.size(); ++i)
      if (at[i].coef[d] > 0) {
        std::swap(at[0], at[i]);
        guards.drives[d] = true;
        break;
      }
  }
  return guards;
}

}  // namespace phasic
