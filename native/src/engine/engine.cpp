#include "engine/engine.hpp"

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/error.hpp"
#include "engine/distribution.hpp"
#include "engine/export.hpp"
#include "engine/json_writer.hpp"
#include "engine/moment_accuracy.hpp"
#include "engine/run.hpp"
#include "engine/scc_detail.hpp"

namespace phasic {
namespace {

// The process start on the steady clock: from /proc (start time in clock ticks since
// boot) where available, so that event times agree with the engine process's own
// start; the addon's load time otherwise.
std::chrono::steady_clock::time_point process_start() {
  const auto now = std::chrono::steady_clock::now();
  std::FILE* f = std::fopen("/proc/self/stat", "r");
  if (!f) return now;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Field 22 (starttime) comes after the command name, which ends at the last ')'.
  const char* p = nullptr;
  for (std::size_t i = 0; i < n; ++i)
    if (buf[i] == ')') p = buf + i;
  unsigned long long start_ticks = 0;
  if (!p) return now;
  int field = 2;
  for (const char* q = p + 1; *q && field < 22; ++q) {
    if (*q == ' ') {
      ++field;
      if (field == 22) start_ticks = std::strtoull(q + 1, nullptr, 10);
    }
  }
  timespec boot;  // CLOCK_BOOTTIME: time since boot, the base of starttime
  if (start_ticks == 0 || clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return now;
  const double since_boot_s = double(boot.tv_sec) + double(boot.tv_nsec) * 1e-9;
  const double age_s = since_boot_s - double(start_ticks) / double(sysconf(_SC_CLK_TCK));
  if (!(age_s >= 0) || age_s > 1e7) return now;
  return now - std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(age_s));
}

const std::chrono::steady_clock::time_point kProcessStart = process_start();

void write_ledger(JsonWriter& w) {
  w.begin_object();
  for (int c = 0; c < kCategoryCount; ++c)
    w.field(category_name(static_cast<Category>(c)),
            static_cast<std::uint64_t>(ledger().bytes(static_cast<Category>(c))));
  w.end_object();
}

}  // namespace

double process_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - kProcessStart).count();
}

const char* phase_name(RunPhase p) {
  switch (p) {
    case RunPhase::Exploring: return "exploring";
    case RunPhase::Decomposing: return "decomposing";
    case RunPhase::Recording: return "recording";
    case RunPhase::Composing: return "composing";
    case RunPhase::Evaluating: return "evaluating";
    case RunPhase::Distribution: return "distribution";
  }
  return "exploring";
}

Engine::Engine()
    : disk_(std::make_shared<DiskCache>()), memory_(std::make_unique<MemoryCache>(config_.memory_cache_bytes)) {}

Engine& engine() {
  // Never destroyed: worker threads may still finish after static destruction starts.
  static Engine* instance = new Engine();
  return *instance;
}

void Engine::configure(const EngineConfig& config) {
  {
    std::lock_guard lock(config_mutex_);
    config_ = config;
    disk_ = std::make_shared<DiskCache>(config.cache_dir, config.max_disk_bytes);
  }
  memory_->set_budget(config.memory_cache_bytes);
  forget_disk_usage();
}

EngineConfig Engine::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

std::shared_ptr<DiskCache> Engine::disk_cache() const {
  std::lock_guard lock(config_mutex_);
  return disk_;
}

std::string Engine::run(std::string_view model_text, const RunOptions& options, const RunObserver& observer) {
  std::lock_guard lock(work_mutex_);
  const std::shared_ptr<DiskCache> disk = disk_cache();
  struct ForgetDiskUsage {
    Engine& e;
    ~ForgetDiskUsage() { e.forget_disk_usage(); }
  } forget{*this};
  // A run's graph and subgraphs are freed by now, but glibc keeps free pages in the
  // arena of the thread that ran it. Returning whole free pages after every run, also
  // a failed one, keeps a host that calls the engine from several threads from
  // ratcheting up each thread's arena. (It cannot shrink the top of a thread's arena;
  // that is why the addon runs all engine work on one thread, native/binding/addon.cpp,
  // where this trim measured no further difference: docs/reliability.md.)
  // A reused run frees only its evaluation scratch: trimming then would hand back
  // pages that the next evaluation faults in again (two-locus n = 9: a reused run
  // spent as long in those page faults as in evaluating).
  bool reused = false;
  struct ReturnFreedPages {
    const bool& skip;
    ~ReturnFreedPages() {
      if (!skip) release_free_heap();
    }
  } release{reused};
  return run_model(model_text, options, observer, RunCaches{*memory_, *disk}, config().memory_budget_bytes, &reused);
}

