// A run of an unchanged model on disk: everything a reused run answers from (the run
// summary, the labels, the composed model trace with its block traces inline, the
// parametric graph distributions need), in one file of the disk cache (<key>.run), so
// that a new engine process runs an unchanged model without exploring it. One pass over
// the bytes as they stream from the file (DiskCache::load with a decoder): no block
// file is opened, and the entry is never held whole besides what it decodes to.
//
// Key and identity. The key hashes, and the disk cache's stored canonical bytes hold
// and compare on every hit: the block size threshold and the model text byte for
// byte. The disk cache adds the engine's identity to every file it keys and stores
// (cache/engine_identity.hpp: a hash of the engine's sources), so that an engine
// whose exploration or recording changed never answers from another's entry. The
// model text is what the front end compiled: every constant, parameter name and default, reward name and rule is in it,
// so anything that changes an answer or a label changes the key (decision 13 for why the labels belong to the answer).
//
// Layout (host order, little-endian; no padding):
//   "PTRN" u32 version
//   u64 n, n bytes of the encoded run summary (engine/run_summary.hpp)
//   labels: u32 P, P × (u32 length, name, f64 default); u32 R, R × (u32 length, name)
//   trace: u32 param_count, vertex_count, reward_count
//          u32 T distinct block traces, each u64 n and n bytes (trace/trace_format.hpp)
//          u32 B blocks, each u32 trace index, first_component, last_component, then
//            the trace's vertex_count and exit_count u32 global vertex ids
//          u64 S, S × u32 start target, S × f64 start probability
//          reward_count × vertex_count f64 rewards
//   graph: u64 E, (vertex_count + 1) × u64 edge_begin, E × u32 targets,
//          E × (param_count + 1) f64 coefficients, reward_count × vertex_count f64
//   answer: u8 0 (none), or u8 1 and: param_count × f64 θ, u32 K, u32 C,
//          C × (u32, u32) reward pairs, reward_count × K f64 raw moments,
//          u64 V (reward_count when K ≥ 2, else 0), V × f64 variances, C × f64
//          covariances, u8 absorption certain (0 or 1)
//
// The answer (decision 51) is what the run that wrote the entry answered: evaluate()
// of this very trace at θ for K moments and the pairs, settled by the graph
// (settle_absorption). It is served only to a request of the same θ bit for bit, the
// same K and the same pairs in the same order (StoredAnswer::answers): the key and the
// stored input already hold everything else an answer depends on (the model text,
// hence every constant, default, reward and rule; the block size threshold; the
// engine's identity, hence its sources, compiler and floating-point mode), and
// evaluation is deterministic (one thread; its run-time choice of vector width picks
// kernels that are bit-identical to the baseline, decision 54), so the stored
// numbers are the ones evaluating again would give, bit for bit. A gradient is never
// stored: a run that asks for one evaluates it from the restored trace.
//
// Invariants: decode_run_entry reads only within its input and allocates no more than
// the input's size justifies; it throws EngineError on anything encode_run_entry
// cannot produce for a well-formed run: a bad count or length, a block trace the trace
// format refuses, a block that does not fit the model (its maps' sizes, ids out of
// range, an exit not local to an earlier block, a vertex in two blocks), a graph whose
// edge lists are not a CSR of the model's vertices, an answer whose counts are not the
// model's (θ, rewards, a pair naming no reward, K = 0), a summary not in the reused form
// encode_run_entry writes (a block reported as recorded, or with a recording time).
// Restored blocks are owned by the
// model trace (not cacheable): the memory cache counts them with it.
// A block trace's own checksum is not computed again: the disk cache's covers the
// whole entry, and the checks, not a checksum, are what keep a crafted entry safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/disk_cache.hpp"
#include "cache/key.hpp"
#include "cache/memory_cache.hpp"
#include "distribution/parametric_graph.hpp"
#include "engine/run_summary.hpp"
#include "trace/evaluate.hpp"
#include "trace/model_trace.hpp"

namespace phasic {

struct StoredAnswer {
  std::vector<double> theta;
  std::vector<RewardPair> pairs;
  Moments moments;  // moment_count is the K it answers

  // Whether this is the answer to evaluating at `theta` for `moment_count` moments and
  // these pairs: all the same, θ bit for bit (so −0 is not 0, and a NaN never matches).
  bool answers(std::span<const double> theta, std::uint32_t moment_count, std::span<const RewardPair> pairs) const;
};

struct RunEntry {
  RunSummary summary;
  // The summary's bytes as stored: the summary of a reused run (RunSummary::as_reused),
  // which the memory cache keeps as it is instead of encoding the decoded copy again.
  // Counted, so that while a restore's arena lives they come from it, not fresh pages.
  CountedVector<std::uint8_t, Category::Cache> encoded_summary;
  ModelLabels labels;
  ModelTrace trace;
  ParametricGraph graph;
  std::optional<StoredAnswer> answer;
};

// The bytes the key covers, stored with the entry and compared on every hit.
std::string run_entry_identity(std::string_view model_text, std::uint32_t min_block_size);
Key run_entry_key(std::string_view identity);

// `answer` (may be null) must be what evaluate() gave for this trace, settled by this
// graph, as its comment above says.
std::vector<std::uint8_t> encode_run_entry(const RunSummary& summary, const ModelLabels& labels,
                                           const ModelTrace& trace, const ParametricGraph& graph,
                                           const StoredAnswer* answer = nullptr);
RunEntry decode_run_entry(const std::uint8_t* data, std::size_t size);
// The same, taking the entry in order (DiskCache::load streams a file through it).
RunEntry decode_run_entry(PayloadReader& in);

}  // namespace phasic
