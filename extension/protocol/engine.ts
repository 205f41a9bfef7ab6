// What the engine reports: run results, memory figures and events. Shared by the
// engine process, the extension host, the webview and the command-line tool, so
// that one definition types every side. The types are inferred from the schemas in
// protocol/schema/engine.ts, which declare each shape once and check it at every
// boundary. `phasic-trace run --json` prints RunResult minus `decomposition` under
// the public field names of extension/cli/contract.ts (docs/engine.md).
import type * as v from 'valibot';
import type * as s from './schema/engine';

export { type CategoryBytes, MEMORY_CATEGORIES, type MemoryCategory, totalBytes } from './memory';
export type { Moment, NonFinite } from './schema/base';

/** How the trace of one strongly connected component was obtained in a run. */
export type TraceSource = (typeof s.TRACE_SOURCES)[number];
export type SccInfo = v.InferOutput<typeof s.sccInfo>;
export type Decomposition = v.InferOutput<typeof s.decomposition>;
export type BlockLifetime = v.InferOutput<typeof s.blockLifetime>;
export type RunMemory = v.InferOutput<typeof s.runMemory>;
export type RunResult = v.InferOutput<typeof s.runResult>;
/** A RunResult without its decomposition (what the CLI asks the engine for). */
export type RunSummary = v.InferOutput<typeof s.runSummary>;
export type EvaluateResult = v.InferOutput<typeof s.evaluateResult>;
export type EngineMessage = v.InferOutput<typeof s.engineMessage>;
export type MemorySnapshot = v.InferOutput<typeof s.memorySnapshot>;
export type ClearResult = v.InferOutput<typeof s.clearResult>;
export type RunPhase = (typeof s.RUN_PHASES)[number];
export type Progress = v.InferOutput<typeof s.progress>;
export type BlockEvent = v.InferOutput<typeof s.blockEvent>;
export type SccDetail = v.InferOutput<typeof s.sccDetail>;
export type DistributionResult = v.InferOutput<typeof s.distributionResult>;
/** The result of `phasic/fit` (docs/protocol.md). */
export type FitResult = v.InferOutput<typeof s.fitResult>;
export type SpectrumSummary = v.InferOutput<typeof s.spectrum>;
export type FitStep = v.InferOutput<typeof s.fitStep>;
export type FitProgressNotification = v.InferOutput<typeof s.fitProgressNotification>;
