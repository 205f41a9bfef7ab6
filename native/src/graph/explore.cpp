// Breadth-first exploration. Vertices are expanded in id order, which is discovery
// order, so the arena of state rows doubles as the BFS queue and the CSR edge arrays
// are written in place: no per-state allocation, and the graph is built in one pass.
//
// Expanding a state (running every binding of every rule on it) depends on that state
// alone and is nearly all of exploration's time; numbering the targets and writing
// the edges is cheap but must follow id order. So exploration runs in rounds: the
// states discovered but not yet expanded (at most kRoundStates) are expanded in
// batches by two threads, each with its own Expander, into per-batch buffers, and the
// calling thread merges the batches in id order as they are done, exactly as one
// thread expanding the states one after the other would have built the graph: the
// same numbering, edges, firing counts, first warning per rule and first error. The
// graph does not depend on the threads (ExploreOptions::parallel = false gives it bit
// for bit).
//
// A rule's bindings are enumerated by an odometer over its loops. Where the rule has
// cell guards (model/binding_guards.hpp: `when c[b][a] >= 1` decided once b and a are
// bound), each is checked as soon as its loops are bound, and a loop whose guard
// reads a cell that advances with it steps through the cells to the next one that
// passes; nothing below a failing guard is enumerated. Rules without guards try
// interval pruning instead. Both only skip bindings that neither fire nor fail.
// Each edge leaves the expanding thread as its target's hash and changed cells, not
// its row; the merge rebuilds the row from the source state.
#include "graph/explore.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "base/error.hpp"
#include "graph/state_table.hpp"
#include "model/binding_guards.hpp"
#include "model/interval_eval.hpp"

namespace phasic {

std::string state_limit_message(std::uint64_t limit, std::uint64_t explored, std::uint64_t transitions) {
  return "the model has more than " + std::to_string(limit) + " states (explored " + std::to_string(explored) +
         " states, " + std::to_string(transitions) +
         " transitions so far); raise phasic.engine.maxStates or --max-states";
}

namespace {

void append_cells(std::string& out, const std::vector<std::uint32_t>& dims, const std::int32_t* cells,
                  std::size_t dim) {
  if (dim == dims.size()) {
    out += std::to_string(*cells);
    return;
  }
  std::size_t stride = 1;
  for (std::size_t d = dim + 1; d < dims.size(); ++d) stride *= dims[d];
  out += '[';
  for (std::uint32_t i = 0; i < dims[dim]; ++i) {
    if (i) out += ", ";
    append_cells(out, dims, cells + i * stride, dim + 1);
  }
  out += ']';
}

}  // namespace

std::string describe_vertex(const Exploration& explored, VertexId vertex) {
  const Graph& g = explored.graph;
  const std::int32_t* state = g.state(vertex);
  std::string out = "state ";
  if (!explored.named_states) {
    append_cells(out, {g.state_length}, state, 0);
    return out + " (vertex " + std::to_string(vertex) + " of the phasic graph, whose states have no names)";
  }
  out += '(';
  bool first = true;
  for (const StateVariable& v : explored.info.variables) {
    if (!first) out += ", ";
    first = false;
    out += v.name + "=";
    append_cells(out, v.dims, state + v.offset, 0);
  }
  return out + ")";
}

namespace {

constexpr VertexId kNoVertex = std::numeric_limits<VertexId>::max();
constexpr double kExactInteger = 9007199254740992.0;  // 2^53
// Nested loops over int32 ranges could enumerate practically forever where nobody
// cancels (the command-line tool); no model needs this many bindings of one rule at
// one state.
constexpr std::uint64_t kMaxBindings = std::uint64_t(1) << 28;

// The first self-transition of a rule that one Expander saw, at `vertex`.
struct SelfTransition {
  VertexId vertex;
  std::uint32_t rule;
  ExploreWarning warning;
};

// What expanding one batch of consecutive states produced, in vertex order.
struct Batch {
  VertexId first = 0, end = 0;         // the states [first, end)
  const std::int32_t* rows = nullptr;  // their rows, a copy the merge cannot move
  std::atomic<bool> done{false};       // set by the expanding thread when the rest is written
  VertexId expanded = 0;               // [first, expanded) were expanded
  GraphVector<std::uint32_t> edges;    // per expanded state: its edges, in firing order
  // Per edge: the target's hash (StateTable::hash) and the cells in which it differs
  // from the source, as (cell, value) pairs in `changes`: a row of a large state per
  // edge would be most of the memory written.
  GraphVector<std::uint32_t> target_hash, change_count;
  GraphVector<std::int32_t> changes;
  GraphVector<double> coeffs;  // per edge: P + 1 rate coefficients
  std::vector<SelfTransition> self_transitions;
  // States where no rule fires though none of the model's absorb conditions holds
  // (counted only in a model that declares some), and the first of them.
  std::uint64_t traps = 0;
  VertexId first_trap = 0;
  std::exception_ptr error;  // thrown by expanding state `expanded`

