// A block's trace: a straight-line program over θ whose values are the multipliers of
// a fixed command list that solves the block for any reward vector — the output of
// the stable (GTH-style) elimination of engine.md.
//
// Program. Value slots 0..dot_count−1 are DOTs: value = c0 + c1·θ1 + … + cP·θP with
// coefficients dot_coeffs[slot·(P+1) ..]. Slot dot_count + i is written by ops[i]:
//   Add:    a + b          Mul:  a · b
//   MulAdd: a + b · c      Inv:  1 / a
// Operands are slots < the op's own slot (single assignment, evaluated in order).
// The recorder emits only MulAdd and Inv (a sum is a + b·1, a product 0 + a·b, with
// the constants 0 and 1 as DOTs), so replay runs without a data-dependent branch; Add
// and Mul stay valid in the format. A block whose ops are all MulAdd or Inv keeps them
// narrow (NarrowOp, 16-bit slots) when it has at most kNarrowValues values, else
// compact (CompactOp, 32-bit slots); only a block with an Add or a Mul keeps them wide.
// Its commands (below) are narrow, all three kinds in one form (NarrowForward,
// NarrowSolve, NarrowTerm: 16-bit indices), exactly when its vertices + exits and its
// values each number at most kNarrowCommandSlots (and its terms fewer than 2^32); this
// is checked on its own, since narrow ops do not bound the vertices and exits.
// Every value is a sum, product or reciprocal of positive numbers: nothing is ever
// subtracted, so every value keeps full relative accuracy.
//
// Commands run over a working vector y of vertex_count + exit_count entries: y[v] for
// local vertex v starts as the reward r_v, y[vertex_count + s] holds x of exit slot s
// (already final: blocks are solved sink-first).
//   forward (in this order):  y[target] += value[multiplier] · y[source]      (r' of u)
//     The recorder emits first one per edge into an exit (source = the exit slot,
//     multiplier = the edge's DOT): exits are known, so they join the right-hand side
//     once, with their original weights. Then one per eliminated (parent, vertex).
//   solve   (in this order):  y[v] = (y[v] + Σ_terms value[weight] · y[target])
//                                     · value[inverse_rate]                   (x of v)
// The terms of solve command i are terms[solve[i−1].term_end .. solve[i].term_end).
// After the commands y[0..vertex_count) is x on the block.
//
// Elimination (engine.md's stable form) tracks, per vertex, its internal out-edges
// and one *leave* weight: the sum of its current weights to exits and absorption.
// λ_v is the sum of both; eliminating v adds m·leave_v to each parent's leave weight.
// That is exact — only the total rate out of the block enters λ, and exits enter x
// through the right-hand side above — and it costs one operation per parent instead
// of one per (parent, exit), which on models with many exits per block is most of
// the work.
//
// Invariants: every slot is used by a command or by a later op (no dead values);
// structurally equal ops are emitted once (DOTs by coefficient bits, arithmetic by
// code and operands) except in the part of a block recorded by the dense kernel
// (dense_elimination.hpp), which shares nothing; solve visits each local vertex exactly once; a term reads an exit
// or a vertex solved by an earlier command; no forward command writes a vertex that an
// earlier forward command read (the backward pass of gradient.hpp relies on both); all
// storage is counted in Category::Traces.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "memory/kept.hpp"
#include "trace/block.hpp"

