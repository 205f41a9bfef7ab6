// The custom requests and notifications between the extension host and the engine
// process (the language server). One map types both sides: the host sends with
// `EngineClient.request`, the server registers with `onRequest` in server/main.ts.
// Documented in docs/protocol.md.
import type * as v from 'valibot';
import type {
  BlockEvent,
  ClearResult,
  DistributionResult,
  EngineMessage,
  EvaluateResult,
  FitProgressNotification,
  FitResult,
  MemorySnapshot,
  SpectrumSummary,
  Progress,
  SccDetail,
} from './engine';
import type * as s from './schema/engine';
import type * as r from './schema/requests';

export type EngineSettings = v.InferOutput<typeof r.engineSettings>;

export type EngineInfo = v.InferOutput<typeof s.engineInfo>;

export type ParamSpec = v.InferOutput<typeof s.paramSpec>;

export type StateVariableSpec = v.InferOutput<typeof s.stateVariableSpec>;

/** What the host needs to know about a model to run it and to show its results. */
export type ModelSpec = v.InferOutput<typeof s.modelSpec>;

export type RunParams = v.InferOutput<typeof r.runParams>;

export type RunReply = v.InferOutput<typeof s.runReply>;

export type EvaluateParams = v.InferOutput<typeof r.evaluateParams>;

/**
 * What failed, as the addon reports it (native/binding/failure.cpp): the model
 * ('model'), the state limit or a distribution's step limit ('limit'), the memory
 * budget ('budget'), a cancel ('cancelled'), a trace no longer in the cache ('cache'),
 * a caller's argument such as a parameter value ('argument'), or the engine itself
 * ('internal').
 */
export const NATIVE_FAILURE_KINDS = ['model', 'limit', 'budget', 'cancelled', 'cache', 'argument', 'internal'] as const;

/** A native failure kind, or 'engine': a failure that did not come from the engine's own error types. */
export type FailureKind = (typeof NATIVE_FAILURE_KINDS)[number] | 'engine';

/** The data of a failed request: where in the model it points, when it does. */
export interface EngineErrorData {
  kind: FailureKind;
  uri?: string;
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
  rule?: string;
}

/** One SCC of a finished run, for the panel's detail pane (docs/protocol.md). */
export type SccDetailParams = v.InferOutput<typeof r.sccDetailParams>;

/** The distribution of a reward of a finished run (docs/protocol.md). */
export type DistributionParams = v.InferOutput<typeof r.distributionParams>;

/** A fit of parameters to a site frequency spectrum (docs/protocol.md). */
export type FitParams = v.InferOutput<typeof r.fitParams>;

export interface EngineRequests {
  'phasic/engineInfo': { params: Record<string, never>; result: EngineInfo };
  'phasic/describe': { params: v.InferOutput<typeof r.describeParams>; result: ModelSpec };
  'phasic/run': { params: RunParams; result: RunReply };
  'phasic/evaluate': { params: EvaluateParams; result: EvaluateResult };
  'phasic/clearCaches': { params: Record<string, never>; result: ClearResult };
  'phasic/memory': { params: Record<string, never>; result: MemorySnapshot };
  'phasic/sccDetail': { params: SccDetailParams; result: SccDetail };
  'phasic/distribution': { params: DistributionParams; result: DistributionResult };
  'phasic/spectrum': { params: v.InferOutput<typeof r.spectrumParams>; result: SpectrumSummary };
  'phasic/fit': { params: FitParams; result: FitResult };
}

export interface EngineNotifications {
  /** Host → engine: settings changed. */
  'phasic/configure': EngineSettings;
  /** Engine → host. */
  'phasic/progress': { runId: number; progress: Progress };
  'phasic/memorySample': MemorySnapshot;
  'phasic/blockEvent': BlockEvent;
  'phasic/warning': { uri: string; warning: EngineMessage };
  /** After each optimizer step of the fit `fitId`. */
  'phasic/fitProgress': FitProgressNotification;
}

export type EngineRequestMethod = keyof EngineRequests;
export type EngineNotificationMethod = keyof EngineNotifications;
