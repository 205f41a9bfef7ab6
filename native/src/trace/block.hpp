// A block: the input of one independent elimination, cut out of the graph.
//
// Invariants:
// - Local vertices are the block's non-absorbing vertices in ascending global index
//   (vertices[local] = global). Absorbing vertices are never local: their x is 0.
// - Every out-edge of a local vertex goes to one *target* in a single index space:
//     t < vertex_count                      another local vertex (internal edge);
//     vertex_count ≤ t < vertex_count+exits  exit slot t − vertex_count, a distinct
//                                          non-absorbing vertex outside the block,
//                                          slots numbered by ascending global index;
//     t == absorb_target()                  the vertex's absorption: the sum of the
//                                          forms of all its edges to absorbing
//                                          vertices (at most one such edge per vertex).
//   Edges are stored CSR by local source, each source's targets strictly ascending,
//   so the block is a deterministic function of its graph region.
// - canonical_bytes() encodes exactly what the trace depends on (counts, P, edges and
//   coefficient bit patterns), never global indices: equal bytes ⇒ equal traces.
// - All storage is counted in Category::Subgraphs; a block lives only while its trace
//   is recorded or its key is computed. A cutter may refill one BlockInput block after
//   block (cut_into), so its capacity can exceed what the current block holds: bytes()
//   counts what the block holds.
#pragma once

#include <cstdint>

#include "graph/graph.hpp"
#include "trace/condensation.hpp"

namespace phasic {

template <class T>
using SubgraphVector = CountedVector<T, Category::Subgraphs>;

struct BlockInput {
  std::uint32_t param_count = 0;  // P
  std::uint32_t vertex_count = 0;
  std::uint32_t exit_count = 0;
  SubgraphVector<VertexId> vertices;         // local → global
  SubgraphVector<VertexId> exits;            // exit slot → global
  SubgraphVector<std::uint64_t> edge_begin;  // vertex_count + 1
  // Written entry by entry after a resize to a bound (BlockCutter::cut_into), so not
  // zeroed first: on SFS n = 30 that zeroing was ≈ 1 MB a composition.
  UninitializedVector<std::uint32_t, Category::Subgraphs> edge_target;  // see the target space above
  UninitializedVector<double, Category::Subgraphs> coeffs;              // edge_count × (P+1)

  std::uint32_t stride() const { return param_count + 1; }
  std::uint64_t edge_count() const { return edge_target.size(); }
  std::uint32_t absorb_target() const { return vertex_count + exit_count; }
  const double* form(std::uint64_t e) const { return coeffs.data() + e * stride(); }
  std::size_t bytes() const;

  // Little-endian: "PTBK", u32 version, u32 P, u32 vertex_count, u32 exit_count,
  // u64 edge_count, then per edge (CSR order) u32 source, u32 target, (P+1) × u64
  // coefficient bit patterns.
  SubgraphVector<std::uint8_t> canonical_bytes() const;
};

// Cuts many blocks out of one graph: keeps a graph-sized global → local map, written
// only for the vertices and exits of the block being cut, so each edge's target is
// found by one lookup and cutting all blocks costs O(graph), not O(graph · log).
class BlockCutter {
 public:
  BlockCutter(const Graph& graph, const Condensation& cond);
  // The block of the consecutive components first..last (topological numbers): a run
  // of small components is recorded together. Any vertex set is a valid block as long
  // as its exits are evaluated before it, which sink-first composition guarantees.
  BlockInput cut(std::uint32_t first, std::uint32_t last);
  // The same block written over `out`, reusing its storage: a composition cuts its
  // blocks one at a time into one BlockInput instead of allocating six vectors each.
  void cut_into(std::uint32_t first, std::uint32_t last, BlockInput& out);

 private:
  const Graph& graph_;
  const Condensation& cond_;
  // What the cut knows of each graph vertex, in one entry, so that an edge's target is
  // classified by one load in each pass over the edges (each edge is read twice, and
  // asking the graph whether a target absorbs and the condensation whether it is in
  // the block were three more loads). stamp == cuts_: a vertex or an exit already
  // listed of the current block, with local its local index (for exits once they are
  // numbered); an absorbing vertex has kAbsorbing in both, set once.
  struct Place {
    std::uint32_t stamp = 0, local = 0;
  };
  static constexpr std::uint32_t kAbsorbing = 0xffffffffu;
  SubgraphVector<Place> place_;
  std::uint32_t cuts_ = 0;  // never kAbsorbing
  // One source's edges as (local target << 32 | edge offset in the row): sorting the
  // keys orders by target, then by edge, as one integer comparison.
  SubgraphVector<std::uint64_t> row_;
  // A run's vertices as bits over their id range, for putting them in order (cut_into).
  SubgraphVector<std::uint64_t> present_;
};

// One-off cuts (each allocates its own map).
BlockInput extract_block(const Graph& graph, const Condensation& cond, std::uint32_t component);
BlockInput extract_components(const Graph& graph, const Condensation& cond, std::uint32_t first, std::uint32_t last);

}  // namespace phasic
