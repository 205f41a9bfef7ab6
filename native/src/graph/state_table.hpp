// The set of states seen during exploration: an open-addressing hash table of vertex
// ids whose rows live in one flat arena (the graph's own `states` array), so a state
// costs its row plus 8 bytes of table, and no state is a separate heap object.
//
// Invariants:
// - The arena holds row_length int32 cells per vertex, vertex 0 (S) first; S is not
//   a state and is never in the table, so slot vertex 0 marks an empty slot.
// - Each slot stores its vertex's full 32-bit hash: probing compares hashes before
//   rows, and growing rehashes without reading rows.
// - The table is at most half full (linear probing stays short) and its bytes are
//   counted in Category::Graph.
#pragma once

#include <cstdint>
#include <utility>

#include "graph/graph.hpp"

namespace phasic {

class StateTable {
 public:
  StateTable(GraphVector<std::int32_t>& arena, std::uint32_t row_length);

  // The vertex whose row equals `row` (which must not point into the arena), and
  // whether it is new. A new row is appended to the arena as vertex `next`.
  std::pair<VertexId, bool> insert(const std::int32_t* row, VertexId next) {
    return insert(row, hash(row, row_length_), next);
  }
  // The same, with `row_hash` == hash(row, row length) computed beforehand (on
  // another thread, say).
  std::pair<VertexId, bool> insert(const std::int32_t* row, std::uint32_t row_hash, VertexId next);

  static std::uint32_t hash(const std::int32_t* row, std::uint32_t length);

  // Look-ups of rows whose hashes are known ahead (the merge's) are pipelined: the
  // slot a hash probes first is fetched a few look-ups early, then the row it points
  // to, so that neither waits on memory when its look-up comes. A hint only: nothing
  // is read that insert() would not read, and a stale guess costs nothing but a fetch.
  void prefetch_slot(std::uint32_t row_hash) const { __builtin_prefetch(slots_.data() + (row_hash & mask_)); }
  // The vertex in the first slot `row_hash` probes if that slot's hash matches (it
  // most likely holds the row), after starting to fetch its row; 0 otherwise.
  VertexId prefetch_row(std::uint32_t row_hash) const {
    const Slot s = slots_[row_hash & mask_];
    if (s.vertex == 0 || s.hash != row_hash) return 0;
    const char* row = reinterpret_cast<const char*>(arena_.data() + std::uint64_t(s.vertex) * row_length_);
    const std::uint64_t bytes = std::uint64_t(row_length_) * sizeof(std::int32_t);
    for (std::uint64_t at = 0; at < bytes; at += 64) __builtin_prefetch(row + at);
    return s.vertex;
  }

 private:
  struct Slot {
    VertexId vertex;
    std::uint32_t hash;
  };
  void grow();

  GraphVector<std::int32_t>& arena_;
  std::uint32_t row_length_;
  CountedVector<Slot, Category::Graph> slots_;
  std::uint64_t mask_;
  std::uint64_t size_ = 0;
};

}  // namespace phasic
