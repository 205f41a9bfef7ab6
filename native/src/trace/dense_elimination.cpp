// The dense recording kernel: Markowitz order by a scan of the counts, then per step
// λ, its inverse, and one row of updates per parent, each op appended with its slot.
#include "trace/dense_elimination.hpp"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "base/error.hpp"
#include "trace/dense_block_evaluation.hpp"

namespace phasic {

namespace {
constexpr std::uint64_t kMinDenseVertices = 32;
// Up to this size a tenth of the pairs suffices (the array is at most 64 MiB); beyond,
// a third, where the array is no larger than the sparse rows it replaces.
constexpr std::uint64_t kMaxSparseDenseVertices = 4096;

}  // namespace

bool dense_enough(std::uint64_t remaining, std::uint64_t edges) {
  if (remaining < kMinDenseVertices) return false;
  const std::uint64_t pairs = remaining * (remaining - 1);
  return remaining <= kMaxSparseDenseVertices ? 10 * edges >= pairs : 3 * edges >= pairs;
}

void DenseBlock::reset(std::uint32_t r) {
  size = r;
  vertex.resize(r);
  weight.assign(std::size_t(r) * r, kAbsent);
  leave.assign(r, kAbsent);
}

namespace {

// The Markowitz count of ordering.hpp; the scan visits vertices in ascending local
// index, so a strict < keeps the smallest index among equal counts, as the queue does.
std::uint32_t markowitz_choice(std::uint32_t r, const std::uint8_t* done, const std::uint32_t* in_count,
                               const std::uint32_t* out_count, const std::uint8_t* has_leave) {
  std::uint32_t v = DenseBlock::kAbsent;
  std::uint64_t best = ~std::uint64_t(0);
  for (std::uint32_t u = 0; u < r; ++u) {
    if (done[u]) continue;
    const std::uint64_t markowitz = std::uint64_t(in_count[u]) * (out_count[u] + has_leave[u]);
    if (markowitz < best) best = markowitz, v = u;
  }
  return v;
}

// How many ops `record` will append, so the trace's op vector is allocated once at its
// final size (a bound on the fill was twice the ops on structured n = 8 d = 5, and the
// trace's memory is priced by its capacity), and the Markowitz order record follows
// (block.pivots). It runs the elimination on the pattern alone, rows as bitsets: a
// parent's fill is then a few word operations rather than a pass over v's children,
// which made the count cost as much as recording. The pattern is the weights'
// presence step for step, so its counts and choices are the ones the elimination of
// the weights would make, and the count is exact. Throws NeverAbsorbed for the vertex
// record would throw it for.
std::uint64_t count_ops(DenseBlock& block, const VertexId* global, const std::atomic<bool>* cancel) {
  const std::uint32_t r = block.size;
  const std::size_t words = (std::size_t(r) + 63) / 64;
  SubgraphVector<std::uint64_t>& bits = block.pattern;  // row u: words [u·words, (u+1)·words)
  SubgraphVector<std::uint8_t>& has_leave = block.pattern_leave;
  bits.assign(std::size_t(r) * words, 0);
  has_leave.resize(r);
  block.in_count.assign(r, 0);
  block.out_count.assign(r, 0);
  block.done.assign(r, 0);
  block.pivots.resize(r);
  block.parents.clear();
  for (std::uint32_t u = 0; u < r; ++u) {
    for (std::uint32_t z = 0; z < r; ++z)
      if (block.at(u, z) != DenseBlock::kAbsent) {
        bits[u * words + z / 64] |= std::uint64_t(1) << (z % 64);
        ++block.out_count[u], ++block.in_count[z];
      }
    has_leave[u] = block.leave[u] != DenseBlock::kAbsent;
  }
  // The loop's stores may alias, as far as the compiler knows, the vectors it reads
  // through `block`; their data are held in locals instead (as in record).
  std::uint64_t* const rows = bits.data();
  std::uint8_t* const done = block.done.data();
  std::uint8_t* const leave = has_leave.data();
  std::uint32_t* const in_count = block.in_count.data();
  std::uint32_t* const out_count = block.out_count.data();
  std::uint64_t count = 0;
  for (std::uint32_t step = 0; step < r; ++step) {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    const std::uint32_t v = markowitz_choice(r, done, in_count, out_count, leave);
    done[v] = 1;
    block.pivots[step] = v;
    const std::uint64_t* vrow = rows + v * words;
    std::uint32_t children = 0;
    for (std::size_t w = 0; w < words; ++w) children += static_cast<std::uint32_t>(__builtin_popcountll(vrow[w]));
    if (children == 0 && !leave[v]) throw NeverAbsorbed(global[block.vertex[v]]);
    // λ_v: a sum of children + leave terms (one op fewer) and its inverse.
    count += children + leave[v];
    // v's parents are the in_count[v] rows still holding v, listed (ascending, then
    // kAbsent) for record; the scan stops at the last of them.
    const std::size_t listed = block.parents.size();
    block.parents.resize(listed + in_count[v] + 1);
    std::uint32_t* parent = block.parents.data() + listed;
    std::uint32_t* const last_parent = parent + in_count[v];
    const std::size_t v_word = v / 64;
    const std::uint64_t v_bit = std::uint64_t(1) << (v % 64);
    for (std::uint32_t u = 0; parent != last_parent; ++u) {
      if (u == r) throw InternalError("the dense kernel's counts named a parent that is not there");
      std::uint64_t* urow = rows + u * words;
      if (!(urow[v_word] & v_bit) || done[u]) continue;
      *parent++ = u;
      urow[v_word] &= ~v_bit;
      --out_count[u];
      const std::uint64_t u_bit = std::uint64_t(1) << (u % 64);
      const bool u_is_child = vrow[u / 64] & u_bit;
      // The multiplier, one update or fill per child but u, and the leave weight's update.
      count += 1 + children - u_is_child + leave[v];
      for (std::size_t w = 0; w < words; ++w) {
        std::uint64_t fill = vrow[w] & ~urow[w];
        if (w == u / 64) fill &= ~u_bit;
        if (fill == 0) continue;
        urow[w] |= fill;
        for (; fill != 0; fill &= fill - 1) {
          ++out_count[u];
          ++in_count[w * 64 + static_cast<std::uint32_t>(__builtin_ctzll(fill))];
        }
      }
      if (leave[v]) leave[u] = 1;
    }
    *parent = DenseBlock::kAbsent;
    for (std::size_t w = 0; w < words; ++w)
      for (std::uint64_t child = vrow[w]; child != 0; child &= child - 1)
        --in_count[w * 64 + static_cast<std::uint32_t>(__builtin_ctzll(child))];
  }
  return count;
}

// The elimination in count_ops's order (block.pivots) and with its lists of parents
// (block.parents), each op written with its final slot into [at, end): the storage
// count_ops's exact count sized. The order and the parents are given, so no counts
// are kept and no column is scanned here. Recording checks what it is given: a count
// that disagrees with the ops, a listed vertex that is not a parent, or a parent left
// out (its weight to the eliminated vertex would remain) is an InternalError, never a
// short or wrong trace.
//
// The loop's stores (each op, and the matrix's 32-bit slots) may alias, as far as the
// compiler knows, what it read through references (the output's slot count, constants
// and flags, the count vectors' data, the op vector's end), which were then read again
// after every op. It keeps them in locals instead: the next op's address and slot,
// the constants, which of them were read, and pointers to the matrix and the counts.
// The ops are the same.
//
// The ops are written in their stored form: compact (32-bit slots, an Inv as b =
// kCompactInv), or narrow (16-bit slots, an Inv as b = kNarrowInv) when the whole block
// fits, so a narrow block's ops are not written compact and copied afterwards.
template <class StoredOp>
void record(DenseBlock& block, StoredOp* at, StoredOp* const end, std::uint32_t next, DenseOutput& out,
            const VertexId* global, const std::atomic<bool>* cancel) {
  constexpr std::uint32_t kAbsent = DenseBlock::kAbsent;
  constexpr auto kMulAdd = OpCode::MulAdd;
  const std::uint32_t r = block.size;
  const std::uint32_t zero = out.zero, one = out.one;
  bool used_zero = false, used_one = false;
  // Room for the next n ops, asked once per λ and once per parent, not per op.
  auto room = [&](std::size_t n) {
    if (std::size_t(end - at) < n) throw InternalError("the dense kernel recorded more ops than it counted");
  };
  auto emit = [&](OpCode code, std::uint32_t a, std::uint32_t b, std::uint32_t c) -> std::uint32_t {
    if constexpr (std::is_same_v<StoredOp, NarrowOp>)
      *at++ = narrow_op(code, a, b, c);
    else
      *at++ = compact_op(code, a, b, c);
    return next++;
  };
  // The sparse recorder's canonical forms: a·b as 0 + min·max, a + b as a + b·1 with
  // the smaller slot first. The arithmetic is the same either way; keeping the forms
  // keeps a dense trace comparable op by op with a sparse one. In a product or an
  // update the order is known without comparing: a slot is older than every op after
  // it, so the weights a step reads (w_uv, w_vz, the leave weight) come before its
  // inverse and each multiplier.
  auto product = [&](std::uint32_t older, std::uint32_t newer) {
    used_zero = true;
    return emit(kMulAdd, zero, older, newer);
  };
  auto update = [&](std::uint32_t w, std::uint32_t older, std::uint32_t newer) {
    return emit(kMulAdd, w, older, newer);
  };
  auto add = [&](std::uint32_t a, std::uint32_t b) {
    used_one = true;
    if (a > b) std::swap(a, b);
    return emit(kMulAdd, a, std::min(b, one), std::max(b, one));
  };

  block.done.assign(r, 0);
  SubgraphVector<std::uint32_t>& children = block.children;
  SubgraphVector<std::uint32_t>& partial = block.partial;
  partial.reserve(r + 1);
  std::uint32_t* const weight = block.weight.data();
  std::uint32_t* const leave = block.leave.data();
  const std::uint8_t* const done = block.done.data();
  const std::uint32_t* parent = block.parents.data();

  for (std::uint32_t step = 0; step < r; ++step) {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    const std::uint32_t v = block.pivots[step];
    block.done[v] = 1;
    const std::uint32_t* vrow = weight + std::size_t(v) * r;
    children.clear();
    for (std::uint32_t z = 0; z < r; ++z)
      if (vrow[z] != kAbsent) {
        // A weight to an eliminated vertex would be a parent that count_ops did not list.
        if (done[z]) throw InternalError("the dense kernel's pattern lost a parent");
        children.push_back(z);
      }
    const std::uint32_t leave_v = leave[v];
    if (children.empty() && leave_v == kAbsent) throw NeverAbsorbed(global[block.vertex[v]]);

    // λ_v summed pairwise over the row in target order, then the leave weight.
    room(children.size() + 1);
    partial.clear();
    for (const std::uint32_t z : children) partial.push_back(vrow[z]);
    if (leave_v != kAbsent) partial.push_back(leave_v);
    while (partial.size() > 1) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i + 1 < partial.size(); i += 2) partial[kept++] = add(partial[i], partial[i + 1]);
      if (partial.size() % 2) partial[kept++] = partial.back();
      partial.resize(kept);
    }
    const std::uint32_t inverse = emit(OpCode::Inv, partial[0], 0, 0);
    EliminationStep s{block.vertex[v], inverse, out.terms.size(), 0};
    for (const std::uint32_t z : children) out.terms.push_back({block.vertex[z], vrow[z]});
    s.term_end = out.terms.size();
    out.steps.push_back(s);

