// Every shape the engine reports, declared once: run results, evaluations, memory
// figures, events, SCC details and the model description. The types in
// protocol/engine.ts and protocol/requests.ts are inferred from these schemas, and
// the same schemas check the engine's replies in the host (protocol/validate.ts) and
// the host's messages in the webview (protocol/webview.ts), so the two boundaries
// cannot disagree on what a valid run is. Counts and byte sizes are finite and
// >= 0, moments finite or one of "Infinity", "-Infinity", "NaN" (protocol/moment.ts),
// and lists are bounded so that a hostile reply cannot make the host allocate.
// The webview bundle imports this file: no Node or vscode imports.
import * as v from 'valibot';
import { MEMORY_CATEGORIES } from '../memory';
import { bool, count, int, issueAt, list, MAX_STRING, moment, nameRecord, nonNeg, num, obj, oneOf, str } from './base';

/** Bytes per memory category (protocol/memory.ts), all five present. */
export const categoryBytes = obj(
  Object.fromEntries(MEMORY_CATEGORIES.map((c) => [c, nonNeg])) as Record<
    (typeof MEMORY_CATEGORIES)[number],
    typeof nonNeg
  >,
);

export const TRACE_SOURCES = ['recorded', 'memory', 'disk', 'trivial'] as const;

/** One strongly connected component, as the SCC view shows it. */
export const sccInfo = obj({
  id: count, // position in topological order, S's component is 0
  vertices: count,
  internalEdges: count,
  exitEdges: count,
  absorbing: bool, // a single absorbing vertex
  source: oneOf(TRACE_SOURCES), // how its trace was obtained in the run
  operations: count, // trace operations of this block (0 for trivial)
  bytes: nonNeg, // bytes of its trace
  recordMs: nonNeg, // time spent recording (0 on a cache hit)
  key: str(64), // cache key, hex ('' for trivial components)
  firstVertex: count, // smallest vertex index in the component
});

/** The condensation DAG: components, in id order, and the edges between them. */
export const decomposition = v.pipe(
  obj({
    sccs: list(sccInfo),
    edges: list(
      v.pipe(
        list(count),
        v.check((p) => p.length === 2, 'a pair of SCC ids'),
      ),
    ),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const { sccs, edges } = dataset.value;
    const wrong = sccs.findIndex((s, i) => s.id !== i);
    if (wrong >= 0) return issueAt(addIssue, ['sccs', wrong, 'id'], `${wrong} (components in id order)`);
    const outside = edges.findIndex(([from, to]) => from >= sccs.length || to >= sccs.length);
    if (outside >= 0) issueAt(addIssue, ['edges', outside], 'a pair of SCC ids');
  }),
);

/** One block subgraph's lifetime inside a run, for the Gantt strip. */
export const blockLifetime = obj({
  scc: count,
  vertices: count,
  bytes: nonNeg,
  createdMs: nonNeg, // since the engine process started
  freedMs: nonNeg,
});

export const runMemory = obj({
  accountedBytes: categoryBytes,
  peakAccountedBytes: nonNeg,
  /** The process's resident set when the run ended. */
  rssBytes: nonNeg,
  /** The process's peak resident set up to the run's end (the kernel's high-water mark). */
  rssPeakBytes: nonNeg,
  blocks: list(blockLifetime),
});

/** A message that points into the model source (compiled-model `sites`). */
export const engineMessage = obj({
  message: str(),
  site: int, // index into the compiled model's sites, -1 for none
  rule: v.optional(str()),
});

