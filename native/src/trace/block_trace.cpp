// Records a block's trace: elimination in the chosen order on a working copy of the
// block whose edge weights are value slots, with every arithmetic step emitted into
// the program (hash-consed), then dead values dropped and slots renumbered with DOTs
// first. When the vertices left fill in, the program so far is numbered with their
// weights as live roots and the dense kernel (dense_elimination.hpp) appends the
// rest in final slots; its commands follow the sparse ones.
#include "trace/block_trace.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>

#include "base/error.hpp"
#include "trace/dense_elimination.hpp"
#include "trace/ordering.hpp"

namespace phasic {
namespace {

constexpr std::uint8_t kDot = 0;  // raw code of a DOT; its operand a is the DOT's ordinal

struct RawOp {
  std::uint8_t code;
  std::uint32_t a, b, c;
};

// The program under construction, with structural sharing of equal values.
//
// DOTs (the block's edge forms) are shared exactly: a form such as "coal" recurs all
// over a block and a composition. Arithmetic values are shared through a
// direct-mapped table of the values recorded last: a new value replaces whatever its
// hash index held. Elimination repeats a value shortly after its first occurrence
// (measured on the benchmark models: every repeat within the last 65,536 values), so
// a table of at most kMaxTable entries finds nearly all of them while staying in
// cache; a table of every value (2× the trace, hundreds of MB on large blocks) spent
// most of recording on cache misses and page faults. A repeat whose entry was
// overwritten is recorded again: the trace is a little longer, never wrong (a hit
// requires the whole operation to be equal). An acyclic block's values (sums of DOTs
// and their inverses) repeat anywhere in the block, so in exact mode every one is
// shared: sums through a table of their operand pairs, inverses by their operand's
// slot (exact_pairwise, exact_inverse; see record_in).
class Program {
 public:
  // Starts the program of a new block, keeping the storage of the last one.
  // expected_values sizes the table for a typical block without charging a
  // one-vertex block for a large table.
  // exact: share every repeated sum and inverse (see record_in: for acyclic blocks)
  // instead of going through the direct-mapped table.
  void reset(std::uint32_t stride, std::size_t expected_values, bool exact) {
    // Entries of earlier blocks are told apart by their block number, so the table is
    // never cleared between blocks (clearing it cost a hash of every value the last
    // block appended); it is when the 16-bit number comes round again.
    if (++block_ == 0) {
      std::fill(table_.begin(), table_.end(), Entry{});
      block_ = 1;
    }
    exact_ = exact;
    stride_ = stride;
    zero_ = one_ = kNone;
    raw_.clear();
    dot_coeffs_.clear();
    dot_slots_.clear();
    dot_table_.assign(64, 0);
    raw_.reserve(expected_values);
    if (exact_) {
      sums_.assign(64, Sum{});
      sum_count_ = 0;
      inverse_of_.clear();
      return;
    }
    std::size_t size = 64;
    while (size < 2 * expected_values && size < kMaxTable) size *= 2;
    if (table_.size() < size) table_.resize(size);
    mask_ = size - 1;
  }

  // Gives back storage a block far larger than usual left behind, so one large block
  // does not keep its working memory for the rest of a composition.
  void trim(std::size_t keep_values) {
    if (sums_.capacity() > 2 * keep_values) SubgraphVector<Sum>().swap(sums_);
    if (inverse_of_.capacity() > keep_values) SubgraphVector<std::uint32_t>().swap(inverse_of_);
    if (raw_.capacity() <= keep_values) return;
    SubgraphVector<RawOp>().swap(raw_);
    if (table_.size() > 2 * keep_values) SubgraphVector<Entry>().swap(table_), mask_ = 0;
  }

  std::uint32_t dot(const double* form) { return dot_of<0>(form); }

  // dot() for forms of N coefficients, N = stride, known when compiled (0: read at run
  // time). A block looks up one form per edge, and most are already DOTs: compiled for
  // N and inlined, a found DOT is a few loads and compares, where the call, the hash's
  // loop over a run-time length and the comparison's dispatch on it were ≈ 90
  // instructions (2/3 of them overhead) on SFS.
  template <std::uint32_t N>
  [[gnu::always_inline]] std::uint32_t dot_of(const double* form) {
    const std::size_t mask = dot_table_.size() - 1;
    const std::uint32_t* table = dot_table_.data();
    std::size_t i = form_hash<N>(form) & mask;
    for (std::uint32_t entry; (entry = table[i]) != 0; i = (i + 1) & mask) {
      if constexpr (N == 0) {
        if (same_form(coeffs(raw_[entry - 1].a), form, stride_)) return entry - 1;
      } else if (same_bits<N>(dot_coeffs_.data() + std::size_t(raw_[entry - 1].a) * N, form)) {
        return entry - 1;
      }
    }
    return new_dot(form, i);
  }

  // A form that is not a DOT yet, at its free place i in the table.
  [[gnu::noinline]] std::uint32_t new_dot(const double* form, std::size_t i) {
    const auto ordinal = static_cast<std::uint32_t>(dot_slots_.size());
    const std::uint32_t slot = append(RawOp{kDot, ordinal, 0, 0});
    dot_coeffs_.insert(dot_coeffs_.end(), form, form + stride_);
    dot_slots_.push_back(slot);
    dot_table_[i] = slot + 1;
    if (2 * dot_slots_.size() >= dot_table_.size()) grow_dots();
    return slot;
  }

