// Cuts a block out of the graph: local vertices by membership in a component range,
// targets classified as internal / exit / absorption, then each source's edges sorted
// by target, with all edges into absorbing vertices summed into one absorption form.
#include "trace/block.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace phasic {
namespace {

// Writes host-order bytes; the engine runs on little-endian hosts, so host order is
// the canonical order.
template <class T>
std::uint8_t* put(std::uint8_t* at, T value) {
  std::memcpy(at, &value, sizeof(T));
  return at + sizeof(T);
}

}  // namespace

std::size_t BlockInput::bytes() const {
  return vertices.size() * sizeof(VertexId) + exits.size() * sizeof(VertexId) +
         edge_begin.size() * sizeof(std::uint64_t) + edge_target.size() * sizeof(std::uint32_t) +
         coeffs.size() * sizeof(double);
}

SubgraphVector<std::uint8_t> BlockInput::canonical_bytes() const {
  const std::size_t header = 4 + 4 * 4 + 8;
  SubgraphVector<std::uint8_t> out(header + edge_count() * (8 + 8 * std::size_t(stride())));
  std::uint8_t* at = out.data();
  at = put<std::uint32_t>(at, 0x4b425450);  // "PTBK"
  at = put<std::uint32_t>(at, 1);
  at = put(at, param_count);
  at = put(at, vertex_count);
  at = put(at, exit_count);
  at = put<std::uint64_t>(at, edge_count());
  for (std::uint32_t u = 0; u < vertex_count; ++u) {
    for (std::uint64_t e = edge_begin[u]; e < edge_begin[u + 1]; ++e) {
      at = put(at, u);
      at = put(at, edge_target[e]);
      std::memcpy(at, form(e), 8 * std::size_t(stride()));  // IEEE-754 bit patterns
      at += 8 * std::size_t(stride());
    }
  }
  return out;
}

BlockInput extract_block(const Graph& g, const Condensation& cond, std::uint32_t component) {
  return BlockCutter(g, cond).cut(component, component);
}

BlockInput extract_components(const Graph& g, const Condensation& cond, std::uint32_t first, std::uint32_t last) {
  return BlockCutter(g, cond).cut(first, last);
}

BlockCutter::BlockCutter(const Graph& g, const Condensation& cond) : graph_(g), cond_(cond), place_(g.vertex_count) {
  for (VertexId v = 0; v < g.vertex_count; ++v)
    if (g.absorbing(v)) place_[v] = {kAbsorbing, kAbsorbing};
}

BlockInput BlockCutter::cut(std::uint32_t first, std::uint32_t last) {
  BlockInput b;
  cut_into(first, last, b);
  return b;
}