  void reset(VertexId from, VertexId to, const std::int32_t* from_row) {
    first = expanded = from;
    end = to;
    rows = from_row;
    done.store(false, std::memory_order_relaxed);
    edges.clear();
    target_hash.clear();
    change_count.clear();
    changes.clear();
    coeffs.clear();
    self_transitions.clear();
    traps = 0;
    error = nullptr;
  }
};

// Runs the rules on one state at a time. Each thread has its own: everything here is
// scratch or statistics, and the model is only read.
class Expander {
 public:
  Expander(const CompiledModel& model, const ExploreOptions& options)
      : m_(model),
        options_(options),
        L_(model.state_length),
        P_(std::uint32_t(model.params.size())),
        budget_(options.cancel) {
    std::uint32_t locals = 0;
    for (const Rule& r : m_.rules) locals = std::max(locals, r.locals);
    for (const StandaloneProgram& p : m_.absorb) locals = std::max(locals, p.locals);
    for (const StandaloneProgram& p : m_.rewards) locals = std::max(locals, p.locals);
    locals_.assign(locals, 0.0);
    pre_.resize(L_);
    target_.resize(L_);
    coeff_.resize(P_ + 1);
    self_warned_.assign(m_.rules.size(), false);
    for (const Rule& r : m_.rules) {
      guards_.push_back(options.prune_bindings ? plan_binding_guards(m_, r) : BindingGuards{});
      plans_.push_back(options.prune_bindings && !guards_.back().any() ? plan(r) : RulePlan{});
    }
    interval_locals_.resize(locals);
    firings_.assign(m_.rules.size(), 0);
  }

  const std::vector<std::uint64_t>& firings() const { return firings_; }

  // Expands the states of `batch` in order, stopping at the first that throws.
  void expand(Batch& batch) noexcept {
    batch_ = &batch;
    try {
      for (; batch.expanded < batch.end; ++batch.expanded) {
        if (options_.cancel && options_.cancel->load(std::memory_order_relaxed)) throw Cancelled();
        std::memcpy(pre_.data(), batch.rows + std::uint64_t(batch.expanded - batch.first) * L_,
                    std::size_t(L_) * sizeof(std::int32_t));
        intervals_.set_state(pre_.data(), L_);
        batch.edges.push_back(0);
        expand_state();
      }
    } catch (...) {
      batch.error = std::current_exception();
    }
  }

  // The value of `reward` at `state`.
  double reward(const StandaloneProgram& reward, const std::string& what, const std::int32_t* state) {
    std::memcpy(pre_.data(), state, std::size_t(L_) * sizeof(std::int32_t));
    std::fill(locals_.begin(), locals_.begin() + reward.locals, 0.0);
    return evaluate_in_context(reward.program, what.c_str(), reward.site);
  }

 private:
  void expand_state() {
    for (const StandaloneProgram& a : m_.absorb) {
      std::fill(locals_.begin(), locals_.begin() + a.locals, 0.0);
      if (evaluate_in_context(a.program, nullptr, a.site) != 0) return;
    }
    unchanged_by_ = kNoRule;
    for (std::size_t r = 0; r < m_.rules.size(); ++r) {
      const Rule& rule = m_.rules[r];
      bound_ = 0;
      try {
        apply_rule(r);
      } catch (const EngineError& e) {
        // Only the model's faults are about the rule; a limit keeps its own kind.
        if (e.kind != ErrorKind::Model) throw;
        throw EngineError(std::string(e.what()) + context(rule), e.site >= 0 ? e.site : rule.site, rule.name, e.field);
      }
    }
    // A rule fired here, so the state is not absorbing (model-language.md,
    // "Exploration semantics"); but every firing left it unchanged, so the process
    // stays in it forever.
    if (unchanged_by_ != kNoRule && batch_->edges.back() == 0) {
      const Rule& rule = m_.rules[unchanged_by_];
      throw EngineError("state (" + describe_state(m_, pre_.data()) +
                            ") can never reach an absorbing state: every transition that fires there leaves it "
                            "unchanged (rule " +
                            rule.name + ")",
                        rule.site, rule.name);
    }
    // Absorbing by the language, but a model that says where it absorbs did not say so
    // here: reported after exploration (Explorer::report_traps).
    if (batch_->edges.back() == 0 && !m_.absorb.empty() && batch_->traps++ == 0) batch_->first_trap = batch_->expanded;
  }

  // Runs a program on the pre-state outside any rule (absorb conditions, rewards).
  double evaluate_in_context(const Program& p, const char* what, int site) {
    try {
      return phasic::run(p, pre_.data(), L_, locals_.data(), budget_);
    } catch (const EngineError& e) {
      throw EngineError(std::string(e.what()) +
                            (what ? std::string(" in ") + what : std::string(" in an absorb condition")) +
                            " at state " + describe_state(m_, pre_.data()),
                        e.site >= 0 ? e.site : site);
    }
  }

