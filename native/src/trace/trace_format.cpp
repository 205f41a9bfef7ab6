// Writes and validates the serialized trace layout described in trace_format.hpp.
#include "trace/trace_format.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "base/error.hpp"

namespace phasic {
namespace {

constexpr std::uint32_t kVersion = 6;
constexpr std::size_t kHeaderBytes = 8 + 4 * 4 + 4 * 8 + 1 + 4 * 2 + 8 * 2;
constexpr std::size_t kNarrowOpBytes = 6, kCompactOpBytes = 12, kWideOpBytes = 13;
// Bytes of a forward command, a solve command and a term, wide and narrow.
constexpr std::size_t kForwardBytes[2] = {12, 6}, kSolveBytes[2] = {16, 8}, kTermBytes[2] = {8, 4};
// Bits of the header's form byte.
constexpr std::uint8_t kOpsNarrow = 1, kCommandsNarrow = 2, kOpsCompact = 4;

std::size_t op_bytes(OpForm form) {
  return form == OpForm::Narrow ? kNarrowOpBytes : form == OpForm::Compact ? kCompactOpBytes : kWideOpBytes;
}

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : bytes(out) {}
  std::vector<std::uint8_t>& bytes;
  template <class T>
  void put(T v) {
    const std::size_t at = bytes.size();
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &v, sizeof(T));
  }
};

[[noreturn]] void corrupt(const std::string& why) { throw EngineError("corrupt serialized trace: " + why); }

constexpr std::uint32_t kNoPosition = 0xffffffffu;

