// The elimination order inside a block: which local vertex to eliminate next.
//
// Choice: greedy minimum Markowitz count, in(v) × out(v), on the block's *current*
// (symbolically eliminated) directed pattern, ties broken by the smaller local index.
// Why Markowitz rather than minimum degree on the symmetrized pattern: eliminating v
// costs, for each of its in(v) remaining parents, one multiplier and one fill update
// per child, so in(v)·out(v) bounds both the new edges and the trace operations that
// step emits, whereas the symmetrized degree in+out treats a vertex with one parent
// and many children (cheap: one row of updates) like one with many of each (costly).
// Out-degree counts exit slots and the absorption target, because updates to those
// edges are operations too, but those targets are never eliminated (they are not
// local vertices). A vertex with no remaining parents costs nothing, so upstream
// vertices of a block that spans several components go first, as they should.
//
// Invariant: the result is a permutation of 0..vertex_count−1 and a deterministic
// function of the block's pattern (never of its coefficients or of timing).
#pragma once

#include <atomic>
#include <cstdint>

#include "trace/block.hpp"

namespace phasic {

SubgraphVector<std::uint32_t> elimination_order(const BlockInput& block, const std::atomic<bool>* cancel = nullptr);

}  // namespace phasic
