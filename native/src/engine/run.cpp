#include "engine/run.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "base/error.hpp"
#include "cache/key.hpp"
#include "distribution/certain_absorption.hpp"
#include "distribution/parametric_graph.hpp"
#include "engine/gradient_accuracy.hpp"
#include "engine/gradient_refinement.hpp"
#include "engine/json_writer.hpp"
#include "engine/load.hpp"
#include "engine/moment_accuracy.hpp"
#include "engine/moment_refinement.hpp"
#include "engine/run_entry.hpp"
#include "engine/run_summary.hpp"
#include "graph/explore.hpp"
#include "memory/accounting.hpp"
#include "model/program.hpp"
#include "trace/block.hpp"
#include "trace/block_trace.hpp"
#include "trace/condensation.hpp"
#include "trace/evaluate.hpp"
#include "trace/model_trace.hpp"
#include "trace/trace_format.hpp"

namespace phasic {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

// What the run learned about one cacheable component while obtaining its trace.
struct BlockRecord {
  TraceSource source = TraceSource::Trivial;
  std::uint64_t operations = 0, bytes = 0;
  double record_ms = 0;
  Key key{};
};

struct Lifetime {
  std::uint32_t scc, vertices;
  std::uint64_t bytes;
  double created_ms, freed_ms;
};

// Finds a block's trace: memory cache, then disk cache, then recording. Every trace
// it hands out is held by the memory cache.
class CachingProvider {
 public:
  CachingProvider(RunCaches caches, const RunObserver& observer, std::uint32_t total,
                  CountedVector<BlockRecord, Category::Graph>& records, std::vector<Lifetime>& lifetimes,
                  std::vector<Key>& used_keys)
      : caches_(caches),
        observer_(observer),
        total_(total),
        records_(records),
        lifetimes_(lifetimes),
        used_keys_(used_keys) {}

