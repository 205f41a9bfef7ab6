// The serialized form of a BlockTrace: what the disk cache stores.
//
// Layout, little-endian, no padding:
//   "PTTR"  u32 version (6)
//   u32 param_count, u32 vertex_count, u32 exit_count, u32 dot_count
//   u64 op_count, u64 forward_count, u64 solve_count, u64 term_count
//   u8 form            bit 0: the ops are narrow (block_trace.hpp, NarrowOp); bit 1: the
//                      commands are narrow (NarrowForward; version 5); bit 2: the ops
//                      are compact (CompactOp; version 6; never with bit 0)
//   u32 dense size, u32 dense first_op, u64 dense first_forward, u64 dense entry_count
//   dot coefficients   dot_count × (P+1) × u64 (IEEE-754 bit patterns)
//   ops                op_count × (u16 a, u16 b, u16 c) when narrow (version 4),
//                      op_count × (u32 a, u32 b, u32 c) when compact (version 6),
//                      else op_count × (u8 code, u32 a, u32 b, u32 c)
//   forward commands   forward_count × (u32 target, u32 source, u32 multiplier)
//   solve commands     solve_count × (u32 vertex, u32 inverse_rate, u64 term_end)
//   terms              term_count × (u32 target, u32 weight)
//                      (narrow commands: u16 for each of those fields, u32 term_end)
//   dense order        size × u32 local vertex   (DenseTail, block_trace.hpp; version 3)
//   dense entries      entry_count × (u32 row, u32 column, u32 slot)
//   u64 checksum       trace_checksum of every preceding byte (below)
//
// The checksum (version 2) reads 8-byte little-endian words into four independent
// lanes (word i into lane i mod 4: lane = rotl(lane ^ word, 29) · 0x9E3779B97F4A7C15),
// the remaining < 8 bytes FNV-1a into lane 0, then folds h = 0, for each lane
// h = (h ^ lane) · 0x100000001B3 rotated by 31, and finally h ^= length. Version 1's
// byte-wise FNV-1a ran one dependent multiply per byte: on a warm disk cache it cost
// more than the rest of reading a block (docs/performance.md, issue 15).
//
// Invariant: deserialize accepts exactly the byte strings serialize can produce for a
// well-formed trace (every count consistent with the length, every index in range,
// single assignment, ops in the smallest form they fit and commands narrow exactly when they fit, no forward command
// from a vertex to itself, each vertex solved once, terms reading only exits or vertices solved before, no forward
// command writing a vertex an earlier one read, coefficients finite and ≥ 0, a dense part whose order is its solve
// commands' and whose values no other command reads, checksum matching) and throws EngineError on anything else,
// without reading out of bounds or allocating more than the input's size justifies. serialize∘deserialize is the
// identity on bytes, so a reloaded trace evaluates bit-identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "trace/block_trace.hpp"

namespace phasic {

std::vector<std::uint8_t> serialize(const BlockTrace& trace);
// Appends the serialized trace to `out` (for a container of several traces).
void serialize_into(const BlockTrace& trace, std::vector<std::uint8_t>& out);
std::uint64_t trace_checksum(const std::uint8_t* data, std::size_t size);
// A container that has checked a checksum over these bytes itself (the run entry of
// engine/run_entry.hpp, under the disk cache's checksum of the whole file) passes
// verify_checksum = false: the stored checksum is then not computed again. Every
// other check stays, since they, not a checksum, are what keep a crafted input safe.
BlockTrace deserialize(const std::uint8_t* data, std::size_t size, bool verify_checksum = true);

}  // namespace phasic