  std::uint32_t op(OpCode code, std::uint32_t a, std::uint32_t b = 0, std::uint32_t c = 0) {
    if (exact_) {
      if (code == OpCode::Inv) return exact_inverse(a);
      throw InternalError("an acyclic block records only sums (pairwise_sum) and inverses");
    }
    // Commutative operands in a canonical order, so a·b and b·a are one value.
    if (code == OpCode::Add || code == OpCode::Mul) {
      if (a > b) std::swap(a, b);
    }
    // a + b is emitted as a + b·1 and a·b as 0 + a·b (both exact), so the program is
    // MulAdd and Inv only and replay does not branch on the op code.
    if (code == OpCode::Add) {
      code = OpCode::MulAdd, c = constant(1.0);
    } else if (code == OpCode::Mul) {
      code = OpCode::MulAdd, c = b, b = a, a = constant(0.0);
    }
    if (code == OpCode::MulAdd && b > c) std::swap(b, c);
    const RawOp want{static_cast<std::uint8_t>(code), a, b, c};
    Entry& entry = table_[hash(want) & mask_];
    if (entry.block == block_ && entry.code == want.code && entry.a == a && entry.b == b && entry.c == c)
      return entry.slot;
    const std::uint32_t slot = append_inline(want);
    entry = {want.code, block_, a, b, c, slot};
    return slot;
  }

  // Σ term[0 .. size), summed pairwise in place (term is overwritten): depth
  // log(terms) instead of a chain, so replay overlaps the additions and rounding grows
  // with log rather than length.
  std::uint32_t pairwise_sum(std::uint32_t* term, std::size_t size) {
    if (exact_) return exact_pairwise(term, size);
    while (size > 1) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i + 1 < size; i += 2) term[kept++] = op(OpCode::Add, term[i], term[i + 1]);
      if (size % 2) term[kept++] = term[size - 1];
      size = kept;
    }
    return term[0];
  }

  // An acyclic block's values are sums and inverses only, shared exactly. A sum is
  // found by its two operands alone, one 64-bit key held in the table, and an inverse
  // by its operand's slot, with no hash: a sum is looked up once per edge and nearly
  // always found (94 % on SFS n = 30), and probing with op()'s three-operand key,
  // compared through raw_, cost ≈ 53 instructions a sum, a fifth of SFS's composition
  // (≈ 29 now, ≈ 21 a sum found). The key determines the op op() would record
  // (a + b is MulAdd(a, b, 1), b and 1 ordered), so the ops and their order are the
  // same. The table's address and mask stay in registers, read again only after an
  // insertion.
  std::uint32_t exact_pairwise(std::uint32_t* term, std::size_t size) {
    const Sum* table = sums_.data();
    std::size_t mask = sums_.size() - 1;
    while (size > 1) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i + 1 < size; i += 2) {
        std::uint32_t a = term[i], b = term[i + 1];
        if (a > b) std::swap(a, b);
        const std::uint64_t key = std::uint64_t(a) << 32 | b;
        std::size_t j = sum_hash(key) & mask;
        while (table[j].key != key && table[j].key != kNoSum) j = (j + 1) & mask;
        if (table[j].key == key) {
          term[kept++] = table[j].slot;
        } else {
          term[kept++] = new_sum(key, j);
          table = sums_.data(), mask = sums_.size() - 1;
        }
      }
      if (size % 2) term[kept++] = term[size - 1];
      size = kept;
    }
    return term[0];
  }

  [[gnu::noinline]] std::uint32_t new_sum(std::uint64_t key, std::size_t i) {
    std::uint32_t b = static_cast<std::uint32_t>(key), c = constant(1.0);
    if (b > c) std::swap(b, c);
    const std::uint32_t slot = append(RawOp{static_cast<std::uint8_t>(OpCode::MulAdd), std::uint32_t(key >> 32), b, c});
    sums_[i] = {key, slot};
    if (2 * ++sum_count_ >= sums_.size()) {
      SubgraphVector<Sum> bigger(sums_.size() * 2);
      const std::size_t mask = bigger.size() - 1;
      for (const Sum& e : sums_) {
        if (e.key == kNoSum) continue;
        std::size_t j = sum_hash(e.key) & mask;
        while (bigger[j].key != kNoSum) j = (j + 1) & mask;
        bigger[j] = e;
      }
      sums_.swap(bigger);
    }
    return slot;
  }

  std::uint32_t exact_inverse(std::uint32_t a) {
    if (a >= inverse_of_.size()) inverse_of_.resize(raw_.size(), kNone);
    std::uint32_t& inverse = inverse_of_[a];
    if (inverse == kNone) inverse = append(RawOp{static_cast<std::uint8_t>(OpCode::Inv), a, 0, 0});
    return inverse;
  }

  // The DOT of a constant, 0 or 1 (a product is 0 + a·b, a sum a + b·1): looked up once
  // per block, inline after that.
  std::uint32_t constant(double value) {
    const std::uint32_t slot = value == 0.0 ? zero_ : one_;
    return slot != kNone ? slot : new_constant(value);
  }

  [[gnu::noinline]] std::uint32_t new_constant(double value) {
    constant_form_.assign(stride_, 0.0);
    constant_form_[0] = value;
    return (value == 0.0 ? zero_ : one_) = dot(constant_form_.data());
  }

  const SubgraphVector<RawOp>& raw() const { return raw_; }
  const double* coeffs(std::uint32_t ordinal) const { return dot_coeffs_.data() + std::size_t(ordinal) * stride_; }

 private:
  template <std::uint32_t N = 0>
  std::uint64_t form_hash(const double* form) const {
    // Each coefficient's bits go through a 64 × 64 → 128-bit product whose halves are
    // folded together, so its high bits (where coefficients such as 3.0 and 28.0
    // differ) reach the low bits the table indexes by. Which DOT a form gets does not
    // depend on this hash, only how far a lookup probes: the table compares whole forms.
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (std::uint32_t i = 0; i < (N ? N : stride_); ++i) {
      std::uint64_t bits;
      std::memcpy(&bits, form + i, sizeof bits);
      const unsigned __int128 p = static_cast<unsigned __int128>(bits ^ h) * 0xff51afd7ed558ccdULL;
      h = static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
    }
    return h;
  }

  static std::uint64_t sum_hash(std::uint64_t key) {
    const std::uint64_t h = key * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 32);
  }

  std::uint64_t hash(const RawOp& r) const {
    // One multiply per operand (this runs once per recorded operation); the fold
    // brings the products' well-mixed high bits down to the index bits.
    const std::uint64_t h = std::uint64_t(r.a) * 0x9e3779b97f4a7c15ULL ^ std::uint64_t(r.b) * 0xc2b2ae3d27d4eb4fULL ^
                            (std::uint64_t(r.c) << 8 | r.code) * 0x165667b19e3779f9ULL;
    return h ^ (h >> 29) ^ (h >> 43);
  }

  std::uint32_t append(const RawOp& op) {
    const auto slot = static_cast<std::uint32_t>(raw_.size());
    if (slot == 0xfffffffeu) throw EngineError("a block's trace needs more than 2^32 values");
    raw_.push_back(op);
    return slot;
  }

  // append() for the direct-mapped path (op), which runs once per value recorded in a
  // block with a cycle: the store inlined, growth and the limit's error left to
  // append(), whose saved and restored registers were ≈ 30 instructions a value on
  // two-locus n = 6 (decision 107).
  [[gnu::always_inline]] std::uint32_t append_inline(const RawOp& op) {
    const auto slot = static_cast<std::uint32_t>(raw_.size());
    if (slot == 0xfffffffeu || raw_.size() == raw_.capacity()) [[unlikely]]
      return append(op);
    raw_.push_back(op);
    return slot;
  }

  void grow_dots() {
    SubgraphVector<std::uint32_t> bigger(dot_table_.size() * 2);
    const std::size_t mask = bigger.size() - 1;
    for (std::uint32_t ordinal = 0; ordinal < dot_slots_.size(); ++ordinal) {
      std::size_t i = form_hash(coeffs(ordinal)) & mask;
      while (bigger[i] != 0) i = (i + 1) & mask;
      bigger[i] = dot_slots_[ordinal] + 1;
    }
    dot_table_.swap(bigger);
  }

  static constexpr std::size_t kMaxTable = std::size_t(1) << 18;
  static constexpr std::uint32_t kNone = 0xffffffffu;
  std::uint32_t stride_ = 1;
  bool exact_ = false;
  // Exact mode: open addressing over sums by key (lower slot << 32 | higher slot).
  struct Sum {
    std::uint64_t key = kNoSum;
    std::uint32_t slot = 0;
  };
  static constexpr std::uint64_t kNoSum = ~std::uint64_t(0);  // no value has slot kNone
  SubgraphVector<Sum> sums_;
  std::size_t sum_count_ = 0;
  SubgraphVector<std::uint32_t> inverse_of_;  // by slot: its inverse's slot, kNone if none yet
  std::size_t mask_ = 0;                      // the block's table is table_[0 .. mask_]
  std::uint16_t block_ = 0;                   // the current block's number in table_
  std::uint32_t zero_ = kNone, one_ = kNone;
  SubgraphVector<RawOp> raw_;
  SubgraphVector<double> dot_coeffs_;
  SubgraphVector<std::uint32_t> dot_slots_;  // by DOT ordinal
  SubgraphVector<std::uint32_t> dot_table_;  // open addressing over DOTs: slot + 1, 0 = empty
  SubgraphVector<double> constant_form_;     // the form constant() looks up
  // Direct-mapped; each entry holds its key, so a probe reads no other memory, and the
  // number of the block that wrote it (in RawOp's padding: 20 bytes, as without it).
  // An entry of another block number is empty.
  struct Entry {
    std::uint8_t code = 0;
    std::uint16_t block = 0;
    std::uint32_t a = 0, b = 0, c = 0;
    std::uint32_t slot = 0;
  };
  static_assert(sizeof(Entry) == 20);
  SubgraphVector<Entry> table_;
};