    const std::uint32_t* const first_child = children.data();
    const std::uint32_t* const last_child = first_child + children.size();
    for (; *parent != kAbsent; ++parent) {
      const std::uint32_t u = *parent;
      std::uint32_t* const urow = weight + std::size_t(u) * r;
      if (urow[v] == kAbsent) throw InternalError("the dense kernel's pattern named a vertex that is not a parent");
      room(children.size() + 2);
      const std::uint32_t m = product(urow[v], inverse);
      out.forward.push_back({block.vertex[u], block.vertex[v], m});
      urow[v] = kAbsent;
      // w_uz += m·w_vz over v's children; the loop m·w_vu is dropped.
      for (const std::uint32_t* child = first_child; child != last_child; ++child) {
        const std::uint32_t z = *child;
        if (z == u) continue;
        const std::uint32_t w = urow[z];
        urow[z] = w == kAbsent ? product(vrow[z], m) : update(w, vrow[z], m);
      }
      if (leave_v != kAbsent) leave[u] = leave[u] == kAbsent ? product(leave_v, m) : update(leave[u], leave_v, m);
    }
    ++parent;
  }
  if (at != end) throw InternalError("the dense kernel recorded fewer ops than it counted");
  out.used_zero = used_zero;
  out.used_one = used_one;
}