  // " in rule R with i=0, j=1 at state x=[1, 0]": names the rule, the bound loop
  // variables and the source state.
  std::string context(const Rule& rule) const { return " in rule " + rule.name + binding_and_state(rule); }

  std::string binding_and_state(const Rule& rule) const {
    std::string s;
    for (std::size_t k = 0; k < bound_; ++k) {
      s += k == 0 ? " with " : ", ";
      s += rule.loops[k].name + "=" + std::to_string(loop_value_[k]);
    }
    return s + " at state " + describe_state(m_, pre_.data());
  }

  std::int64_t loop_bound(const Program& p) {
    const double v = phasic::run(p, pre_.data(), L_, locals_.data(), budget_);
    if (!(std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= double(std::numeric_limits<std::int32_t>::max())))
      throw EngineError("loop bound " + format_number(v) + " is not a 32-bit integer");
    return std::int64_t(v);
  }

  // Enumerates the bindings of the rule's loops in nesting order, each ascending,
  // as an odometer (no recursion, however many loops a file declares).
  void apply_rule(std::size_t r) {
    const Rule& rule = m_.rules[r];
    std::fill(locals_.begin(), locals_.begin() + rule.locals, 0.0);
    const std::size_t n = rule.loops.size();
    if (n == 0) {
      fire(r);
      return;
    }
    loop_value_.resize(std::max(loop_value_.size(), n));
    loop_hi_.resize(std::max(loop_hi_.size(), n));
    drive_cell_.resize(std::max(drive_cell_.size(), n));
    const BindingGuards* guards = guards_[r].any() ? &guards_[r] : nullptr;
    if (guards && !guards_hold(guards->by_depth[0], 0)) return;
    std::uint64_t bindings = 0;
    std::size_t k = 0;
    enter_level(r, 0);
    for (;;) {
      if (guards && guards->drives[k]) skip_to_driving_cell(guards->by_depth[k + 1][0], k);
      if (loop_value_[k] > loop_hi_[k]) {
        if (k == 0) break;
        --k;
        bound_ = k;
        ++loop_value_[k];
        continue;
      }
      locals_[rule.loops[k].slot] = double(loop_value_[k]);
      bound_ = k + 1;
      if (guards && !guards_hold(guards->by_depth[k + 1], guards->drives[k])) {  // no binding below fires
        ++loop_value_[k];
        continue;
      }
      if (k + 1 == n) {
        budget_.tick();  // a binding may run no instructions at all
        if (++bindings > kMaxBindings)
          throw EngineError("the rule has more than " + std::to_string(kMaxBindings) + " loop bindings at one state");
        fire(r);
        ++loop_value_[k];
      } else {
        ++k;
        enter_level(r, k);
      }
    }
  }

  // Whether the guards of one depth from `first` on hold with the loops bound so far
  // (binding_guards.hpp: where one fails, no binding below fires).
  bool guards_hold(const std::vector<CellGuard>& guards, std::size_t first) const {
    for (std::size_t i = first; i < guards.size(); ++i) {
      const CellGuard& g = guards[i];
      std::int64_t cell = g.base;
      for (std::size_t j = 0; j < g.coef.size(); ++j) cell += g.coef[j] * loop_value_[j];
      if (cell >= 0 && cell < std::int64_t(L_) && pre_[std::size_t(cell)] < g.least) return false;
    }
    return true;
  }

  // Advances loop k to its next value at which `guard` (which reads loops 0..k, loop k
  // with a positive coefficient) holds: a walk through the cells it reads.
  void skip_to_driving_cell(const CellGuard& guard, std::size_t k) {
    std::int64_t v = loop_value_[k];
    const std::int64_t hi = loop_hi_[k], step = guard.coef[k];
    if (v > hi) return;
    std::int64_t cell = drive_cell_[k] + step * v;
    while (v <= hi && cell >= 0 && cell < std::int64_t(L_) && pre_[std::size_t(cell)] < guard.least) {
      ++v;
      cell += step;
    }
    loop_value_[k] = v;
  }

  void enter_level(std::size_t r, std::size_t k) {
    if (k < guards_[r].drives.size() && guards_[r].drives[k]) {
      const CellGuard& g = guards_[r].by_depth[k + 1][0];
      std::int64_t cell = g.base;
      for (std::size_t j = 0; j < k; ++j) cell += g.coef[j] * loop_value_[j];
      drive_cell_[k] = cell;
    }
    const Rule& rule = m_.rules[r];
    if (prunable(r, k)) {  // an empty range, as far as enumeration goes
      loop_value_[k] = 1;
      loop_hi_[k] = 0;
      return;
    }
    loop_value_[k] = loop_bound(rule.loops[k].lo);
    loop_hi_[k] = loop_bound(rule.loops[k].hi);
  }