struct Edge {
  std::uint32_t target, slot;
};
using Row = SubgraphVector<Edge>;
using Parents = SubgraphVector<std::uint32_t>;

constexpr std::uint32_t kNoSlot = 0xffffffffu;

using RawSolve = EliminationStep;

// Bounds on what the scratch keeps between blocks: enough for the blocks of typical
// models, so one huge block does not hold its working memory for the whole run.
constexpr std::size_t kKeepValues = std::size_t(1) << 16;
constexpr std::size_t kKeepRows = 4096;
constexpr std::size_t kKeepRowEntries = 64;

template <class V>
void trim(V& v, std::size_t keep) {
  if (v.capacity() > keep) V().swap(v);
}

}  // namespace

// Everything record_block works in, kept between the blocks of one composition: a
// small block's own work is a few microseconds, and setting up its tables and rows
// afresh (dozens of allocations and a zeroed table per block) cost as much again.
struct RecordingScratch::Storage {
  Program program;
  SubgraphVector<std::uint32_t> partial, leave, renumber, level, level_begin, schedule;
  SubgraphVector<std::uint32_t> acyclic, acyclic_parents, acyclic_ready;
  SubgraphVector<ForwardCommand> forward;
  SubgraphVector<RawSolve> solves;
  SubgraphVector<Term> terms;
  SubgraphVector<Edge> internal;
  SubgraphVector<std::uint64_t> internal_end;
  SubgraphVector<Row> out;
  SubgraphVector<Parents> in;
  SubgraphVector<std::uint32_t> in_degree;
  Row merged;
  EliminationQueue queue{0};
  DenseBlock dense;
  SubgraphVector<std::uint32_t> dense_index;

  void trim_after_block() {
    program.trim(kKeepValues);
    for (auto* v : {&partial, &leave, &renumber, &level, &level_begin, &schedule, &acyclic, &acyclic_parents,
                    &acyclic_ready, &in_degree})
      trim(*v, kKeepValues);
    trim(forward, kKeepValues);
    trim(solves, kKeepValues);
    trim(terms, kKeepValues);
    trim(internal, kKeepValues);
    trim(internal_end, kKeepValues);
    trim(merged, kKeepValues);
    for (auto* v : {&dense.vertex, &dense.weight, &dense.leave, &dense.in_count, &dense.out_count, &dense.children,
                    &dense.partial, &dense.pivots, &dense.parents, &dense_index})
      trim(*v, kKeepValues);
    trim(dense.pattern, kKeepValues);
    trim(dense.pattern_leave, kKeepValues);
    trim(dense.done, kKeepValues);
    if (out.size() > kKeepRows) SubgraphVector<Row>().swap(out);
    if (in.size() > kKeepRows) SubgraphVector<Parents>().swap(in);
    queue.trim(kKeepValues);
  }
};

