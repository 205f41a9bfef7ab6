// Where a batch keeps its solution vectors: only at the vertices read outside their
// own block, numbered in block order.
//
// A solve on a block reads x outside the block only at its exits, and collect() reads
// x only at S's targets; a moment's previous solution and both sides of a covariance
// are read on the solving block's own vertices, while that block is being solved. So
// a solution needs a global entry only at the vertices some later block exits into
// (and at S's targets); the rest lives in the block's scratch. Rabbits N = 1000 exits
// into 1,998 of its 501,500 states: a batch's solution vectors shrink from 128 MB to
// 0.5 MB, and the scatter of every x to its global vertex, a cache miss per vertex,
// goes (docs/performance.md, "Target 3", thirteenth round). Kept vertices are
// numbered block by block, so a block's stores are one run.
//
// Block order also numbers every block's vertices one after another (first_vertex):
// a batch reads its rewards in that order, gathered once per call.
//
// Invariant: every vertex some block exits into has an entry (entry[v]; entry is
// undefined at other vertices), every start target too: one local to no block
// (absorbing) has the entry `zero()`, which no block writes;
// block b's kept vertices have the entries [first_kept[b], first_kept[b + 1]), in
// local order, and kept_local[e] is entry e's local index in its block.
#pragma once

#include <cstdint>

#include "memory/accounting.hpp"
#include "trace/model_trace.hpp"

namespace phasic {

struct SolutionPlacement {
  template <class T>
  using Vector = CountedVector<T, Category::Evaluation>;

  explicit SolutionPlacement(const ModelTrace& m);

  std::uint32_t kept_count() const { return std::uint32_t(kept_local.size()); }
  std::uint32_t zero() const { return kept_count(); }  // entries: kept_count() + 1

  UninitializedVector<std::uint32_t, Category::Evaluation> entry;  // of a kept vertex, by global id
  Vector<std::uint32_t> kept_local;                                // entry → local index in its block
  Vector<std::uint32_t> first_kept;                                // per block, and one past the last
  Vector<std::uint64_t> first_vertex;                              // per block, where its vertices start in block order
  Vector<std::uint32_t> start_entry;                               // per start target
};

}  // namespace phasic