  // ---- Pruning of binding subtrees ----------------------------------------------
  //
  // With loops 0..k-1 bound, the bindings below are skipped when interval
  // evaluation proves that, for every one of them, some `when` is false and no
  // step before it, nor any inner loop bound, can raise an error. Each skipped
  // binding would not have fired and would have had no effect, so the graph,
  // the firing counts and the warnings are exactly those of full enumeration.
  // A level where proofs rarely succeed stops trying (the attempt costs a few
  // programs' worth of interval arithmetic). A rule with cell guards never tries:
  // its guards decide the subtrees that matter (the empty cells) for a compare each,
  // where an attempt costs more than the bindings it saves.

  struct LevelStats {
    std::uint32_t attempts = 0, successes = 0;
    bool enabled = true;
  };
  struct RulePlan {
    bool enabled = false;
    std::vector<LevelStats> levels;
  };

  // Pruning needs loop and let slots that only the enumeration and the lets
  // write; a rule whose programs STORE into them is always enumerated in full.
  static RulePlan plan(const Rule& rule) {
    RulePlan p;
    if (rule.loops.empty()) return p;
    std::vector<char> owned(rule.locals, 0);
    for (const RuleLoop& l : rule.loops) {
      if (owned[l.slot]) return p;
      owned[l.slot] = 1;
    }
    for (const RuleStep& s : rule.steps)
      if (s.is_let) {
        if (owned[s.slot] == 1) return p;
        owned[s.slot] = 2;
      }
    auto stores_owned = [&](const Program& prog) {
      for (const Instr& in : prog.code)
        if (in.op == Opcode::Store && owned[in.arg]) return true;
      return false;
    };
    for (const RuleLoop& l : rule.loops)
      if (stores_owned(l.lo) || stores_owned(l.hi)) return p;
    for (const RuleStep& s : rule.steps)
      if (stores_owned(s.program)) return p;
    for (const Program& c : rule.rate)
      if (stores_owned(c)) return p;
    for (const RuleUpdate& u : rule.updates)
      if (stores_owned(u.cell) || stores_owned(u.value)) return p;
    p.enabled = true;
    p.levels.resize(rule.loops.size());
    return p;
  }

  static bool safe_bound(const IntervalResult& b) {
    constexpr double kMax = double(std::numeric_limits<std::int32_t>::max());
    return !b.may_fail && !b.value.nan && b.value.integral && b.value.lo >= -kMax && b.value.hi <= kMax;
  }

  bool prunable(std::size_t r, std::size_t k) {
    RulePlan& plan = plans_[r];
    if (!plan.enabled || !plan.levels[k].enabled) return false;
    LevelStats& stats = plan.levels[k];
    const bool pruned = prove_no_binding_fires(m_.rules[r], k);
    ++stats.attempts;
    stats.successes += pruned;
    if (stats.attempts >= 1024 && stats.successes * 16 < stats.attempts) stats.enabled = false;
    return pruned;
  }

  bool prove_no_binding_fires(const Rule& rule, std::size_t k) {
    Interval* locals = interval_locals_.data();
    std::fill(locals, locals + rule.locals, Interval::top());
    for (std::size_t j = 0; j < k; ++j) locals[rule.loops[j].slot] = Interval::point(double(loop_value_[j]));
    for (std::size_t j = k; j < rule.loops.size(); ++j) {
      const IntervalResult lo = intervals_.run(rule.loops[j].lo, locals);
      const IntervalResult hi = intervals_.run(rule.loops[j].hi, locals);
      if (!safe_bound(lo) || !safe_bound(hi)) return false;
      if (hi.value.hi < lo.value.lo) return true;  // the range is empty for every binding
      locals[rule.loops[j].slot] = Interval{lo.value.lo, hi.value.hi, true, false};
    }
    // A `when` that cannot raise is only worth evaluating to refute: it is tried after
    // the steps that can, so that a later `when` (the usual refuter) is reached without
    // it. Steps read only lets written before them, in slots of their own (plan()),
    // so trying a `when` late sees the same intervals as trying it in order.
    deferred_.clear();
    auto refuted_by_deferred = [&] {
      for (const RuleStep* step : deferred_)
        if (intervals_.run(step->program, locals).value.is_false()) return true;
      return false;
    };
    for (const RuleStep& step : rule.steps) {
      if (!step.is_let && !step.program.can_raise) {
        deferred_.push_back(&step);
        continue;
      }
      const IntervalResult v = intervals_.run(step.program, locals);
      if (v.may_fail) return refuted_by_deferred();  // unless an earlier `when` stops every binding first
      if (step.is_let)
        locals[step.slot] = v.value;
      else if (v.value.is_false())
        return true;
    }
    return refuted_by_deferred();
  }