  std::shared_ptr<const BlockTrace> operator()(std::uint32_t component, const BlockInput& input) {
    check_cancel(observer_.cancel);
    // The subgraph was cut by composition just before this call and is replaced by the
    // next block's right after it returns: that span is its lifetime.
    Lifetime life{component, input.vertex_count, input.bytes(), process_ms(), 0};
    if (observer_.block) observer_.block({true, component, life.vertices, life.bytes, life.created_ms});

    BlockRecord& record = records_[component];
    std::shared_ptr<const BlockTrace> trace;
    {
      const SubgraphVector<std::uint8_t> canonical = input.canonical_bytes();
      const std::span<const std::uint8_t> bytes(canonical.data(), canonical.size());
      record.key = hash128(canonical.data(), canonical.size());
      trace = caches_.memory.find_block(record.key, bytes);
      record.source = TraceSource::Memory;
      if (!trace) trace = from_disk(record.key, bytes, record);
      if (!trace) {
        const auto start = Clock::now();
        BlockTrace recorded = record_block(input, observer_.cancel);
        // Exactly sized, as a trace read from disk is: a block reports the same bytes
        // however it was obtained (and the cache holds no slack).
        recorded.dot_coeffs.shrink_to_fit();
        recorded.ops.shrink_to_fit();
        recorded.forward.shrink_to_fit();
        recorded.solve.shrink_to_fit();
        recorded.terms.shrink_to_fit();
        record.record_ms = ms_since(start);
        record.source = TraceSource::Recorded;
        if (caches_.disk.enabled()) {
          const std::vector<std::uint8_t> payload = serialize(recorded);
          caches_.disk.store(record.key,
                             std::string_view(reinterpret_cast<const char*>(canonical.data()), canonical.size()),
                             std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
        }
        trace = caches_.memory.put_block(record.key, bytes, std::move(recorded));
      }
    }
    record.operations = trace->operations();
    record.bytes = trace->bytes();
    used_keys_.push_back(record.key);

    life.freed_ms = process_ms();
    lifetimes_.push_back(life);
    if (observer_.block) observer_.block({false, component, life.vertices, life.bytes, life.freed_ms});
    if (observer_.progress) observer_.progress({RunPhase::Recording, ++done_, total_});
    return trace;
  }

 private:
  std::shared_ptr<const BlockTrace> from_disk(const Key& key, std::span<const std::uint8_t> canonical,
                                              BlockRecord& record) {
    std::optional<BlockTrace> trace;
    try {
      const bool hit = caches_.disk.load(
          key, std::string_view(reinterpret_cast<const char*>(canonical.data()), canonical.size()),
          [&](PayloadReader& payload) {
            const std::uint64_t size = payload.remaining();
            if (const std::uint8_t* bytes = payload.take(size)) trace.emplace(deserialize(bytes, size));
          });
      if (!hit) return nullptr;
    } catch (const EngineError&) {
      // Checksummed but undecodable: written by an incompatible engine. Recompute.
      caches_.disk.remove(key);
      return nullptr;
    }
    record.source = TraceSource::Disk;
    return caches_.memory.put_block(key, canonical, std::move(*trace));
  }

  RunCaches caches_;
  const RunObserver& observer_;
  std::uint32_t total_, done_ = 0;
  CountedVector<BlockRecord, Category::Graph>& records_;
  std::vector<Lifetime>& lifetimes_;
  std::vector<Key>& used_keys_;
};

std::uint32_t index_of(const std::vector<std::string>& names, const std::string& name, const char* what) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return static_cast<std::uint32_t>(it - names.begin());
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw InvalidArgument("unknown " + std::string(what) + " '" + name + "'; the model's " + what + "s are " +
                        (known.empty() ? "(none)" : known));
}

void write_categories(JsonWriter& w, const std::array<std::uint64_t, kCategoryCount>& bytes) {
  w.begin_object();
  for (int c = 0; c < kCategoryCount; ++c) w.field(category_name(static_cast<Category>(c)), bytes[c]);
  w.end_object();
}

// What the result reports about the graph, taken before the graph goes.
// `blocks`: the components recorded separately, as counted for the run's progress.
RunSummary summarize(const Exploration& explored, const ModelLabels& labels, const Condensation& cond,
                     const CountedVector<BlockRecord, Category::Graph>& records, std::uint32_t min_block_size,
                     std::uint32_t blocks) {
  const Graph& graph = explored.graph;
  RunSummary s;
  s.model = explored.info.name;
  s.blocks = blocks;
  s.vertices = graph.vertex_count;
  s.edges = graph.edge_count();
  for (VertexId u = 1; u < graph.vertex_count; ++u) s.absorbing += graph.absorbing(u) ? 1 : 0;
  s.components.reserve(cond.component_count);
  for (std::uint32_t c = 0; c < cond.component_count; ++c) {
    const BlockRecord& r = records[c];
    const VertexId first = cond.members_of(c)[0];
    s.largest = std::max(s.largest, cond.size(c));
    s.components.push_back({cond.size(c), first, cond.internal_edges[c], cond.exit_edges[c],
                            cond.size(c) == 1 && graph.absorbing(first), r.source, r.operations, r.bytes, r.record_ms,
                            r.key});
    for (const std::uint32_t to : cond.successors(c)) s.component_edges.emplace_back(c, to);
  }
  for (std::size_t i = 0; i < explored.rule_firings.size() && i < explored.info.rule_names.size(); ++i)
    s.rule_firings.emplace_back(explored.info.rule_names[i], explored.rule_firings[i]);
  s.warnings = explored.warnings;
  s.trace_key = model_trace_key(graph, labels, min_block_size);
  return s;
}

// The process's peak resident set so far (the kernel's high-water mark): with the
// final figure beside it, a report says both what the run needed at most and what
// stays. The high-water mark and /proc/self/statm are kept by different counters
// (they differed by ~100 KB), so the peak is at least the `current` figure reported.
std::uint64_t peak_resident_bytes(std::uint64_t current) {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return current;
  return std::max<std::uint64_t>(std::uint64_t(usage.ru_maxrss) * 1024, current);  // kilobytes on Linux
}

struct RunTimings {
  double explore = 0, scc = 0, record = 0, evaluate = 0, gradient = 0;
};

// The decomposition member of a RunResult for `summary`, as the memory cache keeps it
// beside a stored run: a reused run appends it instead of writing it again (decision 55).
std::string decomposition_json(const RunSummary& summary) {
  JsonWriter w;
  summary.write_decomposition(w);
  return w.take();
}

// A RunResult (protocol/engine.ts) for `summary`, whose trace was evaluated at θ.
// `decomposition`, when given, is decomposition_json(summary).

std::string result_json(const RunSummary& summary, bool reused, const TraceTotals& trace, const ModelLabels& labels,
                        std::span<const double> theta, const Moments& moments, const RunOptions& options,
                        const RunTimings& timings, Clock::time_point run_start, const std::vector<Lifetime>& lifetimes,
                        const std::vector<ExploreWarning>& warnings, const Gradient* gradient,
                        const CachedText* decomposition = nullptr) {
  JsonWriter w;
  w.begin_object();
  w.field("model", summary.model)
      .field("vertices", summary.vertices)
      .field("edges", summary.edges)
      .field("absorbing", summary.absorbing)
      .field("reused", reused);
  w.key("sccs")
      .begin_object()
      .field("count", static_cast<std::uint64_t>(summary.components.size()))
      .field("largest", summary.largest)
      .field("blocks", summary.blocks)
      .field("recorded", summary.count(TraceSource::Recorded))
      .field("cached", summary.count(TraceSource::Memory) + summary.count(TraceSource::Disk))
      .end_object();
  w.key("trace")
      .begin_object()
      .field("operations", trace.operations)
      .field("commands", trace.commands)
      .field("bytes", trace.bytes)
      .end_object();
  write_evaluation(w, labels, theta, moments, options.moments, options.covariances);
  if (gradient) write_gradient(w, labels, *gradient, options.moments, options.covariances);
  w.key("timingsMs")
      .begin_object()
      .field("explore", timings.explore)
      .field("scc", timings.scc)
      .field("record", timings.record)
      .field("evaluate", timings.evaluate);
  if (gradient) w.field("gradient", timings.gradient);
  w.field("total", ms_since(run_start)).end_object();
  std::array<std::uint64_t, kCategoryCount> accounted{};
  for (int c = 0; c < kCategoryCount; ++c) accounted[c] = ledger().bytes(static_cast<Category>(c));
  const auto resident = static_cast<std::uint64_t>(resident_bytes());
  w.key("memory").begin_object();
  w.key("accountedBytes");
  write_categories(w, accounted);
  w.field("peakAccountedBytes", static_cast<std::uint64_t>(ledger().peak()))
      .field("rssBytes", resident)
      .field("rssPeakBytes", peak_resident_bytes(resident));
  w.key("blocks").begin_array();
  for (const Lifetime& l : lifetimes)
    w.begin_object()
        .field("scc", l.scc)
        .field("vertices", l.vertices)
        .field("bytes", l.bytes)
        .field("createdMs", l.created_ms)
        .field("freedMs", l.freed_ms)
        .end_object();
  w.end_array().end_object();
  w.field("traceKey", summary.trace_key.hex());
  w.key("ruleFirings").begin_object();
  for (const auto& [name, count] : summary.rule_firings) w.field(name, count);
  w.end_object();
  w.key("warnings").begin_array();
  for (const ExploreWarning& warning : warnings) {
    w.begin_object().field("message", warning.message).field("site", warning.site);
    if (!warning.rule.empty()) w.field("rule", warning.rule);
    w.end_object();
  }
  w.end_array();
  if (options.decomposition) {
    w.key("decomposition");
    if (decomposition)
      w.raw(std::string_view(decomposition->data(), decomposition->size()));
    else
      summary.write_decomposition(w);
  }
  w.end_object();
  return w.take();
}

}  // namespace