namespace {
thread_local Reused<RecordingScratch::Storage, Category::Subgraphs>* active_scratch = nullptr;
}  // namespace

RecordingScratch::RecordingScratch() : previous_(active_scratch) { active_scratch = &storage_; }

RecordingScratch::~RecordingScratch() { active_scratch = previous_; }

OpList::OpList(TraceVector<Op>&& ops, std::uint32_t dot_count) {
  const bool recordable = std::all_of(ops.begin(), ops.end(),
                                      [](const Op& op) { return op.code == OpCode::MulAdd || op.code == OpCode::Inv; });
  if (!recordable) {
    wide_ = std::move(ops);
    return;
  }
  if (std::uint64_t(dot_count) + ops.size() <= kNarrowValues) {
    narrow_.resize(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) narrow_[i] = narrow_op(ops[i].code, ops[i].a, ops[i].b, ops[i].c);
    form_ = OpForm::Narrow;
  } else {
    compact_.resize(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) compact_[i] = compact_op(ops[i].code, ops[i].a, ops[i].b, ops[i].c);
    form_ = OpForm::Compact;
  }
}

std::size_t BlockTrace::bytes() const {
  return held_bytes(dot_coeffs) + ops.bytes() + forward.bytes() + solve.bytes() + terms.bytes() +
         held_bytes(dense.order) + held_bytes(dense.entries);
}

void BlockTrace::set_commands(TraceVector<ForwardCommand>&& f, TraceVector<SolveCommand>&& s, TraceVector<Term>&& k) {
  if (!commands_fit_narrow(std::uint64_t(vertex_count) + exit_count, value_count(), k.size())) {
    forward = ForwardList(std::move(f)), solve = SolveList(std::move(s)), terms = TermList(std::move(k));
    return;
  }
  TraceVector<NarrowForward> nf(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) nf[i] = narrowed(f[i]);
  TraceVector<NarrowSolve> ns(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) ns[i] = narrowed(s[i]);
  TraceVector<NarrowTerm> nk(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) nk[i] = narrowed(k[i]);
  // The wide ones freed now, not when the caller's vectors go out of scope.
  TraceVector<ForwardCommand>().swap(f), TraceVector<SolveCommand>().swap(s), TraceVector<Term>().swap(k);
  set_commands(std::move(nf), std::move(ns), std::move(nk));
}

std::shared_ptr<const BlockTrace> share(BlockTrace&& trace) {
  return std::allocate_shared<const BlockTrace>(CountedAllocator<BlockTrace, Category::Traces>(), std::move(trace));
}

namespace {
BlockTrace record_in(const BlockInput& b, RecordingScratch::Storage& scratch, const std::atomic<bool>* cancel);
}  // namespace

BlockTrace record_block(const BlockInput& b, const std::atomic<bool>* cancel) {
  if (active_scratch) {
    Reused<RecordingScratch::Storage, Category::Subgraphs>& scratch = *active_scratch;
    // The scratch is lent to this block only (a provider could record from inside).
    active_scratch = nullptr;
    struct Restore {
      Reused<RecordingScratch::Storage, Category::Subgraphs>* s;
      ~Restore() { active_scratch = s; }
    } restore{&scratch};
    const Tally::Scope open(scratch.tally());
    BlockTrace t = record_in(b, *scratch, cancel);
    (*scratch).trim_after_block();
    return t;
  }
  Tally local_tally(Category::Subgraphs);
  const Tally::Scope open(local_tally);
  RecordingScratch::Storage local;
  return record_in(b, local, cancel);
}

