// The engine as its callers (the Node binding, the C++ tests) see it: one instance
// per process that owns the trace caches and runs models through the pipeline of
// run.hpp. Results are JSON text with exactly the shapes of extension/protocol/engine.ts.
//
// Invariants:
// - The caches are the only long-lived owners of model memory. Between calls, the
//   ledger's subgraph and evaluation bytes are 0, its graph bytes are those of the
//   parametric graphs the memory cache keeps beside its model traces (distribution/
//   parametric_graph.hpp), and its graph + trace + cache bytes equal
//   memory_cache().held_bytes(). Its workspace bytes are the large scratch kept mapped
//   for the next evaluation (memory/accounting.hpp, RetainedRegion); clear_caches()
//   and every run that explores release them.
// - Runs, evaluations and clears are serialized (one at a time); memory_snapshot()
//   may be called from any thread at any time.
// - Every failure is an exception (EngineError, Cancelled, BudgetExceeded) thrown
//   after everything the call built has been freed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/disk_cache.hpp"
#include "cache/memory_cache.hpp"

namespace phasic {

struct EngineConfig {
  std::string cache_dir;                        // "" disables the disk cache
  std::uint64_t max_disk_bytes = 512ull << 20;  // 0 disables the disk cache
  std::uint64_t memory_cache_bytes = 256ull << 20;
  std::uint64_t memory_budget_bytes = 0;  // 0: no budget
};

using RewardNames = std::pair<std::string, std::string>;
using NamedValues = std::vector<std::pair<std::string, double>>;

struct RunOptions {
  std::uint64_t max_states = 2'000'000;
  std::uint32_t min_scc_size = 4;
  std::uint32_t moments = 2;
  std::vector<RewardNames> covariances;
  NamedValues params;     // by name; parameters not named take their model default
  bool gradient = false;  // also d moments / d θ and d variance / d θ (trace/gradient.hpp)
  // false: the RunResult without its `decomposition` (the SCCs and the condensation's
  // edges: on large models most of the result's bytes), for callers that do not show
  // it (the CLI).
  bool decomposition = true;
};

// Distribution is the phase of Engine::distribution, not of a run.
enum class RunPhase { Exploring, Decomposing, Recording, Composing, Evaluating, Distribution };
const char* phase_name(RunPhase p);

inline constexpr double kMinDistributionEpsilon = 1e-14;
inline constexpr double kMaxDistributionEpsilon = 1e-3;
inline constexpr double kMaxGridPoints = 100000;

// What Engine::distribution computes (a DistributionParams of the protocol).
struct DistributionRequest {
  std::string reward = "time";
  NamedValues params;                        // by name; parameters not named take their model default
  std::optional<std::vector<double>> times;  // absent: grid_points from 0 to the 0.999 quantile
  double grid_points = 200;
  std::vector<double> quantiles{0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
  double epsilon = 1e-10;  // absolute error bound on every CDF and density value
};

struct RunProgress {
  RunPhase phase;
  std::uint64_t done, total;
};

struct BlockEvent {
  bool created;  // false: freed
  std::uint32_t scc;
  std::uint32_t vertices;
  std::uint64_t bytes;
  double time_ms;
};

// Callbacks are invoked on the thread that runs the call, in event order.
struct RunObserver {
  std::function<void(const RunProgress&)> progress;
  std::function<void(const BlockEvent&)> block;
  const std::atomic<bool>* cancel = nullptr;
};

class Engine {
 public:
  Engine();
  void configure(const EngineConfig& config);
  EngineConfig config() const;

  // A RunResult.
  std::string run(std::string_view model_text, const RunOptions& options, const RunObserver& observer);
  // An array of EvaluateResult, one per parameter set, for a model trace still cached
  // (EngineError "trace no longer cached; run again" otherwise).
  std::string evaluate(const std::string& trace_key, const std::vector<NamedValues>& params, std::uint32_t moments,
                       const std::vector<RewardNames>& covariances, const std::atomic<bool>* cancel = nullptr,
                       bool gradient = false);
  // An SccDetail: SCC `component` of the model whose trace is cached under
  // `trace_key`, its edges' rates at `params` (TraceNotCached when evicted).
  std::string scc_detail(const std::string& trace_key, std::uint32_t component, const NamedValues& params,
                         std::uint64_t max_states);
  // A DistributionResult for the model trace cached under `trace_key`, from the
  // parametric graph kept beside it: never explores (TraceNotCached when evicted).
  std::string distribution(const std::string& trace_key, const DistributionRequest& request,
                           const RunObserver& observer);
  // A ClearResult.
  std::string clear_caches();
  // A MemorySnapshot.
  std::string memory_snapshot();
  // The model's explored graph in phasic's Graph.serialize() JSON.
  std::string export_phasic_json(std::string_view model_text, std::uint64_t max_states);

  MemoryCache& memory_cache() { return *memory_; }
  std::shared_ptr<DiskCache> disk_cache() const;

 private:
  void forget_disk_usage();
  // Serializes runs, evaluations, clears and exports.
  mutable std::mutex work_mutex_;
  // Guards the configuration and which disk cache is current. A call takes the disk
  // cache it starts with and keeps it, so configure() never waits for a run.
  mutable std::mutex config_mutex_;
  EngineConfig config_;
  std::shared_ptr<DiskCache> disk_;
  std::unique_ptr<MemoryCache> memory_;
  // memory_snapshot() is sampled every 100 ms during runs: the directory is listed at
  // most once a second (and after every run or clear).
  std::mutex disk_usage_mutex_;
  double disk_usage_ms_ = -1e9;
  DiskUsage disk_usage_;
};

Engine& engine();

// Milliseconds since this process started (the time base of every event).
double process_ms();

}  // namespace phasic