// The hand-over matrix in dense indices, before the elimination consumes it; positions
// are known once the steps are recorded (describe_order).
void describe_matrix(const DenseBlock& block, DenseTail& tail) {
  const std::uint32_t r = block.size;
  tail.size = r;
  tail.entries.clear();
  for (std::uint32_t u = 0; u < r; ++u) {
    for (std::uint32_t z = 0; z < r; ++z)
      if (const std::uint32_t w = block.weight[std::size_t(u) * r + z]; w != DenseBlock::kAbsent)
        tail.entries.push_back({u, z, w});
    if (block.leave[u] != DenseBlock::kAbsent) tail.entries.push_back({u, r, block.leave[u]});
  }
}

// Dense indices to positions (elimination order), entries sorted by (row, column).
// The elimination has consumed the matrix and the leave weights, so their storage
// takes each entry at its (row, column) in positions, and one pass in that order
// lists them sorted: the pairs are distinct, so this is the order a sort would give,
// at O(r²) instead of a comparison sort of the entries.
void describe_order(DenseBlock& block, const EliminationStep* steps, DenseTail& tail) {
  constexpr std::uint32_t kAbsent = DenseBlock::kAbsent;
  const std::uint32_t r = block.size;
  tail.order.resize(r);
  SubgraphVector<std::uint32_t> position(r);
  for (std::uint32_t p = 0; p < r; ++p) {
    tail.order[p] = steps[p].vertex;
    // block.vertex is ascending: the dense index of a local vertex by bisection.
    const auto it = std::lower_bound(block.vertex.begin(), block.vertex.end(), steps[p].vertex);
    position[std::size_t(it - block.vertex.begin())] = p;
  }
  std::fill(block.weight.begin(), block.weight.end(), kAbsent);
  std::fill(block.leave.begin(), block.leave.end(), kAbsent);
  for (const DenseEntry& e : tail.entries) {
    const std::uint32_t row = position[e.row];
    if (e.column < r)
      block.at(row, position[e.column]) = e.slot;
    else
      block.leave[row] = e.slot;
  }
  std::size_t at = 0;
  for (std::uint32_t row = 0; row < r; ++row) {
    for (std::uint32_t column = 0; column < r; ++column)
      if (const std::uint32_t w = block.at(row, column); w != kAbsent) tail.entries[at++] = {row, column, w};
    if (block.leave[row] != kAbsent) tail.entries[at++] = {row, r, block.leave[row]};
  }
}

}  // namespace

