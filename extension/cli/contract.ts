// The command line's JSON output is a public contract: scripts read `phasic-trace
// run --json`, `dist --json`, `fit --json` and `clear-caches --json` by field name (docs/engine.md, "Command
// line"). Inside the protocol the engine, host and webview name fields in camelCase
// (protocol/schema/engine.ts); this module is the one edge where a run, a
// distribution and a clear get their public names back, so that renaming a protocol field never renames a
// field a script reads. test/engine/cliContract.test.ts pins every public name.
import type { CategoryBytes, ClearResult, DistributionResult, FitResult, Moment, RunSummary } from '../protocol/engine';

/** What `run --json` prints for one run (the run without its decomposition, which the engine then never writes). */
export interface PublicRun {
  model: string;
  vertices: number;
  edges: number;
  absorbing: number;
  reused: boolean;
  sccs: RunSummary['sccs'];
  trace: RunSummary['trace'];
  params: Record<string, number>;
  moments: Record<string, Moment[]>;
  variance: Record<string, Moment>;
  covariance: Record<string, Moment>;
  nonFinite?: string;
  /** With nonFinite: "outOfRange" (absorbed with certainty: the values are finite, beyond a double) or "notAbsorbed". */
  nonFiniteCause?: 'outOfRange' | 'notAbsorbed';
  /** With --gradient: per reward, per parameter, d E[R^k]/dθ for k = 1..moments. */
  gradient?: Record<string, Record<string, Moment[]>>;
  /** With --gradient: per reward, per parameter, d Var(R)/dθ. */
  gradient_variance?: Record<string, Record<string, Moment>>;
  /** With --gradient: per --covariance pair ("A,B", as covariance), per parameter, d Cov/dθ. */
  gradient_covariance?: Record<string, Record<string, Moment>>;
  timings_ms: RunSummary['timingsMs'];
  memory: {
    accounted_bytes: CategoryBytes;
    peak_accounted_bytes: number;
    /** The process's resident set when the run ended. */
    rss_bytes: number;
    /** The process's peak resident set up to the run's end. */
    rss_peak_bytes: number;
    blocks: Array<{ scc: number; vertices: number; bytes: number; created_ms: number; freed_ms: number }>;
  };
  traceKey: string;
  ruleFirings: Record<string, number>;
  warnings: RunSummary['warnings'];
}

/** What `dist --json` prints: the distribution of one reward, named by the model. */
export interface PublicDistribution {
  model: string;
  reward: string;
  params: Record<string, number>;
  times: number[];
  cdf: number[];
  /** P(Y > t) within epsilon × itself; null: below survival_floor (it underflows the method). */
  survival: Array<number | null>;
  survival_floor: number;
  pdf: number[];
  atom: number;
  /** The true quantile lies in [low, high]: the CDF is known to within epsilon (above the median: the survival, within epsilon × itself). */
  quantiles: Array<{ p: number; value: number; low: number; high: number }>;
  epsilon: number;
  method: { name: string; rate: number; steps: number; states: number; eliminated: number };
  /** The engine's phases (`total` is theirs), and `run`: the run before them, short when it was reused. */
  timings_ms: { run: number; transform: number; uniformize: number; quantiles: number; total: number };
  /** The run's warnings (a start absorbed at once, …), only when there are any. */
  warnings?: string[];
}

/**
 * What `fit --json` prints: `phasic/fit`'s result (schema/engine.ts, `fitResult`; standard
 * errors "Infinity"/"NaN" where not finite) without the optimizer's steps, with
 * `timings_ms`, and `warnings` only when there is something to say.
 */
export type PublicFit = Omit<FitResult, 'steps' | 'timingsMs' | 'warnings'> & {
  timings_ms: FitResult['timingsMs'];
  warnings?: string[];
};

/** What `clear-caches --json` prints. */
export interface PublicClear {
  freed_bytes: CategoryBytes;
  traces: number;
  subgraphs: number;
  disk: ClearResult['disk'];
  rss_before: number;
  rss_after: number;
  time_ms: number;
}

export function publicRun(r: RunSummary): PublicRun {
  const m = r.memory;
  return {
    model: r.model,
    vertices: r.vertices,
    edges: r.edges,
    absorbing: r.absorbing,
    reused: r.reused,
    sccs: r.sccs,
    trace: r.trace,
    params: r.params,
    moments: r.moments,
    variance: r.variance,
    covariance: r.covariance,
    ...(r.nonFinite === undefined ? {} : { nonFinite: r.nonFinite }),
    ...(r.nonFiniteCause === undefined ? {} : { nonFiniteCause: r.nonFiniteCause }),
    ...(r.gradient === undefined ? {} : { gradient: r.gradient }),
    ...(r.gradientVariance === undefined ? {} : { gradient_variance: r.gradientVariance }),
    ...(r.gradientCovariance === undefined ? {} : { gradient_covariance: r.gradientCovariance }),
    timings_ms: r.timingsMs,
    memory: {
      accounted_bytes: m.accountedBytes,
      peak_accounted_bytes: m.peakAccountedBytes,
      rss_bytes: m.rssBytes,
      rss_peak_bytes: m.rssPeakBytes,
      blocks: m.blocks.map((b) => ({
        scc: b.scc,
        vertices: b.vertices,
        bytes: b.bytes,
        created_ms: b.createdMs,
        freed_ms: b.freedMs,
      })),
    },
    traceKey: r.traceKey,
    ruleFirings: r.ruleFirings,
    warnings: r.warnings,
  };
}

export function publicClear(c: ClearResult): PublicClear {
  return {
    freed_bytes: c.freedBytes,
    traces: c.traces,
    subgraphs: c.subgraphs,
    disk: c.disk,
    rss_before: c.rssBefore,
    rss_after: c.rssAfter,
    time_ms: c.timeMs,
  };
}

/**
 * `model` is the run's model name (the trace key says nothing a script can use);
 * `runMs` the run's total time, before the distribution's own phases; `warnings` the run's.
 */
export function publicDistribution(
  model: string,
  runMs: number,
  d: DistributionResult,
  warnings: string[] = [],
): PublicDistribution {
  const m = d.method;
  const t = d.timingsMs;
  return {
    model,
    reward: d.reward,
    params: d.params,
    times: d.times,
    cdf: d.cdf,
    survival: d.survival,
    survival_floor: d.survivalFloor,
    pdf: d.pdf,
    atom: d.atom,
    quantiles: d.quantiles.map((q) => ({ p: q.p, value: q.value, low: q.low, high: q.high })),
    epsilon: d.epsilon,
    method: { name: m.name, rate: m.rate, steps: m.steps, states: m.states, eliminated: m.eliminated },
    timings_ms: {
      run: runMs,
      transform: t.transform,
      uniformize: t.uniformize,
      quantiles: t.quantiles,
      total: t.total,
    },
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

export function publicFit(f: FitResult): PublicFit {
  return {
    model: f.model,
    estimates: f.estimates,
    stderr: f.stderr,
    loglik: f.loglik,
    scale: f.scale,
    iterations: f.iterations,
    converged: f.converged,
    expected: f.expected,
    observed: f.observed,
    params: f.params,
    sites: f.sites,
    timings_ms: f.timingsMs,
    ...(f.warnings.length > 0 ? { warnings: f.warnings } : {}),
  };
}
