// The command line's JSON output is a public contract: scripts read `phasic-trace
// run --json` and `clear-caches --json` by field name (docs/engine.md, "Command
// line"). Inside the protocol the engine, host and webview name fields in camelCase
// (protocol/schema/engine.ts); this module is the one edge where a run and a clear
// get their public names back, so that renaming a protocol field never renames a
// field a script reads. test/engine/cliContract.test.ts pins every public name.
import type { ClearResult, RunResult } from '../protocol/engine';
import type { CategoryBytes, Moment } from '../protocol/engine';

/** What `run --json` prints for one run (the run without its decomposition). */
export interface PublicRun {
  model: string;
  vertices: number;
  edges: number;
  absorbing: number;
  reused: boolean;
  sccs: RunResult['sccs'];
  trace: RunResult['trace'];
  params: Record<string, number>;
  moments: Record<string, Moment[]>;
  variance: Record<string, Moment>;
  covariance: Record<string, Moment>;
  nonFinite?: string;
  /** With --gradient: per reward, per parameter, d E[R^k]/dθ for k = 1..moments. */
  gradient?: Record<string, Record<string, Moment[]>>;
  /** With --gradient: per reward, per parameter, d Var(R)/dθ. */
  gradient_variance?: Record<string, Record<string, Moment>>;
  timings_ms: RunResult['timingsMs'];
  memory: {
    accounted_bytes: CategoryBytes;
    peak_accounted_bytes: number;
    rss_bytes: number;
    blocks: Array<{ scc: number; vertices: number; bytes: number; created_ms: number; freed_ms: number }>;
  };
  traceKey: string;
  ruleFirings: Record<string, number>;
  warnings: RunResult['warnings'];
}

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

export function publicRun(r: RunResult): PublicRun {
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
    ...(r.gradient === undefined ? {} : { gradient: r.gradient }),
    ...(r.gradientVariance === undefined ? {} : { gradient_variance: r.gradientVariance }),
    timings_ms: r.timingsMs,
    memory: {
      accounted_bytes: m.accountedBytes,
      peak_accounted_bytes: m.peakAccountedBytes,
      rss_bytes: m.rssBytes,
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