/** The moments block a run and an evaluation both carry. */
const momentsEntries = {
  params: nameRecord(num),
  /** Raw moments per reward; a non-finite value is a string (protocol/moment.ts). */
  moments: nameRecord(list(moment)),
  variance: nameRecord(moment),
  covariance: nameRecord(moment),
  /** Present when some moment, variance or covariance is not finite: why. */
  nonFinite: v.optional(str(4096)),
  /**
   * With nonFinite: "outOfRange" when the process is absorbed with certainty (every value
   * is then finite, and those that read Infinity or NaN are beyond a double's range),
   * "notAbsorbed" when it is not (they are infinite or undefined).
   */
  nonFiniteCause: v.optional(oneOf(['outOfRange', 'notAbsorbed'] as const)),
  /**
   * With the gradient option: per reward, per parameter, d E[R^k]/dθ for k = 1..moments
   * (docs/engine.md, "Gradients"); "NaN" where the moment is not finite.
   */
  gradient: v.optional(nameRecord(nameRecord(list(moment)))),
  /** With the gradient option: per reward, per parameter, d Var(R)/dθ. */
  gradientVariance: v.optional(nameRecord(nameRecord(moment))),
  /**
   * With the gradient option: per requested covariance, keyed "A,B" as `covariance`,
   * per parameter, d Cov(R_A, R_B)/dθ.
   */
  gradientCovariance: v.optional(nameRecord(nameRecord(moment))),
};

const runEntries = {
  model: str(),
  vertices: count,
  edges: count,
  absorbing: count,
  /**
   * The model text was run before and its run is still cached: nothing was explored,
   * decomposed or recorded, every block is from memory, and only evaluation ran.
   */
  reused: bool,
  sccs: obj({ count, largest: count, blocks: count, recorded: count, cached: count }),
  trace: obj({ operations: count, commands: count, bytes: nonNeg }),
  ...momentsEntries,
  timingsMs: obj({
    explore: nonNeg,
    scc: nonNeg,
    record: nonNeg,
    evaluate: nonNeg,
    gradient: v.optional(nonNeg),
    total: nonNeg,
  }),
  memory: runMemory,
  /** Handle of the composed trace in the engine's cache, for re-evaluation. */
  traceKey: str(64),
  /** How often each rule fired in exploration, by rule name. */
  ruleFirings: nameRecord(count),
  warnings: list(engineMessage),
};

/** A run without its decomposition: what the panel keeps of it. */
export const runSummary = obj(runEntries);
export const runResult = obj({ ...runEntries, decomposition });

export const evaluateResult = obj({
  ...momentsEntries,
  evaluateMs: nonNeg,
  /**
   * The variances and requested covariances at these parameters that keep fewer than 6
   * digits because they are the difference of two nearly equal moments: the warning a
   * run at these parameters shows for them (docs/engine.md, "Variances and covariances";
   * decisions 110, 112). Absent when every one keeps its digits.
   */
  impreciseMoments: v.optional(str()),
  gradientMs: v.optional(nonNeg),
  /**
   * With the gradient option, per parameter whose derivatives keep fewer than 6 trusted
   * digits even after the engine recomputed them in quadruple precision (or could not):
   * the warning a run with --gradient shows for it (docs/engine.md, "Gradients"; decision 82).
   * Absent when every derivative keeps its digits.
   */
  impreciseGradient: v.optional(nameRecord(str())),
});

export const memorySnapshot = obj({
  timeMs: nonNeg, // since the engine process started
  accountedBytes: categoryBytes,
  peakAccountedBytes: nonNeg,
  rssBytes: nonNeg,
  cache: obj({ entries: count, bytes: nonNeg, diskFiles: count, diskBytes: nonNeg }),
});

export const clearResult = obj({
  freedBytes: categoryBytes,
  traces: count, // trace entries removed from the memory cache
  subgraphs: count, // block subgraphs that were still alive (0 when idle)
  // Trace files removed from the disk cache; `failed` of the cache's own files could
  // not be removed, `error` says why in words (the first failure, or a cache
  // directory that could not be read). A clear with an error is partial.
  disk: obj({ files: count, bytes: nonNeg, failed: count, error: v.optional(str()) }),
  rssBefore: nonNeg,
  rssAfter: nonNeg,
  timeMs: nonNeg,
});

/** `distribution` is the phase of a distribution request, not of a run. */
export const RUN_PHASES = ['exploring', 'decomposing', 'recording', 'composing', 'evaluating', 'distribution'] as const;

