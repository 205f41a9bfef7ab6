// Import of a graph serialized by phasic's Graph.serialize() (converted to JSON), as
// an Exploration the rest of the engine treats like an explored model.
//
// Invariants of the result (on top of Graph's own):
// - Vertex numbering is the file's: row u of `states` is vertex u, row 0 is S.
// - S's edges come from `start_edges` (constant weights); `edges` and
//   `constant_edges` give c0, `param_edges` give c1..cP. Rows with the same
//   (from, to) are merged by summing their forms, keeping the order in which each
//   source's targets first appear (edges, then constant_edges, then param_edges,
//   each in file order). Self-loops and all-zero rows are dropped.
// - Parameters are named p1..pP (default 1). Rewards are `time`, then one reward
//   `s<c>` per state cell c whose values are all >= 0 (the cell's value); a cell
//   with a negative value gets no reward, with a warning.
#pragma once

#include "graph/explore.hpp"
#include "json/json.hpp"

namespace phasic {

// Throws EngineError naming the offending field (for example "edges[12][1]").
Exploration import_phasic_graph(const json::Value& root);

}  // namespace phasic
