// The run pipeline: model text → exploration → components → blocks (cached or
// recorded, each block subgraph freed right after its trace exists) → composed trace
// → evaluation → a RunResult as JSON text.
//
// Invariants:
// - Everything a run builds is owned by a scope of run_model (RAII): on success,
//   failure or cancellation the graph, the condensation, every block subgraph and all
//   evaluation scratch are freed before it returns or throws. What survives is what
//   the caches hold on purpose (block traces, the composed model trace).
// - Cancellation is checked in every phase; the memory budget (if any) is in force for
//   the whole run and restored afterwards.
// - A block's trace is the same whichever way it was obtained (memory, disk, recorded):
//   the disk format round-trips bit for bit and a hit requires equal block input.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/disk_cache.hpp"
#include "cache/memory_cache.hpp"
#include "engine/engine.hpp"
#include "engine/json_writer.hpp"
#include "trace/evaluate.hpp"
#include "trace/gradient.hpp"

namespace phasic {

struct RunCaches {
  MemoryCache& memory;
  DiskCache& disk;
};

// `reused` (if given) tells whether the run was answered from a cached run (memory or
// disk) without exploring.
std::string run_model(std::string_view model_text, const RunOptions& options, const RunObserver& observer,
                      RunCaches caches, std::uint64_t memory_budget_bytes, bool* reused = nullptr);

// Evaluation inputs by name → by index, with errors naming the unknown name.
std::vector<double> theta_of(const ModelLabels& labels, const NamedValues& values);
std::vector<RewardPair> pairs_of(const ModelLabels& labels, const std::vector<RewardNames>& names);
// The trace takes an absorption time whose mean is not finite for an uncertain
// absorption, which an overflow fakes (θ = 1e-310 makes E[T] 1.5e310): when it did,
// the graph's structure decides (distribution/certain_absorption.hpp). Without a graph
// (none cached) the trace's judgement stands.
void settle_absorption(Moments& m, const ParametricGraph* graph, std::span<const double> theta);
// Writes the params, moments (the first `moments`), variance and covariance members,
// and when a value is not finite nonFiniteCause ("outOfRange" or "notAbsorbed") and
// nonFinite, the reason in words.
void write_evaluation(JsonWriter& w, const ModelLabels& labels, std::span<const double> theta, const Moments& m,
                      std::uint32_t moments, const std::vector<RewardNames>& covariances);

// Writes the gradient, gradientVariance and gradientCovariance members: per reward, per
// parameter, the derivatives of the first `moments` moments and of the variance; per
// requested pair ("A,B", as the covariance member), per parameter, of the covariance.
void write_gradient(JsonWriter& w, const ModelLabels& labels, const Gradient& g, std::uint32_t moments,
                    const std::vector<RewardNames>& covariances);

// A parameter whose derivatives keep fewer than kTrustedDigits digits
// (engine/gradient_accuracy.hpp), and the siteless warning that says so.
struct ImpreciseDerivatives {
  std::uint32_t param;
  std::string message;
};

// Settles the accuracy of a gradient evaluate_gradient computed at θ, for a run and an
// evaluation alike (decisions 74 and 82): the parameters whose derivatives are at the
// rounding of their terms in double are recomputed in quadruple precision on `graph`
// (engine/gradient_refinement.hpp); those that even so keep too few digits, or could
// not be recomputed (no graph: a cache entry put without one keeps the double
// derivatives rather than exploring the model again), are returned with their
// warning, ascending, one per parameter. So is a parameter with derivatives that are
// not finite though every moment is (gradient_accuracy.hpp, decision 115), judged on
// the gradient as returned. A gradient whose derivatives all keep their digits is not
// touched and nothing is returned: the check reads each derivative once.
std::vector<ImpreciseDerivatives> settle_gradient_accuracy(Gradient& gradient, const Moments& moments,
                                                           std::span<const double> theta, const ModelLabels& labels,
                                                           std::span<const RewardPair> pairs,
                                                           const ParametricGraph* graph,
                                                           const std::atomic<bool>* cancel);

// Settles the accuracy of a run's or an evaluation's variances and covariances (of
// `pairs`) at θ alike (decisions 110 and 111): those that double leaves fewer than
// kTrustedDigits digits (engine/moment_accuracy.hpp) are recomputed in quadruple
// precision on `graph` (engine/moment_refinement.hpp) and written over the double ones;
// returns the one warning naming those that even so keep too few digits, or could not
// be recomputed (saying why), "" when none. Values that keep their digits are not
// touched: the screen reads each once.
std::string settle_moment_accuracy(Moments& moments, std::span<const double> theta, std::span<const RewardPair> pairs,
                                   std::span<const std::string> rewards, const ParametricGraph* graph,
                                   const std::atomic<bool>* cancel);

// The key of a composed model trace: the graph's structure and rewards (never its
// state labels), the block size threshold that shaped the composition, and the
// model's labels (parameter names and defaults, reward names), which evaluation by
// this key answers with. Same-graph models share blocks, never a model trace.
Key model_trace_key(const Graph& graph, const ModelLabels& labels, std::uint32_t min_block_size);
// The same key from the parametric graph (which keeps every field the key covers).
Key model_trace_key(const ParametricGraph& graph, const ModelLabels& labels, std::uint32_t min_block_size);

}  // namespace phasic