void BlockCutter::cut_into(std::uint32_t first, std::uint32_t last, BlockInput& b) {
  const Graph& g = graph_;
  const Condensation& cond = cond_;
  if (first == 0 || first > last || last >= cond.component_count)
    throw std::invalid_argument("extract_components: components must be a range of states' components");
  b.param_count = g.param_count;
  const std::uint32_t stride = g.stride();
  b.vertices.clear();
  b.exits.clear();
  b.edge_begin.clear();
  std::size_t members = 0;
  for (std::uint32_t c = first; c <= last; ++c) members += cond.size(c);
  b.vertices.reserve(members);
  for (std::uint32_t c = first; c <= last; ++c)
    for (VertexId v : cond.members_of(c))
      if (!g.absorbing(v)) b.vertices.push_back(v);
  // One component's members are ascending, and so are a run's when exploration
  // numbered it in order (a check is cheaper than the sort it saves). Otherwise a run
  // whose ids are not spread much wider than it is long (SFS: one run of every state)
  // is put in order through a bitmap of its id range, a pass instead of a sort.
  if (first != last && !std::is_sorted(b.vertices.begin(), b.vertices.end())) {
    const auto [low, high] = std::minmax_element(b.vertices.begin(), b.vertices.end());
    const VertexId base = *low;
    const std::size_t span = std::size_t(*high - base) + 1;
    if (span <= 8 * b.vertices.size()) {
      present_.assign((span + 63) / 64, 0);
      for (const VertexId v : b.vertices) present_[(v - base) / 64] |= std::uint64_t(1) << ((v - base) % 64);
      std::size_t at = 0;
      for (std::size_t w = 0; w < present_.size(); ++w)
        for (std::uint64_t bits = present_[w]; bits != 0; bits &= bits - 1)
          b.vertices[at++] = base + static_cast<VertexId>(w * 64 + std::size_t(__builtin_ctzll(bits)));
    } else {
      std::sort(b.vertices.begin(), b.vertices.end());
    }
  }
  b.vertex_count = static_cast<std::uint32_t>(b.vertices.size());

  // The block's vertices are exactly the non-absorbing members of its components, so a
  // target stamped by this cut is inside the block or an exit already listed. Each exit
  // is listed once, when first seen (a stamp per cut, so the marks are never cleared):
  // most edges out of a block share their targets, and sorting every occurrence to drop
  // the repeats cost more than the cut's other work.
  if (++cuts_ == kAbsorbing) {
    for (Place& p : place_)
      if (p.stamp != kAbsorbing) p.stamp = 0;
    cuts_ = 1;
  }
  for (std::uint32_t i = 0; i < b.vertex_count; ++i) place_[b.vertices[i]] = {cuts_, i};
  std::uint64_t edges = 0;  // an upper bound: absorbing edges may merge
  for (VertexId u : b.vertices) {
    edges += g.edge_begin[u + 1] - g.edge_begin[u];
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e) {
      const VertexId t = g.edge_target[e];
      if (const std::uint32_t stamp = place_[t].stamp; stamp != cuts_ && stamp != kAbsorbing) {
        place_[t].stamp = cuts_;
        b.exits.push_back(t);
      }
    }
  }
  std::sort(b.exits.begin(), b.exits.end());
  b.exit_count = static_cast<std::uint32_t>(b.exits.size());
  for (std::uint32_t s = 0; s < b.exit_count; ++s) place_[b.exits[s]].local = b.vertex_count + s;

  const std::uint32_t absorb = b.absorb_target();
  // Sized by the bound and trimmed to what was written below; a reused vector keeps its
  // capacity, so resize zeroes only growth beyond the last block's size.
  b.edge_target.resize(edges);
  b.coeffs.resize(edges * stride);
  b.edge_begin.reserve(b.vertex_count + 1);
  b.edge_begin.push_back(0);
  SubgraphVector<std::uint64_t>& row = row_;
  std::uint64_t written = 0;
  for (VertexId u : b.vertices) {
    const std::uint64_t first_edge = g.edge_begin[u];
    const auto length = static_cast<std::uint32_t>(g.edge_begin[u + 1] - first_edge);
    row.resize(length);
    // Rows are short: insertion sort (shifting, not swapping) beats std::sort's setup.
    for (std::uint32_t i = 0; i < length; ++i) {
      const std::uint32_t local = place_[g.edge_target[first_edge + i]].local;
      const std::uint64_t key = std::uint64_t(local == kAbsorbing ? absorb : local) << 32 | i;
      std::uint32_t j = i;
      for (; j > 0 && row[j - 1] > key; --j) row[j] = row[j - 1];
      row[j] = key;
    }
    const std::uint64_t row_begin = written;
    for (const std::uint64_t key : row) {
      const auto target = static_cast<std::uint32_t>(key >> 32);
      const double* c = g.form(first_edge + (key & 0xffffffffu));
      if (written > row_begin && b.edge_target[written - 1] == target) {
        // A second edge to an absorbing vertex: add into the absorption form.
        double* sum = b.coeffs.data() + (written - 1) * stride;
        for (std::uint32_t i = 0; i < stride; ++i) sum[i] += c[i];
        continue;
      }
      b.edge_target[written] = target;
      copy_form(b.coeffs.data() + written * stride, c, stride);
      ++written;
    }
    b.edge_begin.push_back(written);
  }
  b.edge_target.resize(written);
  b.coeffs.resize(written * stride);
}

}  // namespace phasic