  void fire(std::size_t r) {
    const Rule& rule = m_.rules[r];
    for (const RuleStep& step : rule.steps) {
      const double v = phasic::run(step.program, pre_.data(), L_, locals_.data(), budget_);
      if (step.is_let)
        locals_[step.slot] = v;
      else if (v == 0)
        return;
    }
    bool any = false;
    for (std::uint32_t k = 0; k <= P_; ++k) {
      const Program& p = rule.rate[k];
      double c = p.empty() ? 0.0 : phasic::run(p, pre_.data(), L_, locals_.data(), budget_);
      if (!std::isfinite(c) || c < 0)
        throw EngineError(coefficient_name(k) + " of the rate is " + format_number(c) + ", but must be finite and >= 0",
                          rule.rate_site);
      if (c == 0) c = 0.0;  // -0 would give the edge a different bit pattern (cache keys)
      coeff_[k] = c;
      any = any || c != 0;
    }
    if (!any) return;
    ++firings_[r];

    // All cells and values from the pre-state, then applied in written order.
    const std::size_t nu = rule.updates.size();
    update_cell_.resize(nu);
    update_value_.resize(nu);
    for (std::size_t i = 0; i < nu; ++i) {
      const RuleUpdate& up = rule.updates[i];
      const double cell = phasic::run(up.cell, pre_.data(), L_, locals_.data(), budget_);
      if (!(cell >= 0 && cell < double(L_)) || cell != std::floor(cell))
        throw EngineError("update target cell " + format_number(cell) + " is outside the state", up.site);
      const double value = phasic::run(up.value, pre_.data(), L_, locals_.data(), budget_);
      if (!std::isfinite(value) || value != std::floor(value) || std::fabs(value) > kExactInteger)
        throw EngineError("update value " + format_number(value) + " is not an integer", up.site);
      update_cell_[i] = std::uint32_t(cell);
      update_value_[i] = std::int64_t(value);
    }
    std::memcpy(target_.data(), pre_.data(), std::size_t(L_) * sizeof(std::int32_t));
    for (std::size_t i = 0; i < nu; ++i) {
      const RuleUpdate& up = rule.updates[i];
      const std::uint32_t c = update_cell_[i];
      std::int64_t v = update_value_[i];
      if (up.op == UpdateOp::Add)
        v = target_[c] + v;
      else if (up.op == UpdateOp::Sub)
        v = target_[c] - v;
      check_bounds(c, v, up.site);
      target_[c] = std::int32_t(v);
    }
    bool changed = false;  // only updated cells can differ from the pre-state
    for (std::size_t i = 0; i < nu; ++i) changed = changed || target_[update_cell_[i]] != pre_[update_cell_[i]];
    if (!changed) {
      if (unchanged_by_ == kNoRule) unchanged_by_ = r;
      if (!self_warned_[r]) {
        self_warned_[r] = true;
        batch_->self_transitions.push_back(SelfTransition{
            batch_->expanded, std::uint32_t(r),
            ExploreWarning{"rule " + rule.name + " leaves the state unchanged" + binding_and_state(rule) +
                               "; such self-transitions are dropped (reported once per rule)",
                           rule.site, rule.name}});
      }
      return;
    }
    ++batch_->edges.back();
    batch_->target_hash.push_back(StateTable::hash(target_.data(), L_));
    std::uint32_t count = 0;
    for (std::size_t i = 0; i < nu; ++i) {
      const std::uint32_t c = update_cell_[i];
      if (target_[c] == pre_[c]) continue;
      bool seen = false;
      for (std::size_t j = 0; j < i; ++j) seen = seen || update_cell_[j] == c;
      if (seen) continue;
      batch_->changes.push_back(std::int32_t(c));
      batch_->changes.push_back(target_[c]);
      ++count;
    }
    batch_->change_count.push_back(count);
    batch_->coeffs.insert(batch_->coeffs.end(), coeff_.begin(), coeff_.end());
  }

  void check_bounds(std::uint32_t cell, std::int64_t v, int site) const {
    if (v >= m_.cell_lo[cell] && v <= m_.cell_hi[cell]) return;
    const ModelVariable& var = m_.variables[m_.cell_variable[cell]];
    std::string why;
    if (v < m_.cell_lo[cell])
      why = "below its lower bound " + std::to_string(var.lo);
    else if (var.hi && v > *var.hi)
      why = "above its upper bound " + std::to_string(*var.hi);
    else
      why = "outside the 32-bit integer range";
    throw EngineError("the update makes " + describe_cell(m_, cell) + " = " + std::to_string(v) + ", " + why, site);
  }

  std::string coefficient_name(std::uint32_t k) const {
    return k == 0 ? std::string("the constant term") : "the coefficient of " + m_.params[k - 1].name;
  }

  const CompiledModel& m_;
  const ExploreOptions& options_;
  const std::uint32_t L_, P_;
  Budget budget_;
  Batch* batch_ = nullptr;  // the batch being expanded

  std::vector<RulePlan> plans_;
  std::vector<BindingGuards> guards_;  // per rule
  IntervalEvaluator intervals_;
  std::vector<Interval> interval_locals_;
  std::vector<const RuleStep*> deferred_;  // `when`s that cannot raise, tried last