class Reader {
 public:
  Reader(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
  template <class T>
  T get() {
    if (n_ - at_ < sizeof(T)) corrupt("truncated");
    T v;
    std::memcpy(&v, p_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  // For the sections, whose lengths were checked against the data as a whole: no
  // check per field (on a warm disk cache the per-field checks were most of a read).
  template <class T>
  T field() {
    T v;
    std::memcpy(&v, p_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  std::size_t remaining() const { return n_ - at_; }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t at_ = 0;
};

}  // namespace

std::uint64_t trace_checksum(const std::uint8_t* p, std::size_t n) {
  std::uint64_t lane[4] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL, 0x9ce484222325cbf2ULL, 0x2325cbf29ce48422ULL};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) {
      std::uint64_t w;
      std::memcpy(&w, p + i + 8 * j, 8);
      lane[j] = std::rotl(lane[j] ^ w, 29) * 0x9E3779B97F4A7C15ULL;
    }
  for (int j = 0; i + 8 <= n; i += 8, ++j) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    lane[j] = std::rotl(lane[j] ^ w, 29) * 0x9E3779B97F4A7C15ULL;
  }
  for (; i < n; ++i) lane[0] = (lane[0] ^ p[i]) * 0x100000001b3ULL;
  std::uint64_t h = 0;
  for (const std::uint64_t l : lane) h = std::rotl((h ^ l) * 0x100000001b3ULL, 31);
  return h ^ n;
}

std::vector<std::uint8_t> serialize(const BlockTrace& t) {
  std::vector<std::uint8_t> out;
  serialize_into(t, out);
  return out;
}

void serialize_into(const BlockTrace& t, std::vector<std::uint8_t>& out) {
  const std::size_t start = out.size();
  Writer w(out);
  w.bytes.reserve(start + kHeaderBytes + t.dot_coeffs.size() * 8 + t.ops.size() * op_bytes(t.ops.form()) +
                  t.forward.size() * kForwardBytes[t.commands_narrow()] +
                  t.solve.size() * kSolveBytes[t.commands_narrow()] + t.terms.size() * kTermBytes[t.commands_narrow()] +
                  t.dense.order.size() * 4 + t.dense.entries.size() * 12 + 8);
  w.put<std::uint32_t>(0x52545450);  // "PTTR"
  w.put(kVersion);
  w.put(t.param_count);
  w.put(t.vertex_count);
  w.put(t.exit_count);
  w.put(t.dot_count);
  w.put<std::uint64_t>(t.ops.size());
  w.put<std::uint64_t>(t.forward.size());
  w.put<std::uint64_t>(t.solve.size());
  w.put<std::uint64_t>(t.terms.size());
  w.put<std::uint8_t>((t.ops.narrow() ? kOpsNarrow : 0) | (t.ops.form() == OpForm::Compact ? kOpsCompact : 0) |
                      (t.commands_narrow() ? kCommandsNarrow : 0));
  w.put(t.dense.size);
  w.put(t.dense.first_op);
  w.put(t.dense.first_forward);
  w.put<std::uint64_t>(t.dense.entries.size());
  for (double c : t.dot_coeffs) w.put(c);
  t.ops.visit([&](const auto* ops) {
    for (std::size_t i = 0; i < t.ops.size(); ++i) {
      if constexpr (std::is_same_v<decltype(ops), const Op*>) w.put(static_cast<std::uint8_t>(ops[i].code));
      w.put(ops[i].a);
      w.put(ops[i].b);
      w.put(ops[i].c);
    }
  });
  // Each field at its stored width (u16 or u32 indices; term_end u32 or u64).
  t.visit_commands([&](const auto* forward, const auto* solve, const auto* terms) {
    for (std::size_t i = 0; i < t.forward.size(); ++i) {
      w.put(forward[i].target);
      w.put(forward[i].source);
      w.put(forward[i].multiplier);
    }
    for (std::size_t i = 0; i < t.solve.size(); ++i) {
      w.put(solve[i].vertex);
      w.put(solve[i].inverse_rate);
      w.put(solve[i].term_end);
    }
    for (std::size_t i = 0; i < t.terms.size(); ++i) {
      w.put(terms[i].target);
      w.put(terms[i].weight);
    }
  });
  for (const std::uint32_t v : t.dense.order) w.put(v);
  for (const DenseEntry& e : t.dense.entries) {
    w.put(e.row);
    w.put(e.column);
    w.put(e.slot);
  }
  w.put(trace_checksum(w.bytes.data() + start, w.bytes.size() - start));
}

// The dense part's description must name what the trace's own commands do, since
// evaluation takes it in their place: its order is that of solve[0 .. size) reversed
// (elimination order), forward[first_forward ..] go between its vertices, no earlier
// command reads a value of ops[first_op ..] and its entries read values before those.
void read_dense_tail(Reader& r, BlockTrace& t, std::uint64_t entry_count) {
  DenseTail& d = t.dense;
  if (d.size == 0) {
    if (d.first_op != 0 || d.first_forward != 0 || entry_count != 0) corrupt("a dense part of no vertices");
    return;
  }
  if (d.size > t.vertex_count || d.first_op > t.ops.size() || d.first_forward > t.forward.size())
    corrupt("dense part out of range");
  d.order.resize(d.size);
  TraceVector<std::uint32_t> position(t.vertex_count, kNoPosition);
  for (std::uint32_t p = 0; p < d.size; ++p) {
    d.order[p] = r.field<std::uint32_t>();
    if (d.order[p] != t.solve[d.size - 1 - p].vertex) corrupt("dense order is not that of its solve commands");
    position[d.order[p]] = p;
  }
  const std::uint64_t dense_values = std::uint64_t(t.dot_count) + d.first_op;
  for (std::uint64_t i = 0; i < d.first_forward; ++i)
    if (t.forward[i].multiplier >= dense_values) corrupt("a forward command before the dense part reads its values");
  for (std::uint64_t i = d.first_forward; i < t.forward.size(); ++i)
    if (t.forward[i].source >= t.vertex_count || position[t.forward[i].source] == kNoPosition ||
        position[t.forward[i].target] == kNoPosition)
      corrupt("a forward command of the dense part leaves it");
  for (std::uint64_t i = d.size; i < t.solve.size(); ++i)
    if (t.solve[i].inverse_rate >= dense_values) corrupt("a solve command after the dense part reads its values");
  for (std::uint64_t k = t.solve[d.size - 1].term_end; k < t.terms.size(); ++k)
    if (t.terms[k].weight >= dense_values) corrupt("a term after the dense part reads its values");
  d.entries.resize(entry_count);
  std::uint64_t previous = 0;
  for (std::uint64_t i = 0; i < entry_count; ++i) {
    DenseEntry& e = d.entries[i];
    e.row = r.field<std::uint32_t>();
    e.column = r.field<std::uint32_t>();
    e.slot = r.field<std::uint32_t>();
    if (e.row >= d.size || e.column > d.size || e.row == e.column || e.slot >= dense_values)
      corrupt("dense entry out of range");
    const std::uint64_t at = std::uint64_t(e.row) * (d.size + 1) + e.column;
    if (i > 0 && at <= previous) corrupt("dense entries out of order");
    previous = at;
  }
}

// The commands in the stored form F, S, T (wide or narrow: each field read at the
// width of the struct's own field), checked, then handed to t.
template <class F, class S, class T>
void read_commands(Reader& r, BlockTrace& t, std::uint64_t forward_count, std::uint64_t solve_count,
                   std::uint64_t term_count, std::uint64_t values) {
  const std::uint64_t y_size = std::uint64_t(t.vertex_count) + t.exit_count;
  TraceVector<F> forward(forward_count);
  for (F& f : forward) {
    f.target = r.field<decltype(f.target)>();
    f.source = r.field<decltype(f.source)>();
    f.multiplier = r.field<decltype(f.multiplier)>();
    if (f.target >= t.vertex_count || f.source >= y_size || f.multiplier >= values)
      corrupt("forward command index out of range");
    if (f.target == f.source) corrupt("a forward command adds a vertex's reward to itself");
  }
  TraceVector<S> solve(solve_count);
  // Before the scratch below, so that freeing the scratch gives its bytes back to an
  // arena (memory/accounting.hpp) instead of leaving a hole under the terms.
  TraceVector<T> terms(term_count);
  TraceVector<std::uint8_t> solved(t.vertex_count, 0);
  std::uint64_t previous_end = 0;
  for (S& s : solve) {
    s.vertex = r.field<decltype(s.vertex)>();
    s.inverse_rate = r.field<decltype(s.inverse_rate)>();
    s.term_end = r.field<decltype(s.term_end)>();
    if (s.vertex >= t.vertex_count || solved[s.vertex]++)
      corrupt("solve commands are not a permutation of the vertices");
    if (s.inverse_rate >= values) corrupt("solve command value out of range");
    if (s.term_end < previous_end || s.term_end > term_count) corrupt("solve command term range out of order");
    previous_end = s.term_end;
  }
  if (previous_end != term_count) corrupt("terms not covered by solve commands");
  for (T& term : terms) {
    term.target = r.field<decltype(term.target)>();
    term.weight = r.field<decltype(term.weight)>();
    if (term.target >= y_size || term.weight >= values) corrupt("term index out of range");
  }
  // The order the backward pass (gradient.hpp) relies on, as recording produces it: a
  // term reads an exit or a vertex already solved, and a forward command's source is
  // never written by a later forward command.
  std::fill(solved.begin(), solved.end(), 0);
  std::uint64_t k = 0;
  for (const S& s : solve) {
    for (; k < s.term_end; ++k) {
      const std::uint32_t target = terms[k].target;
      if (target < t.vertex_count && !solved[target]) corrupt("a term reads a vertex not yet solved");
    }
    solved[s.vertex] = 1;
  }
  TraceVector<std::uint8_t> read(t.vertex_count, 0);
  for (const F& f : forward) {
    if (read[f.target]) corrupt("a forward command writes a vertex after reading it");
    if (f.source < t.vertex_count) read[f.source] = 1;
  }
  TraceVector<std::uint8_t>().swap(read), TraceVector<std::uint8_t>().swap(solved);
  t.set_commands(std::move(forward), std::move(solve), std::move(terms));
}

BlockTrace deserialize(const std::uint8_t* data, std::size_t size, bool verify_checksum) {
  if (data == nullptr || size < kHeaderBytes + 8) corrupt("shorter than its header");
  std::uint64_t stored;
  std::memcpy(&stored, data + size - 8, 8);
  if (verify_checksum && trace_checksum(data, size - 8) != stored) corrupt("checksum mismatch");
  Reader r(data, size - 8);
  if (std::memcmp(data, "PTTR", 4) != 0) corrupt("bad magic");
  r.get<std::uint32_t>();
  if (r.get<std::uint32_t>() != kVersion) corrupt("unsupported version");

  BlockTrace t;
  t.param_count = r.get<std::uint32_t>();
  t.vertex_count = r.get<std::uint32_t>();
  t.exit_count = r.get<std::uint32_t>();
  t.dot_count = r.get<std::uint32_t>();
  const auto op_count = r.get<std::uint64_t>();
  const auto forward_count = r.get<std::uint64_t>();
  const auto solve_count = r.get<std::uint64_t>();
  const auto term_count = r.get<std::uint64_t>();
  const auto form = r.get<std::uint8_t>();
  if (form > (kOpsNarrow | kCommandsNarrow | kOpsCompact) || ((form & kOpsNarrow) && (form & kOpsCompact)))
    corrupt("unknown op or command form");
  const bool narrow = form & kOpsNarrow, compact = form & kOpsCompact, narrow_commands = form & kCommandsNarrow;
  t.dense.size = r.get<std::uint32_t>();
  t.dense.first_op = r.get<std::uint32_t>();
  t.dense.first_forward = r.get<std::uint64_t>();
  const auto entry_count = r.get<std::uint64_t>();

  // Each section must fit in what is left before anything is allocated for it.
  const std::uint64_t stride = std::uint64_t(t.param_count) + 1;
  const std::uint64_t coeff_count = std::uint64_t(t.dot_count) * stride;  // < 2^65 / no overflow: both < 2^33
  std::uint64_t need = 0;
  auto add_section = [&](std::uint64_t count, std::uint64_t width) {
    if (count > r.remaining() / width) corrupt("section larger than the data");
    need += count * width;
    if (need > r.remaining()) corrupt("sections larger than the data");
  };
  if (t.dot_count > r.remaining() / 8) corrupt("dot count larger than the data");
  add_section(coeff_count, 8);
  add_section(op_count, narrow ? kNarrowOpBytes : compact ? kCompactOpBytes : kWideOpBytes);
  add_section(forward_count, kForwardBytes[narrow_commands]);
  add_section(solve_count, kSolveBytes[narrow_commands]);
  add_section(term_count, kTermBytes[narrow_commands]);
  add_section(t.dense.size, 4);
  add_section(entry_count, 12);
  if (need != r.remaining()) corrupt("length does not match the counts");

  const std::uint64_t values = std::uint64_t(t.dot_count) + op_count;
  if (values >= 0xffffffffULL) corrupt("too many values");
  if (narrow && values > kNarrowValues) corrupt("narrow ops in a block of too many values");
  if (compact && values <= kNarrowValues) corrupt("compact ops that fit the narrow form");
  if (solve_count != t.vertex_count) corrupt("solve commands do not cover the block's vertices");
  const std::uint64_t y_size = std::uint64_t(t.vertex_count) + t.exit_count;
  if (narrow_commands != BlockTrace::commands_fit_narrow(y_size, values, term_count))
    corrupt(narrow_commands ? "narrow commands in a block too large for them"
                            : "commands stored wide that fit the narrow form");

  t.dot_coeffs.resize(coeff_count);
  for (double& c : t.dot_coeffs) {
    c = r.field<double>();
    if (!std::isfinite(c) || c < 0) corrupt("a DOT coefficient is negative or not finite");
  }
  if (narrow) {
    TraceVector<NarrowOp> ops(op_count);
    for (std::uint64_t i = 0; i < op_count; ++i) {
      const std::uint64_t slot = t.dot_count + i;
      NarrowOp& op = ops[i];
      op.a = r.field<std::uint16_t>();
      op.b = r.field<std::uint16_t>();
      op.c = r.field<std::uint16_t>();
      if (op.a >= slot || (op.b == kNarrowInv ? op.c != 0 : op.b >= slot || op.c >= slot))
        corrupt("op " + std::to_string(i) + " reads a value not yet computed");
    }
    t.ops = OpList(std::move(ops));
  } else if (compact) {
    TraceVector<CompactOp> ops(op_count);
    for (std::uint64_t i = 0; i < op_count; ++i) {
      const std::uint64_t slot = t.dot_count + i;
      CompactOp& op = ops[i];
      op.a = r.field<std::uint32_t>();
      op.b = r.field<std::uint32_t>();
      op.c = r.field<std::uint32_t>();
      if (op.a >= slot || (op.b == kCompactInv ? op.c != 0 : op.b >= slot || op.c >= slot))
        corrupt("op " + std::to_string(i) + " reads a value not yet computed");
    }
    t.ops = OpList(std::move(ops));
  } else {
    TraceVector<Op> ops(op_count);
    for (std::uint64_t i = 0; i < op_count; ++i) {
      const std::uint64_t slot = t.dot_count + i;
      const auto code = r.field<std::uint8_t>();
      Op& op = ops[i];
      op.a = r.field<std::uint32_t>();
      op.b = r.field<std::uint32_t>();
      op.c = r.field<std::uint32_t>();
      if (code < 1 || code > 4) corrupt("unknown op code at op " + std::to_string(i));
      op.code = static_cast<OpCode>(code);
      const bool uses_b = op.code != OpCode::Inv, uses_c = op.code == OpCode::MulAdd;
      if (op.a >= slot || (uses_b ? op.b >= slot : op.b != 0) || (uses_c ? op.c >= slot : op.c != 0))
        corrupt("op " + std::to_string(i) + " reads a value not yet computed");
    }
    t.ops = OpList(std::move(ops), t.dot_count);
    if (t.ops.form() != OpForm::Wide) corrupt("ops stored wide that fit a smaller form");
  }
  if (narrow_commands)
    read_commands<NarrowForward, NarrowSolve, NarrowTerm>(r, t, forward_count, solve_count, term_count, values);
  else
    read_commands<ForwardCommand, SolveCommand, Term>(r, t, forward_count, solve_count, term_count, values);
  read_dense_tail(r, t, entry_count);
  return t;
}

}  // namespace phasic
