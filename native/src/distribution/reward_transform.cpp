#include "distribution/reward_transform.hpp"

#include <algorithm>
#include <cmath>

#include "base/error.hpp"
#include "distribution/certain_absorption.hpp"

namespace phasic {
namespace {

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

std::string not_certain(std::uint64_t trapped, std::uint64_t reachable) {
  return "absorption is not certain at these parameters: " + std::to_string(trapped) + " of the " +
         std::to_string(reachable) +
         " states the process reaches lead to no absorbing state along transitions with positive rates, so its "
         "time to absorption (and a reward's total) is infinite with positive probability and has no proper "
         "distribution";
}

// An out-edge of the elimination graph: a jump probability to `to` (kSink: absorption).
struct Arc {
  std::uint32_t to;
  double p;
};
using Arcs = EvaluationVector<Arc>;

}  // namespace

TransientChain transform_reward(const ParametricGraph& g, std::span<const double> theta, std::uint32_t reward,
                                const std::string& reward_name, const std::atomic<bool>* cancel) {
  const std::uint32_t n = g.vertex_count;
  EvaluationVector<double> rate(g.edge_count());
  for (std::uint64_t e = 0; e < g.edge_count(); ++e) {
    rate[e] = g.rate(e, theta.data());
    if (!std::isfinite(rate[e]))
      throw InvalidArgument("a transition rate is not finite at these parameters (it overflows a double)");
  }

  // Reachable from S along positive rates, and from which an absorbing vertex is reachable.
  EvaluationVector<std::uint8_t> reached = absorption_marks(g, [&](std::uint64_t e) { return rate[e] > 0; });
  check_cancel(cancel);
  {
    std::uint64_t reachable = 0, trapped = 0;
    for (VertexId u = 1; u < n; ++u) {
      reachable += reached[u] != kUnreached;
      trapped += reached[u] == kTrapped;
    }
    if (trapped > 0) throw EngineError(not_certain(trapped, reachable));
  }
  check_cancel(cancel);

  // Local numbering: reachable transient states; kept ones (R > 0) first in `keep`.
  constexpr std::uint32_t kNone = 0xffffffffu;
  EvaluationVector<std::uint32_t> local(n, kNone);
  std::uint32_t transient = 0, zero = 0;
  for (VertexId u = 1; u < n; ++u) {
    if (!reached[u] || g.absorbing(u)) continue;
    const double r = g.reward(reward, u);
    if (!std::isfinite(r) || r < 0)
      throw EngineError("reward " + reward_name + " is " + (std::isfinite(r) ? "negative" : "not finite") +
                        " in a state the process reaches; a distribution needs rewards that are finite and >= 0");
    local[u] = transient++;
    zero += r == 0;
  }

  TransientChain chain;
  chain.eliminated = zero;
  double start_sum = 0;
  for (std::uint64_t e = g.edge_begin[0]; e < g.edge_begin[1]; ++e) start_sum += rate[e];
  const double defect = std::max(0.0, 1.0 - start_sum);

  if (zero == 0) {
    chain.states = transient;
    chain.edge_begin.assign(transient + 1, 0);
    chain.exit_rate.assign(transient, 0.0);
    chain.absorb_rate.assign(transient, 0.0);
    chain.start.assign(transient, 0.0);
    chain.atom = defect;
    for (std::uint64_t e = g.edge_begin[0]; e < g.edge_begin[1]; ++e) {
      if (!(rate[e] > 0)) continue;
      const VertexId v = g.edge_target[e];
      if (local[v] == kNone)
        chain.atom += rate[e];
      else
        chain.start[local[v]] += rate[e];
    }
    for (VertexId u = 1; u < n; ++u) {
      if (local[u] == kNone) continue;
      const std::uint32_t i = local[u];
      const double scale = 1.0 / g.reward(reward, u);
      for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e) {
        if (!(rate[e] > 0)) continue;
        const double q = rate[e] * scale;
        chain.exit_rate[i] += q;
        const VertexId v = g.edge_target[e];
        if (local[v] == kNone) {
          chain.absorb_rate[i] += q;
        } else {
          chain.edge_target.push_back(local[v]);
          chain.edge_rate.push_back(q);
        }
      }
      chain.edge_begin[i + 1] = chain.edge_target.size();
    }
    return chain;
  }