// ---- evaluation shared by runs and re-evaluations -------------------------------

std::vector<double> theta_of(const ModelLabels& labels, const NamedValues& values) {
  std::vector<double> theta = labels.param_defaults;
  for (const auto& [name, value] : values) theta[index_of(labels.params, name, "parameter")] = value;
  // Checked here, where the names are known, so that the message names the parameter.
  for (std::size_t p = 0; p < theta.size(); ++p)
    if (!std::isfinite(theta[p]) || theta[p] < 0)
      throw InvalidArgument("parameter " + labels.params[p] + " must be finite and >= 0, got " +
                            format_number(theta[p]));
  return theta;
}

std::vector<RewardPair> pairs_of(const ModelLabels& labels, const std::vector<RewardNames>& names) {
  std::vector<RewardPair> pairs;
  for (const auto& [a, b] : names)
    pairs.push_back({index_of(labels.rewards, a, "reward"), index_of(labels.rewards, b, "reward")});
  return pairs;
}

void settle_absorption(Moments& m, const ParametricGraph* graph, std::span<const double> theta) {
  if (!m.absorption_certain && graph && graph->vertex_count > 0)
    m.absorption_certain = certain_absorption(*graph, theta);
}

// Whether some value written is not finite.
static bool any_non_finite(const Moments& m, std::uint32_t moments) {
  bool any = false;
  for (std::uint32_t r = 0; r < m.reward_count; ++r)
    for (std::uint32_t k = 1; k <= moments; ++k) any = any || !std::isfinite(m.moment(r, k));
  for (double x : m.variance) any = any || !std::isfinite(x);
  for (double x : m.covariance) any = any || !std::isfinite(x);
  return any;
}