  // Scratch, reused for every state.
  std::vector<std::int32_t> pre_, target_;
  std::vector<double> locals_, coeff_;
  std::vector<std::int64_t> loop_value_, loop_hi_;
  std::vector<std::int64_t> drive_cell_;  // per loop: its driving guard's cell without loop k's term
  std::size_t bound_ = 0;                 // loops bound in the current binding (for messages)
  std::vector<std::uint32_t> update_cell_;
  std::vector<std::int64_t> update_value_;
  std::vector<bool> self_warned_;  // by this expander
  static constexpr std::size_t kNoRule = std::numeric_limits<std::size_t>::max();
  std::size_t unchanged_by_ = kNoRule;  // the first rule with a self-transition at the current state
  std::vector<std::uint64_t> firings_;
};

// The second thread: runs `work` once per round it is given, until destroyed.
class HelperThread {
 public:
  explicit HelperThread(std::function<void()> work) : work_(std::move(work)), thread_([this] { loop(); }) {}
  ~HelperThread() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  void start_round() {
    {
      std::lock_guard lock(mutex_);
      ++started_;
    }
    changed_.notify_all();
  }
  // Returns once the work of the last round started has returned.
  void wait_round() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return finished_ == started_; });
  }

 private:
  void loop() {
    for (std::uint64_t round = 0;;) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || started_ != round; });
        if (stop_) return;
        round = started_;
      }
      work_();
      {
        std::lock_guard lock(mutex_);
        finished_ = round;
      }
      changed_.notify_all();
    }
  }

  std::function<void()> work_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t started_ = 0, finished_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: it starts running in the constructor
};

// Builds the graph: numbers the states, writes the edges, and hands the expansion of
// each round's states to two Expanders.
class Explorer {
 public:
  Explorer(const CompiledModel& model, const ExploreOptions& options, Exploration& out)
      : m_(model),
        options_(options),
        out_(out),
        g_(out.graph),
        L_(model.state_length),
        P_(std::uint32_t(model.params.size())),
        table_(out.graph.states, model.state_length),
        expander_(model, options) {
    std::uint64_t limit = options.max_states == 0 ? kNoVertex - 1 : options.max_states;
    limit_ = std::min<std::uint64_t>(limit, kNoVertex - 1);
    g_.param_count = P_;
    g_.state_length = L_;
    g_.states.assign(L_, 0);  // S's row
    coeff_.resize(P_ + 1);
    row_.resize(L_);
    warned_.assign(m_.rules.size(), false);
  }

  void run() {
    expand_start();
    for (VertexId next = 1; next < vertex_count();) {
      const VertexId end = VertexId(std::min<std::uint64_t>(vertex_count(), std::uint64_t(next) + kRoundStates));
      round(next, end);
      next = end;
    }
    g_.edge_begin.push_back(g_.edge_target.size());
    g_.vertex_count = vertex_count();
    out_.rule_firings = expander_.firings();
    if (helper_expander_)
      for (std::size_t r = 0; r < out_.rule_firings.size(); ++r) out_.rule_firings[r] += helper_expander_->firings()[r];
    helper_.reset();
    batches_.reset();
    GraphVector<std::int32_t>().swap(round_rows_);
    if (options_.progress) options_.progress(g_.vertex_count - 1);
    rewards();
    report_traps();
  }

 private:
  // A round's states are split into batches of kBatchStates, claimed in order by both
  // threads; this thread merges them in order as they are done, and expands the next
  // unclaimed one while the batch it needs is not. A round of fewer than
  // kParallelStates states (the first rounds of a search, small models) is left to this
  // thread alone.
  static constexpr VertexId kRoundStates = 8192, kBatchStates = 32, kParallelStates = 64;
  static constexpr std::size_t kMaxBatches = kRoundStates / kBatchStates;
  // How many edges ahead of its look-up the merge fetches a target's table slot, and
  // then its row: a slot must have arrived before its row can be fetched.
  static constexpr std::ptrdiff_t kSlotsAhead = 16, kRowsAhead = 8;

  VertexId vertex_count() const { return VertexId(mark_source_.size()); }

  // S: one constant edge per initial state, merged when two starts are equal.
  void expand_start() {
    mark_source_.push_back(kNoVertex);
    mark_edge_.push_back(0);
    g_.edge_begin.push_back(0);
    for (const ModelStart& s : m_.starts) {
      std::fill(coeff_.begin(), coeff_.end(), 0.0);
      coeff_[0] = s.probability;
      add_edge(0, s.state.data(), coeff_.data());
    }
  }

