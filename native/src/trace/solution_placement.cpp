#include "trace/solution_placement.hpp"

namespace phasic {

// Built once per trace (solution_placement.hpp), from arrays that stay in cache where they can: the
// vertices read outside their block are a bitmap (rabbits N = 1000: 63 KB for 501,502
// vertices), and the vertex → entry map is written and read only at kept vertices, so
// it is never filled (filling it was ≈ 7 % of a batch of 8 on rabbits N = 500).
SolutionPlacement::SolutionPlacement(const ModelTrace& m)
    : vertex_count_(m.vertex_count), reward_count_(m.reward_count), block_count_(m.blocks.size()) {
  CountedVector<std::uint64_t, Category::Evaluation> read((std::size_t(m.vertex_count) + 63) / 64, 0);
  const auto is_read = [&](VertexId v) { return (read[v / 64] >> (v % 64)) & 1; };
  std::uint32_t marked = 0;
  const auto mark = [&](VertexId v) {
    marked += !is_read(v);
    read[v / 64] |= std::uint64_t(1) << (v % 64);
  };
  for (const ComposedBlock& b : m.blocks)
    for (VertexId v : b.exits) mark(v);
  for (VertexId z : m.start_target) mark(z);
  const std::size_t B = m.blocks.size();
  data_.resize(std::size_t(m.vertex_count) + 2 * (B + 1) + m.start_target.size() + marked);
  first_kept_ = data_.data() + m.vertex_count;
  first_vertex_ = first_kept_ + B + 1;
  start_entry_ = first_vertex_ + B + 1;
  kept_local_ = start_entry_ + m.start_target.size();
  std::uint32_t local_vertices = 0;
  for (std::size_t bi = 0; bi < B; ++bi) {
    const ComposedBlock& b = m.blocks[bi];
    first_kept_[bi] = kept_count_;
    first_vertex_[bi] = local_vertices;
    local_vertices += std::uint32_t(b.vertices.size());
    for (std::uint32_t i = 0; i < b.vertices.size(); ++i) {
      const VertexId v = b.vertices[i];
      if (!is_read(v)) continue;
      read[v / 64] &= ~(std::uint64_t(1) << (v % 64));  // given its entry
      data_[v] = kept_count_;
      kept_local_[kept_count_++] = i;
    }
  }
  first_kept_[B] = kept_count_;
  first_vertex_[B] = local_vertices;
  // A start target still marked is local to no block (absorbing).
  for (std::size_t e = 0; e < m.start_target.size(); ++e) {
    const VertexId z = m.start_target[e];
    start_entry_[e] = is_read(z) ? zero() : data_[z];
  }
  // Each reward read once, in the order the blocks' solves read it: on rabbits the
  // blocks' global ids are scattered through 4 MB per reward, a cache miss per vertex.
  const std::size_t R = m.reward_count, T = local_vertices;
  rewards_.resize(R * T);
  for (std::size_t bi = 0; bi < B; ++bi) {
    const ComposedBlock& b = m.blocks[bi];
    double* to = rewards_.data() + first_vertex_[bi];
    for (std::size_t r = 0; r < R; ++r) {
      const double* from = m.rewards.data() + r * m.vertex_count;
      for (std::size_t i = 0; i < b.vertices.size(); ++i) to[r * T + i] = from[b.vertices[i]];
    }
  }
}

bool SolutionPlacement::fits(const ModelTrace& m) const {
  if (m.vertex_count != vertex_count_ || m.reward_count != reward_count_ || m.blocks.size() != block_count_)
    return false;
  for (std::size_t bi = 0; bi < block_count_; ++bi)
    if (first_vertex_[bi + 1] - first_vertex_[bi] != m.blocks[bi].vertices.size()) return false;
  return true;
}

}  // namespace phasic
