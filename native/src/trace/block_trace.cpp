// Records a block's trace: elimination in the chosen order on a working copy of the
// block whose edge weights are value slots, with every arithmetic step emitted into
// the program (hash-consed), then dead values dropped and slots renumbered with DOTs
// first.
#include "trace/block_trace.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/error.hpp"
#include "trace/ordering.hpp"

namespace phasic {
namespace {

constexpr std::uint8_t kDot = 0;  // raw code of a DOT; its operand a is the DOT's ordinal

struct RawOp {
  std::uint8_t code;
  std::uint32_t a, b, c;
};

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

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
// requires the whole operation to be equal).
class Program {
 public:
  // expected_values sizes the table for a typical block without charging a
  // one-vertex block for a large table.
  Program(std::uint32_t stride, std::size_t expected_values) : stride_(stride), dot_table_(64) {
    std::size_t size = 64;
    while (size < 2 * expected_values && size < kMaxTable) size *= 2;
    table_.resize(size);
    raw_.reserve(expected_values);
  }

  std::uint32_t dot(const double* form) {
    std::size_t i = form_hash(form) & (dot_table_.size() - 1);
    for (; dot_table_[i] != 0; i = (i + 1) & (dot_table_.size() - 1)) {
      const std::uint32_t slot = dot_table_[i] - 1;
      if (std::memcmp(coeffs(raw_[slot].a), form, stride_ * sizeof(double)) == 0) return slot;
    }
    const auto ordinal = static_cast<std::uint32_t>(dot_slots_.size());
    const std::uint32_t slot = append(RawOp{kDot, ordinal, 0, 0});
    dot_coeffs_.insert(dot_coeffs_.end(), form, form + stride_);
    dot_slots_.push_back(slot);
    dot_table_[i] = slot + 1;
    if (2 * dot_slots_.size() >= dot_table_.size()) grow_dots();
    return slot;
  }

  std::uint32_t op(OpCode code, std::uint32_t a, std::uint32_t b = 0, std::uint32_t c = 0) {
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
    Entry& entry = table_[hash(want) & (table_.size() - 1)];
    if (entry.slot != 0 && entry.key.code == want.code && entry.key.a == a && entry.key.b == b && entry.key.c == c)
      return entry.slot - 1;
    const std::uint32_t slot = append(want);
    entry = {want, slot + 1};
    return slot;
  }

  std::uint32_t constant(double value) {
    std::uint32_t& slot = value == 0.0 ? zero_ : one_;
    if (slot == kNone) {
      SubgraphVector<double> form(stride_, 0.0);
      form[0] = value;
      slot = dot(form.data());
    }
    return slot;
  }

  const SubgraphVector<RawOp>& raw() const { return raw_; }
  const double* coeffs(std::uint32_t ordinal) const { return dot_coeffs_.data() + std::size_t(ordinal) * stride_; }

 private:
  std::uint64_t form_hash(const double* form) const {
    std::uint64_t h = 1;
    for (std::uint32_t i = 0; i < stride_; ++i) {
      std::uint64_t bits;
      std::memcpy(&bits, form + i, sizeof bits);
      h = mix(h, bits);
    }
    // MurmurHash3's finalizer: coefficients such as 3.0 or 28.0 differ only in their
    // high bits, which mix() leaves out of the low bits the table indexes by (SFS
    // n = 30 probed 22 entries per lookup without it).
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
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
  std::uint32_t stride_;
  std::uint32_t zero_ = kNone, one_ = kNone;
  SubgraphVector<RawOp> raw_;
  SubgraphVector<double> dot_coeffs_;
  SubgraphVector<std::uint32_t> dot_slots_;  // by DOT ordinal
  SubgraphVector<std::uint32_t> dot_table_;  // open addressing over DOTs: slot + 1, 0 = empty
  // Direct-mapped; each entry holds its key, so a probe reads no other memory.
  struct Entry {
    RawOp key{};
    std::uint32_t slot = 0;  // raw slot + 1, 0 = empty
  };
  SubgraphVector<Entry> table_;
};

struct Edge {
  std::uint32_t target, slot;
};
using Row = SubgraphVector<Edge>;
using Parents = SubgraphVector<std::uint32_t>;

constexpr std::uint32_t kNoSlot = 0xffffffffu;

struct RawSolve {
  std::uint32_t vertex, inverse_rate;
  std::uint64_t term_begin, term_end;
};

}  // namespace

std::size_t BlockTrace::bytes() const {
  return held_bytes(dot_coeffs) + held_bytes(ops) + held_bytes(forward) + held_bytes(solve) + held_bytes(terms);
}

std::shared_ptr<const BlockTrace> share(BlockTrace&& trace) {
  return std::allocate_shared<const BlockTrace>(CountedAllocator<BlockTrace, Category::Traces>(), std::move(trace));
}

BlockTrace record_block(const BlockInput& b, const std::atomic<bool>* cancel) {
  const std::uint32_t n = b.vertex_count;
  const std::uint32_t absorb = b.absorb_target();
  auto check_cancel = [&] {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
  };

  // Values: a DOT per edge, and per elimination step roughly λ's sum, the multipliers
  // and one update per child; twice the edges and vertices is the usual total.
  Program program(b.stride(), 2 * (b.edge_count() + n));
  SubgraphVector<std::uint32_t> partial;
  // λ_v and leave weights are summed pairwise: depth log(terms) instead of a chain, so
  // replay overlaps the additions and rounding grows with log rather than length.
  auto pairwise_sum = [&]() {
    while (partial.size() > 1) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i + 1 < partial.size(); i += 2)
        partial[kept++] = program.op(OpCode::Add, partial[i], partial[i + 1]);
      if (partial.size() % 2) partial[kept++] = partial.back();
      partial.resize(kept);
    }
    return partial[0];
  };