void Engine::forget_disk_usage() {
  std::lock_guard lock(disk_usage_mutex_);
  disk_usage_ms_ = -1e9;
}

std::string Engine::evaluate(const std::string& trace_key, const std::vector<NamedValues>& params,
                             std::uint32_t moments, const std::vector<RewardNames>& covariances,
                             const std::atomic<bool>* cancel, bool gradient) {
  std::lock_guard lock(work_mutex_);
  if (moments < 1) throw InvalidArgument("moments must be at least 1");
  Key key;
  CachedModel cached;
  if (Key::parse(trace_key, key)) cached = memory_->find_model(key);
  if (!cached.trace) throw TraceNotCached("trace no longer cached; run again");
  const std::size_t p = cached.labels.params.size();
  std::vector<double> thetas;
  thetas.reserve(params.size() * p);
  for (const NamedValues& set : params) {
    const std::vector<double> theta = theta_of(cached.labels, set);
    thetas.insert(thetas.end(), theta.begin(), theta.end());
  }
  const std::vector<RewardPair> pairs = pairs_of(cached.labels, covariances);
  // The batch's placement is built once per cached trace and kept in its entry (counted
  // there; Clear Caches frees it), so a fit's many calls pay for it once (decision 97).
  std::shared_ptr<const SolutionPlacement> placement;
  const PlacementSource kept = [&](const ModelTrace& trace) -> const SolutionPlacement& {
    placement = memory_->placement(key, trace);
    return *placement;
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<Moments> results = evaluate_batch(*cached.trace, kept, thetas, static_cast<std::uint32_t>(params.size()),
                                                std::max<std::uint32_t>(moments, 2), pairs, cancel);
  // The batch is timed as a whole; each result reports its share.
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
                    double(std::max<std::size_t>(params.size(), 1));
  JsonWriter w;
  w.begin_array();
  for (std::size_t i = 0; i < results.size(); ++i) {
    w.begin_object();
    const std::span<const double> theta(thetas.data() + i * p, p);
    settle_absorption(results[i], cached.graph.get(), theta);
    // Judged per θ as a run's are, a flagged value recomputed in quadruple precision
    // (decisions 110, 111): a panel's slider or a fit's step shows no variance or
    // covariance whose digits cancelled without saying so (decision 112).
    const std::string moment_doubts = settle_moment_accuracy(results[i], theta, pairs, cached.labels.rewards,
                                                             cached.graph.get(), cancel);
    write_evaluation(w, cached.labels, theta, results[i], moments, covariances);
    if (!moment_doubts.empty()) w.field("impreciseMoments", moment_doubts);
    w.field("evaluateMs", ms);
    if (gradient) {
      const auto gradient_start = std::chrono::steady_clock::now();
      Gradient g = evaluate_gradient(*cached.trace, theta, results[i].moment_count, results[i], pairs, cancel);
      // Judged and refined per θ as a run's (decision 82): the cached parametric graph
      // is the run's, so a fit's steps and standard errors rest on the same digits.
      const std::vector<ImpreciseDerivatives> doubts = settle_gradient_accuracy(g, results[i], theta, cached.labels,
                                                                                pairs, cached.graph.get(), cancel);
      write_gradient(w, cached.labels, g, moments, covariances);
      w.field("gradientMs",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - gradient_start).count());
      if (!doubts.empty()) {
        w.key("impreciseGradient").begin_object();
        for (const ImpreciseDerivatives& d : doubts) w.field(cached.labels.params[d.param], d.message);
        w.end_object();
      }
    }
    w.end_object();
  }
  w.end_array();
  return w.take();
}