namespace phasic {

template <class T>
using TraceVector = CountedVector<T, Category::Traces>;

enum class OpCode : std::uint8_t { Add = 1, Mul = 2, MulAdd = 3, Inv = 4 };

struct Op {
  OpCode code;
  std::uint32_t a, b, c;  // unused operands are 0
};
// An op of a block whose values all have 16-bit slots and whose ops are all MulAdd or
// Inv (as recorded): 6 bytes instead of 16. An Inv has b = kNarrowInv (no value has
// that slot) and c = 0. A replay reads its ops once per evaluation, front to back, and
// on traces larger than the caches that stream is most of its time
// (docs/performance.md, "Target 3", ninth and tenth rounds).
struct NarrowOp {
  std::uint16_t a, b, c;
};
constexpr std::uint16_t kNarrowInv = 0xffff;
constexpr std::uint64_t kNarrowValues = kNarrowInv;  // most values of a narrow block: slots < kNarrowInv
// An op of a block too large for NarrowOp whose ops are all MulAdd or Inv: 12 bytes
// instead of 16 (no code byte and no padding). An Inv has b = kCompactInv and c = 0;
// no value has that slot, since a block holds fewer than 2^32 − 1 values (the recorder
// and the reader refuse more). The dense kernel writes such blocks' ops (structured
// n = 8 d = 4: 93.5 k in its largest block), so its stores and every replay's stream
// shrink by a quarter (docs/performance.md, "Target 4", s16 round).
struct CompactOp {
  std::uint32_t a, b, c;
};
constexpr std::uint32_t kCompactInv = 0xffffffffu;

inline OpCode code_of(const Op& op) { return op.code; }
inline OpCode code_of(const NarrowOp& op) { return op.b == kNarrowInv ? OpCode::Inv : OpCode::MulAdd; }
inline OpCode code_of(const CompactOp& op) { return op.b == kCompactInv ? OpCode::Inv : OpCode::MulAdd; }
// The stored forms of a MulAdd or an Inv (slots that fit the form).
inline NarrowOp narrow_op(OpCode code, std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  return code == OpCode::Inv ? NarrowOp{std::uint16_t(a), kNarrowInv, 0}
                             : NarrowOp{std::uint16_t(a), std::uint16_t(b), std::uint16_t(c)};
}
inline CompactOp compact_op(OpCode code, std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  return code == OpCode::Inv ? CompactOp{a, kCompactInv, 0} : CompactOp{a, b, c};
}

enum class OpForm : std::uint8_t { Wide, Narrow, Compact };

// A block's ops in the smallest form they fit (see NarrowOp and CompactOp): one form
// at a time, fixed when the list is made. Loops that replay ops take the stored form
// through visit() and are compiled for each; others read ops one at a time as wide ops.
class OpList {
 public:
  OpList() = default;
  // The ops of a block with dot_count DOTs (op i writes slot dot_count + i), in the
  // smallest form they fit.
  OpList(TraceVector<Op>&& ops, std::uint32_t dot_count);
  // Ops already narrow or compact (as recorded, or read from disk); the caller has
  // checked that they fit and that no smaller form would.
  explicit OpList(TraceVector<NarrowOp>&& ops) : narrow_(std::move(ops)), form_(OpForm::Narrow) {}
  explicit OpList(TraceVector<CompactOp>&& ops) : compact_(std::move(ops)), form_(OpForm::Compact) {}
  // Ops kept wide whatever they fit: for tests that compare a block's forms.
  static OpList kept_wide(TraceVector<Op>&& ops) {
    OpList list;
    list.wide_ = std::move(ops);
    return list;
  }

  std::size_t size() const {
    return form_ == OpForm::Narrow ? narrow_.size() : form_ == OpForm::Compact ? compact_.size() : wide_.size();
  }
  OpForm form() const { return form_; }
  bool narrow() const { return form_ == OpForm::Narrow; }
  Op operator[](std::size_t i) const {
    if (form_ == OpForm::Wide) return wide_[i];
    const Op op = form_ == OpForm::Narrow ? Op{code_of(narrow_[i]), narrow_[i].a, narrow_[i].b, narrow_[i].c}
                                          : Op{code_of(compact_[i]), compact_[i].a, compact_[i].b, compact_[i].c};
    return op.code == OpCode::Inv ? Op{OpCode::Inv, op.a, 0, 0} : op;
  }
  // f(const Op*), f(const NarrowOp*) or f(const CompactOp*): the ops in their stored
  // form, size() of them.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return form_ == OpForm::Narrow    ? f(narrow_.data())
           : form_ == OpForm::Compact ? f(compact_.data())
                                      : f(wide_.data());
  }
  std::size_t bytes() const { return held_bytes(wide_) + held_bytes(narrow_) + held_bytes(compact_); }
  void shrink_to_fit() { wide_.shrink_to_fit(), narrow_.shrink_to_fit(), compact_.shrink_to_fit(); }

 private:
  TraceVector<Op> wide_;
  TraceVector<NarrowOp> narrow_;
  TraceVector<CompactOp> compact_;
  OpForm form_ = OpForm::Wide;
};

