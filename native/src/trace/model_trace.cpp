// Composition walks the condensation from its last component (a sink) back to
// component 1, so blocks come out sink-first; runs of small components are merged
// into one block and recorded inline.
#include "trace/model_trace.hpp"

#include <string>
#include <unordered_set>

#include "base/error.hpp"

namespace phasic {
namespace {

void place(ModelTrace& m, std::shared_ptr<const BlockTrace> trace, const BlockInput& input, std::uint32_t first,
           std::uint32_t last, bool cacheable) {
  if (!trace) throw InternalError("no trace was provided for component " + std::to_string(first));
  if (trace->vertex_count != input.vertex_count || trace->exit_count != input.exit_count ||
      trace->param_count != input.param_count)
    throw InternalError("the trace provided for component " + std::to_string(first) + " does not fit its block");
  ComposedBlock b;
  b.trace = std::move(trace);
  b.vertices.assign(input.vertices.begin(), input.vertices.end());
  b.exits.assign(input.exits.begin(), input.exits.end());
  b.first_component = first;
  b.last_component = last;
  b.cacheable = cacheable;
  m.blocks.push_back(std::move(b));
}

}  // namespace

std::uint64_t ModelTrace::operations() const {
  std::uint64_t n = 0;
  for (const ComposedBlock& b : blocks) n += b.trace->operations();
  return n;
}

std::uint64_t ModelTrace::commands() const {
  std::uint64_t n = 0;
  for (const ComposedBlock& b : blocks) n += b.trace->commands();
  return n;
}

std::size_t ModelTrace::bytes() const {
  std::size_t n = held_bytes(start_target) + held_bytes(start_probability) + held_bytes(rewards) +
                  blocks.capacity() * sizeof(ComposedBlock);
  std::unordered_set<const BlockTrace*> seen;
  for (const ComposedBlock& b : blocks) {
    n += held_bytes(b.vertices) + held_bytes(b.exits);
    if (seen.insert(b.trace.get()).second) n += b.trace->bytes();
  }
  return n;
}

TraceTotals totals_of(const ModelTrace& trace) {
  return {trace.operations(), trace.commands(), static_cast<std::uint64_t>(trace.bytes())};
}

ModelTrace compose(const Graph& g, const Condensation& cond, const BlockProvider& provider,
                   std::uint32_t min_block_size, const std::atomic<bool>* cancel) {
  if (cond.component_of.size() != g.vertex_count) throw InternalError("the condensation does not belong to this graph");
  if (g.rewards.size() != std::size_t(g.reward_count) * g.vertex_count)
    throw EngineError("graph rewards do not have reward_count × vertex_count values");
  if (min_block_size == 0) min_block_size = 1;
  ModelTrace m;
  m.param_count = g.param_count;
  m.vertex_count = g.vertex_count;
  m.reward_count = g.reward_count;
  m.rewards.assign(g.rewards.begin(), g.rewards.end());
  for (std::uint64_t e = g.edge_begin[0]; e < g.edge_begin[1]; ++e) {
    const double* form = g.form(e);
    for (std::uint32_t i = 1; i < g.stride(); ++i)
      if (form[i] != 0) throw EngineError("an initial probability (an edge of S) depends on a parameter");
    m.start_target.push_back(g.edge_target[e]);
    m.start_probability.push_back(form[0]);
  }

  // Blocks first counted, so the block list is allocated once (and its entries never move).
  std::uint32_t block_count = 0;
  for (std::uint32_t c = cond.component_count; c-- > 1;) {
    ++block_count;
    if (cond.size(c) < min_block_size)
      while (c > 1 && cond.size(c - 1) < min_block_size) --c;
  }
  m.blocks.reserve(block_count);

  BlockCutter cutter(g, cond);
  const RecordingScratch scratch;  // for every block recorded on this thread, the provider's too
  BlockInput input;                // refilled block after block (BlockCutter::cut_into)
  for (std::uint32_t c = cond.component_count; c-- > 1;) {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
    if (cond.size(c) >= min_block_size) {
      cutter.cut_into(c, c, input);
      if (input.vertex_count == 0) continue;  // an absorbing vertex: x = 0, nothing to solve
      std::shared_ptr<const BlockTrace> trace = provider ? provider(c, input) : share(record_block(input, cancel));
      place(m, std::move(trace), input, c, c, true);
      continue;
    }
    std::uint32_t first = c;
    while (first > 1 && cond.size(first - 1) < min_block_size) --first;
    cutter.cut_into(first, c, input);
    if (input.vertex_count > 0) place(m, share(record_block(input, cancel)), input, first, c, false);
    c = first;
  }
  return m;
}

ModelTrace compose_flat(const Graph& g, const Condensation& cond, const std::atomic<bool>* cancel) {
  return compose(g, cond, {}, std::numeric_limits<std::uint32_t>::max(), cancel);
}

}  // namespace phasic