namespace {
// Removes DOT `slot` from a finished trace, every later slot moving down by one. Only
// for a constant the dense kernel was given but did not read, which a block that fills
// in practically never leaves: correctness, not speed.
// The ops are in one of the two vectors (the other is empty).
void drop_dot(BlockTrace& t, TraceVector<CompactOp>& compact_ops, TraceVector<NarrowOp>& narrow_ops,
              TraceVector<ForwardCommand>& forward, TraceVector<SolveCommand>& solve, TraceVector<Term>& terms,
              std::uint32_t slot) {
  auto move = [&](auto& s) { s -= s > slot; };
  const std::uint32_t stride = t.param_count + 1;
  t.dot_coeffs.erase(t.dot_coeffs.begin() + std::ptrdiff_t(slot) * stride,
                     t.dot_coeffs.begin() + std::ptrdiff_t(slot + 1) * stride);
  --t.dot_count;
  for (CompactOp& op : compact_ops) {
    move(op.a);
    if (op.b != kCompactInv) move(op.b), move(op.c);
  }
  for (NarrowOp& op : narrow_ops) {
    move(op.a);
    if (op.b != kNarrowInv) move(op.b), move(op.c);
  }
  for (ForwardCommand& f : forward) move(f.multiplier);
  for (SolveCommand& s : solve) move(s.inverse_rate);
  for (Term& term : terms) move(term.weight);
  for (DenseEntry& e : t.dense.entries) move(e.slot);
}

// record_in's steps (reading the edges, then eliminate_acyclic or eliminate_cyclic, then
// write_trace) are separate functions kept out of line: in one function of their joint
// size GCC called the scratch vectors' push_back out of line, and which calls it inlined
// moved with unrelated edits; each step on its own gets them inlined (decision 114).
// Each edge's DOT (forms of N coefficients; 0: the block's stride), internal edges into
// scratch.internal, each vertex's leave weight, and a forward command per exit inflow.
template <std::uint32_t N>
[[gnu::noinline]] void read_edges(const BlockInput& b, RecordingScratch::Storage& scratch) {
  const std::uint32_t n = b.vertex_count;
  const std::uint32_t absorb = b.absorb_target();
  Program& program = scratch.program;
  SubgraphVector<std::uint32_t>& partial = scratch.partial;
  SubgraphVector<std::uint32_t>& leave = scratch.leave;
  SubgraphVector<ForwardCommand>& forward = scratch.forward;
  SubgraphVector<Edge>& internal = scratch.internal;
  SubgraphVector<std::uint64_t>& internal_end = scratch.internal_end;
  for (std::uint32_t u = 0; u < n; ++u) {
    partial.clear();
    std::uint64_t k = b.edge_begin[u];
    for (std::uint64_t e = b.edge_begin[u]; e < b.edge_begin[u + 1]; ++e) {
      const std::uint32_t t = b.edge_target[e];
      const std::uint32_t w = program.dot_of<N>(b.form(e));
      if (t < n) {
        internal[k++] = {t, w};
        continue;
      }
      partial.push_back(w);
      // Inflow from an exit, whose x is final: r_u += w_ue · x_e before elimination.
      if (t != absorb) forward.push_back({u, t, w});
    }
    internal_end[u] = k;
    if (!partial.empty()) leave[u] = program.pairwise_sum(partial.data(), partial.size());
  }
}

// An acyclic block, in scratch.acyclic's order from the rows record_in read: each vertex
// is eliminated when it has no parents left, so no step updates another vertex and each
// is λ, its inverse and its terms.
[[gnu::noinline]] void eliminate_acyclic(const BlockInput& b, RecordingScratch::Storage& scratch,
                                         const std::atomic<bool>* cancel) {
  Program& program = scratch.program;
  SubgraphVector<std::uint32_t>& partial = scratch.partial;
  const SubgraphVector<std::uint32_t>& acyclic = scratch.acyclic;
  const SubgraphVector<std::uint32_t>& leave = scratch.leave;
  const SubgraphVector<Edge>& internal = scratch.internal;
  const SubgraphVector<std::uint64_t>& internal_end = scratch.internal_end;
  SubgraphVector<RawSolve>& solves = scratch.solves;
  SubgraphVector<Term>& terms = scratch.terms;
  for (std::uint32_t i = 0; i < acyclic.size(); ++i) {
    if ((i & 1023) == 0 && cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    const std::uint32_t v = acyclic[i];
    partial.clear();
    for (std::uint64_t k = b.edge_begin[v]; k < internal_end[v]; ++k) partial.push_back(internal[k].slot);
    if (leave[v] != kNoSlot) partial.push_back(leave[v]);
    const std::uint32_t inverse = program.op(OpCode::Inv, program.pairwise_sum(partial.data(), partial.size()));
    RawSolve s{v, inverse, terms.size(), 0};
    for (std::uint64_t k = b.edge_begin[v]; k < internal_end[v]; ++k)
      terms.push_back({internal[k].target, internal[k].slot});
    s.term_end = terms.size();
    solves.push_back(s);
  }
}

// A block with a cycle, eliminated in the Markowitz order (ordering.hpp) from the rows
// record_in read; true when the vertices left fill in enough for the dense kernel, whose
// block (scratch.dense) then holds them in raw slots.
[[gnu::noinline]] bool eliminate_cyclic(const BlockInput& b, RecordingScratch::Storage& scratch,
                                        const std::atomic<bool>* cancel) {
  const std::uint32_t n = b.vertex_count;
  auto check_cancel = [&] {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
  };
  Program& program = scratch.program;
  SubgraphVector<std::uint32_t>& partial = scratch.partial;
  auto pairwise_sum = [&]() { return program.pairwise_sum(partial.data(), partial.size()); };
  SubgraphVector<std::uint32_t>& leave = scratch.leave;
  SubgraphVector<ForwardCommand>& forward = scratch.forward;
  SubgraphVector<RawSolve>& solves = scratch.solves;
  SubgraphVector<Term>& terms = scratch.terms;
  const SubgraphVector<Edge>& internal = scratch.internal;
  const SubgraphVector<std::uint64_t>& internal_end = scratch.internal_end;
  bool dense = false;
  SubgraphVector<Row>& out = scratch.out;
  SubgraphVector<Parents>& in = scratch.in;
  if (out.size() < n) out.resize(n);
  if (in.size() < n) in.resize(n);
  // In-lists reserved at their initial length: grown by push_back, each cost a chain of
  // allocations on the first blocks of a composition (the rows are kept between blocks).
  SubgraphVector<std::uint32_t>& in_degree = scratch.in_degree;
  in_degree.assign(n, 0);
  for (std::uint32_t u = 0; u < n; ++u)
    for (std::uint64_t k = b.edge_begin[u]; k < internal_end[u]; ++k) ++in_degree[internal[k].target];
  for (std::uint32_t u = 0; u < n; ++u) {
    in[u].clear();
    in[u].reserve(in_degree[u]);
  }
  for (std::uint32_t u = 0; u < n; ++u) {
    out[u].assign(internal.begin() + std::ptrdiff_t(b.edge_begin[u]),
                  internal.begin() + std::ptrdiff_t(internal_end[u]));
    for (const Edge& e : out[u]) in[e.target].push_back(u);  // u ascending: in-lists come out sorted
  }
  Row& merged = scratch.merged;
  std::uint64_t work = 0;
  auto markowitz = [&](std::uint32_t v) {
    return std::uint64_t(in[v].size()) * (out[v].size() + (leave[v] != kNoSlot));
  };
  EliminationQueue& queue = scratch.queue;
  queue.reset(n);
  for (std::uint32_t v = 0; v < n; ++v) queue.push(v, markowitz(v));
  std::uint64_t active = 0;  // internal edges among the vertices not yet eliminated
  for (std::uint32_t u = 0; u < n; ++u) active += out[u].size();

  for (std::uint32_t eliminated = 0;; ++eliminated) {
    if (dense_enough(n - eliminated, active)) {
      dense = true;
      break;
    }
    const std::uint32_t v = queue.pop(markowitz);
    if (v == EliminationQueue::kEmpty) break;
    check_cancel();
    const Row& row = out[v];
    if (row.empty() && leave[v] == kNoSlot) throw NeverAbsorbed(b.vertices[v]);
    // λ_v: the sum of v's current out-weights, its leave weight included.
    partial.clear();
    for (const Edge& e : row) partial.push_back(e.slot);
    if (leave[v] != kNoSlot) partial.push_back(leave[v]);
    const std::uint32_t inverse = program.op(OpCode::Inv, pairwise_sum());

    RawSolve s{v, inverse, terms.size(), 0};
    for (const Edge& e : row) terms.push_back({e.target, e.slot});
    s.term_end = terms.size();
    solves.push_back(s);

    for (const std::uint32_t u : in[v]) {
      Row& urow = out[u];
      const auto uv = std::lower_bound(urow.begin(), urow.end(), v,
                                       [](const Edge& e, std::uint32_t t) { return e.target < t; });
      const std::uint32_t m = program.op(OpCode::Mul, uv->slot, inverse);
      forward.push_back({u, v, m});
      // out[u] := (out[u] \ {v}) ∪ (out[v] \ {u}), w_uz += m·w_vz; the loop m·w_vu is dropped.
      merged.clear();
      // Grown geometrically and kept (see the copy below): reserving the exact size
      // cost an allocation at nearly every update of a row.
      if (const std::size_t need = urow.size() + row.size(); merged.capacity() < need)
        merged.reserve(std::max(need, 2 * merged.capacity()));
      std::size_t i = 0, j = 0;
      while (i < urow.size() || j < row.size()) {
        if (j == row.size() || (i < urow.size() && urow[i].target < row[j].target)) {
          if (urow[i].target != v) merged.push_back(urow[i]);
          ++i;
        } else if (i == urow.size() || row[j].target < urow[i].target) {
          const std::uint32_t z = row[j].target;
          if (z != u) {
            merged.push_back({z, program.op(OpCode::Mul, m, row[j].slot)});
            Parents& parents = in[z];
            parents.insert(std::lower_bound(parents.begin(), parents.end(), u), u);
          }
          ++j;
        } else {
          merged.push_back({urow[i].target, program.op(OpCode::MulAdd, urow[i].slot, m, row[j].slot)});
          ++i, ++j;
        }
      }
      work += merged.size();
      active += merged.size();
      active -= urow.size();
      // A row that outgrows its storage takes the merge buffer; otherwise it is copied
      // back, so the buffer's capacity stays for the next merge.
      if (merged.size() > urow.capacity())
        urow.swap(merged);
      else
        urow.assign(merged.begin(), merged.end());
      // Every way out of the block is one weight: its parts are never read separately.
      if (leave[v] != kNoSlot)
        leave[u] = leave[u] == kNoSlot ? program.op(OpCode::Mul, m, leave[v])
                                       : program.op(OpCode::MulAdd, leave[u], m, leave[v]);
    }
    active -= row.size();
    for (const Edge& e : row) {
      Parents& parents = in[e.target];
      parents.erase(std::lower_bound(parents.begin(), parents.end(), v));
    }
    for (const std::uint32_t u : in[v]) queue.push(u, markowitz(u));
    for (const Edge& e : row)
      if (!queue.done(e.target)) queue.push(e.target, markowitz(e.target));
    // Eliminated rows are emptied; long ones give their memory back at once.
    out[v].clear();
    in[v].clear();
    trim(out[v], kKeepRowEntries);
    trim(in[v], kKeepRowEntries);
    if (work > (1u << 16)) {
      work = 0;
      check_cancel();
    }
  }
  if (dense) {
    // The remaining vertices' rows, in raw slots until the program is numbered below.
    DenseBlock& d = scratch.dense;
    SubgraphVector<std::uint32_t>& index = scratch.dense_index;
    index.resize(n);
    std::uint32_t r = 0;
    for (std::uint32_t u = 0; u < n; ++u)
      if (!queue.done(u)) index[u] = r++;
    d.reset(r);
    for (std::uint32_t u = 0; u < n; ++u) {
      if (queue.done(u)) continue;
      d.vertex[index[u]] = u;
      for (const Edge& e : out[u]) d.at(index[u], index[e.target]) = e.slot;
      d.leave[index[u]] = leave[u];
      out[u].clear();
      in[u].clear();
      trim(out[u], kKeepRowEntries);
      trim(in[u], kKeepRowEntries);
    }
  }
  return dense;
}

// The trace of the block record_in and eliminate_cyclic eliminated (the dense kernel
// continuing when `dense`, with the constants' raw slots zero and one): dead values
// dropped, DOTs first, ops by level, commands in final slots.
[[gnu::noinline]] BlockTrace write_trace(const BlockInput& b, RecordingScratch::Storage& scratch, bool dense,
                                         std::uint32_t zero, std::uint32_t one, const std::atomic<bool>* cancel) {
  const std::uint32_t n = b.vertex_count;
  Program& program = scratch.program;
  SubgraphVector<ForwardCommand>& forward = scratch.forward;
  SubgraphVector<RawSolve>& solves = scratch.solves;
  SubgraphVector<Term>& terms = scratch.terms;
  // Liveness: commands read slots; ops read earlier slots, so one backward pass suffices.
  // A DOT's readers all come after it, so it is known live when the pass reaches it.
  const SubgraphVector<RawOp>& raw = program.raw();
  SubgraphVector<std::uint32_t>& renumber = scratch.renumber;  // 0 = dead, else new slot + 1
  renumber.assign(raw.size(), 0);
  for (const ForwardCommand& f : forward) renumber[f.multiplier] = 1;
  for (const RawSolve& s : solves) renumber[s.inverse_rate] = 1;
  for (const Term& t : terms) renumber[t.weight] = 1;
  DenseBlock& dense_block = scratch.dense;
  if (dense) {
    for (const std::uint32_t w : dense_block.weight)
      if (w != DenseBlock::kAbsent) renumber[w] = 1;
    for (const std::uint32_t w : dense_block.leave)
      if (w != DenseBlock::kAbsent) renumber[w] = 1;
  }
  std::size_t live_dots = 0, live_ops = 0;
  for (std::size_t s = raw.size(); s-- > 0;) {
    if (!renumber[s]) continue;
    if (raw[s].code == kDot) {
      ++live_dots;
      continue;
    }
    ++live_ops;
    renumber[raw[s].a] = 1;
    if (raw[s].code != static_cast<std::uint8_t>(OpCode::Inv)) renumber[raw[s].b] = 1;
    if (raw[s].code == static_cast<std::uint8_t>(OpCode::MulAdd)) renumber[raw[s].c] = 1;
  }

  // A constant only the dense kernel may read is kept for now and dropped below if it did not.
  const bool zero_for_dense = dense && !renumber[zero], one_for_dense = dense && !renumber[one];
  if (dense) renumber[zero] = renumber[one] = 1;
  live_dots += zero_for_dense + one_for_dense;

  BlockTrace t;
  t.param_count = b.param_count;
  t.vertex_count = n;
  t.exit_count = b.exit_count;
  std::uint32_t next = 0;
  t.dot_coeffs.reserve(live_dots * b.stride());
  // One forward pass over the live values: DOTs take the first slots in order, and
  // arithmetic ops are counted by level (longest operand path from the DOTs, which
  // are level 0) to be sorted by it below: ops of one level are independent, so replay
  // keeps several dependency chains in flight. level_begin[l + 1] counts level l; no
  // level is deeper than the live ops are many, so it is sized once (grown level by
  // level, its out-of-line resize was 1.7 % of two-locus n = 6's composition).
  SubgraphVector<std::uint32_t>& level = scratch.level;
  level.assign(raw.size(), 0);
  SubgraphVector<std::uint32_t>& level_begin = scratch.level_begin;
  level_begin.assign(live_ops + 2, 0);
  std::uint32_t deepest = 0;
  for (std::size_t s = 0; s < raw.size(); ++s) {
    if (!renumber[s]) continue;
    const RawOp& r = raw[s];
    if (r.code == kDot) {
      renumber[s] = ++next;
      const double* c = program.coeffs(r.a);
      t.dot_coeffs.insert(t.dot_coeffs.end(), c, c + b.stride());
      continue;
    }
    std::uint32_t l = level[r.a];
    if (r.code != static_cast<std::uint8_t>(OpCode::Inv)) l = std::max(l, level[r.b]);
    if (r.code == static_cast<std::uint8_t>(OpCode::MulAdd)) l = std::max(l, level[r.c]);
    level[s] = l + 1;
    deepest = std::max(deepest, l + 1);
    ++level_begin[l + 2];
  }
  t.dot_count = next;
  for (std::uint32_t l = 0; l <= deepest; ++l) level_begin[l + 1] += level_begin[l];
  SubgraphVector<std::uint32_t>& schedule = scratch.schedule;
  schedule.resize(level_begin[deepest + 1]);
  for (std::size_t s = 0; s < raw.size(); ++s)
    if (renumber[s] && raw[s].code != kDot) schedule[level_begin[level[s]]++] = static_cast<std::uint32_t>(s);
  // Ops are numbered in schedule order as they are written: an op's operands are DOTs
  // or ops of a lower level, numbered before it. A block the dense kernel does not
  // continue knows its value count here, and one that fits 16-bit slots is written
  // narrow at once (the program is MulAdd and Inv only), not written wide and copied.
  // Otherwise the ops are compact until the dense kernel has counted its own, and it
  // moves them to narrow_ops if the block fits (DenseOutput); a compact list is
  // narrowed at the end if it fits after all (a constant dropped).
  TraceVector<CompactOp> compact_ops;
  TraceVector<NarrowOp> narrow_ops;
  bool narrow = !dense && std::uint64_t(t.dot_count) + schedule.size() <= kNarrowValues;
  if (narrow) {
    narrow_ops.reserve(schedule.size());
    for (const std::uint32_t s : schedule) {
      renumber[s] = ++next;
      const RawOp& r = raw[s];
      const auto code = static_cast<OpCode>(r.code);
      narrow_ops.push_back(narrow_op(code, renumber[r.a] - 1, code == OpCode::Inv ? 0 : renumber[r.b] - 1,
                                     code == OpCode::Inv ? 0 : renumber[r.c] - 1));
    }
  } else {
    compact_ops.reserve(schedule.size());
    for (const std::uint32_t s : schedule) {
      renumber[s] = ++next;
      const RawOp& r = raw[s];
      const auto code = static_cast<OpCode>(r.code);
      compact_ops.push_back(compact_op(code, renumber[r.a] - 1, code == OpCode::Inv ? 0 : renumber[r.b] - 1,
                                       code == OpCode::Inv ? 0 : renumber[r.c] - 1));
    }
  }
  // Commands recorded from here on (by the dense kernel) hold final slots already.
  const std::size_t sparse_forward = forward.size(), sparse_solves = solves.size(), sparse_terms = terms.size();
  SubgraphVector<std::uint32_t> unused;
  if (dense) {
    for (std::uint32_t& w : dense_block.weight)
      if (w != DenseBlock::kAbsent) w = renumber[w] - 1;
    for (std::uint32_t& w : dense_block.leave)
      if (w != DenseBlock::kAbsent) w = renumber[w] - 1;
    const auto first_dense_op = static_cast<std::uint32_t>(compact_ops.size());
    DenseOutput o{compact_ops, narrow_ops, t.dot_count, renumber[zero] - 1, renumber[one] - 1, forward,
                  solves,      terms,      &t.dense};
    eliminate_dense(dense_block, o, b.vertices.data(), cancel);
    narrow = o.narrow;
    if (t.dense.size > 0) t.dense.first_op = first_dense_op, t.dense.first_forward = sparse_forward;
    if (zero_for_dense && !o.used_zero) unused.push_back(o.zero);
    if (one_for_dense && !o.used_one) unused.push_back(o.one);
  }
  auto final_slot = [&](std::uint32_t slot, bool recorded_sparse) {
    return recorded_sparse ? renumber[slot] - 1 : slot;
  };
  // The commands in final slots, solves in reverse elimination order, each passed
  // through `form` (narrowed, or kept wide) into the vectors given.
  auto write_commands = [&](auto& final_forward, auto& final_solve, auto& final_terms, auto form) {
    final_forward.reserve(forward.size());
    for (std::size_t i = 0; i < forward.size(); ++i)
      final_forward.push_back(form(
          ForwardCommand{forward[i].target, forward[i].source, final_slot(forward[i].multiplier, i < sparse_forward)}));
    final_solve.reserve(solves.size());
    final_terms.reserve(terms.size());
    for (std::size_t i = solves.size(); i-- > 0;) {
      const RawSolve& s = solves[i];
      for (std::uint64_t k = s.term_begin; k < s.term_end; ++k)
        final_terms.push_back(form(Term{terms[k].target, final_slot(terms[k].weight, k < sparse_terms)}));
      final_solve.push_back(
          form(SolveCommand{s.vertex, final_slot(s.inverse_rate, i < sparse_solves), final_terms.size()}));
    }
  };
  // A block the dense kernel did not continue has its final value count here and drops
  // no constant, so commands that fit are written narrow as they are numbered, not
  // written wide and copied by set_commands (decision 75).
  if (!dense && BlockTrace::commands_fit_narrow(std::uint64_t(n) + b.exit_count, next, terms.size())) {
    TraceVector<NarrowForward> final_forward;
    TraceVector<NarrowSolve> final_solve;
    TraceVector<NarrowTerm> final_terms;
    write_commands(final_forward, final_solve, final_terms, [](const auto& c) { return narrowed(c); });
    t.ops = narrow ? OpList(std::move(narrow_ops)) : OpList(std::move(compact_ops));
    t.set_commands(std::move(final_forward), std::move(final_solve), std::move(final_terms));
    return t;
  }
  TraceVector<ForwardCommand> final_forward;
  TraceVector<SolveCommand> final_solve;
  TraceVector<Term> final_terms;
  write_commands(final_forward, final_solve, final_terms, [](const auto& c) { return c; });
  std::sort(unused.begin(), unused.end());
  for (std::size_t i = unused.size(); i-- > 0;)
    drop_dot(t, compact_ops, narrow_ops, final_forward, final_solve, final_terms, unused[i]);
  if (!narrow && std::uint64_t(t.dot_count) + compact_ops.size() <= kNarrowValues) {
    narrow_ops.reserve(compact_ops.size());
    for (const CompactOp& op : compact_ops) narrow_ops.push_back(narrow_op(code_of(op), op.a, op.b, op.c));
    TraceVector<CompactOp>().swap(compact_ops);
    narrow = true;
  }
  t.ops = narrow ? OpList(std::move(narrow_ops)) : OpList(std::move(compact_ops));
  t.set_commands(std::move(final_forward), std::move(final_solve), std::move(final_terms));
  return t;
}

BlockTrace record_in(const BlockInput& b, RecordingScratch::Storage& scratch, const std::atomic<bool>* cancel) {
  const std::uint32_t n = b.vertex_count;

  // Values: a DOT per edge, and per elimination step roughly λ's sum, the multipliers
  // and one update per child; twice the edges and vertices is the usual total.
  // An acyclic block records only sums of its DOTs and their inverses, which repeat
  // anywhere in the block (the same rates recur on many states), so it shares them
  // exactly; elimination's fill repeats within a short distance, which the bounded
  // direct-mapped table catches without a table of every value.
  SubgraphVector<std::uint32_t>& acyclic = scratch.acyclic;
  acyclic_order(b, acyclic, scratch.acyclic_parents, scratch.acyclic_ready);
  Program& program = scratch.program;
  program.reset(b.stride(), 2 * (b.edge_count() + n), !acyclic.empty());
  // λ_v and leave weights are summed pairwise (Program::pairwise_sum) from
  // scratch.partial, which is left spent: each step clears it before filling it.

  SubgraphVector<std::uint32_t>& leave = scratch.leave;  // Σ of v's current weights out of the block
  leave.assign(n, kNoSlot);
  SubgraphVector<ForwardCommand>& forward = scratch.forward;  // raw slots
  forward.clear();
  forward.reserve(b.edge_count());
  SubgraphVector<RawSolve>& solves = scratch.solves;  // in elimination order
  SubgraphVector<Term>& terms = scratch.terms;
  solves.clear();
  terms.clear();
  solves.reserve(n);
  terms.reserve(b.edge_count());
  // DOTs, exit inflows and leave weights, in vertex order; internal edges go to
  // internal[edge_begin[u] .. internal_end[u]) (targets ascend, internal ones first).
  SubgraphVector<Edge>& internal = scratch.internal;
  internal.resize(b.edge_count());
  SubgraphVector<std::uint64_t>& internal_end = scratch.internal_end;
  internal_end.resize(n);
  // Compiled for the common strides, so each edge's DOT lookup is inlined (Program::dot_of).
  switch (b.stride()) {
    case 1: read_edges<1>(b, scratch); break;
    case 2: read_edges<2>(b, scratch); break;
    case 3: read_edges<3>(b, scratch); break;
    case 4: read_edges<4>(b, scratch); break;
    default: read_edges<0>(b, scratch);
  }

  if (!acyclic.empty()) eliminate_acyclic(b, scratch, cancel);

  // Set when the rest of a filled-in block goes to the dense kernel (dense_elimination.hpp),
  // with the raw slots of the constants it uses.
  bool dense = false;
  std::uint32_t zero = kNoSlot, one = kNoSlot;
  if (acyclic.empty() && n > 0 && eliminate_cyclic(b, scratch, cancel)) {
    dense = true;
    zero = program.constant(0.0);
    one = program.constant(1.0);
  }
  return write_trace(b, scratch, dense, zero, one, cancel);
}
}  // namespace

}  // namespace phasic
