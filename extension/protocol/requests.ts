// The custom requests and notifications between the extension host and the engine
// process (the language server). One map types both sides: the host sends with
// `EngineClient.request`, the server registers with `onRequest` in server/main.ts.
// Documented in docs/protocol.md.
import type {
  BlockEvent,
  ClearResult,
  EngineMessage,
  EvaluateResult,
  MemorySnapshot,
  Progress,
  RunResult,
  SccDetail,
} from './engine';

export interface EngineSettings {
  maxStates: number;
  memoryBudgetBytes: number;
  cacheDirectory: string;
  maxDiskBytes: number;
  minSccSize: number;
}

export interface EngineInfo {
  version: string;
  pid: number;
  startedAt: number;          // Date.now() of the engine process start
}

export interface ParamSpec {
  name: string;
  default: number;
  lo: number | null;
  hi: number | null;
}

export interface StateVariableSpec {
  name: string;
  offset: number;
  dims: number[];
}

/** What the host needs to know about a model to run it and to show its results. */
export interface ModelSpec {
  uri: string;
  name: string;
  params: ParamSpec[];
  constants: Array<{ name: string; value: number; integer: boolean }>;
  rewards: string[];
  stateVariables: StateVariableSpec[];
}

export interface RunParams {
  uri: string;
  overrides: Record<string, number>;
  params?: Record<string, number>;
  moments: number;
  covariances: Array<[string, string]>;
  runId: number;
}

export interface RunReply {
  model: ModelSpec;
  result: RunResult;
}

export interface EvaluateParams {
  traceKey: string;
  params: Record<string, number>;
  moments: number;
  covariances: Array<[string, string]>;
}

/** The data of a failed request: where in the model it points, when it does. */
export interface EngineErrorData {
  kind: 'model' | 'limit' | 'budget' | 'cancelled' | 'cache' | 'argument' | 'internal' | 'engine';
  uri?: string;
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
  rule?: string;
}

/** One SCC of a run whose trace is still cached, for the panel's detail pane (docs/protocol.md). */
export interface SccDetailParams {
  traceKey: string;
  /** The SCC's id in the run's decomposition. */
  scc: number;
  /** Parameter values for the edges' rates, by name; others take the model's defaults. */
  params: Record<string, number>;
}

export interface EngineRequests {
  'phasic/engineInfo': { params: Record<string, never>; result: EngineInfo };
  'phasic/describe': { params: { uri: string; overrides: Record<string, number> }; result: ModelSpec };
  'phasic/run': { params: RunParams; result: RunReply };
  'phasic/evaluate': { params: EvaluateParams; result: EvaluateResult };
  'phasic/clearCaches': { params: Record<string, never>; result: ClearResult };
  'phasic/memory': { params: Record<string, never>; result: MemorySnapshot };
  'phasic/sccDetail': { params: SccDetailParams; result: SccDetail };
}

export interface EngineNotifications {
  /** Host → engine: settings changed. */
  'phasic/configure': EngineSettings;
  /** Engine → host. */
  'phasic/progress': { runId: number; progress: Progress };
  'phasic/memorySample': MemorySnapshot;
  'phasic/blockEvent': BlockEvent;
  'phasic/warning': { uri: string; warning: EngineMessage };
}

export type EngineRequestMethod = keyof EngineRequests;
export type EngineNotificationMethod = keyof EngineNotifications;