struct ForwardCommand {
  std::uint32_t target, source, multiplier;
};
struct SolveCommand {
  std::uint32_t vertex, inverse_rate;
  std::uint64_t term_end;
};
struct Term {
  std::uint32_t target, weight;
};
// The commands of a block whose working vector (vertices + exits) and values both have
// at most kNarrowCommandSlots entries, so that every index fits 16 bits, and whose
// terms number less than 2^32: 6, 8 and 4 bytes instead of 12, 16 and 8. The solves
// read them once per moment and group of rewards, from memory on traces larger than
// the caches (docs/performance.md, "Target 3", twelfth round). A block of at most
// kNarrowValues values (narrow ops) need not have narrow commands: two vertices may
// share their inverse rate and two exits their edge's DOT, so its vertices and exits
// are not bounded by its values; the fit is checked on both.
struct NarrowForward {
  std::uint16_t target, source, multiplier;
};
struct NarrowSolve {
  std::uint16_t vertex, inverse_rate;
  std::uint32_t term_end;
};
struct NarrowTerm {
  std::uint16_t target, weight;
};
constexpr std::uint64_t kNarrowCommandSlots = 0x10000;
inline ForwardCommand widen(const NarrowForward& f) { return {f.target, f.source, f.multiplier}; }
inline SolveCommand widen(const NarrowSolve& s) { return {s.vertex, s.inverse_rate, s.term_end}; }
inline Term widen(const NarrowTerm& t) { return {t.target, t.weight}; }
// The narrow form of a command of a block whose commands fit (commands_fit_narrow).
inline NarrowForward narrowed(const ForwardCommand& f) {
  return {std::uint16_t(f.target), std::uint16_t(f.source), std::uint16_t(f.multiplier)};
}
inline NarrowSolve narrowed(const SolveCommand& s) {
  return {std::uint16_t(s.vertex), std::uint16_t(s.inverse_rate), std::uint32_t(s.term_end)};
}
inline NarrowTerm narrowed(const Term& t) { return {std::uint16_t(t.target), std::uint16_t(t.weight)}; }

// One kind of a block's commands in one of two forms, as OpList holds ops: the form
// is the block's (BlockTrace::set_commands chooses it for all three kinds at once).
// Loops that run the commands take the stored forms through visit_commands and are
// compiled for each; others read commands one at a time, widened.
template <class Wide, class Narrow>
class CommandList {
 public:
  CommandList() = default;
  explicit CommandList(TraceVector<Wide>&& wide) : wide_(std::move(wide)) {}
  explicit CommandList(TraceVector<Narrow>&& narrow) : narrow_(std::move(narrow)), is_narrow_(true) {}

  std::size_t size() const { return is_narrow_ ? narrow_.size() : wide_.size(); }
  bool empty() const { return size() == 0; }
  bool narrow() const { return is_narrow_; }
  Wide operator[](std::size_t i) const { return is_narrow_ ? widen(narrow_[i]) : wide_[i]; }
  const Wide* wide_data() const { return wide_.data(); }
  const Narrow* narrow_data() const { return narrow_.data(); }
  // Every command widened (for code that edits a trace: tests, the recorder's last step).
  TraceVector<Wide> widened() const {
    if (!is_narrow_) return wide_;
    TraceVector<Wide> out(narrow_.size());
    for (std::size_t i = 0; i < narrow_.size(); ++i) out[i] = widen(narrow_[i]);
    return out;
  }
  std::size_t bytes() const { return held_bytes(wide_) + held_bytes(narrow_); }
  void shrink_to_fit() { wide_.shrink_to_fit(), narrow_.shrink_to_fit(); }

 private:
  TraceVector<Wide> wide_;
  TraceVector<Narrow> narrow_;
  bool is_narrow_ = false;
};
using ForwardList = CommandList<ForwardCommand, NarrowForward>;
using SolveList = CommandList<SolveCommand, NarrowSolve>;
using TermList = CommandList<Term, NarrowTerm>;

// The part of a block the dense kernel recorded (dense_elimination.hpp), described so
// that evaluation can redo it as a dense LU (dense_block_evaluation.hpp) instead of
// replaying its ops: positions 0..size−1 are its vertices in elimination order, and
// `entries` say how to fill a size × (size + 1) matrix from value slots at the hand-over
// (row p, column q < size: the weight p → q; column size: p's leave weight; absent
// entries are 0). ops[first_op ..], forward[first_forward ..], solve[0 .. size) and
// their terms are the dense kernel's and compute the same thing; everything before
// them reads no value they define. size = 0: no dense part. Entries are sorted by
// (row, column), distinct, off the diagonal, and read slots < dot_count + first_op.
struct DenseEntry {
  std::uint32_t row, column, slot;
};
struct DenseTail {
  std::uint32_t size = 0;
  std::uint32_t first_op = 0;
  std::uint64_t first_forward = 0;
  TraceVector<std::uint32_t> order;  // position → local vertex
  TraceVector<DenseEntry> entries;
};

