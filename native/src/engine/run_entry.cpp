// Writes and validates the run entry layout of run_entry.hpp.
#include "engine/run_entry.hpp"

#include <cmath>
#include <cstring>
#include <span>
#include <type_traits>

#include "base/error.hpp"
#include "trace/trace_format.hpp"

namespace phasic {
namespace {

constexpr std::uint32_t kMagic = 0x4e525450;  // "PTRN"
constexpr std::uint32_t kVersion = 2;         // 2: the stored answer

[[noreturn]] void corrupt(const char* why) { throw EngineError(std::string("corrupt run entry: ") + why); }

// Appends to `out`, which starts with room for what the caller expects to write: a
// large entry is then written without moving it at each doubling, and GCC 12 does not
// read the inserts into a buffer it knows to be empty as overflows
// (-Wstringop-overflow, a false positive).
class Writer {
 public:
  explicit Writer(std::size_t expected) { out.reserve(expected); }
  std::vector<std::uint8_t> out;
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(&v, sizeof v);
  }
  template <class V>
  void array(const V& values) {
    append(values.data(), values.size() * sizeof(values[0]));
  }
  void name(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    append(s.data(), s.size());
  }
  void append(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
};

// Every read is checked against what is left; arrays are sized from counts only once
// the bytes for them are known to be there, and filled straight from the payload.
class Reader {
 public:
  explicit Reader(PayloadReader& in) : in_(in) {}
  template <class T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  const std::uint8_t* take(std::uint64_t n) {
    const std::uint8_t* p = in_.take(n);
    if (p == nullptr) corrupt("truncated");
    return p;
  }
  template <class V>
  void array(V& values, std::uint64_t count) {
    using T = std::remove_cvref_t<decltype(values[0])>;
    if (count > in_.remaining() / sizeof(T)) corrupt("an array is longer than the entry");
    values.resize(count);
    if (count > 0 && !in_.copy(values.data(), count * sizeof(T)))  // an empty vector's data() may be null
      corrupt("truncated");
  }
  std::string name() {
    const auto n = get<std::uint32_t>();
    const auto* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::uint64_t remaining() const { return in_.remaining(); }
  bool done() const { return in_.remaining() == 0; }

 private:
  PayloadReader& in_;
};

// Far more than a run asks for (the protocol's moments are small), and small enough that
// K × rewards cannot overflow before the bytes for them are checked.
constexpr std::uint32_t kMaxStoredMoments = 1u << 16;

}  // namespace

bool StoredAnswer::answers(std::span<const double> at, std::uint32_t moment_count,
                           std::span<const RewardPair> asked) const {
  if (moment_count != moments.moment_count || at.size() != theta.size() || asked.size() != pairs.size()) return false;
  if (!at.empty() && std::memcmp(at.data(), theta.data(), at.size() * sizeof(double)) != 0) return false;
  for (std::size_t i = 0; i < asked.size(); ++i)
    if (asked[i].first != pairs[i].first || asked[i].second != pairs[i].second) return false;
  return true;
}

std::string run_entry_identity(std::string_view model_text, std::uint32_t min_block_size) {
  // The engine's identity is not here: the disk cache keys and stores it with every
  // file (cache/engine_identity.hpp).
  std::string identity;
  identity.reserve(4 + model_text.size());
  identity.append(reinterpret_cast<const char*>(&min_block_size), 4);
  identity.append(model_text);
  return identity;
}

Key run_entry_key(std::string_view identity) {
  Hasher h(0x72756e65'6e747279ULL);  // distinct from block, model trace and run summary keys by seed
  h.update(identity.data(), identity.size());
  return h.finish();
}

std::vector<std::uint8_t> encode_run_entry(const RunSummary& summary, const ModelLabels& labels,
                                           const ModelTrace& trace, const ParametricGraph& graph,
                                           const StoredAnswer* answer) {
  const std::vector<std::uint8_t> encoded = encode_run_summary(summary);
  // Nearly all of an entry is the traces' and the graph's arrays, written as held.
  Writer w(encoded.size() + trace.bytes() + graph.bytes() + 4096);
  w.put(kMagic);
  w.put(kVersion);
  w.put<std::uint64_t>(encoded.size());
  w.array(encoded);

  w.put(static_cast<std::uint32_t>(labels.params.size()));
  for (std::size_t p = 0; p < labels.params.size(); ++p) {
    w.name(labels.params[p]);
    w.put(labels.param_defaults[p]);
  }
  w.put(static_cast<std::uint32_t>(labels.rewards.size()));
  for (const std::string& r : labels.rewards) w.name(r);

  w.put(trace.param_count);
  w.put(trace.vertex_count);
  w.put(trace.reward_count);
  // A trace used by several blocks is written once.
  std::vector<const BlockTrace*> distinct;
  std::vector<std::uint32_t> index_of_block;
  for (const ComposedBlock& b : trace.blocks) {
    std::uint32_t i = 0;
    while (i < distinct.size() && distinct[i] != b.trace.get()) ++i;
    if (i == distinct.size()) distinct.push_back(b.trace.get());
    index_of_block.push_back(i);
  }
  w.put(static_cast<std::uint32_t>(distinct.size()));
  for (const BlockTrace* t : distinct) {
    const std::size_t length_at = w.out.size();
    w.put<std::uint64_t>(0);
    serialize_into(*t, w.out);
    const std::uint64_t length = w.out.size() - length_at - 8;
    std::memcpy(w.out.data() + length_at, &length, 8);
  }
  w.put(static_cast<std::uint32_t>(trace.blocks.size()));
  for (std::size_t i = 0; i < trace.blocks.size(); ++i) {
    const ComposedBlock& b = trace.blocks[i];
    w.put(index_of_block[i]);
    w.put(b.first_component);
    w.put(b.last_component);
    w.array(b.vertices);
    w.array(b.exits);
  }
  w.put<std::uint64_t>(trace.start_target.size());
  w.array(trace.start_target);
  w.array(trace.start_probability);
  w.array(trace.rewards);

  w.put<std::uint64_t>(graph.edge_count());
  w.array(graph.edge_begin);
  w.array(graph.edge_target);
  w.array(graph.coeffs);
  w.array(graph.rewards);

  w.put<std::uint8_t>(answer ? 1 : 0);
  if (answer) {
    const Moments& m = answer->moments;
    w.array(answer->theta);
    w.put(m.moment_count);
    w.put(static_cast<std::uint32_t>(answer->pairs.size()));
    for (const RewardPair& p : answer->pairs) w.put(p.first), w.put(p.second);
    w.array(m.raw);
    w.put<std::uint64_t>(m.variance.size());
    w.array(m.variance);
    w.array(m.covariance);
    w.put<std::uint8_t>(m.absorption_certain ? 1 : 0);
  }
  return std::move(w.out);
}

RunEntry decode_run_entry(const std::uint8_t* data, std::size_t size) {
  if (data == nullptr) corrupt("empty");
  PayloadReader in(data, size);
  return decode_run_entry(in);
}

RunEntry decode_run_entry(PayloadReader& in) {
  const std::uint64_t size = in.remaining();
  Reader r(in);
  if (r.get<std::uint32_t>() != kMagic) corrupt("bad magic");
  if (r.get<std::uint32_t>() != kVersion) corrupt("unsupported version");
  RunEntry e;
  {
    const auto n = r.get<std::uint64_t>();
    if (n > size) corrupt("summary longer than the entry");
    r.array(e.encoded_summary, n);
    e.summary = decode_run_summary(e.encoded_summary);
    for (const ComponentSummary& c : e.summary.components)
      if ((c.source != TraceSource::Trivial && c.source != TraceSource::Memory) || c.record_ms != 0)
        corrupt("the summary is not a reused run's");
  }

  const auto param_count = r.get<std::uint32_t>();
  if (param_count > size / 12) corrupt("more parameters than the entry holds");
  for (std::uint32_t p = 0; p < param_count; ++p) {
    e.labels.params.push_back(r.name());
    e.labels.param_defaults.push_back(r.get<double>());
  }
  const auto reward_count = r.get<std::uint32_t>();
  if (reward_count > size / 4) corrupt("more rewards than the entry holds");
  for (std::uint32_t k = 0; k < reward_count; ++k) e.labels.rewards.push_back(r.name());

  ModelTrace& m = e.trace;
  m.param_count = r.get<std::uint32_t>();
  m.vertex_count = r.get<std::uint32_t>();
  m.reward_count = r.get<std::uint32_t>();
  if (m.param_count != param_count || m.reward_count != reward_count)
    corrupt("the trace's parameters or rewards are not the labels'");
  if (m.vertex_count == 0 || m.vertex_count > size) corrupt("vertex count out of range");

  const auto trace_count = r.get<std::uint32_t>();
  if (trace_count > size / 8) corrupt("more traces than the entry holds");
  std::vector<std::shared_ptr<const BlockTrace>> traces;
  traces.reserve(trace_count);
  for (std::uint32_t i = 0; i < trace_count; ++i) {
    const auto n = r.get<std::uint64_t>();
    if (n > size) corrupt("a trace longer than the entry");
    // The disk cache checked the whole entry's checksum: a block's own is not needed.
    std::shared_ptr<const BlockTrace> t = share(deserialize(r.take(n), n, /*verify_checksum=*/false));
    if (t->param_count != m.param_count) corrupt("a block trace has another parameter count");
    traces.push_back(std::move(t));
  }

  // Sink-first: a block's exits are local to earlier blocks; each vertex is local to
  // at most one block, and S to none.
  std::vector<std::uint8_t> local(m.vertex_count, 0);
  const auto block_count = r.get<std::uint32_t>();
  if (block_count > size / 12) corrupt("more blocks than the entry holds");
  m.blocks.resize(block_count);
  for (ComposedBlock& b : m.blocks) {
    const auto index = r.get<std::uint32_t>();
    if (index >= traces.size()) corrupt("a block names a trace that is not there");
    b.trace = traces[index];
    b.first_component = r.get<std::uint32_t>();
    b.last_component = r.get<std::uint32_t>();
    b.cacheable = false;
    r.array(b.vertices, b.trace->vertex_count);
    r.array(b.exits, b.trace->exit_count);
    for (const VertexId v : b.exits)
      if (v >= m.vertex_count || !local[v]) corrupt("a block exits to a vertex not solved before it");
    for (const VertexId v : b.vertices) {
      if (v == 0 || v >= m.vertex_count || local[v]) corrupt("a block vertex is out of range or in two blocks");
      local[v] = 1;
    }
  }

  const auto start_count = r.get<std::uint64_t>();
  r.array(m.start_target, start_count);
  r.array(m.start_probability, start_count);
  for (std::uint64_t i = 0; i < start_count; ++i)
    if (m.start_target[i] == 0 || m.start_target[i] >= m.vertex_count || !std::isfinite(m.start_probability[i]) ||
        m.start_probability[i] < 0)
      corrupt("a start edge is out of range");
  const std::uint64_t reward_values = std::uint64_t(m.reward_count) * m.vertex_count;
  r.array(m.rewards, reward_values);

  ParametricGraph& g = e.graph;
  g.param_count = m.param_count;
  g.vertex_count = m.vertex_count;
  g.reward_count = m.reward_count;
  const auto edge_count = r.get<std::uint64_t>();
  r.array(g.edge_begin, std::uint64_t(m.vertex_count) + 1);
  if (g.edge_begin[0] != 0 || g.edge_begin[m.vertex_count] != edge_count) corrupt("edge lists out of range");
  for (std::uint32_t u = 0; u < m.vertex_count; ++u)
    if (g.edge_begin[u] > g.edge_begin[u + 1]) corrupt("edge lists out of order");
  r.array(g.edge_target, edge_count);
  for (const VertexId v : g.edge_target)
    if (v >= m.vertex_count) corrupt("an edge target is out of range");
  if (edge_count > size) corrupt("more edges than the entry holds");
  r.array(g.coeffs, edge_count * g.stride());
  r.array(g.rewards, reward_values);

  const auto has_answer = r.get<std::uint8_t>();
  if (has_answer > 1) corrupt("bad answer flag");
  if (has_answer == 1) {
    StoredAnswer& a = e.answer.emplace();
    Moments& mo = a.moments;
    r.array(a.theta, m.param_count);
    mo.reward_count = m.reward_count;
    mo.moment_count = r.get<std::uint32_t>();
    if (mo.moment_count == 0 || mo.moment_count > kMaxStoredMoments)
      corrupt("the answer's moment count is out of range");
    const auto pair_count = r.get<std::uint32_t>();
    if (pair_count > size / 8) corrupt("more pairs than the entry holds");
    a.pairs.resize(pair_count);
    for (RewardPair& p : a.pairs) {
      p.first = r.get<std::uint32_t>();
      p.second = r.get<std::uint32_t>();
      if (p.first >= m.reward_count || p.second >= m.reward_count) corrupt("the answer names a reward not there");
    }
    r.array(mo.raw, std::uint64_t(m.reward_count) * mo.moment_count);
    const auto variance_count = r.get<std::uint64_t>();
    if (variance_count != (mo.moment_count >= 2 ? m.reward_count : 0))
      corrupt("the answer's variances are not one per reward");
    r.array(mo.variance, variance_count);
    r.array(mo.covariance, pair_count);
    const auto certain = r.get<std::uint8_t>();
    if (certain > 1) corrupt("bad absorption flag");
    mo.absorption_certain = certain == 1;
  }
  if (!r.done()) corrupt("bytes after the answer");
  return e;
}

}  // namespace phasic