  // Expands and merges the states [first, end).
  void round(VertexId first, VertexId end) {
    // The merge appends to the arena (which may move it) while batches are expanded.
    round_rows_.assign(g_.states.begin() + std::ptrdiff_t(std::uint64_t(first) * L_),
                       g_.states.begin() + std::ptrdiff_t(std::uint64_t(end) * L_));
    round_batches_ = (end - first + kBatchStates - 1) / kBatchStates;
    if (!batches_) batches_ = std::make_unique<Batch[]>(kMaxBatches);
    for (std::size_t b = 0; b < round_batches_; ++b) {
      const VertexId from = first + VertexId(b) * kBatchStates;
      batches_[b].reset(from, std::min<VertexId>(end, from + kBatchStates),
                        round_rows_.data() + std::uint64_t(from - first) * L_);
    }
    next_batch_.store(0);
    failed_.store(false);
    const bool parallel = options_.parallel && end - first >= kParallelStates &&
                          std::thread::hardware_concurrency() > 1;
    if (parallel) start_helper();
    // However the round ends, the helper is done with it before its batches are reused.
    struct JoinRound {
      Explorer& e;
      bool parallel;
      ~JoinRound() {
        if (!parallel) return;
        e.failed_.store(true);
        e.helper_->wait_round();
      }
    } join{*this, parallel && helper_ != nullptr};
    for (std::size_t b = 0; b < round_batches_; ++b) {
      while (!batches_[b].done.load(std::memory_order_acquire))
        if (!expand_next(expander_)) std::this_thread::yield();
      merge(batches_[b]);
    }
  }

  // Claims the next batch of the round and expands it; false when none is left.
  bool expand_next(Expander& expander) {
    if (failed_.load(std::memory_order_relaxed)) return false;
    const std::size_t b = next_batch_.fetch_add(1);
    if (b >= round_batches_) return false;
    expander.expand(batches_[b]);
    if (batches_[b].error) failed_.store(true);
    batches_[b].done.store(true, std::memory_order_release);
    return true;
  }

  void start_helper() {
    if (!helper_) {
      if (!helper_expander_) helper_expander_.emplace(m_, options_);
      try {
        helper_ = std::make_unique<HelperThread>([this] {
          while (expand_next(*helper_expander_)) {
          }
        });
      } catch (const std::system_error&) {
        return;  // no thread to be had: this one expands every batch
      }
    }
    helper_->start_round();
  }

  // Adds the batch's states' edges in order, as expanding them here would have.
  void merge(const Batch& batch) {
    const std::uint32_t* hash = batch.target_hash.data();
    const std::uint32_t* count = batch.change_count.data();
    const std::int32_t* change = batch.changes.data();
    const double* coeffs = batch.coeffs.data();
    const std::uint32_t* const hash_end = hash + batch.target_hash.size();
    std::size_t warning = 0;
    for (VertexId u = batch.first; u < batch.expanded; ++u) {
      g_.edge_begin.push_back(g_.edge_target.size());
      const std::int32_t* source = batch.rows + std::uint64_t(u - batch.first) * L_;
      std::memcpy(row_.data(), source, std::size_t(L_) * sizeof(std::int32_t));
      for (std::uint32_t e = 0; e < batch.edges[u - batch.first]; ++e, ++hash, ++count, coeffs += P_ + 1) {
        // The look-ups a few edges ahead, in two stages (StateTable::prefetch_slot).
        if (hash_end - hash > kSlotsAhead) table_.prefetch_slot(hash[kSlotsAhead]);
        if (hash_end - hash > kRowsAhead) {
          if (const VertexId v = table_.prefetch_row(hash[kRowsAhead])) {
            __builtin_prefetch(mark_source_.data() + v);
            __builtin_prefetch(mark_edge_.data() + v);
          }
        }
        for (std::uint32_t i = 0; i < *count; ++i) row_[std::size_t(change[2 * i])] = change[2 * i + 1];
        add_edge(u, row_.data(), coeffs, *hash);
        for (std::uint32_t i = 0; i < *count; ++i, change += 2) row_[std::size_t(change[0])] = source[change[0]];
      }
      for (; warning < batch.self_transitions.size() && batch.self_transitions[warning].vertex == u; ++warning) {
        const SelfTransition& t = batch.self_transitions[warning];
        if (!warned_[t.rule]) {
          warned_[t.rule] = true;
          out_.warnings.push_back(t.warning);
        }
      }
      if (options_.progress && u % 4096 == 0) options_.progress(u);
    }
    if (batch.traps > 0 && traps_ == 0) first_trap_ = batch.first_trap;
    traps_ += batch.traps;
    if (batch.error) std::rethrow_exception(batch.error);
  }