std::string Engine::scc_detail(const std::string& trace_key, std::uint32_t component, const NamedValues& params,
                               std::uint64_t max_states) {
  std::lock_guard lock(work_mutex_);
  Key key;
  CachedModel cached;
  if (Key::parse(trace_key, key)) cached = memory_->find_model(key);
  if (!cached.trace) throw TraceNotCached("trace no longer cached; run again");
  const std::vector<double> theta = theta_of(cached.labels, params);
  // Exploring again can grow as large as the run's exploration: same budget.
  BudgetScope budget(config().memory_budget_bytes);
  return scc_detail_json(memory_->model_text(key), component, theta, max_states);
}

std::string Engine::distribution(const std::string& trace_key, const DistributionRequest& request,
                                 const RunObserver& observer) {
  std::lock_guard lock(work_mutex_);
  Key key;
  CachedModel cached;
  if (Key::parse(trace_key, key)) cached = memory_->find_model(key);
  if (!cached.trace || !cached.graph) throw TraceNotCached("trace no longer cached; run again");
  BudgetScope budget(config().memory_budget_bytes);
  return distribution_json(*cached.graph, cached.labels, trace_key, request, observer);
}

std::string Engine::clear_caches() {
  std::lock_guard lock(work_mutex_);
  const std::shared_ptr<DiskCache> disk_cache_now = disk_cache();
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t rss_before = resident_bytes();
  std::array<std::uint64_t, kCategoryCount> before{};
  for (int c = 0; c < kCategoryCount; ++c) before[c] = ledger().bytes(static_cast<Category>(c));
  const CacheClearStats cleared = memory_->clear();
  const DiskClear disk = disk_cache_now->clear();
  forget_disk_usage();
  release_free_heap();
  const std::uint64_t rss_after = resident_bytes();
  JsonWriter w;
  w.begin_object().key("freedBytes").begin_object();
  for (int c = 0; c < kCategoryCount; ++c) {
    const std::uint64_t now = ledger().bytes(static_cast<Category>(c));
    w.field(category_name(static_cast<Category>(c)), before[c] > now ? before[c] - now : 0);
  }
  w.end_object();
  // Runs are serialized with clears, so no block subgraph is alive here.
  w.field("traces", cleared.traces).field("subgraphs", 0);
  w.key("disk").begin_object().field("files", disk.removed.files).field("bytes", disk.removed.bytes);
  w.field("failed", disk.failed);
  if (!disk.error.empty()) w.field("error", disk.error);
  w.end_object();
  w.field("rssBefore", rss_before).field("rssAfter", rss_after);
  w.field("timeMs", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  w.end_object();
  return w.take();
}

std::string Engine::memory_snapshot() {
  const CacheStats stats = memory_->stats();
  // A directory listing, safe next to a run's atomic writes: the panel stays live.
  DiskUsage disk;
  {
    std::lock_guard lock(disk_usage_mutex_);
    if (process_ms() - disk_usage_ms_ > 1000) {
      disk_usage_ = disk_cache()->usage();
      disk_usage_ms_ = process_ms();
    }
    disk = disk_usage_;
  }
  JsonWriter w;
  w.begin_object().field("timeMs", process_ms()).key("accountedBytes");
  write_ledger(w);
  w.field("peakAccountedBytes", static_cast<std::uint64_t>(ledger().peak()))
      .field("rssBytes", static_cast<std::uint64_t>(resident_bytes()));
  w.key("cache")
      .begin_object()
      .field("entries", stats.blocks + stats.models)
      .field("bytes", stats.held_bytes)
      .field("diskFiles", disk.files)
      .field("diskBytes", disk.bytes)
      .end_object();
  w.end_object();
  return w.take();
}

std::string Engine::export_phasic_json(std::string_view model_text, std::uint64_t max_states) {
  std::lock_guard lock(work_mutex_);
  // Exploring for an export can grow as large as a run's exploration: same budget.
  BudgetScope budget(config().memory_budget_bytes);
  return phasic_graph_json(model_text, max_states);
}

}  // namespace phasic
