// Hashing and linear probing over state rows.
#include "graph/state_table.hpp"

#include <cstring>

namespace phasic {

namespace {

constexpr std::uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;

inline std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

}  // namespace

StateTable::StateTable(GraphVector<std::int32_t>& arena, std::uint32_t row_length)
    : arena_(arena), row_length_(row_length), slots_(1024, Slot{0, 0}), mask_(1023) {}

// Two cells per 64-bit word, multiply-rotate mixing, and a final avalanche: fixed
// constants, so the table behaves identically on every machine (vertex numbering
// never depends on it anyway; it is discovery order).
std::uint32_t StateTable::hash(const std::int32_t* row, std::uint32_t length) {
  std::uint64_t h = 0x243F6A8885A308D3ull ^ length;
  std::uint32_t i = 0;
  for (; i + 2 <= length; i += 2) {
    std::uint64_t w;
    std::memcpy(&w, row + i, sizeof w);
    h = rotl(h ^ (w * kMul1), 29) * kMul2;
  }
  if (i < length) h = rotl(h ^ (std::uint64_t(std::uint32_t(row[i])) * kMul1), 29) * kMul2;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return std::uint32_t(h);
}

// Short rows inline, where a library memcmp call costs more than the compare; long
// ones (two-locus n = 8 has 81 cells) by memcmp, which compares a vector at a time.
static inline bool same_row(const std::int32_t* a, const std::int32_t* b, std::uint32_t length) {
  if (length > 8) return std::memcmp(a, b, std::size_t(length) * sizeof(std::int32_t)) == 0;
  for (std::uint32_t i = 0; i < length; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

std::pair<VertexId, bool> StateTable::insert(const std::int32_t* row, std::uint32_t h, VertexId next) {
  std::uint64_t i = h & mask_;
  for (;;) {
    const Slot s = slots_[i];
    if (s.vertex == 0) break;
    if (s.hash == h && same_row(arena_.data() + std::uint64_t(s.vertex) * row_length_, row, row_length_))
      return {s.vertex, false};
    i = (i + 1) & mask_;
  }
  arena_.insert(arena_.end(), row, row + row_length_);
  slots_[i] = Slot{next, h};
  if (++size_ * 2 > slots_.size()) grow();
  return {next, true};
}

void StateTable::grow() {
  CountedVector<Slot, Category::Graph> bigger(slots_.size() * 2, Slot{0, 0});
  const std::uint64_t mask = bigger.size() - 1;
  for (const Slot& s : slots_) {
    if (s.vertex == 0) continue;
    std::uint64_t i = s.hash & mask;
    while (bigger[i].vertex != 0) i = (i + 1) & mask;
    bigger[i] = s;
  }
  slots_.swap(bigger);
  mask_ = mask;
}

}  // namespace phasic
