// The composed trace of a whole model: every block's trace with the maps that place
// it in the graph, the initial distribution and the rewards — everything evaluation
// needs, and no graph.
//
// Invariants:
// - blocks are in sink-first order: every exit slot of a block names a vertex local to
//   an earlier block (exits are never absorbing), so when a block is solved its exits'
//   x are final.
// - Every non-absorbing state is local to exactly one block; S and absorbing vertices
//   are local to none (x = 0 for absorbing vertices, S is never solved).
// - Every vertex and exit id of a block is below vertex_count: compose takes them from
//   the graph and decode_run_entry (engine/run_entry.hpp) checks them, so evaluation
//   compares only a block's sizes with its trace's at each call.
// - A component with at least min_block_size vertices is one block whose trace came
//   from the provider (cacheable). Each maximal run of consecutive smaller components
//   (topological numbers) is one block recorded here and never given to the provider:
//   such runs are cheap to record and their keys would rarely repeat.
// - Block traces are shared (shared_ptr) with the caches; the rest is owned here and
//   counted in Category::Traces.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "graph/graph.hpp"
#include "trace/block.hpp"
#include "trace/block_trace.hpp"
#include "trace/condensation.hpp"

namespace phasic {

// Returns the trace of a block of at least min_block_size vertices: from a cache, or
// share(record_block(input)). The input is valid only during the call: composition
// refills it with the next block afterwards.
using BlockProvider =
    std::function<std::shared_ptr<const BlockTrace>(std::uint32_t component, const BlockInput& input)>;

struct ComposedBlock {
  std::shared_ptr<const BlockTrace> trace;
  TraceVector<VertexId> vertices;                         // local → global
  TraceVector<VertexId> exits;                            // exit slot → global
  std::uint32_t first_component = 0, last_component = 0;  // topological numbers covered
  bool cacheable = false;  // one component of ≥ min_block_size vertices, given to the provider
};

struct ModelTrace {
  std::uint32_t param_count = 0;
  std::uint32_t vertex_count = 0;  // of the graph, S included
  std::uint32_t reward_count = 0;
  TraceVector<ComposedBlock> blocks;   // sink-first
  TraceVector<VertexId> start_target;  // S's edges
  TraceVector<double> start_probability;
  TraceVector<double> rewards;  // reward_count × vertex_count

  std::uint64_t operations() const;  // Σ over blocks (a shared trace counts at each use)
  std::uint64_t commands() const;
  // Bytes owned here plus the bytes of each distinct block trace.
  std::size_t bytes() const;
};

// What a run reports of a trace. A composed trace never changes, so whoever holds one
// (the memory cache) can keep these: on two-locus n = 9 summing them over 861 blocks
// was ≈ 0.1 ms of every reused run (docs/performance.md, issue 15 target 3).
struct TraceTotals {
  std::uint64_t operations = 0;
  std::uint64_t commands = 0;
  std::uint64_t bytes = 0;
};
TraceTotals totals_of(const ModelTrace& trace);

constexpr std::uint32_t kDefaultMinBlockSize = 2;

// S's edges must have constant weights (θ coefficients 0): they are probabilities.
// Throws EngineError otherwise, Cancelled when *cancel becomes true. An empty
// provider means record_block for every block.
ModelTrace compose(const Graph& graph, const Condensation& cond, const BlockProvider& provider,
                   std::uint32_t min_block_size = kDefaultMinBlockSize, const std::atomic<bool>* cancel = nullptr);

// Every state in one block, eliminated in one order across component boundaries:
// the reference the hierarchical composition is tested against.
ModelTrace compose_flat(const Graph& graph, const Condensation& cond, const std::atomic<bool>* cancel = nullptr);

}  // namespace phasic