  // An edge u -> row with weight coeff_, merged into u's existing edge to the same
  // target. mark_source_[v] == u says that v already is a target of u, at edge
  // mark_edge_[v]; u's edges are the last ones written.
  void add_edge(VertexId u, const std::int32_t* row, const double* coeff) {
    add_edge(u, row, coeff, StateTable::hash(row, L_));
  }
  void add_edge(VertexId u, const std::int32_t* row, const double* coeff, std::uint32_t hash) {
    auto [v, inserted] = table_.insert(row, hash, vertex_count());
    if (inserted) {
      if (std::uint64_t(v) > limit_) {
        const std::uint64_t expanded = u == 0 ? 0 : u - 1;
        throw StateLimitExceeded(state_limit_message(limit_, expanded, g_.edge_target.size()));
      }
      mark_source_.push_back(kNoVertex);
      mark_edge_.push_back(0);
    }
    const std::uint32_t stride = P_ + 1;
    if (mark_source_[v] == u) {
      double* form = g_.coeffs.data() + std::uint64_t(mark_edge_[v]) * stride;
      for (std::uint32_t k = 0; k < stride; ++k) {
        form[k] += coeff[k];
        // Each term was checked finite; only their sum can overflow.
        if (!std::isfinite(form[k]))
          throw EngineError("the transitions from state (" + describe_state(m_, g_.state(u)) + ") to state (" +
                            describe_state(m_, g_.state(v)) + ") sum to a rate whose " +
                            (k == 0 ? std::string("constant term") : "coefficient of " + m_.params[k - 1].name) +
                            " is " + format_number(form[k]) + ", but must be finite");
      }
      return;
    }
    mark_source_[v] = u;
    mark_edge_[v] = g_.edge_target.size();
    g_.edge_target.push_back(v);
    g_.coeffs.insert(g_.coeffs.end(), coeff, coeff + stride);
  }

  // The language absorbs where no rule fires (model-language.md, "Exploration
  // semantics"), so a model without absorb conditions ends that way by design. One that
  // declares them says where it ends: a state neither absorbs by them nor leaves is
  // almost always a rule whose guard misses a case (decision 95). The numbers stand;
  // the run says so.
  void report_traps() {
    if (traps_ == 0) return;
    const bool one = traps_ == 1;
    out_.warnings.push_back(
        {std::to_string(traps_) + (one ? " reached state absorbs" : " reached states absorb") +
             " only because no rule fires there, though the model declares absorb conditions and none holds " +
             (one ? "in it: " : "in them (the first: ") + describe_vertex(out_, first_trap_) + (one ? "" : ")") +
             ". If " + (one ? "it is" : "they are") + " meant to absorb, say so in an absorb condition; " +
             "otherwise a rule's guard or rate misses " + (one ? "it" : "them") +
             " (the moments count the time until such a state is reached)",
         m_.absorb.front().site,
         {}});
  }

  void rewards() {
    const std::uint32_t V = g_.vertex_count;
    g_.reward_count = std::uint32_t(m_.rewards.size());
    g_.rewards.assign(std::uint64_t(g_.reward_count) * V, 0.0);
    for (std::uint32_t r = 0; r < g_.reward_count; ++r) {
      const StandaloneProgram& reward = m_.rewards[r];
      const std::string what = "reward " + reward.name;
      for (VertexId u = 1; u < V; ++u) {
        double x = expander_.reward(reward, what, g_.state(u));
        if (!std::isfinite(x) || x < 0)
          throw EngineError(what + " is " + format_number(x) + " at state " + describe_state(m_, g_.state(u)) +
                                ", but must be finite and >= 0",
                            reward.site);
        if (x == 0) x = 0.0;
        g_.rewards[std::uint64_t(r) * V + u] = x;
      }
    }
  }

  const CompiledModel& m_;
  const ExploreOptions& options_;
  Exploration& out_;
  Graph& g_;
  const std::uint32_t L_, P_;
  std::uint64_t limit_;
  StateTable table_;

  // Per vertex, for merging parallel edges (see add_edge); counted as graph memory.
  GraphVector<VertexId> mark_source_;
  GraphVector<std::uint64_t> mark_edge_;

  std::vector<double> coeff_;      // S's edges
  std::vector<std::int32_t> row_;  // an edge's target, rebuilt from its source and changes
  std::vector<bool> warned_;       // rules whose self-transition was reported
  std::uint64_t traps_ = 0;        // as Batch::traps, over the whole graph
  VertexId first_trap_ = 0;

  Expander expander_;                        // this thread's
  std::optional<Expander> helper_expander_;  // the second thread's, from the first parallel round
  std::unique_ptr<Batch[]> batches_;         // kMaxBatches, reused from round to round
  GraphVector<std::int32_t> round_rows_;     // the round's states
  std::size_t round_batches_ = 0;
  std::atomic<std::size_t> next_batch_{0};
  std::atomic<bool> failed_{false};
  std::unique_ptr<HelperThread> helper_;  // last: stopped before what it uses goes
};

}  // namespace

Exploration explore(const CompiledModel& model, const ExploreOptions& options) {
  Exploration out;
  out.info = model_info(model);
  Explorer(model, options, out).run();
  // Right by the language (no rule fires, so the process ends where it starts), and
  // the first thing a modeller checks when every moment comes out 0: the start is
  // usually a mistake (an empty file, an `init` no rule's guard accepts).
  const Graph& g = out.graph;
  bool absorbed_at_start = true;
  for (std::uint64_t e = g.edge_begin[0]; e < g.edge_begin[1]; ++e)
    absorbed_at_start = absorbed_at_start && g.absorbing(g.edge_target[e]);
  if (absorbed_at_start)
    out.warnings.push_back(
        {"no rule fires in any start state, so the process is absorbed at once: the time and "
         "every reward are 0",
         -1,
         {}});
  return out;
}

}  // namespace phasic