  SubgraphVector<std::uint32_t> leave(n, kNoSlot);  // Σ of v's current weights out of the block
  SubgraphVector<ForwardCommand> forward;           // raw slots
  forward.reserve(b.edge_count());
  SubgraphVector<RawSolve> solves;  // in elimination order
  SubgraphVector<Term> terms;
  solves.reserve(n);
  terms.reserve(b.edge_count());
  // DOTs, exit inflows and leave weights, in vertex order; internal edges go to
  // internal[edge_begin[u] .. internal_end[u]) (targets ascend, internal ones first).
  SubgraphVector<Edge> internal(b.edge_count());
  SubgraphVector<std::uint64_t> internal_end(n);
  for (std::uint32_t u = 0; u < n; ++u) {
    partial.clear();
    std::uint64_t k = b.edge_begin[u];
    for (std::uint64_t e = b.edge_begin[u]; e < b.edge_begin[u + 1]; ++e) {
      const std::uint32_t t = b.edge_target[e];
      const std::uint32_t w = program.dot(b.form(e));
      if (t < n) {
        internal[k++] = {t, w};
        continue;
      }
      partial.push_back(w);
      // Inflow from an exit, whose x is final: r_u += w_ue · x_e before elimination.
      if (t != absorb) forward.push_back({u, t, w});
    }
    internal_end[u] = k;
    if (!partial.empty()) leave[u] = pairwise_sum();
  }

  // An acyclic block: each vertex is eliminated when it has no parents left, so no
  // step updates another vertex and each is λ, its inverse and its terms.
  const SubgraphVector<std::uint32_t> acyclic = acyclic_order(b);
  for (std::uint32_t i = 0; i < acyclic.size(); ++i) {
    if ((i & 1023) == 0) check_cancel();
    const std::uint32_t v = acyclic[i];
    partial.clear();
    for (std::uint64_t k = b.edge_begin[v]; k < internal_end[v]; ++k) partial.push_back(internal[k].slot);
    if (leave[v] != kNoSlot) partial.push_back(leave[v]);
    const std::uint32_t inverse = program.op(OpCode::Inv, pairwise_sum());
    RawSolve s{v, inverse, terms.size(), 0};
    for (std::uint64_t k = b.edge_begin[v]; k < internal_end[v]; ++k)
      terms.push_back({internal[k].target, internal[k].slot});
    s.term_end = terms.size();
    solves.push_back(s);
  }