// The params/moments/variance/covariance members of a RunResult or EvaluateResult,
// and nonFinite, the reason, when some value is not finite.
void write_evaluation(JsonWriter& w, const ModelLabels& labels, std::span<const double> theta, const Moments& m,
                      std::uint32_t moments, const std::vector<RewardNames>& covariances) {
  w.key("params").begin_object();
  for (std::size_t p = 0; p < labels.params.size(); ++p) w.field(labels.params[p], theta[p]);
  w.end_object();
  w.key("moments").begin_object();
  for (std::uint32_t r = 0; r < m.reward_count; ++r) {
    w.key(labels.rewards[r]).begin_array();
    for (std::uint32_t k = 1; k <= moments; ++k) w.value(m.moment(r, k));
    w.end_array();
  }
  w.end_object();
  w.key("variance").begin_object();
  for (std::uint32_t r = 0; r < m.reward_count; ++r) w.field(labels.rewards[r], m.variance[r]);
  w.end_object();
  w.key("covariance").begin_object();
  for (std::size_t i = 0; i < covariances.size(); ++i)
    w.field(covariances[i].first + "," + covariances[i].second, m.covariance[i]);
  w.end_object();
  // Why some value is not finite (docs/engine.md, "Infinite and undefined moments"). A
  // process absorbed with certainty has every moment finite, so there a value that is
  // not is one beyond a double's range, never an infinite or undefined one.
  if (!any_non_finite(m, moments)) return;
  if (m.absorption_certain)
    w.field("nonFiniteCause", "outOfRange")
        .field("nonFinite",
               "the process is absorbed with probability 1 here, so every moment is finite and positive, but these "
               "are beyond the range of a double (above about 1.8e308 or below about 2.2e-308) or computed from "
               "one that is; rescale a parameter (a time unit) to bring them into range");
  else
    w.field("nonFiniteCause", "notAbsorbed")
        .field("nonFinite",
               "at these parameters the process is not absorbed with probability 1: it reaches, with positive "
               "probability, a state it never leaves (every rate out of it is 0) or states that only lead to each "
               "other; moments of a reward that is positive in every state are infinite, those of other rewards "
               "and all covariances are undefined");
}

void write_gradient(JsonWriter& w, const ModelLabels& labels, const Gradient& g, std::uint32_t moments,
                    const std::vector<RewardNames>& covariances) {
  w.key("gradient").begin_object();
  for (std::uint32_t r = 0; r < g.reward_count; ++r) {
    w.key(labels.rewards[r]).begin_object();
    for (std::uint32_t p = 0; p < g.param_count; ++p) {
      w.key(labels.params[p]).begin_array();
      for (std::uint32_t k = 1; k <= moments; ++k) w.value(g.of_moment(r, k, p));
      w.end_array();
    }
    w.end_object();
  }
  w.end_object();
  w.key("gradientVariance").begin_object();
  for (std::uint32_t r = 0; r < g.reward_count; ++r) {
    w.key(labels.rewards[r]).begin_object();
    for (std::uint32_t p = 0; p < g.param_count; ++p)
      w.field(labels.params[p], g.variance[std::size_t(r) * g.param_count + p]);
    w.end_object();
  }
  w.end_object();
  // Keyed like the covariance member, "A,B" in request order.
  w.key("gradientCovariance").begin_object();
  for (std::size_t i = 0; i < covariances.size() && i < g.pair_count; ++i) {
    w.key(covariances[i].first + "," + covariances[i].second).begin_object();
    for (std::uint32_t p = 0; p < g.param_count; ++p) w.field(labels.params[p], g.covariance[i * g.param_count + p]);
    w.end_object();
  }
  w.end_object();
}

