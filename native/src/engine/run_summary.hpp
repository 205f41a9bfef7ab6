// What a run reports about its model's graph: everything in a RunResult that depends
// only on the model text and the block size threshold, not on θ. The memory cache
// keeps it, encoded, beside the composed trace, so that running an unchanged model
// again skips exploration, decomposition and composition and still reports the
// whole graph, exactly as a fresh run would.
//
// Invariants:
// - decode_run_summary(encode_run_summary(s)) equals s field for field.
// - A stored summary describes a run whose every block trace is in the memory cache
//   (or, read from a run entry on disk, came from there): as_reused() marks each block
//   as coming from there, with no recording time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/key.hpp"
#include "engine/json_writer.hpp"
#include "graph/explore.hpp"

namespace phasic {

// How a component's trace was obtained in a run.
enum class TraceSource : std::uint8_t { Trivial, Recorded, Memory, Disk };
const char* trace_source_name(TraceSource s);

struct ComponentSummary {
  std::uint32_t vertices = 0, first_vertex = 0;
  std::uint64_t internal_edges = 0, exit_edges = 0;
  bool absorbing = false;
  TraceSource source = TraceSource::Trivial;
  std::uint64_t operations = 0, bytes = 0;
  double record_ms = 0;
  Key key{};
};

struct RunSummary {
  std::string model;
  std::uint64_t vertices = 0, edges = 0, absorbing = 0;
  std::uint32_t largest = 0, blocks = 0;  // largest component; components recorded separately
  std::vector<ComponentSummary> components;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> component_edges;  // condensation edges
  std::vector<std::pair<std::string, std::uint64_t>> rule_firings;
  std::vector<ExploreWarning> warnings;  // exploration's own
  Key trace_key{};

  std::uint32_t count(TraceSource s) const;
  // The same run as a repeat would report it: every block from the memory cache (or
  // from `source`: Disk for a run read from disk).
  RunSummary as_reused(TraceSource source = TraceSource::Memory) const;
  // The same, in place.
  void mark_reused(TraceSource source = TraceSource::Memory);
  // The value of a RunResult's `decomposition` member, written into w (a reused run
  // writes it at every θ: written in place, with no temporary string per component).
  void write_decomposition(JsonWriter& w) const;
};

// The memory cache's key for a model text run with a block size threshold.
Key run_summary_key(std::string_view model_text, std::uint32_t min_block_size);

std::vector<std::uint8_t> encode_run_summary(const RunSummary& s);
RunSummary decode_run_summary(std::span<const std::uint8_t> bytes);

}  // namespace phasic