  if (acyclic.empty() && n > 0) {
    SubgraphVector<Row> out(n);
    SubgraphVector<Parents> in(n);
    for (std::uint32_t u = 0; u < n; ++u) {
      out[u].assign(internal.begin() + std::ptrdiff_t(b.edge_begin[u]),
                    internal.begin() + std::ptrdiff_t(internal_end[u]));
      for (const Edge& e : out[u]) in[e.target].push_back(u);  // u ascending: in-lists come out sorted
    }
    Row merged;
    std::uint64_t work = 0;
    auto markowitz = [&](std::uint32_t v) {
      return std::uint64_t(in[v].size()) * (out[v].size() + (leave[v] != kNoSlot));
    };
    EliminationQueue queue(n);
    for (std::uint32_t v = 0; v < n; ++v) queue.push(v, markowitz(v));

    for (std::uint32_t v; (v = queue.pop(markowitz)) != EliminationQueue::kEmpty;) {
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
        merged.reserve(urow.size() + row.size());
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
        urow.swap(merged);
        // Every way out of the block is one weight: its parts are never read separately.
        if (leave[v] != kNoSlot)
          leave[u] = leave[u] == kNoSlot ? program.op(OpCode::Mul, m, leave[v])
                                         : program.op(OpCode::MulAdd, leave[u], m, leave[v]);
      }
      for (const Edge& e : row) {
        Parents& parents = in[e.target];
        parents.erase(std::lower_bound(parents.begin(), parents.end(), v));
      }
      for (const std::uint32_t u : in[v]) queue.push(u, markowitz(u));
      for (const Edge& e : row)
        if (!queue.done(e.target)) queue.push(e.target, markowitz(e.target));
      Row().swap(out[v]);
      Parents().swap(in[v]);
      if (work > (1u << 16)) {
        work = 0;
        check_cancel();
      }
    }
    SubgraphVector<Row>().swap(out);
    SubgraphVector<Parents>().swap(in);
  }

  // Liveness: commands read slots; ops read earlier slots, so one backward pass suffices.
  const SubgraphVector<RawOp>& raw = program.raw();
  SubgraphVector<std::uint32_t> renumber(raw.size(), 0);  // 0 = dead, else new slot + 1
  for (const ForwardCommand& f : forward) renumber[f.multiplier] = 1;
  for (const RawSolve& s : solves) renumber[s.inverse_rate] = 1;
  for (const Term& t : terms) renumber[t.weight] = 1;
  for (std::size_t s = raw.size(); s-- > 0;) {
    if (!renumber[s] || raw[s].code == kDot) continue;
    renumber[raw[s].a] = 1;
    if (raw[s].code != static_cast<std::uint8_t>(OpCode::Inv)) renumber[raw[s].b] = 1;
    if (raw[s].code == static_cast<std::uint8_t>(OpCode::MulAdd)) renumber[raw[s].c] = 1;
  }

  BlockTrace t;
  t.param_count = b.param_count;
  t.vertex_count = n;
  t.exit_count = b.exit_count;
  std::uint32_t next = 0;
  for (std::size_t s = 0; s < raw.size(); ++s)
    if (renumber[s] && raw[s].code == kDot) {
      renumber[s] = ++next;
      const double* c = program.coeffs(raw[s].a);
      t.dot_coeffs.insert(t.dot_coeffs.end(), c, c + b.stride());
    }
  t.dot_count = next;
  // Arithmetic ops sorted by level (longest operand path from the DOTs): ops of one
  // level are independent, so replay keeps several dependency chains in flight.
  SubgraphVector<std::uint32_t> level(raw.size(), 0);
  std::uint32_t deepest = 0;
  for (std::size_t s = 0; s < raw.size(); ++s)
    if (renumber[s] && raw[s].code != kDot) {
      const RawOp& r = raw[s];
      std::uint32_t l = level[r.a];
      if (r.code != static_cast<std::uint8_t>(OpCode::Inv)) l = std::max(l, level[r.b]);
      if (r.code == static_cast<std::uint8_t>(OpCode::MulAdd)) l = std::max(l, level[r.c]);
      level[s] = l + 1;
      deepest = std::max(deepest, l + 1);
    }
  SubgraphVector<std::uint32_t> level_begin(deepest + 2, 0);
  for (std::size_t s = 0; s < raw.size(); ++s)
    if (renumber[s] && raw[s].code != kDot) ++level_begin[level[s] + 1];
  for (std::uint32_t l = 0; l <= deepest; ++l) level_begin[l + 1] += level_begin[l];
  SubgraphVector<std::uint32_t> schedule(level_begin.back());
  for (std::size_t s = 0; s < raw.size(); ++s)
    if (renumber[s] && raw[s].code != kDot) schedule[level_begin[level[s]]++] = static_cast<std::uint32_t>(s);
  SubgraphVector<std::uint32_t>().swap(level);
  for (const std::uint32_t s : schedule) renumber[s] = ++next;
  t.ops.reserve(schedule.size());
  for (const std::uint32_t s : schedule) {
    const RawOp& r = raw[s];
    const auto code = static_cast<OpCode>(r.code);
    const std::uint32_t a = renumber[r.a] - 1;
    const std::uint32_t bb = code == OpCode::Inv ? 0 : renumber[r.b] - 1;
    const std::uint32_t c = code == OpCode::MulAdd ? renumber[r.c] - 1 : 0;
    t.ops.push_back({code, a, bb, c});
  }
  t.forward.reserve(forward.size());
  for (const ForwardCommand& f : forward) t.forward.push_back({f.target, f.source, renumber[f.multiplier] - 1});
  t.solve.reserve(solves.size());
  t.terms.reserve(terms.size());
  for (std::size_t i = solves.size(); i-- > 0;) {
    const RawSolve& s = solves[i];
    for (std::uint64_t k = s.term_begin; k < s.term_end; ++k)
      t.terms.push_back({terms[k].target, renumber[terms[k].weight] - 1});
    t.solve.push_back({s.vertex, renumber[s.inverse_rate] - 1, t.terms.size()});
  }
  return t;
}

}  // namespace phasic