namespace {

// Over the fields a Graph and its ParametricGraph share, so that a graph read back
// from disk is checked against the key its summary names.
template <class AnyGraph>
Key model_trace_key_of(const AnyGraph& g, const ModelLabels& labels, std::uint32_t min_block_size) {
  Hasher h(0x70686173'69637472ULL);  // distinct from block keys by seed
  h.value(min_block_size);
  // The labels: evaluation by this key answers with them and starts from these defaults.
  auto names = [&](const std::vector<std::string>& list) {
    h.value(static_cast<std::uint64_t>(list.size()));
    for (const std::string& name : list) {
      h.value(static_cast<std::uint64_t>(name.size()));
      h.update(name.data(), name.size());
    }
  };
  names(labels.params);
  h.update(labels.param_defaults.data(), labels.param_defaults.size() * sizeof(double));
  names(labels.rewards);
  h.value(g.param_count);
  h.value(g.vertex_count);
  h.value(g.reward_count);
  h.update(g.edge_begin.data(), g.edge_begin.size() * sizeof(std::uint64_t));
  h.update(g.edge_target.data(), g.edge_target.size() * sizeof(VertexId));
  h.update(g.coeffs.data(), g.coeffs.size() * sizeof(double));
  h.update(g.rewards.data(), g.rewards.size() * sizeof(double));
  return h.finish();
}

}  // namespace

Key model_trace_key(const Graph& g, const ModelLabels& labels, std::uint32_t min_block_size) {
  return model_trace_key_of(g, labels, min_block_size);
}
Key model_trace_key(const ParametricGraph& g, const ModelLabels& labels, std::uint32_t min_block_size) {
  return model_trace_key_of(g, labels, min_block_size);
}

// Doubts in ascending order of their parameter, one per parameter (an evaluation's
// impreciseGradient is keyed by it): a parameter with derivatives that are not finite
// and others short of digits gets both sentences in one.
static std::vector<ImpreciseDerivatives> by_parameter(std::vector<ImpreciseDerivatives> doubts) {
  std::stable_sort(doubts.begin(), doubts.end(), [](const auto& a, const auto& b) { return a.param < b.param; });
  std::vector<ImpreciseDerivatives> out;
  for (ImpreciseDerivatives& d : doubts) {
    if (!out.empty() && out.back().param == d.param)
      out.back().message += "; " + d.message;
    else
      out.push_back(std::move(d));
  }
  return out;
}

std::vector<ImpreciseDerivatives> settle_gradient_accuracy(Gradient& gradient, const Moments& moments,
                                                           std::span<const double> theta, const ModelLabels& labels,
                                                           std::span<const RewardPair> pairs,
                                                           const ParametricGraph* graph,
                                                           const std::atomic<bool>* cancel) {
  std::vector<ImpreciseDerivatives> doubts;
  const std::vector<std::uint32_t> flagged = imprecise_parameters(gradient, moments, theta, pairs, kDoubleRounding);
  if (!flagged.empty()) {
    std::string why_not;
    if (!graph || graph->vertex_count == 0)
      why_not = "the model's graph is not at hand";
    else if (!moments.absorption_certain || any_non_finite(moments, moments.moment_count))
      why_not = "a moment is not finite here";
    else {
      const Gradient original = gradient;
      try {
        why_not = refine_gradient(*graph, theta, flagged, pairs, gradient, cancel);
      } catch (const BudgetExceeded&) {
        why_not = "it does not fit in the memory budget";
      }
      // Quadruple precision's differences x_v − x_w keep its rounding of x, not of E/θ:
      // where the process jumps along θ's rates very often that is worse than double.
      if (why_not.empty()) {
        why_not = refinement_disagreement(original, gradient, moments, theta, pairs, labels.params, labels.rewards,
                                          flagged);
        if (!why_not.empty()) gradient = kept_double(original, gradient, flagged);
      }
    }
    for (const std::uint32_t j : flagged) {
      std::string message = why_not.empty() ? gradient_accuracy_warning(gradient, moments, theta, pairs, labels.params,
                                                                        labels.rewards, j, kQuadRounding,
                                                                        "these are recomputed in quadruple precision")
                                            : gradient_accuracy_warning(
                                                  gradient, moments, theta, pairs, labels.params, labels.rewards, j,
                                                  kDoubleRounding, "not recomputed in quadruple precision: " + why_not);
      if (!message.empty()) doubts.push_back({j, std::move(message)});
    }
  }
  // Judged on the gradient as returned, after any recomputation.
  for (std::uint32_t j = 0; j < gradient.param_count; ++j) {
    std::string message = non_finite_derivatives_warning(gradient, moments, theta, pairs, labels.params, labels.rewards,
                                                         j);
    if (!message.empty()) doubts.push_back({j, std::move(message)});
  }
  return by_parameter(std::move(doubts));
}

std::string settle_moment_accuracy(Moments& moments, std::span<const double> theta, std::span<const RewardPair> pairs,
                                   std::span<const std::string> rewards, const ParametricGraph* graph,
                                   const std::atomic<bool>* cancel) {
  const std::vector<ImpreciseMoment> flagged = imprecise_moments(moments, pairs, kDoubleRounding);
  if (flagged.empty()) return {};
  std::string why_not;
  std::vector<double> bounds;
  if (!graph || graph->vertex_count == 0) {
    why_not = "the model's graph is not at hand";
  } else {
    try {
      why_not = refine_moments(*graph, theta, pairs, flagged, moments, bounds, cancel);
    } catch (const BudgetExceeded&) {
      why_not = "it does not fit in the memory budget";
    }
  }
  if (!why_not.empty())
    return moment_accuracy_warning(
        flagged, pairs, rewards,
        as_computed_in_double(kDoubleRounding) + ", not recomputed in quadruple precision: " + why_not);
  // What the recomputed values keep above their bounds.
  std::vector<ImpreciseMoment> doubts;
  for (std::size_t i = 0; i < flagged.size(); ++i) {
    ImpreciseMoment d = flagged[i];
    d.value = d.covariance ? moments.covariance[d.index] : moments.variance[d.index];
    d.uncertainty = bounds[i];
    d.digits = d.value == 0 ? -std::numeric_limits<double>::infinity() : std::log10(std::fabs(d.value) / bounds[i]);
    if (d.digits < kTrustedDigits) doubts.push_back(d);
  }
  return moment_accuracy_warning(doubts, pairs, rewards,
                                 "recomputed in quadruple precision, and its terms agree even beyond that "
                                 "rounding; ± is the recomputation's bound");
}

namespace {

std::optional<Gradient> gradient_if_asked(const ModelTrace& trace, const ModelLabels& labels,
                                          std::span<const double> theta, const Moments& moments,
                                          const RunOptions& options, const std::atomic<bool>* cancel,
                                          RunTimings& timings) {
  if (!options.gradient) return std::nullopt;
  const auto start = Clock::now();
  std::optional<Gradient> g(
      evaluate_gradient(trace, theta, moments.moment_count, moments, pairs_of(labels, options.covariances), cancel));
  timings.gradient = ms_since(start);
  return g;
}

// A run's variances and covariances settled as every evaluation's are
// (settle_moment_accuracy), what remains named in one siteless warning.
void judge_run_moments(Moments& moments, std::span<const double> theta, const ModelLabels& labels,
                       std::span<const RewardPair> pairs, const ParametricGraph* graph, const std::atomic<bool>* cancel,
                       std::vector<ExploreWarning>& warnings) {
  std::string message = settle_moment_accuracy(moments, theta, pairs, labels.rewards, graph, cancel);
  if (!message.empty()) warnings.push_back({std::move(message), -1, {}});
}

// A run's gradient settled as every gradient is (settle_gradient_accuracy), its
// remaining doubts among the run's siteless warnings.
void settle_run_gradient(Gradient& gradient, const Moments& moments, std::span<const double> theta,
                         const ModelLabels& labels, std::span<const RewardPair> pairs, const ParametricGraph* graph,
                         const std::atomic<bool>* cancel, std::vector<ExploreWarning>& warnings, RunTimings& timings) {
  const auto start = Clock::now();
  for (ImpreciseDerivatives& doubt : settle_gradient_accuracy(gradient, moments, theta, labels, pairs, graph, cancel))
    warnings.push_back({std::move(doubt.message), -1, {}});
  timings.gradient += ms_since(start);
}

// What a run entry gave besides what it put into the memory cache: its summary, decoded
// once (a reused run's, from disk), and the answer stored with it, if any.
struct RestoredRun {
  RunSummary summary;
  std::optional<StoredAnswer> answer;
};

// Puts the run entry of this model text from disk (run_entry.hpp) into the memory
// cache; nothing when there is none or it does not decode (then it is removed, and the
// fresh run that follows writes a whole new one over its name).
std::optional<RestoredRun> restore_run(std::string_view model_text, std::uint32_t min_block_size, RunCaches caches) {
  if (!caches.disk.enabled()) return std::nullopt;
  const std::string identity = run_entry_identity(model_text, min_block_size);
  const Key key = run_entry_key(identity);
  RestoredRun restored;
  try {
    // The decoded entry is megabytes in thousands of vectors that live and go
    // together: in one arena of huge pages instead of a first-touch fault per 4 KB
    // (memory/accounting.hpp, decision 40). Decoded, an entry takes at most its
    // encoded size and a fifth more (an op is 13 bytes on disk, 16 in memory); what
    // does not fit comes from operator new. The file streams through the disk cache's
    // small window into it (decision 56): the entry is never held whole a second time.
    std::optional<ArenaScope> arena;
    std::optional<RunEntry> entry;
    const bool hit = caches.disk.load(
        key, identity,
        [&](PayloadReader& payload) {
          const std::uint64_t size = payload.remaining();
          arena.emplace(size + size / 4 + (64u << 10));
          entry.emplace(decode_run_entry(payload));
        },
        EntryKind::Run);
    caches.disk.release_read_window();  // a run that goes on reads blocks through a window of their size
    if (!hit) return std::nullopt;      // a torn or mismatched file: removed, and what it gave is dropped
    if (model_trace_key(entry->graph, entry->labels, min_block_size) != entry->summary.trace_key)
      throw EngineError("corrupt run entry: its graph is not the one its summary names");
    const Key trace_key = entry->summary.trace_key;
    caches.memory.put_model(trace_key, std::move(entry->trace), entry->labels, {}, model_text, std::move(entry->graph));
    // Stored in the reused form (checked by the decoder): kept as read.
    caches.memory.put_run(run_summary_key(model_text, min_block_size), model_text, entry->encoded_summary, trace_key,
                          decomposition_json(entry->summary));
    restored.summary = std::move(entry->summary);
    restored.answer = std::move(entry->answer);
  } catch (const EngineError&) {
    caches.disk.remove(key, EntryKind::Run);
    return std::nullopt;
  } catch (const BudgetExceeded&) {
    return std::nullopt;  // the full run that follows reports the budget
  }
  caches.memory.trim();
  return restored;
}

// An unchanged model (same text, same block size threshold) is not explored again:
// its summary and composed trace come from the memory cache, else from the run's
// entry on disk, and only evaluation runs. A state limit the cached graph exceeds is
// found by running in full.
std::optional<std::string> reuse_run(std::string_view model_text, const RunOptions& options,
                                     const RunObserver& observer, RunCaches caches, Clock::time_point run_start) {
  MemoryCache& memory = caches.memory;
  const Key summary_key = run_summary_key(model_text, options.min_scc_size);
  CachedModel model;
  RunSummary summary;
  std::shared_ptr<const CachedText> decomposition;
  std::optional<StoredAnswer> answer;
  TraceSource source = TraceSource::Memory;
  if (CachedRun cached = memory.find_run(summary_key, model_text); !cached.summary.empty()) {
    summary = decode_run_summary(cached.summary);
    model = std::move(cached.model);
    decomposition = std::move(cached.decomposition);
  } else if (std::optional<RestoredRun> restored = restore_run(model_text, options.min_scc_size, caches)) {
    // Its summary as decoded from the entry (no second decode of what the memory cache
    // now holds), its model as the memory cache holds it (trim may have let it go).
    model = memory.find_model(restored->summary.trace_key);
    if (!model.trace) return std::nullopt;
    summary = std::move(restored->summary);
    summary.mark_reused(TraceSource::Disk);
    answer = std::move(restored->answer);
    source = TraceSource::Disk;
  } else {
    return std::nullopt;
  }
  if (options.max_states != 0 && summary.vertices - 1 > options.max_states) return std::nullopt;
  const ModelLabels& labels = model.labels;
  const std::vector<double> theta = theta_of(labels, options.params);
  const std::vector<RewardPair> pairs = pairs_of(labels, options.covariances);
  const std::uint32_t moment_count = std::max<std::uint32_t>(options.moments, 2);
  if (observer.progress) observer.progress({RunPhase::Evaluating, 0, 1});
  RunTimings timings;
  const auto start = Clock::now();
  Moments moments;
  // The answer the entry's writer gave to this very request (decision 51), else an
  // evaluation.
  if (answer && answer->answers(theta, moment_count, pairs)) {
    moments = std::move(answer->moments);
  } else {
    moments = evaluate(*model.trace, theta, moment_count, pairs, observer.cancel);
    settle_absorption(moments, model.graph.get(), theta);
  }
  timings.evaluate = ms_since(start);
  std::optional<Gradient> gradient = gradient_if_asked(*model.trace, labels, theta, moments, options, observer.cancel,
                                                       timings);
  if (observer.progress) observer.progress({RunPhase::Evaluating, 1, 1});
  // A process whose every run is a run-entry hit still bounds the directory and drops a
  // killed writer's stale temporary files; a memory hit (a θ change) skips the scan,
  // since the process pruned when it first ran or restored this model. A run entry
  // wrote nothing, so the scan is skipped too while the prune stamp shows the
  // directory as the last prune left it (cache/disk_cache.hpp).
  if (source == TraceSource::Disk) caches.disk.prune_if_changed();
  std::vector<ExploreWarning> warnings = summary.warnings;
  judge_run_moments(moments, theta, labels, pairs, model.graph.get(), observer.cancel, warnings);
  if (gradient)
    settle_run_gradient(*gradient, moments, theta, labels, pairs, model.graph.get(), observer.cancel, warnings,
                        timings);
  return result_json(summary, true, model.totals, labels, theta, moments, options, timings, run_start, {}, warnings,
                     gradient ? &*gradient : nullptr, decomposition.get());
}

}  // namespace

std::string run_model(std::string_view model_text, const RunOptions& options, const RunObserver& observer,
                      RunCaches caches, std::uint64_t memory_budget_bytes, bool* reused) {
  if (reused) *reused = false;
  const auto run_start = Clock::now();
  const std::atomic<bool>* cancel = observer.cancel;
  auto progress = [&](RunPhase phase, std::uint64_t done, std::uint64_t total) {
    if (observer.progress) observer.progress({phase, done, total});
  };
  if (options.min_scc_size < 2) throw InvalidArgument("minSccSize must be at least 2");
  if (options.moments < 1) throw InvalidArgument("moments must be at least 1");

  ledger().reset_peak();
  BudgetScope budget(memory_budget_bytes);
  caches.disk.begin_run();
  if (std::optional<std::string> result = reuse_run(model_text, options, observer, caches, run_start)) {
    if (reused) *reused = true;
    return std::move(*result);
  }

  // However the run ends, what it cached respects the memory budget and what it wrote
  // is made durable (a failed run may have cached blocks before it failed).
  struct SettleCaches {
    RunCaches caches;
    ~SettleCaches() {
      caches.memory.trim();
      caches.disk.flush();
      caches.disk.release_read_window();
    }
  } settle{caches};

  // ---- exploration --------------------------------------------------------------
  RunTimings timings;
  progress(RunPhase::Exploring, 0, options.max_states);
  auto phase_start = Clock::now();
  std::optional<Exploration> explored;
  {
    ExploreOptions eo;
    eo.max_states = options.max_states;
    eo.cancel = cancel;
    eo.progress = [&](std::uint64_t states) { progress(RunPhase::Exploring, states, options.max_states); };
    explored.emplace(load_model_file(model_text, eo));
  }
  timings.explore = ms_since(phase_start);
  const Graph& graph = explored->graph;
  const ModelInfo& info = explored->info;
  ModelLabels labels{info.param_names, info.param_defaults, info.reward_names};
  const std::vector<double> theta = theta_of(labels, options.params);
  const std::vector<RewardPair> pairs = pairs_of(labels, options.covariances);
  progress(RunPhase::Exploring, graph.vertex_count - 1, graph.vertex_count - 1);

  // ---- decomposition ------------------------------------------------------------
  progress(RunPhase::Decomposing, 0, 1);
  phase_start = Clock::now();
  std::optional<Condensation> cond(condense(graph, cancel));
  timings.scc = ms_since(phase_start);
  progress(RunPhase::Decomposing, 1, 1);

  std::uint32_t cacheable = 0;
  for (std::uint32_t c = 1; c < cond->component_count; ++c) cacheable += cond->size(c) >= options.min_scc_size;

  // ---- blocks and composition ----------------------------------------------------
  CountedVector<BlockRecord, Category::Graph> records(cond->component_count);
  std::vector<Lifetime> lifetimes;
  std::vector<Key> used_keys;
  progress(RunPhase::Recording, 0, cacheable);
  std::optional<ModelTrace> composed;
  try {
    composed.emplace(compose(graph, *cond, CachingProvider(caches, observer, cacheable, records, lifetimes, used_keys),
                             options.min_scc_size, cancel));
  } catch (const NeverAbsorbed& e) {
    throw EngineError(describe_vertex(*explored, e.vertex) + " can never reach an absorbing state");
  }
  progress(RunPhase::Composing, 1, 1);
  for (const BlockRecord& r : records) timings.record += r.record_ms;
  const RunSummary summary = summarize(*explored, labels, *cond, records, options.min_scc_size, cacheable);

  // The trace holds everything evaluation needs, and the parametric graph what a
  // distribution needs: the graph and its components go now.
  ParametricGraph parametric = parametric_graph_of(graph);
  CountedVector<BlockRecord, Category::Graph>().swap(records);
  cond.reset();
  explored.reset();

  const std::shared_ptr<const ModelTrace> trace = caches.memory.put_model(
      summary.trace_key, std::move(*composed), labels, used_keys, model_text, std::move(parametric));
  const RunSummary reused_summary = summary.as_reused();
  caches.memory.put_run(run_summary_key(model_text, options.min_scc_size), model_text,
                        encode_run_summary(reused_summary), summary.trace_key, decomposition_json(reused_summary));
  // Held for the run entry: the memory cache keeps it too, until a trim.
  const std::shared_ptr<const ParametricGraph> graph_held = caches.memory.find_model(summary.trace_key).graph;

  // The whole run to disk, so that the next process does not explore it again, with
  // this run's answer when there is one (decision 51). An entry larger than the cache
  // would be refused on reading: not written.
  auto write_run_entry = [&](const StoredAnswer* answer) {
    if (!caches.disk.enabled() || !graph_held) return;
    const std::vector<std::uint8_t> entry = encode_run_entry(reused_summary, labels, *trace, *graph_held, answer);
    const std::string identity = run_entry_identity(model_text, options.min_scc_size);
    if (entry.size() + identity.size() + DiskCacheFormat::kHeaderBytes <= caches.disk.max_bytes())
      caches.disk.store(run_entry_key(identity), identity,
                        std::string_view(reinterpret_cast<const char*>(entry.data()), entry.size()), EntryKind::Run);
  };

  // ---- evaluation ---------------------------------------------------------------
  progress(RunPhase::Evaluating, 0, 1);
  phase_start = Clock::now();
  const std::uint32_t moment_count = std::max<std::uint32_t>(options.moments, 2);
  StoredAnswer answer{theta, pairs, {}};
  try {
    answer.moments = evaluate(*trace, theta, moment_count, pairs, cancel);
  } catch (...) {
    write_run_entry(nullptr);  // the model is explored and composed all the same
    throw;
  }
  Moments& moments = answer.moments;
  if (!moments.absorption_certain) settle_absorption(moments, graph_held.get(), theta);
  timings.evaluate = ms_since(phase_start);
  write_run_entry(&answer);
  std::optional<Gradient> gradient = gradient_if_asked(*trace, labels, theta, moments, options, cancel, timings);
  progress(RunPhase::Evaluating, 1, 1);

  caches.disk.flush();
  caches.disk.prune();
  std::vector<ExploreWarning> warnings = summary.warnings;
  if (!caches.disk.warning().empty()) warnings.push_back({caches.disk.warning(), -1, {}});
  judge_run_moments(moments, theta, labels, pairs, graph_held.get(), cancel, warnings);
  if (gradient)
    settle_run_gradient(*gradient, moments, theta, labels, pairs, graph_held.get(), cancel, warnings, timings);
  return result_json(summary, false, totals_of(*trace), labels, theta, moments, options, timings, run_start, lifetimes,
                     warnings, gradient ? &*gradient : nullptr);
}

}  // namespace phasic
