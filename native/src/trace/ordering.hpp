// The elimination order inside a block: which local vertex to eliminate next.
//
// Choice: greedy minimum Markowitz count, in(v) × out(v), on the block's *current*
// (symbolically eliminated) directed pattern, ties broken by the smaller local index.
// Why Markowitz rather than minimum degree on the symmetrized pattern: eliminating v
// costs, for each of its in(v) remaining parents, one multiplier and one fill update
// per child, so in(v)·out(v) bounds both the new edges and the trace operations that
// step emits, whereas the symmetrized degree in+out treats a vertex with one parent
// and many children (cheap: one row of updates) like one with many of each (costly).
// Measured with the same recorder (docs/engine-trace.md): symmetrized degree ties it on
// two-locus, rabbits and structured models and costs 140× more on an acyclic block
// (SFS n=20: 130,341 operations against 914), where a vertex without parents is free;
// local index order costs up to 2× more. AMD was not tried.
//
// The pattern excludes exits: a vertex's edges to exit slots and to absorption are
// one aggregated *leave* weight (see block_trace.hpp), so out(v) = internal children
// + 1 when v can leave the block directly. Counting each exit separately would make
// the order avoid vertices near the block's boundary for updates that no longer exist.
// A vertex with no remaining parents costs nothing, so upstream vertices of a block
// that spans several components go first, as they should.
//
// On an acyclic block the rule needs no queue: every step has a vertex without
// parents (count 0), eliminating it adds no fill, and the smallest such index goes
// first, so the order is the smallest topological order by local index — Kahn's
// algorithm with a heap of ready vertices, one push per vertex instead of one per edge
// (on SFS the Markowitz heap was a third of recording). When every internal edge goes
// to a higher local index (exploration numbers states breadth-first, so acyclic
// regions usually are numbered that way) it is 0..n−1 without a heap. acyclic_order
// gives that order, or nothing for a block with a cycle or with a vertex without any
// edge (which the Markowitz path reports as never absorbed, naming the same vertex).
//
// EliminationQueue is the rule; record_block drives it during the one symbolic pass
// that also records (the recorder's adjacency is the pattern), elimination_order runs
// the same rule on the pattern alone (diagnostics, benchmarks).
//
// Invariant: the order is a permutation of 0..vertex_count−1 and a deterministic
// function of the block's pattern (never of its coefficients or of timing).
#pragma once

#include <atomic>
#include <cstdint>

#include "trace/block.hpp"

namespace phasic {

// A lazy min-heap of (Markowitz count, vertex): push a vertex again whenever its count
// may have changed; pop skips entries whose count is stale or whose vertex is done.
// A push with the count of the vertex's newest entry is dropped: that entry is still
// valid, so the order is the same and the heap holds fewer stale entries.
//
// Its users push every vertex whose count changed before the next pop, so each vertex
// not done has its newest count current, and the heap's top is the vertex not done of
// least (newest count, index). Up to kScanned vertices that minimum is found by one
// scan of the newest counts instead: a block of a few vertices spent more on the heap's
// pushes and pops than on that scan (a tenth of two-locus n = 6's composition, whose
// blocks have 4–50 vertices; decision 107). The order is the same.
class EliminationQueue {
 public:
  static constexpr std::uint32_t kEmpty = 0xffffffffu;
  explicit EliminationQueue(std::uint32_t vertex_count);
  // Empties the queue for a block of vertex_count vertices, keeping its storage.
  void reset(std::uint32_t vertex_count);
  // Gives the storage back when it exceeds keep entries.
  void trim(std::size_t keep);
  void push(std::uint32_t vertex, std::uint64_t count);
  // The next vertex (marked done), or kEmpty. current(v) is v's count now.
  template <class Count>
  std::uint32_t pop(Count current) {
    if (scanned_) return pop_scanned();
    while (!heap_.empty()) {
      const Entry top = take();
      if (!done_[top.vertex] && top.count == current(top.vertex)) {
        done_[top.vertex] = 1;
        return top.vertex;
      }
    }
    return kEmpty;
  }
  bool done(std::uint32_t vertex) const { return done_[vertex] != 0; }

 private:
  struct Entry {
    std::uint64_t count;
    std::uint32_t vertex;
  };
  static constexpr std::uint32_t kScanned = 32;
  Entry take();
  std::uint32_t pop_scanned();
  bool scanned_ = false;  // the block has at most kScanned vertices: no heap
  SubgraphVector<Entry> heap_;
  SubgraphVector<std::uint8_t> done_;
  SubgraphVector<std::uint64_t> newest_;  // count of each vertex's newest entry
};

// The elimination order of an acyclic block (see above), or empty when the block has a
// cycle or a vertex without edges.
SubgraphVector<std::uint32_t> acyclic_order(const BlockInput& block);
// The same into `order`, with `parents` and `ready` as working storage: the recorder
// passes vectors it keeps between blocks.
void acyclic_order(const BlockInput& block, SubgraphVector<std::uint32_t>& order,
                   SubgraphVector<std::uint32_t>& parents, SubgraphVector<std::uint32_t>& ready);

SubgraphVector<std::uint32_t> elimination_order(const BlockInput& block, const std::atomic<bool>* cancel = nullptr);

}  // namespace phasic
