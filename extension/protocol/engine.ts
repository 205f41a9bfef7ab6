// What the engine reports: run results, memory figures and events. Shared by the
// engine process, the extension host, the webview and the command-line tool, so
// that one definition types every side. Field names follow `phasic-trace run
// --json` (docs/engine.md), which prints RunResult minus `decomposition`.

import type { Moment } from './moment';

export type { Moment, NonFinite } from './moment';

export const MEMORY_CATEGORIES = ['graph', 'subgraphs', 'traces', 'cache', 'evaluation'] as const;
export type MemoryCategory = (typeof MEMORY_CATEGORIES)[number];
export type CategoryBytes = Record<MemoryCategory, number>;

/** How the trace of one strongly connected component was obtained in a run. */
export type TraceSource = 'recorded' | 'memory' | 'disk' | 'trivial';

/** One strongly connected component, as the SCC view shows it. */
export interface SccInfo {
  id: number;                 // position in topological order, S's component is 0
  vertices: number;
  internalEdges: number;
  exitEdges: number;
  absorbing: boolean;         // a single absorbing vertex
  source: TraceSource;
  operations: number;         // trace operations of this block (0 for trivial)
  bytes: number;              // bytes of its trace
  recordMs: number;           // time spent recording (0 on a cache hit)
  key: string;                // cache key, hex ('' for trivial components)
  firstVertex: number;        // smallest vertex index in the component
}

/** The condensation DAG: components and the edges between them. */
export interface Decomposition {
  sccs: SccInfo[];
  edges: Array<[from: number, to: number]>;
}

/** One block subgraph's lifetime inside a run, for the Gantt strip. */
export interface BlockLifetime {
  scc: number;
  vertices: number;
  bytes: number;
  created_ms: number;         // since the engine process started
  freed_ms: number;
}

export interface RunMemory {
  accounted_bytes: CategoryBytes;
  peak_accounted_bytes: number;
  rss_bytes: number;
  blocks: BlockLifetime[];
}

export interface RunResult {
  model: string;
  vertices: number;
  edges: number;
  absorbing: number;
  /**
   * The model text was run before and its run is still cached: nothing was explored,
   * decomposed or recorded, every block is from memory, and only evaluation ran.
   */
  reused: boolean;
  sccs: { count: number; largest: number; blocks: number; recorded: number; cached: number };
  trace: { operations: number; commands: number; bytes: number };
  params: Record<string, number>;
  /** Raw moments per reward; a non-finite value is a string (protocol/moment.ts). */
  moments: Record<string, Moment[]>;
  variance: Record<string, Moment>;
  covariance: Record<string, Moment>;
  /** Present when some moment, variance or covariance is not finite: why. */
  nonFinite?: string;
  timings_ms: { explore: number; scc: number; record: number; evaluate: number; total: number };
  memory: RunMemory;
  /** Handle of the composed trace in the engine's cache, for re-evaluation. */
  traceKey: string;
  /** How often each rule fired in exploration, by rule name. */
  ruleFirings: Record<string, number>;
  warnings: EngineMessage[];
  decomposition: Decomposition;
}

export interface EvaluateResult {
  params: Record<string, number>;
  moments: Record<string, Moment[]>;
  variance: Record<string, Moment>;
  covariance: Record<string, Moment>;
  nonFinite?: string;
  evaluate_ms: number;
}

/** A message that points into the model source (compiled-model `sites`). */
export interface EngineMessage {
  message: string;
  site: number;               // index into the compiled model's sites, -1 for none
  rule?: string;
}

export interface MemorySnapshot {
  time_ms: number;            // since the engine process started
  accounted_bytes: CategoryBytes;
  peak_accounted_bytes: number;
  rss_bytes: number;
  cache: { entries: number; bytes: number; diskFiles: number; diskBytes: number };
}

export interface ClearResult {
  freed_bytes: CategoryBytes;
  traces: number;             // trace entries removed from the memory cache
  subgraphs: number;          // block subgraphs that were still alive (0 when idle)
  // Trace files removed from the disk cache; `failed` of the cache's own files could
  // not be removed, `error` says why in words (the first failure, or a cache
  // directory that could not be read). A clear with an error is partial.
  disk: { files: number; bytes: number; failed: number; error?: string };
  rss_before: number;
  rss_after: number;
  time_ms: number;
}

export type RunPhase = 'exploring' | 'decomposing' | 'recording' | 'composing' | 'evaluating';

export interface Progress {
  phase: RunPhase;
  done: number;
  total: number;
}

/** Pushed when a block subgraph is built or freed: the timeline's Gantt data. */
export interface BlockEvent {
  kind: 'created' | 'freed';
  scc: number;
  vertices: number;
  bytes: number;
  time_ms: number;
}

/** One SCC's states and internal edges, for the panel's detail pane. */
export interface SccDetail {
  scc: number;
  /** Column names of `states`. */
  variables: string[];
  /** One row per vertex of the SCC, local order. */
  states: number[][];
  /** Internal edges over local indices, with their rate at the run's parameters. */
  edges: Array<[from: number, to: number, rate: number]>;
  /** True when `states`/`edges` were cut short for size. */
  truncated: boolean;
}
