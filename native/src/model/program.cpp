// Program decoding (opcode table, jump resolution, stack-depth proof) and the
// switch-dispatched interpreter.
#include "model/program.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "base/error.hpp"

namespace phasic {

namespace {

struct OpInfo {
  const char* name;
  int args;  // immediate arguments in the JSON array
  int pops;  // -1: MIN/MAX pop their count argument
  int pushes;
};

constexpr OpInfo kOps[kOpCount] = {
    {"CONST", 1, 0, 1},   {"LOAD", 1, 0, 1},
    {"STORE", 1, 1, 0},   {"CELL", 1, 0, 1},
    {"CELL_AT", 0, 1, 1}, {"INDEX", 2, 1, 1},
    {"INT", 1, 1, 1},     {"ADD", 0, 2, 1},
    {"SUB", 0, 2, 1},     {"MUL", 0, 2, 1},
    {"DIV", 0, 2, 1},     {"MOD", 1, 2, 1},
    {"NEG", 0, 1, 1},     {"EQ", 0, 2, 1},
    {"NE", 0, 2, 1},      {"LT", 0, 2, 1},
    {"LE", 0, 2, 1},      {"GT", 0, 2, 1},
    {"GE", 0, 2, 1},      {"NOT", 0, 1, 1},
    {"JUMP", 1, 0, 0},    {"JUMP_IF_FALSE", 1, 1, 0},
    {"MIN", 1, -1, 1},    {"MAX", 1, -1, 1},
    {"ABS", 0, 1, 1},     {"FLOOR", 0, 1, 1},
    {"CEIL", 0, 1, 1},    {"BINOM", 1, 2, 1},
    {"POP", 0, 1, 0},     {"DUP", 0, 1, 2},
};

constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();

bool is_integral(double v) { return std::isfinite(v) && v == std::floor(v); }

[[noreturn]] void fail(const std::string& message, int site) { throw EngineError(message, site); }
// Without this a compiled model (a .json file, not produced by the front end, whose
// loops are bounded aggregates) could loop forever in a process that never cancels,
// such as the command-line tool.
[[noreturn]] void fail_endless_loop() {
  fail("a program ran more than " + std::to_string(kMaxLoopIterations) +
           " loop iterations in one evaluation; its loop does not end",
       -1);
}

// binom(a, b) for integral a, b: the multiplicative formula over the smaller of b and
// a − b. Beyond 1100 factors the value exceeds any double (it is at least 2^k).
double binomial(double a, double b) {
  if (b < 0 || b > a) return 0;
  const double k = std::fmin(b, a - b);
  if (k > 1100) return std::numeric_limits<double>::infinity();
  double r = 1;
  for (int i = 1; i <= int(k); ++i) r = r * (a - k + i) / i;
  // Exact while below 2^53; rounding removes the drift of larger values.
  return std::isfinite(r) ? std::round(r) : r;
}

bool is(const Instr& in, Opcode op) { return in.op == op; }
bool is(const Instr& in, Opcode op, std::uint32_t arg) { return in.op == op && in.arg == arg; }
bool is_const(const Instr& in, double v) { return in.op == Opcode::Const && in.constant == v; }

// Finds the front end's sum(x) loops (extension/language/compile.ts, sumArray):
//   p:   CONST 0; STORE acc; CONST 0; STORE i
//   top: LOAD i; CONST cells; LT; JUMP_IF_FALSE end
//        LOAD acc; LOAD i; INDEX cells; [CONST offset; ADD]; CELL_AT; ADD; STORE acc
//        LOAD i; CONST 1; ADD; STORE i; JUMP top
//   end: LOAD acc
// Each is fused into SUM_CELLS where the loop can neither fail nor hit the loop
// limit: offset + cells within the state, cells at most kMaxLoopIterations.
void fuse_cell_sums(Program& program, const ProgramScope& scope) {
  const std::vector<Instr>& c = program.code;
  const std::size_t n = c.size();
  for (std::size_t p = 0; p + 20 <= n; ++p) {  // 20 instructions without an offset
    if (!(is_const(c[p], 0) && is(c[p + 1], Opcode::Store) && is_const(c[p + 2], 0) && is(c[p + 3], Opcode::Store)))
      continue;
    const std::uint32_t acc = c[p + 1].arg, i = c[p + 3].arg, top = std::uint32_t(p + 4);
    if (acc == i || c[p + 5].op != Opcode::Const) continue;
    const double cells = c[p + 5].constant;
    if (!(cells >= 1 && cells <= double(kMaxLoopIterations) && cells == std::floor(cells))) continue;
    if (!(is(c[p + 4], Opcode::Load, i) && is(c[p + 6], Opcode::Lt) && is(c[p + 7], Opcode::JumpIfFalse) &&
          is(c[p + 8], Opcode::Load, acc) && is(c[p + 9], Opcode::Load, i) &&
          is(c[p + 10], Opcode::Index, std::uint32_t(cells))))
      continue;
    std::size_t q = p + 11;
    double offset = 0;
    if (q + 1 < n && c[q].op == Opcode::Const && is(c[q + 1], Opcode::Add)) {
      offset = c[q].constant;
      q += 2;
    }
    if (!(offset >= 0 && offset == std::floor(offset) && offset + cells <= double(scope.state_length))) continue;
    if (q + 9 > n) continue;  // through the LOAD acc at q + 8
    if (!(is(c[q], Opcode::CellAt) && is(c[q + 1], Opcode::Add) && is(c[q + 2], Opcode::Store, acc) &&
          is(c[q + 3], Opcode::Load, i) && is_const(c[q + 4], 1) && is(c[q + 5], Opcode::Add) &&
          is(c[q + 6], Opcode::Store, i) && is(c[q + 7], Opcode::Jump, top)))
      continue;
    const std::uint32_t end = std::uint32_t(q + 8);
    if (!(c[p + 7].arg == end && is(c[end], Opcode::Load, acc))) continue;
    if (program.fused.empty()) program.fused = program.code;
    Instr& fused = program.fused[p];
    fused.op = Opcode::SumCells;
    fused.arg = std::uint32_t(program.sums.size());
    program.sums.push_back(CellSum{std::uint32_t(offset), std::uint32_t(cells), acc, i, end + 1});
  }
}

}  // namespace

const char* op_name(Opcode op) { return op == Opcode::SumCells ? "SUM_CELLS" : kOps[int(op)].name; }

std::string format_number(double v) {
  // printf writes "-nan" for a NaN with its sign bit set; a modeller reads "NaN".
  if (std::isnan(v)) return "NaN";
  char buf[40];
  if (is_integral(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Program decode_program(const json::Field& code, const ProgramScope& scope) {
  const std::size_t n = code.size();
  const json::Array& words = code.value().as_array();
  auto at = [&](std::size_t pos) { return json::Field(words[pos], json::element_path(code.path(), pos)); };

  Program program;
  // JSON position of each instruction, and instruction index of each position
  // (-1 inside an instruction's arguments); position n is the end.
  std::vector<std::size_t> position_of;
  std::vector<std::int64_t> instr_at(n + 1, -1);
  std::vector<std::size_t> jump_argument_pos;  // JSON position of each jump's target
  for (std::size_t pos = 0; pos < n;) {
    const auto opcode = at(pos).integer(0, kOpCount - 1);
    const OpInfo& info = kOps[opcode];
    if (info.args > 0 && pos + std::size_t(info.args) >= n)
      at(pos).fail(std::string(info.name) + " needs " + std::to_string(info.args) + " argument(s)");
    Instr in;
    in.op = Opcode(opcode);
    const auto site_arg = [&](std::size_t p) {
      return std::int32_t(at(p).integer(-1, std::int64_t(scope.site_count) - 1));
    };
    switch (in.op) {
      case Opcode::Const: in.constant = at(pos + 1).finite(); break;
      case Opcode::Load:
      case Opcode::Store:
        if (scope.locals == 0) at(pos + 1).fail("no local slots are declared");
        in.arg = std::uint32_t(at(pos + 1).integer(0, std::int64_t(scope.locals) - 1));
        break;
      case Opcode::Cell:
        if (scope.state_length == 0) at(pos + 1).fail("the state is empty");
        in.arg = std::uint32_t(at(pos + 1).integer(0, std::int64_t(scope.state_length) - 1));
        break;
      case Opcode::Index:
        in.arg = std::uint32_t(at(pos + 1).integer(1, kInt32Max));
        in.site = site_arg(pos + 2);
        break;
      case Opcode::Int:
      case Opcode::Mod:
      case Opcode::Binom: in.site = site_arg(pos + 1); break;
      case Opcode::Jump:
      case Opcode::JumpIfFalse:
        in.arg = std::uint32_t(at(pos + 1).integer(0, std::int64_t(n)));
        jump_argument_pos.push_back(pos + 1);
        break;
      case Opcode::Min:
      case Opcode::Max: in.arg = std::uint32_t(at(pos + 1).integer(1, kMaxStack)); break;
      default: break;
    }
    instr_at[pos] = std::int64_t(program.code.size());
    position_of.push_back(pos);
    program.code.push_back(in);
    pos += 1 + std::size_t(info.args);
  }
  const std::size_t count = program.code.size();
  instr_at[n] = std::int64_t(count);

  // Jump targets: JSON positions to instruction indices.
  std::size_t j = 0;
  for (Instr& in : program.code) {
    if (in.op != Opcode::Jump && in.op != Opcode::JumpIfFalse) continue;
    const std::size_t arg_pos = jump_argument_pos[j++];
    if (instr_at[in.arg] < 0)
      at(arg_pos).fail("jump target " + std::to_string(in.arg) + " is inside an instruction's arguments");
    in.arg = std::uint32_t(instr_at[in.arg]);
    program.jumps = true;
    if (in.arg <= std::uint32_t(&in - program.code.data())) program.forward_only = false;
  }
  for (const Instr& in : program.code) {
    program.stores = program.stores || in.op == Opcode::Store;
    switch (in.op) {
      case Opcode::CellAt:
      case Opcode::Index:
      case Opcode::Int:
      case Opcode::Mod:
      case Opcode::Binom: program.can_raise = true; break;
      default: break;
    }
  }
  program.can_raise = program.can_raise || !program.forward_only;  // the loop limit

  // Stack depth: abstract interpretation over the jump graph.
  std::vector<int> depth(count + 1, -1);
  std::vector<std::uint32_t> work;
  auto reach = [&](std::size_t from, std::uint32_t target, int d) {
    if (depth[target] < 0) {
      depth[target] = d;
      if (target < count) work.push_back(target);
    } else if (depth[target] != d) {
      const std::size_t pos = target < count ? position_of[target] : n;
      at(position_of[from])
          .fail("stack depth " + std::to_string(d) + " flows into position " + std::to_string(pos) +
                ", which is also reached with depth " + std::to_string(depth[target]));
    }
  };
  if (count == 0) code.fail("a program must leave exactly one value (it is empty)");
  depth[0] = 0;
  work.push_back(0);
  while (!work.empty()) {
    const std::uint32_t i = work.back();
    work.pop_back();
    const Instr& in = program.code[i];
    const OpInfo& info = kOps[int(in.op)];
    const int pops = info.pops < 0 ? int(in.arg) : info.pops;
    const int d = depth[i];
    if (d < pops)
      at(position_of[i])
          .fail(std::string(info.name) + " needs " + std::to_string(pops) + " value(s) on the stack, has " +
                std::to_string(d));
    const int next = d - pops + info.pushes;
    if (next > kMaxStack) at(position_of[i]).fail("stack deeper than " + std::to_string(kMaxStack));
    program.max_depth = std::max(program.max_depth, std::uint32_t(std::max(next, d)));
    if (in.op == Opcode::Jump || in.op == Opcode::JumpIfFalse) reach(i, in.arg, next);
    if (in.op != Opcode::Jump) reach(i, i + 1, next);
  }
  if (depth[count] != 1)
    code.fail("a program must leave exactly one value on the stack, this one leaves " + std::to_string(depth[count]));
  fuse_cell_sums(program, scope);
  if (count == 1 && program.code[0].op == Opcode::Const) program.shape = Shape::Constant;
  if (count == 1 && program.code[0].op == Opcode::Cell) program.shape = Shape::Cell;
  if (count == 1 && program.code[0].op == Opcode::Load) program.shape = Shape::Local;
  return program;
}

void Budget::refill() {
  left_ = kBudgetSlice;
  if (cancel_ && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
}

double run_code(const Program& program, const std::int32_t* state, std::uint32_t state_length, double* locals,
                Budget& budget) {
  double stack[kMaxStack];
  int sp = 0;  // number of values on the stack
  const Instr* code = program.code.data();
  const std::uint32_t n = std::uint32_t(program.code.size());
  std::uint32_t pc = 0;
  std::uint32_t loop_iterations = 0;  // backward jumps taken in this evaluation
  if (!program.fused.empty()) code = program.fused.data();
  while (pc < n) {
    budget.tick();
    const Instr& in = code[pc++];
    switch (in.op) {
      case Opcode::SumCells: {
        const CellSum& sum = program.sums[in.arg];
        double acc = 0;
        for (std::uint32_t k = 0; k < sum.cells; ++k) acc += state[sum.offset + k];
        locals[sum.acc] = acc;
        locals[sum.index] = sum.cells;
        stack[sp++] = acc;
        pc = sum.resume;
        break;
      }
      case Opcode::Const: stack[sp++] = in.constant; break;
      case Opcode::Load: stack[sp++] = locals[in.arg]; break;
      case Opcode::Store: locals[in.arg] = stack[--sp]; break;
      case Opcode::Cell: stack[sp++] = state[in.arg]; break;
      case Opcode::CellAt: {
        const double i = stack[sp - 1];
        if (!(i >= 0 && i < double(state_length)) || i != std::floor(i))
          fail("cell index " + format_number(i) + " is outside the state (" + std::to_string(state_length) + " cells)",
               -1);
        stack[sp - 1] = state[std::uint32_t(i)];
        break;
      }
      case Opcode::Index: {
        const double i = stack[sp - 1];
        if (!is_integral(i)) fail("index " + format_number(i) + " is not an integer", in.site);
        if (!(i >= 0 && i < double(in.arg)))
          fail("index " + format_number(i) + " is out of range 0.." + std::to_string(in.arg - 1), in.site);
        break;
      }
      case Opcode::Int: {
        const double v = stack[sp - 1];
        if (!is_integral(v)) fail("value " + format_number(v) + " is not an integer", in.site);
        if (std::fabs(v) > double(kInt32Max))
          fail("value " + format_number(v) + " is outside the 32-bit integer range", in.site);
        break;
      }
      case Opcode::Add:
        --sp;
        stack[sp - 1] += stack[sp];
        break;
      case Opcode::Sub:
        --sp;
        stack[sp - 1] -= stack[sp];
        break;
      case Opcode::Mul:
        --sp;
        stack[sp - 1] *= stack[sp];
        break;
      case Opcode::Div:
        --sp;
        stack[sp - 1] /= stack[sp];
        break;
      case Opcode::Mod: {
        --sp;
        const double a = stack[sp - 1], b = stack[sp];
        if (!is_integral(a) || !is_integral(b))
          fail("% needs integers, got " + format_number(a) + " % " + format_number(b), in.site);
        if (b == 0) fail("remainder by zero", in.site);
        stack[sp - 1] = std::fmod(a, b);  // sign of a, exact for integers
        break;
      }
      case Opcode::Neg: stack[sp - 1] = -stack[sp - 1]; break;
      case Opcode::Eq:
        --sp;
        stack[sp - 1] = stack[sp - 1] == stack[sp];
        break;
      case Opcode::Ne:
        --sp;
        stack[sp - 1] = stack[sp - 1] != stack[sp];
        break;
      case Opcode::Lt:
        --sp;
        stack[sp - 1] = stack[sp - 1] < stack[sp];
        break;
      case Opcode::Le:
        --sp;
        stack[sp - 1] = stack[sp - 1] <= stack[sp];
        break;
      case Opcode::Gt:
        --sp;
        stack[sp - 1] = stack[sp - 1] > stack[sp];
        break;
      case Opcode::Ge:
        --sp;
        stack[sp - 1] = stack[sp - 1] >= stack[sp];
        break;
      case Opcode::Not: stack[sp - 1] = 1 - stack[sp - 1]; break;
      case Opcode::Jump:
        if (in.arg < pc && ++loop_iterations > kMaxLoopIterations) fail_endless_loop();
        pc = in.arg;
        break;
      case Opcode::JumpIfFalse:
        if (stack[--sp] == 0) {
          if (in.arg < pc && ++loop_iterations > kMaxLoopIterations) fail_endless_loop();
          pc = in.arg;
        }
        break;
      case Opcode::Min:
      case Opcode::Max: {
        const int k = int(in.arg);
        double m = stack[sp - k];
        for (int i = sp - k + 1; i < sp; ++i)
          m = in.op == Opcode::Min ? std::fmin(m, stack[i]) : std::fmax(m, stack[i]);
        sp -= k;
        stack[sp++] = m;
        break;
      }
      case Opcode::Abs: stack[sp - 1] = std::fabs(stack[sp - 1]); break;
      case Opcode::Floor: stack[sp - 1] = std::floor(stack[sp - 1]); break;
      case Opcode::Ceil: stack[sp - 1] = std::ceil(stack[sp - 1]); break;
      case Opcode::Binom: {
        --sp;
        const double a = stack[sp - 1], b = stack[sp];
        if (!is_integral(a) || !is_integral(b))
          fail("binom needs integers, got binom(" + format_number(a) + ", " + format_number(b) + ")", in.site);
        stack[sp - 1] = binomial(a, b);
        break;
      }
      case Opcode::Pop: --sp; break;
      case Opcode::Dup:
        stack[sp] = stack[sp - 1];
        ++sp;
        break;
    }
  }
  return stack[0];
}

}  // namespace phasic
