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
// a batch reads its rewards in that order (block_rewards), so that it reads them as
// one run per block instead of at scattered global ids.
//
// A placement depends only on the model trace, so whoever keeps the trace builds it
// once and keeps it beside (the memory cache, at the first batch that runs lane
// groups: cache/memory_cache.hpp); it is the trace's data, counted in
// Category::Traces. Built per call, it and the reward gather were 8–14 % of a batch
// of 8 on rabbits (decision 97).
//
// Invariant: every vertex some block exits into has an entry (entry[v]; entry is
// undefined at other vertices), every start target too: one local to no block
// (absorbing) has the entry `zero()`, which no block writes;
// block b's kept vertices have the entries [first_kept[b], first_kept[b + 1]), in
// local order, and kept_local[e] is entry e's local index in its block;
// block_rewards(r)[first_vertex(b) + i] is reward r at block b's local vertex i.
#pragma once

#include <cstdint>

#include "memory/accounting.hpp"
#include "trace/model_trace.hpp"

namespace phasic {

class SolutionPlacement {
 public:
  explicit SolutionPlacement(const ModelTrace& m);

  std::uint32_t kept_count() const { return kept_count_; }
  std::uint32_t zero() const { return kept_count_; }                          // entries: kept_count() + 1
  std::uint32_t entry(VertexId v) const { return data_[v]; }                  // of a kept vertex
  std::uint32_t kept_local(std::uint32_t e) const { return kept_local_[e]; }  // entry e's local index
  std::uint32_t first_kept(std::size_t b) const { return first_kept_[b]; }    // b ≤ blocks
  // Where block b's vertices start in block order (b ≤ blocks: the last is the total).
  std::uint32_t first_vertex(std::size_t b) const { return first_vertex_[b]; }
  std::uint32_t start_entry(std::size_t e) const { return start_entry_[e]; }  // of S's e-th target
  // Reward r at every local vertex, in block order (first_vertex).
  const double* block_rewards(std::size_t r) const { return rewards_.data() + r * first_vertex_[block_count_]; }

  // Whether this is the placement of a trace of m's shape: its vertex, reward and block
  // counts, and each block's size (a placement of another trace would index out of
  // bounds). A pass over the blocks.
  bool fits(const ModelTrace& m) const;
  std::size_t bytes() const { return held_bytes(data_) + held_bytes(rewards_); }

 private:
  // Entry by vertex id, then first_kept_, first_vertex_ (blocks + 1 each), start_entry_,
  // kept_local_: one allocation (a small model's batch is a few µs).
  UninitializedVector<std::uint32_t, Category::Traces> data_;
  UninitializedVector<double, Category::Traces> rewards_;  // reward-major, then block order
  std::uint32_t vertex_count_ = 0, reward_count_ = 0, kept_count_ = 0;
  std::size_t block_count_ = 0;
  std::uint32_t *first_kept_, *first_vertex_, *start_entry_, *kept_local_;
};

}  // namespace phasic