struct BlockTrace {
  std::uint32_t param_count = 0;
  std::uint32_t vertex_count = 0;
  std::uint32_t exit_count = 0;
  std::uint32_t dot_count = 0;
  TraceVector<double> dot_coeffs;  // dot_count × (P+1)
  OpList ops;
  // One form for all three (set_commands; code that assigns them one by one keeps
  // that): narrow exactly when they fit.
  ForwardList forward;
  SolveList solve;
  TermList terms;
  DenseTail dense;

  std::uint64_t value_count() const { return std::uint64_t(dot_count) + ops.size(); }
  std::uint64_t operations() const { return value_count(); }
  std::uint64_t commands() const { return forward.size() + solve.size() + terms.size(); }
  std::size_t bytes() const;
  // Whether commands of a block of this shape are stored narrow (see NarrowForward).
  static bool commands_fit_narrow(std::uint64_t y_size, std::uint64_t values, std::uint64_t term_count) {
    return y_size <= kNarrowCommandSlots && values <= kNarrowCommandSlots && term_count <= 0xffffffffULL;
  }
  // The commands, narrowed when they fit (vertex_count, exit_count, dot_count and ops
  // set first); already narrow ones (as read from disk: the caller has checked they fit).
  void set_commands(TraceVector<ForwardCommand>&& f, TraceVector<SolveCommand>&& s, TraceVector<Term>&& k);
  void set_commands(TraceVector<NarrowForward>&& f, TraceVector<NarrowSolve>&& s, TraceVector<NarrowTerm>&& k) {
    forward = ForwardList(std::move(f)), solve = SolveList(std::move(s)), terms = TermList(std::move(k));
  }
  bool commands_narrow() const { return forward.narrow(); }
  // f(const F* forward, const S* solve, const T* terms): the commands in their stored
  // form, either all wide or all narrow.
  template <class F>
  decltype(auto) visit_commands(F&& f) const {
    return commands_narrow() ? f(forward.narrow_data(), solve.narrow_data(), terms.narrow_data())
                             : f(forward.wide_data(), solve.wide_data(), terms.wide_data());
  }
};

// A trace on the heap, shared by caches and model traces; its object and control
// block are counted in Category::Traces too (allocate_shared with a counted allocator).
std::shared_ptr<const BlockTrace> share(BlockTrace&& trace);

// Working storage for record_block, shared by the blocks recorded on this thread while
// it lives (compose holds one): a block reuses the tables and rows the last one left
// instead of allocating and zeroing its own. It changes nothing in what is recorded.
// While it lives its memory is counted in Category::Subgraphs; storage beyond what
// typical blocks need is given back after each block. It is kept between compositions
// as a working storage of the memory layer (memory/kept.hpp: Reused), in
// Category::Workspace while kept. Scopes nest (the innermost is used); not copyable,
// and only the thread that made it may use it.
class RecordingScratch {
 public:
  RecordingScratch();
  ~RecordingScratch();
  RecordingScratch(const RecordingScratch&) = delete;
  RecordingScratch& operator=(const RecordingScratch&) = delete;
  struct Storage;

 private:
  // Made afresh, a composition's scratch cost ≈ 45 allocations and frees, 16 % of
  // the instructions composing two-locus n = 3 (decision 75).
  Reused<Storage, Category::Subgraphs> storage_;
  Reused<Storage, Category::Subgraphs>* previous_;
};

// Eliminates the block in elimination_order(block)'s order (the same rule, driven by
// the one symbolic pass that records; once the vertices left are dense_enough, the
// dense kernel continues with the same rule). Throws EngineError when a vertex
// of the block cannot reach an exit or absorption (its total rate is an empty sum),
// Cancelled when *cancel becomes true; either way nothing recorded survives.
BlockTrace record_block(const BlockInput& block, const std::atomic<bool>* cancel = nullptr);

}  // namespace phasic
