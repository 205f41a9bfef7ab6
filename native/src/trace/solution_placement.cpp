#include "trace/solution_placement.hpp"

namespace phasic {

// Built at each batch call, from arrays that stay in cache where they can: the
// vertices read outside their block are a bitmap (rabbits N = 1000: 63 KB for 501,502
// vertices), and the vertex → entry map is written and read only at kept vertices, so
// it is never filled (filling it was ≈ 7 % of a batch of 8 on rabbits N = 500).
SolutionPlacement::SolutionPlacement(const ModelTrace& m) : entry(m.vertex_count) {
  Vector<std::uint64_t> read((std::size_t(m.vertex_count) + 63) / 64, 0);
  const auto is_read = [&](VertexId v) { return (read[v / 64] >> (v % 64)) & 1; };
  std::uint32_t marked = 0;
  const auto mark = [&](VertexId v) {
    marked += !is_read(v);
    read[v / 64] |= std::uint64_t(1) << (v % 64);
  };
  for (const ComposedBlock& b : m.blocks)
    for (VertexId v : b.exits) mark(v);
  for (VertexId z : m.start_target) mark(z);
  kept_local.reserve(marked);
  first_kept.reserve(m.blocks.size() + 1);
  first_vertex.reserve(m.blocks.size() + 1);
  std::uint64_t local_vertices = 0;
  for (const ComposedBlock& b : m.blocks) {
    first_kept.push_back(kept_count());
    first_vertex.push_back(local_vertices);
    local_vertices += b.vertices.size();
    for (std::uint32_t i = 0; i < b.vertices.size(); ++i) {
      const VertexId v = b.vertices[i];
      if (!is_read(v)) continue;
      read[v / 64] &= ~(std::uint64_t(1) << (v % 64));  // given its entry
      entry[v] = kept_count();
      kept_local.push_back(i);
    }
  }
  first_kept.push_back(kept_count());
  first_vertex.push_back(local_vertices);
  // A start target still marked is local to no block (absorbing).
  start_entry.reserve(m.start_target.size());
  for (VertexId z : m.start_target) start_entry.push_back(is_read(z) ? zero() : entry[z]);
}

}  // namespace phasic