  // ---- elimination of zero-reward states, on jump probabilities ---------------------
  const std::uint32_t kStart = transient, kSink = transient + 1;
  EvaluationVector<Arcs> out(transient + 1);
  EvaluationVector<EvaluationVector<std::uint32_t>> in(transient);
  EvaluationVector<double> exit(transient, 0.0);
  EvaluationVector<double> weight(transient);  // the state's reward
  auto add = [&](std::uint32_t from, std::uint32_t to, double p) {
    for (Arc& a : out[from])
      if (a.to == to) {
        a.p += p;
        return;
      }
    out[from].push_back({to, p});
    if (to < transient) in[to].push_back(from);
  };
  for (std::uint64_t e = g.edge_begin[0]; e < g.edge_begin[1]; ++e)
    if (rate[e] > 0) add(kStart, local[g.edge_target[e]] == kNone ? kSink : local[g.edge_target[e]], rate[e]);
  for (VertexId u = 1; u < n; ++u) {
    if (local[u] == kNone) continue;
    const std::uint32_t i = local[u];
    weight[i] = g.reward(reward, u);
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (rate[e] > 0) exit[i] += rate[e];
    for (std::uint64_t e = g.edge_begin[u]; e < g.edge_begin[u + 1]; ++e)
      if (rate[e] > 0) add(i, local[g.edge_target[e]] == kNone ? kSink : local[g.edge_target[e]], rate[e] / exit[i]);
  }
  EvaluationVector<std::uint8_t> gone(transient, 0);
  EvaluationVector<std::uint8_t> seen(transient + 1, 0);
  std::uint32_t done = 0;
  for (std::uint32_t z = 0; z < transient; ++z) {
    if (weight[z] != 0) continue;
    if ((++done & 1023) == 0) check_cancel(cancel);
    gone[z] = 1;
    for (const std::uint32_t u : in[z]) {
      if ((u < transient && gone[u]) || seen[u]) continue;
      seen[u] = 1;
      Arcs& arcs = out[u];
      auto it = std::find_if(arcs.begin(), arcs.end(), [&](const Arc& a) { return a.to == z; });
      if (it == arcs.end()) continue;  // a stale in-entry
      const double p = it->p;
      arcs.erase(it);
      double loop = 0;
      for (const Arc& a : out[z]) {
        if (a.to == u)
          loop += p * a.p;
        else
          add(u, a.to, p * a.p);
      }
      if (loop > 0) {
        // The sum of the other out-probabilities is 1 − loop, formed without cancellation.
        double rest = 0;
        for (const Arc& a : arcs) rest += a.p;
        if (!(rest > 0)) throw EngineError(not_certain(1, transient));
        for (Arc& a : arcs) a.p /= rest;
        exit[u] *= rest;
      }
    }
    for (const std::uint32_t u : in[z]) seen[u] = 0;
    Arcs().swap(out[z]);
    EvaluationVector<std::uint32_t>().swap(in[z]);
  }

  EvaluationVector<std::uint32_t> kept(transient, kNone);
  for (std::uint32_t i = 0; i < transient; ++i)
    if (!gone[i]) kept[i] = chain.states++;
  chain.edge_begin.assign(chain.states + 1, 0);
  chain.exit_rate.assign(chain.states, 0.0);
  chain.absorb_rate.assign(chain.states, 0.0);
  chain.start.assign(chain.states, 0.0);
  chain.atom = defect;
  for (const Arc& a : out[kStart]) {
    if (a.to == kSink)
      chain.atom += a.p;
    else
      chain.start[kept[a.to]] += a.p;
  }
  for (std::uint32_t i = 0; i < transient; ++i) {
    if (gone[i]) continue;
    const std::uint32_t k = kept[i];
    const double total = exit[i] / weight[i];
    chain.exit_rate[k] = total;
    for (const Arc& a : out[i]) {
      if (a.to == kSink) {
        chain.absorb_rate[k] += total * a.p;
      } else {
        chain.edge_target.push_back(kept[a.to]);
        chain.edge_rate.push_back(total * a.p);
      }
    }
    chain.edge_begin[k + 1] = chain.edge_target.size();
  }
  return chain;
}

}  // namespace phasic
