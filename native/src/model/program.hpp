// The compiled model's expression programs: decoding (with full validation) and the
// stack machine that runs them on a state.
//
// Invariants:
// - A decoded Program is safe to run on any state of the declared length and any
//   locals array of the declared size: every opcode, slot, constant cell index and
//   jump target was checked, and abstract interpretation over the jump graph proved
//   that every reachable instruction sees the same stack depth on every path, that
//   the stack never underflows or exceeds kMaxStack, and that the program ends with
//   exactly one value. run() therefore does no stack checks.
// - Jump targets are instruction indices (not JSON array positions); the target
//   code.size() means "end of program".
// - run() allocates nothing; it checks the cancellation flag every kBudgetSlice
//   executed instructions, and fails after kMaxLoopIterations backward jumps in one
//   evaluation, so a looping program cannot hang the engine, even where nobody can
//   cancel it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "json/json.hpp"

namespace phasic {

constexpr int kMaxStack = 256;
constexpr std::uint32_t kBudgetSlice = 65536;
// Far above any aggregate of a real model (one per value of a bound variable).
constexpr std::uint32_t kMaxLoopIterations = 1u << 26;

enum class Opcode : std::uint8_t {
  Const = 0,
  Load,
  Store,
  Cell,
  CellAt,
  Index,
  Int,
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Neg,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  Not,
  Jump,
  JumpIfFalse,
  Min,
  Max,
  Abs,
  Floor,
  Ceil,
  Binom,
  Pop,
  Dup,
  // Not in the format: decode_program fuses the front end's loop that sums an array
  // variable (sum(x)) into this one instruction of Program::fused (see CellSum).
  SumCells,
};
constexpr int kOpCount = 30;  // opcodes of the format; SumCells is not one of them
const char* op_name(Opcode op);

struct Instr {
  Opcode op = Opcode::Const;
  std::uint32_t arg = 0;  // slot, cell, INDEX dim, jump target, MIN/MAX count
  std::int32_t site = -1;
  double constant = 0;  // CONST's value
};

// The effect of the loop `acc = 0; for i in 0..cells-1: acc += state[offset + i]`
// followed by LOAD acc, as the front end compiles sum(x): the same additions in the
// same order, the slots left as the loop leaves them, and the sum pushed.
struct CellSum {
  std::uint32_t offset = 0, cells = 0;
  std::uint32_t acc = 0, index = 0;  // local slots
  std::uint32_t resume = 0;          // the instruction after the loop's LOAD acc
};

// How run() evaluates a program: most programs in real models are a single
// constant, a single cell or a single local (a loop bound `b1..n`), which skip the
// interpreter.
enum class Shape : std::uint8_t { General, Constant, Cell, Local };

struct Program {
  std::vector<Instr> code;
  // What run_code executes when not empty: `code` with each sum loop's first
  // instruction replaced by SUM_CELLS (arg: its index in `sums`), which does the
  // whole loop and jumps past it. Analyses read `code`, which is exactly as written.
  std::vector<Instr> fused;
  std::vector<CellSum> sums;
  Shape shape = Shape::General;
  std::uint32_t max_depth = 0;  // deepest stack any path reaches
  bool jumps = false;           // has a JUMP or JUMP_IF_FALSE
  bool forward_only = true;     // no jump goes backwards (no loops)
  bool stores = false;          // has a STORE
  bool can_raise = false;       // has an instruction that can throw (CELL_AT, INDEX, INT, MOD, BINOM, a loop)
  bool empty() const { return code.empty(); }
};

// What a program may refer to.
struct ProgramScope {
  std::uint32_t locals = 0;
  std::uint32_t state_length = 0;
  std::uint32_t site_count = 0;
};

// Decodes and validates the JSON array at `code`; throws EngineError naming the
// offending element (for example "rules[1].rate[1][4]").
Program decode_program(const json::Field& code, const ProgramScope& scope);

// Counts executed instructions and polls the cancellation flag once per slice.
class Budget {
 public:
  explicit Budget(const std::atomic<bool>* cancel) : cancel_(cancel) {}
  void tick() {
    if (--left_ == 0) refill();
  }
  void refill();  // throws Cancelled when the flag is set

 private:
  const std::atomic<bool>* cancel_;
  std::uint32_t left_ = kBudgetSlice;
};

// Runs a program. Errors of INDEX, INT, MOD and BINOM throw EngineError carrying the
// instruction's site; a CELL_AT index outside the state throws with site -1.
double run_code(const Program& program, const std::int32_t* state, std::uint32_t state_length, double* locals,
                Budget& budget);

inline double run(const Program& program, const std::int32_t* state, std::uint32_t state_length, double* locals,
                  Budget& budget) {
  switch (program.shape) {
    case Shape::Constant: return program.code[0].constant;
    case Shape::Cell: return state[program.code[0].arg];
    case Shape::Local: return locals[program.code[0].arg];
    default: return run_code(program, state, state_length, locals, budget);
  }
}

// Formats a number the way error messages show it: integers without a fraction.
std::string format_number(double v);

}  // namespace phasic