export const progress = obj({ phase: oneOf(RUN_PHASES), done: count, total: count });

/** Pushed when a block subgraph is built or freed: the timeline's Gantt data. */
export const blockEvent = obj({
  kind: oneOf(['created', 'freed'] as const),
  scc: count,
  vertices: count,
  bytes: nonNeg,
  timeMs: nonNeg,
});

/** One SCC's states and internal edges, for the panel's detail pane. */
export const sccDetail = v.pipe(
  obj({
    scc: count,
    /** Column names of `states`. */
    variables: list(str(MAX_STRING)),
    /** One row per vertex of the SCC, local order. */
    states: list(list(num)),
    /** Internal edges over local indices, with their rate at the run's parameters. */
    edges: list(list(num)),
    /** True when `states`/`edges` were cut short for size. */
    truncated: bool,
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const n = dataset.value.states.length;
    const local = (x: number) => Number.isSafeInteger(x) && x >= 0 && x < n;
    const wrong = dataset.value.edges.findIndex((e) => e.length !== 3 || !local(e[0]) || !local(e[1]));
    if (wrong >= 0) issueAt(addIssue, ['edges', wrong], 'local vertex indices: [from, to, rate]');
  }),
  v.transform((d) => d as Omit<typeof d, 'edges'> & { edges: Array<[from: number, to: number, rate: number]> }),
);

const probability = v.pipe(num, v.minValue(0, 'a probability in [0, 1]'), v.maxValue(1, 'a probability in [0, 1]'));

/**
 * The distribution of the time to absorption or of one reward at one parameter
 * vector (docs/protocol.md, "phasic/distribution"): CDF, survival and density at
 * `times`, the atom P(Y = 0) and quantiles; each CDF value within `epsilon`, each
 * survival and density value within `epsilon` relative to itself.
 */
export const distributionResult = v.pipe(
  obj({
    traceKey: str(64),
    /** "time" or a reward name of the model. */
    reward: str(200),
    /** Every parameter, defaults filled in. */
    params: nameRecord(num),
    /** Ascending. */
    times: list(nonNeg),
    /** P(Y ≤ t), one per time, within epsilon. */
    cdf: list(probability),
    /**
     * P(Y > t), one per time, within epsilon × itself; null where it is below
     * `survivalFloor` (not resolved: it underflows the method, never 0 as if exact).
     */
    survival: list(v.nullable(probability)),
    /** The smallest survival resolved (1e-289). */
    survivalFloor: nonNeg,
    /**
     * Density of Y's continuous part, one per time, within epsilon × itself; where the
     * survival is null it is below rate × survivalFloor and given as 0.
     */
    pdf: list(nonNeg),
    /** P(Y = 0). */
    atom: probability,
    /**
     * value: the smallest t with CDF(t) ≥ p (0 when p ≤ atom); the true quantile lies in
     * [low, high], the computed CDF's quantiles of p − epsilon and p + epsilon. For
     * p > 0.5: the smallest t with survival(t) ≤ 1 − p, in [low, high] the computed
     * survival's quantiles of (1 − p)(1 + epsilon) and (1 − p)(1 − epsilon).
     */
    quantiles: list(obj({ p: probability, value: nonNeg, low: nonNeg, high: nonNeg })),
    epsilon: nonNeg,
    method: obj({
      name: oneOf(['uniformization'] as const),
      /** The uniformization rate Λ (the largest exit rate after the reward transformation). */
      rate: nonNeg,
      /** Products by the uniformized matrix computed. */
      steps: count,
      /** States of the transformed chain. */
      states: count,
      /** Reachable zero-reward states integrated out. */
      eliminated: count,
    }),
    timingsMs: obj({ transform: nonNeg, uniformize: nonNeg, quantiles: nonNeg, total: nonNeg }),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const { times, cdf, survival, pdf } = dataset.value;
    if (cdf.length !== times.length) return issueAt(addIssue, ['cdf'], `one value per time (${times.length})`);
    if (survival.length !== times.length)
      return issueAt(addIssue, ['survival'], `one value per time (${times.length})`);
    if (pdf.length !== times.length) return issueAt(addIssue, ['pdf'], `one value per time (${times.length})`);
    const unordered = times.findIndex((t, i) => i > 0 && t < times[i - 1]);
    if (unordered >= 0) issueAt(addIssue, ['times', unordered], 'times in ascending order');
  }),
);

