// Dense elimination: the rest of a block's elimination once its remaining vertices
// are mostly joined to each other, recorded straight into the trace's final form.
//
// Why: when a block fills in (structured n = 8 d = 5: the last few hundred vertices of
// a 495-state SCC end up all joined), almost every recorded operation is a fill update
// w_uz += m_u · w_vz. The sparse recorder spends ≈ 250 ns on each (a hash probe,
// a 16-byte raw op, sorted row merges and parent-list inserts, then liveness, levels
// and renumbering over every op), while the update itself is one op. Here the
// weights live in an r × r array of final slots and each op is appended to the trace
// with its final slot: nothing to look up, nothing to renumber.
//
// What is recorded is the sparse recorder's elimination (block_trace.hpp), step for
// step: the same Markowitz rule with the same tie-break (smallest local index), so the
// same order; the same pairwise λ sums, multipliers, fill updates and leave updates,
// each the same arithmetic on the same operands. Absent weights stay absent (no op
// touches a structural zero), so the op count is the sparse one's. The one difference
// is sharing: a value the sparse recorder would have found again (two parents whose
// weight to v is the same DOT get equal multipliers) is recorded twice here. In a
// filled-in block that happens only in its first steps; it costs a few ops, never a
// wrong value, and there is no table to pay for on every other op.
//
// Invariants: ops appended here are MulAdd and Inv only; each op's operands are earlier
// slots (weights, leave weights, the constants, or ops appended before it); every op
// appended is read by a later op or by a command (a multiplier by its forward command,
// an inverse by its step, a weight or leave weight by a later λ or update), so the
// trace keeps no dead values; steps come out in elimination order with their terms in
// ascending local target order; a forward command writes a vertex not yet eliminated
// and reads the one just eliminated.
#pragma once

#include <atomic>
#include <cstdint>

#include "trace/block_trace.hpp"

namespace phasic {

// One eliminated vertex: its λ's inverse and the terms of its solve command,
// terms[term_begin .. term_end).
struct EliminationStep {
  std::uint32_t vertex, inverse_rate;
  std::uint64_t term_begin, term_end;
};

// Whether r remaining vertices joined by `edges` internal edges go to the dense kernel:
// at least 32 of them, a tenth of all ordered pairs joined (a third above 4,096
// vertices). The kernel's own work beyond the ops is O(r²) (a scan per step), so what
// limits it is the r × r array (4 bytes a pair, ≤ 64 MiB below 4,096 vertices; above,
// no larger than the sparse rows, 12 bytes an edge with its parent entry) and the
// sharing it gives up (a higher threshold leaves more of the early, sparse steps, where
// equal values recur, to the sparse recorder). Measured on structured n = 8 d = 5
// (handing over at r = 374 of 495): a tenth took recording from ≈ 130 to ≈ 45 ms
// against a half (r = 263), for 7 % more ops than the sparse recorder's. Small blocks
// stay sparse: their cost is the per-block setup, which this does not change, and
// from 16 vertices on structured n = 6 d = 3 (28-state blocks) came out slower and
// 12 % longer.
bool dense_enough(std::uint64_t remaining, std::uint64_t edges);

// The remaining vertices' state when the sparse recorder hands over, in final slots.
struct DenseBlock {
  static constexpr std::uint32_t kAbsent = 0xffffffffu;
  std::uint32_t size = 0;                // r
  SubgraphVector<std::uint32_t> vertex;  // dense index → local vertex, ascending
  SubgraphVector<std::uint32_t> weight;  // r × r, row u column z: slot of w_uz or kAbsent; diagonal absent
  SubgraphVector<std::uint32_t> leave;   // slot of the leave weight or kAbsent
  // Working counts, kept here so a composition reuses their storage. pattern: the
  // weights' presence as r rows of ⌈r/64⌉ bit words (for counting the ops and choosing
  // the order); pattern_leave: whether each leave weight is present; pivots: the
  // vertex eliminated at each step; parents: each step's parents (ascending, then
  // kAbsent), so recording does not scan a column for them.
  SubgraphVector<std::uint32_t> in_count, out_count, children, partial, pivots, parents;
  SubgraphVector<std::uint64_t> pattern;
  SubgraphVector<std::uint8_t> pattern_leave, done;

  // Makes an r × r block with every weight and leave weight absent.
  void reset(std::uint32_t r);
  std::uint32_t& at(std::uint32_t u, std::uint32_t z) { return weight[std::size_t(u) * size + z]; }
};

struct DenseOutput {
  TraceVector<CompactOp>& ops;  // op i has slot dot_count + i
  // Where the ops go instead when every value of the block will fit a 16-bit slot
  // (known once the kernel has counted its ops): the ops recorded before it are moved
  // here in narrow form, `ops` is left empty, and `narrow` is set.
  TraceVector<NarrowOp>& narrow_ops;
  std::uint32_t dot_count;
  std::uint32_t zero, one;  // slots of the DOTs 0 and 1
  SubgraphVector<ForwardCommand>& forward;
  SubgraphVector<EliminationStep>& steps;
  SubgraphVector<Term>& terms;
  // When set, receives the hand-over matrix and the order (block_trace.hpp) if the
  // part is worth evaluating densely (dense_block_evaluation.hpp); else it is left empty.
  DenseTail* tail = nullptr;
  bool used_zero = false, used_one = false;  // set when an op read the constant
  bool narrow = false;
};

// Eliminates every vertex of `block` (which it consumes), appending ops (compact, or
// narrow when they fit, above), forward
// commands, steps and terms to `out`. Throws NeverAbsorbed(global[v]) for a vertex
// with no way out (as the sparse recorder would, for the same vertex), Cancelled when
// *cancel becomes true.
void eliminate_dense(DenseBlock& block, DenseOutput& out, const VertexId* global, const std::atomic<bool>* cancel);

}  // namespace phasic
