// Evaluation of a composed trace for parameter vectors θ: moments of every reward,
// variances and requested covariances.
//
// A solve (every block's commands, sink-first) maps a reward vector g to x = U g. Raw
// moments follow x_1 = U r, x_k = U (r ∘ x_(k−1)), E[R^k] = k!·Σ_z α_z x_k[z]; cross
// moments E[R_a R_b] = α U(r_a ∘ U r_b) + α U(r_b ∘ U r_a). All solves advance block by
// block together: a block's program is replayed once for θ and then used by every
// solve while its values are in cache, so scratch holds one block's values plus one x
// vector per solve ((rewards × moments + 2 × pairs) × vertices doubles per lane; a
// batch's x only at the vertices other blocks read, solution_placement.hpp: the
// trace's placement, which the caller keeps beside the trace and is not scratch).
// For one θ, up to four solves that do not depend on each other (different rewards, the
// sides of covariance pairs) run side by side so that their dependency chains overlap;
// each performs the same operations in the same order as alone.
//
// The batched form evaluates lanes of 8 θ vectors at once: every value and every x is
// stored as 8 consecutive doubles (structure of arrays), so each program op and each
// command is one fixed-length loop over lanes, run as vectors of the widest width the
// CPU has (base/simd.hpp: SSE2, AVX2 or AVX-512F, chosen at run time). Per lane it
// performs the same operations in the same order as the single form at every width,
// so results are identical, and do not depend on the machine.
//
// Zero rates. θ may set a rate to 0. A state whose every rate is then 0 and which the
// process never reaches drops out (its paths have probability 0). When the process
// reaches, with positive probability, a state from which absorption is unreachable at
// θ, absorption is not certain (Moments::absorption_certain = false): moments of a
// reward positive in every state are +∞, those of other rewards NaN (undefined; see
// evaluate.cpp), covariances NaN. Otherwise a value is +∞ only when it exceeds the
// largest double (a reward whose finite mean comes with an overflowed second moment is
// evaluated again on the scale of its mean, so a variance that fits is finite).
// Variances and covariances: +∞ when the second or cross moment is +∞ and the means
// are finite, NaN when a mean is infinite.
//
// Overflowed rates. A θ at which a rate, or the total rate out of a state, exceeds the
// largest double is refused (InvalidArgument): 1/∞ = 0 would silently give the state
// no sojourn and no way out, a finite wrong answer.
//
// Invariant: all scratch is counted in Category::Evaluation and released before the
// call returns (normally, by Cancelled, or by any other exception); a session's one
// workspace of 1 MB or more keeps its pages for the next call, as Category::Workspace
// (RetainedRegion, memory/accounting.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "trace/model_trace.hpp"
#include "trace/solution_placement.hpp"

namespace phasic {

struct RewardPair {
  std::uint32_t first, second;
};

struct Moments {
  std::uint32_t reward_count = 0;
  std::uint32_t moment_count = 0;
  std::vector<double> raw;         // raw[r·moment_count + k−1] = E[R_r^k]
  std::vector<double> variance;    // per reward; empty unless moment_count ≥ 2
  std::vector<double> covariance;  // per requested pair, in request order
  // False when, at θ, the process reaches with positive probability a state from which
  // it cannot reach absorption (then its absorption time is infinite).
  bool absorption_certain = true;

  double moment(std::uint32_t reward, std::uint32_t k) const { return raw[std::size_t(reward) * moment_count + k - 1]; }
};

// theta has param_count values, each finite and ≥ 0 (else EngineError); moment_count ≥ 1.
Moments evaluate(const ModelTrace& trace, std::span<const double> theta, std::uint32_t moment_count,
                 std::span<const RewardPair> pairs = {}, const std::atomic<bool>* cancel = nullptr);

// The trace's solution placement (solution_placement.hpp), asked for only when a batch
// runs lane groups, at most once per call: whoever keeps the trace builds it at the
// first ask and keeps it beside the trace (the engine: MemoryCache::placement).
using PlacementSource = std::function<const SolutionPlacement&(const ModelTrace&)>;

// thetas holds `count` vectors of param_count values, row-major; one Moments per vector.
// Runs lane groups of 8 unless their x vectors would exceed 256 MiB (then one θ at a
// time); results are the same either way. A placement that does not fit the trace is
// refused (InternalError).
std::vector<Moments> evaluate_batch(const ModelTrace& trace, const PlacementSource& placement,
                                    std::span<const double> thetas, std::uint32_t count, std::uint32_t moment_count,
                                    std::span<const RewardPair> pairs = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace phasic