void eliminate_dense(DenseBlock& block, DenseOutput& out, const VertexId* global, const std::atomic<bool>* cancel) {
  const std::uint64_t count = count_ops(block, global, cancel);
  // Only a part that evaluation will factor densely is described (the rest would be
  // trace memory for nothing).
  const bool describe = out.tail && worth_dense_evaluation(block.size, count);
  if (describe) describe_matrix(block, *out.tail);
  const std::uint64_t values = std::uint64_t(out.dot_count) + out.ops.size() + count;
  if (values >= 0xfffffffeu) throw EngineError("a block's trace needs more than 2^32 values");
  out.used_zero = out.used_one = false;
  const std::size_t first_step = out.steps.size();
  // Every op before the kernel's is MulAdd or Inv (the sparse recorder emits nothing
  // else), so the count alone says whether the block's ops will be narrow.
  out.narrow = values <= kNarrowValues;
  const std::size_t before = out.ops.size();
  const auto first_slot = static_cast<std::uint32_t>(out.dot_count + before);
  if (out.narrow) {
    out.narrow_ops.reserve(before + count);
    out.narrow_ops.resize(before + count);
    for (std::size_t i = 0; i < before; ++i) {
      const CompactOp& op = out.ops[i];
      out.narrow_ops[i] = narrow_op(code_of(op), op.a, op.b, op.c);
    }
    TraceVector<CompactOp>().swap(out.ops);
    NarrowOp* const ops = out.narrow_ops.data();
    record(block, ops + before, ops + before + count, first_slot, out, global, cancel);
  } else {
    // A buffer of 2 MB or more is a mapping of its own in huge pages (allocate_large,
    // memory/accounting.hpp): tens of MB of fresh ops fault in per 2 MB, not per 4 KB.
    out.ops.reserve(before + count);
    out.ops.resize(before + count);
    CompactOp* const ops = out.ops.data();
    record(block, ops + before, ops + before + count, first_slot, out, global, cancel);
  }
  if (describe) describe_order(block, out.steps.data() + first_step, *out.tail);
}

}  // namespace phasic