export const engineInfo = obj({
  version: str(200),
  pid: count,
  startedAt: nonNeg, // Date.now() of the engine process start
});

export const paramSpec = obj({ name: str(200), default: num, lo: v.nullable(num), hi: v.nullable(num) });

export const stateVariableSpec = obj({ name: str(), offset: count, dims: list(count) });

/** What the host needs to know about a model to run it and to show its results. */
export const modelSpec = obj({
  uri: str(),
  name: str(),
  params: list(paramSpec),
  constants: list(obj({ name: str(), value: num, integer: bool })),
  rewards: list(str()),
  stateVariables: list(stateVariableSpec),
});

export const runReply = obj({ model: modelSpec, result: runResult });

export const progressNotification = obj({ runId: count, progress });
export const warningNotification = obj({ uri: str(), warning: engineMessage });

/**
 * A standard error: a number; "Infinity" for a parameter the data do not identify;
 * "NaN" where the information matrix is not finite (decision 12's strings; protocol/fit.ts).
 */
export const standardError = v.union([nonNeg, v.literal('Infinity'), v.literal('NaN')]);

/** One optimizer step of a fit, as `phasic/fitProgress` reports it and the result keeps them. */
export const fitStep = obj({
  /** 1-based starting point. */
  start: count,
  iteration: count,
  loglik: num,
  estimates: nameRecord(num),
});

/**
 * `phasic/fit`'s result (docs/protocol.md), declared once: extension/fit computes it (less
 * the steps; protocol/fit.ts converts), and `phasic-trace fit --json` prints it less the
 * steps under public names (cli/contract.ts).
 */
export const fitResult = obj({
  model: str(),
  estimates: nameRecord(num),
  /** "Infinity": not identified; "NaN": not computed, the information matrix was not finite or rests on derivatives the engine does not trust (a warning says which). */
  stderr: nameRecord(standardError),
  loglik: num,
  /** Entry k+1 of the spectrum expects scale · E[NAME[k]] sites (the profiled mutation scale). */
  scale: nonNeg,
  /** Optimizer iterations from the best starting point. */
  iterations: count,
  converged: bool,
  /** Entries 0..n: fitted expected counts; null where the model predicts nothing (0, n, upper half when folded). */
  expected: list(v.nullable(num)),
  /** Entries 0..n: the counts fitted; null for masked and monomorphic entries. */
  observed: list(v.nullable(num)),
  /** Every parameter at the estimate, fixed ones included. */
  params: nameRecord(num),
  /** Segregating sites in the entries used. */
  sites: nonNeg,
  /** Non-identifiable parameters, no convergence, different maxima from several starts, … */
  warnings: list(str()),
  /** Every optimizer step, in order (the log-likelihood by iteration). */
  steps: list(fitStep),
  timingsMs: obj({ run: nonNeg, optimize: nonNeg, information: nonNeg, total: nonNeg }),
});

export const fitProgressNotification = obj({ fitId: count, step: fitStep });

/** A `.fs` file as the engine reads it (`phasic/spectrum`; extension/fit/sfsFile.ts). */
export const spectrum = v.pipe(
  obj({
    n: count,
    folded: bool,
    labels: list(str(200)),
    /** n + 1 counts; null for a masked entry that is not a finite number (JSON has no NaN). */
    counts: list(v.nullable(num)),
    mask: list(bool),
  }),
  v.check((s) => s.counts.length === s.n + 1 && s.mask.length === s.n + 1, 'n + 1 counts and mask flags'),
);
